"""Hidden-test helpers, one module per assignment (``autograder.checks.fc_nets``...).

A source notebook's test cell ends with a hidden block such as::

    ### BEGIN HIDDEN TESTS
    from autograder.checks import fc_nets as _c
    _c.check_affine_forward(affine_forward)
    ### END HIDDEN TESTS

The helpers never ship to students. They run wherever the test cell runs:

* in the grader process, with the student's names bound to proxies of the student kernel
  (``docs/design.md``): they only call student functions with numpy arrays, numbers, strings, lists
  and dicts, read back the same, and pass back what a student function returned (a cache);
* under plain ``nbgrader autograde``, in the student's kernel, next to the release's *stripped*
  ``course_lib``: :func:`reference` then loads the full library of this repository anyway.

Each helper builds inputs of its own (seeded, different from the notebook's visible checks), compares
with ``course_lib``'s reference or with numerical gradients, and raises :class:`AssertionError` whose
message says which function and which output is wrong, by how much, and what to look at -- never the
expected values.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_SEED",
    "reference",
    "make_rng",
    "call",
    "unpack",
    "as_array",
    "as_float",
    "relative_error",
    "assert_close",
    "numerical_gradient",
    "numerical_gradient_array",
]

#: Seed of the hidden checks' inputs (the visible checks use literal inputs, so they always differ).
DEFAULT_SEED = 20240231

_REPO = Path(__file__).resolve().parents[2]
_LIBRARY = "course_lib"
_reference_cache: dict[str, ModuleType] = {}


# ---------------------------------------------------------------------------------------------------
# The reference library
# ---------------------------------------------------------------------------------------------------

def _is_repo_library(module: ModuleType | None) -> bool:
    path = getattr(module, "__file__", None)
    return path is not None and Path(path).resolve().is_relative_to(_REPO / _LIBRARY)


def reference(module: str) -> ModuleType:
    """``course_lib.<module>`` of this repository, even where a stripped release copy shadows it.

    Under plain nbgrader the student's kernel runs next to the release's ``course_lib`` (without the
    exercises). This loads the repository's modules under their usual names, keeps them, and puts the
    student's ``course_lib`` back in ``sys.modules`` so the student's session is unchanged.

    Parameters
    ----------
    module : str
        Module name inside ``course_lib``, e.g. ``"layers"``.
    """
    if module in _reference_cache:
        return _reference_cache[module]
    full = f"{_LIBRARY}.{module}"
    current = sys.modules.get(_LIBRARY)
    if current is None or _is_repo_library(current):
        try:
            loaded = importlib.import_module(full)
        except ImportError:
            loaded = None
        if loaded is not None and _is_repo_library(loaded):
            _reference_cache[module] = loaded
            return loaded
    # A different course_lib is (or would be) imported: load ours in isolation, then restore.
    saved = {k: v for k, v in sys.modules.items() if k == _LIBRARY or k.startswith(_LIBRARY + ".")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(_REPO))
    try:
        loaded = importlib.import_module(full)
        ours = {k: v for k, v in sys.modules.items() if k == _LIBRARY or k.startswith(_LIBRARY + ".")}
    finally:
        sys.path.remove(str(_REPO))
        for k in [k for k in sys.modules if k == _LIBRARY or k.startswith(_LIBRARY + ".")]:
            del sys.modules[k]
        sys.modules.update(saved)
    if not _is_repo_library(loaded):
        raise ImportError(f"autograder.checks: could not load the reference {full} from {_REPO}.")
    for name, mod in ours.items():
        _reference_cache.setdefault(name.partition(".")[2] or "__init__", mod)
    return loaded


# ---------------------------------------------------------------------------------------------------
# Calling student code
# ---------------------------------------------------------------------------------------------------

def make_rng(seed: int | None = None) -> np.random.Generator:
    """A private generator (never numpy's global one, which the student's code may use)."""
    return np.random.default_rng(DEFAULT_SEED if seed is None else seed)


def _kernel_errors() -> tuple[type[BaseException], ...]:
    try:
        from autograder.sandbox import KernelError
    except ImportError:  # the sandbox is optional under plain nbgrader
        return ()
    return (KernelError,)


def call(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a student's function; its exceptions become an AssertionError naming it.

    Failures of the student kernel itself (died, timed out) propagate unchanged: the grader reports
    them with its own message.
    """
    try:
        return fn(*args, **kwargs)
    except _kernel_errors():
        raise
    except NotImplementedError as exc:
        raise AssertionError(f"{where} is not implemented yet (it raised NotImplementedError).") from exc
    except Exception as exc:
        raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}") from exc


def unpack(where: str, value: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    """Check that a student's function returned a tuple of ``len(names)`` values."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        got = f"a {type(value).__name__}" if not isinstance(value, (tuple, list)) else f"{len(value)} values"
        raise AssertionError(f"{where} must return {len(names)} values ({', '.join(names)}), got {got}.")
    return tuple(value)


def as_array(where: str, name: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a float64 array, checking its shape; AssertionError for anything else."""
    if value is None:
        raise AssertionError(f"{where}: {name} is None; compute it and return it.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{where}: {name} must be a numpy array of numbers, got {type(value).__name__}.") from exc
    if shape is not None and arr.shape != tuple(shape):
        raise AssertionError(f"{where}: {name} has shape {arr.shape}, expected {tuple(shape)}.")
    return arr


def as_float(where: str, name: str, value: Any) -> float:
    """``value`` as a Python float (a number or a one-element array)."""
    arr = as_array(where, name, value)
    if arr.size != 1:
        raise AssertionError(f"{where}: {name} must be a single number, got an array of shape {arr.shape}.")
    return float(arr.reshape(()))


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """``||got - want|| / (||got|| + ||want||)`` (0 when both are 0); robust to near-zero entries."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    denom = np.linalg.norm(got) + np.linalg.norm(want)
    return 0.0 if denom == 0 else float(np.linalg.norm(got - want) / denom)


def assert_close(where: str, name: str, got: Any, want: np.ndarray, tol: float, hint: str = "") -> None:
    """Raise AssertionError unless ``got`` has ``want``'s shape and a relative error below ``tol``.

    The message gives the shape or the relative error, never ``want`` itself.
    """
    arr = as_array(where, name, got, np.shape(want))
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where}: {name} contains nan or inf." + (f" {hint}" if hint else ""))
    err = relative_error(arr, want)
    if not err <= tol:
        raise AssertionError(f"{where}: {name} is wrong (relative error {err:.1e} > {tol:.0e})."
                             + (f" {hint}" if hint else ""))


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centered-difference gradient of a scalar function at ``x`` (float64; ``x`` is restored)."""
    return reference("gradient_check").eval_numerical_gradient(f, x, verbose=False, h=h)


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-6) -> np.ndarray:
    """Centered-difference gradient of ``sum(f(x) * dout)`` at ``x`` (float64; ``x`` is restored)."""
    return reference("gradient_check").eval_numerical_gradient_array(f, x, dout, h=h)

