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

Comparisons (:func:`assert_close`, :func:`assert_close_dict`) follow the mathematics of what is
compared: the error of a quantity is measured against the magnitude of the whole quantity (a norm
over the whole array, or over the whole set of a net's gradients), and a part that is exactly zero in
exact arithmetic (the bias gradient in front of a batch-normalization layer) compares as zero when
both sides are rounding noise. A result that differs from the docstring's shape only by dimensions of
size 1 (``(1, D)`` for ``(D,)``, from ``keepdims=True``) is accepted and the check leaves a
:func:`note` for the student's feedback.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from autograder.kernel.errors import KernelError

__all__ = [
    "DEFAULT_SEED",
    "ZERO_FLOOR",
    "CheckNote",
    "note",
    "collect_notes",
    "reference",
    "make_rng",
    "call",
    "unpack",
    "as_array",
    "as_float",
    "relative_error",
    "assert_close",
    "assert_close_dict",
    "singleton_reshape",
    "numerical_gradient",
    "numerical_gradient_array",
]

#: Seed of the hidden checks' inputs (the visible checks use literal inputs, so they always differ).
DEFAULT_SEED = 20240231

#: Fraction of the magnitude of the whole quantity compared below which a part counts as zero. Float64
#: code leaves rounding noise of about 1e-16 times the magnitude of the numbers it combined where the
#: exact result is 0; a tolerance ``tol`` applied to ``max(||got|| + ||want||, ZERO_FLOOR * scale)``
#: therefore lets noise of up to ``tol * 1e-6 * scale`` (1e-13 of the whole for ``tol`` = 1e-7) pass,
#: while a part that is wrong by more than that still fails.
ZERO_FLOOR = 1e-6

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
# Notes on passing checks
# ---------------------------------------------------------------------------------------------------

class CheckNote(UserWarning):
    """A remark on a check that passed (e.g. an accepted shape), shown where no collector listens."""


_notes: ContextVar[list[str] | None] = ContextVar("autograder_check_notes", default=None)


def note(message: str) -> None:
    """Leave a remark for the student's feedback without failing the check.

    Under the grader (inside :func:`collect_notes`) the remark is added to the test's message; under
    plain nbgrader it is issued as a :class:`CheckNote` warning, which the cell's output shows.

    Parameters
    ----------
    message : str
        Student-facing text; like failure messages, it never shows an expected value.
    """
    sink = _notes.get()
    if sink is None:
        warnings.warn(message, CheckNote, stacklevel=2)
    elif message not in sink:
        sink.append(message)


@contextlib.contextmanager
def collect_notes() -> Iterator[list[str]]:
    """Collect the :func:`note` calls made inside the ``with`` block (in this context) into a list."""
    notes: list[str] = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)


# ---------------------------------------------------------------------------------------------------
# Calling student code
# ---------------------------------------------------------------------------------------------------

def make_rng(seed: int | None = None) -> np.random.Generator:
    """A private generator (never numpy's global one, which the student's code may use)."""
    return np.random.default_rng(DEFAULT_SEED if seed is None else seed)


def call(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a student's function; its exceptions become an AssertionError naming it.

    Failures of the student kernel itself (died, timed out) propagate unchanged: the grader reports
    them with its own message.
    """
    try:
        return fn(*args, **kwargs)
    except KernelError:
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


def singleton_reshape(where: str, name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``arr`` reshaped to ``shape`` when the two differ only by dimensions of size 1, else None.

    A reshape leaves a :func:`note` saying which shape the docstring asks for (the values are judged
    as usual; the shape alone costs no points).
    """
    shape = tuple(shape)
    if arr.shape == shape:
        return arr
    if arr.size != int(np.prod(shape)) or [n for n in arr.shape if n != 1] != [n for n in shape if n != 1]:
        return None
    note(f"{where}: {name} has shape {arr.shape}; its docstring asks for {shape}. It differs only by "
         f"dimensions of size 1 (keepdims=True?), so it was accepted; reshape it to {shape}.")
    return arr.reshape(shape)


def as_array(where: str, name: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a float64 array, checking its shape; AssertionError for anything else.

    A shape that differs from ``shape`` only by dimensions of size 1 is accepted with a note
    (:func:`singleton_reshape`); the array returned has ``shape``.
    """
    if value is None:
        raise AssertionError(f"{where}: {name} is None; compute it and return it.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{where}: {name} must be a numpy array of numbers, got {type(value).__name__}.") from exc
    if shape is not None:
        fitted = singleton_reshape(where, name, arr, shape)
        if fitted is None:
            raise AssertionError(f"{where}: {name} has shape {arr.shape}, expected {tuple(shape)}.")
        arr = fitted
    return arr


def as_float(where: str, name: str, value: Any) -> float:
    """``value`` as a Python float (a number or a one-element array)."""
    arr = as_array(where, name, value)
    if arr.size != 1:
        raise AssertionError(f"{where}: {name} must be a single number, got an array of shape {arr.shape}.")
    return float(arr.reshape(()))


def relative_error(got: np.ndarray, want: np.ndarray, scale: float = 0.0) -> float:
    """``||got - want|| / max(||got|| + ||want||, ZERO_FLOOR * scale)`` (0 when both are 0).

    Norms over the whole arrays, so near-zero entries of a nonzero quantity do not inflate the error.
    ``scale`` is the magnitude of the whole quantity ``got`` and ``want`` are part of (e.g. the norm of
    all of a net's gradients): a part that is zero in exact arithmetic then compares as zero when both
    sides are rounding noise (see :data:`ZERO_FLOOR`). Inf when ``got`` is not finite.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    denom = max(float(np.linalg.norm(got) + np.linalg.norm(want)), ZERO_FLOOR * float(scale))
    return 0.0 if denom == 0 else float(np.linalg.norm(got - want) / denom)


def assert_close(where: str, name: str, got: Any, want: np.ndarray, tol: float, hint: str = "", *,
                 scale: float = 0.0) -> None:
    """Raise AssertionError unless ``got`` has ``want``'s shape and a relative error below ``tol``.

    The error is :func:`relative_error` (with ``scale``, the magnitude of the whole quantity when
    ``want`` is a part of it). A shape that differs only by dimensions of size 1 passes with a note.
    The message gives the shape or the relative error, never ``want`` itself.
    """
    arr = as_array(where, name, got, np.shape(want))
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where}: {name} contains nan or inf." + (f" {hint}" if hint else ""))
    err = relative_error(arr, want, scale)
    if not err <= tol:
        raise AssertionError(f"{where}: {name} is wrong (relative error {err:.1e} > {tol:.0e})."
                             + (f" {hint}" if hint else ""))


def assert_close_dict(where: str, what: str, got: Any, want: Mapping[str, np.ndarray], tol: float,
                      hints: Mapping[str, str] | None = None) -> None:
    """Compare a dict of arrays (a net's gradients) with ``want``, relative to the whole set.

    ``got`` must be a dict with exactly ``want``'s keys. Every entry is compared with
    :func:`relative_error` at the scale of the whole set (the sum of the norms of all entries of both
    sides), so an entry that is zero in exact arithmetic passes when both sides are rounding noise, and
    any other entry is judged relative to its own magnitude. One AssertionError lists every wrong
    entry with its relative error (never a value).

    Parameters
    ----------
    where : str
        The call that produced ``got``, for the message.
    what : str
        The dict's name in the message, e.g. ``"grads"``.
    got : Any
        The student's result.
    want : mapping of str to ndarray
        The reference.
    tol : float
        Largest accepted relative error of each entry.
    hints : mapping of str to str, optional
        A hint per key, appended when that key is wrong.
    """
    if not isinstance(got, Mapping) or sorted(map(str, got)) != sorted(want):
        keys = sorted(map(str, got)) if isinstance(got, Mapping) else f"a {type(got).__name__}"
        raise AssertionError(f"{where}: {what} must be a dict with the keys {sorted(want)}, got {keys}.")
    arrays = {key: as_array(where, f"{what}['{key}']", got[key], np.shape(want[key])) for key in sorted(want)}
    for key, arr in arrays.items():
        if not np.all(np.isfinite(arr)):
            raise AssertionError(f"{where}: {what}['{key}'] contains nan or inf.")
    scale = sum(float(np.linalg.norm(arrays[k]) + np.linalg.norm(want[k])) for k in arrays)
    bad = []
    for key, arr in arrays.items():
        err = relative_error(arr, want[key], scale)
        if not err <= tol:
            hint = (hints or {}).get(key, "")
            bad.append(f"{what}['{key}'] (relative error {err:.1e} > {tol:.0e})" + (f": {hint}" if hint else ""))
    if bad:
        raise AssertionError(f"{where}: wrong {'entry' if len(bad) == 1 else 'entries'} of {what}: "
                             + "; ".join(bad) + ".")


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centered-difference gradient of a scalar function at ``x`` (float64; ``x`` is restored)."""
    return reference("gradient_check").eval_numerical_gradient(f, x, verbose=False, h=h)


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-6) -> np.ndarray:
    """Centered-difference gradient of ``sum(f(x) * dout)`` at ``x`` (float64; ``x`` is restored)."""
    return reference("gradient_check").eval_numerical_gradient_array(f, x, dout, h=h)

