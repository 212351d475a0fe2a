"""Proxies for objects living in the student kernel, and running a graded cell in the grader.

The trust model (``docs/design.md``): the instructor's test cell runs in the *grader*
process; each free name of the cell is bound to the student kernel's global of that name,
as plain data or as a :class:`RemoteHandle`.  Everything computed by the test cell itself
(``np.allclose``, reference values, asserts) runs on grader-side objects, so monkeypatching
inside the kernel cannot change a verdict.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import symtable
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .sandbox import KernelDied, KernelError, KernelTimeout, NotDefinedError, ProtocolError, StudentError

if TYPE_CHECKING:
    from .sandbox import StudentKernel

__all__ = [
    "RemoteHandle",
    "RemoteDict",
    "TestOutcome",
    "run_graded_cell",
    "free_names",
    "defined_names",
    "foreign_names",
    "strip_magics",
    "sync_back",
    "describe",
    "MODULE_ALIASES",
]

#: Free names of a test cell bound to the grader's own modules, never to the kernel's.
MODULE_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math"}

_REPO_ROOT = str(Path(__file__).resolve().parents[1])
_MISSING = object()


class RemoteHandle:
    """Opaque reference to an object living in the student kernel.

    Produced by :meth:`~autograder.sandbox.StudentKernel.get`, calls, and attribute or item
    reads whenever the value is not plain data.  Operations are remote:

    * ``h(*args, **kwargs)`` calls it (:meth:`StudentKernel.call`);
    * ``h.name`` returns plain data (a dict is a write-through :class:`RemoteDict`) or a handle;
      dunder names are not forwarded (``AttributeError``);
    * ``h.name = value`` sets the attribute in the kernel (the value is sent as data);
    * ``h[key]``, ``h[key] = value``, ``del h[key]``.

    A handle can be passed back as an argument.  It becomes invalid when the kernel is
    restarted; the kernel-side object is released when the handle is garbage-collected.
    """

    __slots__ = ("_ag_kernel", "_ag_hid", "_ag_type", "_ag_gen", "_ag_label", "__weakref__")

    def __init__(self, kernel: StudentKernel, hid: int, type_name: str, generation: int):
        object.__setattr__(self, "_ag_kernel", kernel)
        object.__setattr__(self, "_ag_hid", hid)
        object.__setattr__(self, "_ag_type", type_name)
        object.__setattr__(self, "_ag_gen", generation)
        object.__setattr__(self, "_ag_label", "")

    def _remote_ref(self) -> tuple[StudentKernel, int, str, int]:
        return self._ag_kernel, self._ag_hid, self._ag_type, self._ag_gen

    def _set_label(self, label: str) -> RemoteHandle:
        object.__setattr__(self, "_ag_label", label)
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = self._ag_kernel._getattr(self, name)
        if isinstance(value, RemoteHandle):
            value._set_label(f"{describe(self, quote=False)}.{name}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._ag_kernel._setattr(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("deleting attributes of remote objects is not supported")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ag_kernel.call(self, *args, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ag_kernel._getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ag_kernel._setitem(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._ag_kernel._delitem(self, key)

    def __repr__(self) -> str:
        return f"<RemoteHandle {describe(self, quote=False)} ({self._ag_type}) in the student kernel>"

    def __del__(self) -> None:
        try:
            self._ag_kernel._release(self._ag_gen, self._ag_hid)
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass


class RemoteDict(dict):
    """A local copy of a kernel-side dict that writes through (``model.params['W1'] = W``).

    Returned for a dict read as an attribute or item of a handle (``model.params``).  Reads are
    local.  ``d[k] = v``, ``del d[k]``, ``update``, ``setdefault``, ``pop``, ``popitem`` and
    ``clear`` also change the kernel's dict.  In-place edits of the arrays it holds
    (``d['W1'][0, 0] += h`` as numerical gradient checks do) are pushed to the kernel before
    the next request.  Changes made by the kernel later are not pulled: read the attribute
    again.  Copies (``dict(d)``, ``copy.deepcopy(d)``) are plain dicts.
    """

    def __init__(self, data: Any = (), *, kernel: StudentKernel | None = None, ref: int | None = None,
                 generation: int = 0):
        super().__init__(data)
        if kernel is not None and ref is None:
            raise TypeError("RemoteDict: a dict of a kernel needs its handle's ref; pass kernel= and ref= together")
        self._ag_handle = RemoteHandle(kernel, ref, "dict", generation) if kernel is not None and ref is not None \
            else None
        self._ag_snap = {k: (v, v.copy()) for k, v in dict.items(self) if isinstance(v, np.ndarray)}
        if kernel is not None:
            kernel._track(self)

    def _push_changes(self) -> None:
        h = self._ag_handle
        if h is None:
            return
        kernel, _hid, _t, gen = h._remote_ref()
        if gen != kernel._generation or not kernel.alive:
            self._ag_snap.clear()
            return
        for key, (obj, snap) in list(self._ag_snap.items()):
            if dict.get(self, key, _MISSING) is not obj:
                continue
            if obj.shape != snap.shape or obj.dtype != snap.dtype or obj.tobytes() != snap.tobytes():
                kernel._setitem(h, key, obj)
                self._ag_snap[key] = (obj, obj.copy())

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._ag_handle is not None:
            self._ag_handle._ag_kernel._setitem(self._ag_handle, key, value)
        dict.__setitem__(self, key, value)
        self._ag_snap.pop(key, None)
        if isinstance(value, np.ndarray):
            self._ag_snap[key] = (value, value.copy())

    def __delitem__(self, key: Any) -> None:
        if self._ag_handle is not None:
            self._ag_handle._ag_kernel._delitem(self._ag_handle, key)
        dict.__delitem__(self, key)
        self._ag_snap.pop(key, None)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[Any, Any]:
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __reduce__(self):
        return (dict, (dict(self),))

    def __copy__(self) -> dict:
        return dict(self)


def describe(target: Any, quote: bool = True) -> str:
    """Student-facing name of a call target (``"`model.loss`"``)."""
    if isinstance(target, RemoteHandle):
        text = target._ag_label or f"a {target._ag_type}"
    else:
        text = str(target)
    return f"`{text}`" if quote else text


def sync_back(orig: Any, new: Any) -> None:
    """Update a grader-side ``dict`` argument ``orig`` to the state the student's call left its copy in.

    The student's function received a fresh copy of every argument (the wire serializes it), so it
    never touches a grader object. What cs231n's layer contract asks for (``bn_param['running_mean']``
    written in place) is honoured for **top-level dict arguments only**: keys the student removed are
    removed, every other key is set to the kernel's value. Values are fresh objects decoded from the
    kernel's reply and are *assigned*, never merged into the objects ``orig`` held before, so a list
    or dict shared with other grader state (a check's constant, a reference computed earlier) is never
    edited. Lists, tuples and anything that is not a dict are left exactly as they were.
    """
    if not isinstance(orig, dict) or not isinstance(new, dict):
        return
    for k in [k for k in orig if k not in new]:
        dict.__delitem__(orig, k)
    for k, v in new.items():
        dict.__setitem__(orig, k, v)


# ---------------------------------------------------------------------------------------------
# graded cells


@dataclass(frozen=True)
class TestOutcome:
    """Verdict of one graded cell: ``passed`` iff the cell ran without exception in time.

    ``message`` is student-facing: an assertion's message, the student's exception with their
    traceback, "timed out after N s", why the kernel died, "what your code returned could not be
    checked" (a value that broke the check), or "error while checking" (the test cell's own bug).
    """

    __test__ = False  # not a pytest test class

    passed: bool
    message: str
    duration: float


def strip_magics(source: str) -> str:
    """Replace IPython ``%``/``%%``/``!`` lines with ``pass`` (same indentation and line numbers)."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines.append(line[: len(line) - len(stripped)] + "pass")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def free_names(source: str) -> set[str]:
    """Global names a cell reads but never binds (imports, assignments, defs...), builtins excluded.

    Raises ``SyntaxError`` for invalid source.
    """
    top = symtable.symtable(source, "<graded cell>", "exec")
    bound = {s.get_name() for s in top.get_symbols()
             if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for s in table.get_symbols():
            if table is top:
                if s.is_referenced():
                    used.add(s.get_name())
            elif s.is_global() and (s.is_referenced() or s.is_assigned()):
                if s.is_declared_global() and s.is_assigned():
                    bound.add(s.get_name())
                else:
                    used.add(s.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    skip = set(dir(builtins))
    return {n for n in used - bound if n not in skip and not (n.startswith("__") and n.endswith("__"))}


def defined_names(source: str) -> set[str]:
    """Names a solution cell defines at top level (``def``, ``class``, assignments), magics ignored.

    These are the cell's exercises: the only names a test cell may take from the student's kernel.
    Raises ``SyntaxError`` for invalid source.
    """
    names: set[str] = set()

    def targets(node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    for node in ast.parse(strip_magics(source)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                targets(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets(node.target)
    return names


def foreign_names(source: str, exercises: Collection[str]) -> list[str]:
    """Free names of a test cell that are neither exercises nor :data:`MODULE_ALIASES`, sorted.

    In nbgrader such a name would be whatever the student's kernel holds under it (a helper such as
    ``rel_error`` defined in another cell, or redefined by the student); the grader refuses the cell
    instead (see ``docs/notebooks.md``).  Raises ``SyntaxError`` for invalid source.
    """
    return sorted(free_names(strip_magics(source)) - set(exercises) - MODULE_ALIASES.keys())


def _scrub(text: str, limit: int = 500) -> str:
    text = text.replace(_REPO_ROOT, "<course>")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_graded_cell(kernel: StudentKernel, source: str, *, timeout: float,
                    grader_globals: dict | None = None,
                    exercises: Collection[str] | None = None) -> TestOutcome:
    """Run an instructor's test cell in the grader process against the student's kernel.

    Parameters
    ----------
    kernel : StudentKernel
        The running kernel holding the student's globals.
    source : str
        The test cell (visible checks and hidden block).  ``%``/``!`` lines are ignored.
    timeout : float
        Seconds for the whole cell, shared by every remote call it makes; a call still running
        at the deadline is stopped by killing the kernel.
    grader_globals : dict, optional
        Names provided to the cell by the grader; they take precedence over the kernel's.
    exercises : collection of str, optional
        The names the notebook's solution cells define (:func:`defined_names`).  When given, a
        free name of the cell that is none of these, no grader global and no :data:`MODULE_ALIASES`
        entry is never taken from the kernel: the cell fails with "error while checking: the test
        cell uses ..." before anything is sent to the kernel.

    Returns
    -------
    TestOutcome
        Never raises for student, kernel or check failures.  Free names ``np``/``numpy``/
        ``math`` are the grader's modules; any other free name is the kernel's global (data or
        :class:`RemoteHandle`); a missing one fails with "your notebook does not define `name`".
    """
    t0 = time.monotonic()

    def outcome(passed: bool, message: str) -> TestOutcome:
        return TestOutcome(passed, message, time.monotonic() - t0)

    code = strip_magics(source)
    try:
        names = free_names(code)
        compiled = compile(code, "<graded cell>", "exec")
    except SyntaxError as exc:
        return outcome(False, f"error while checking: the test cell is not valid Python (line {exc.lineno})")
    ns: dict[str, Any] = {"__name__": "__graded_cell__", "__builtins__": builtins}
    ns.update(grader_globals or {})
    if exercises is not None:
        foreign = foreign_names(code, set(exercises) | ns.keys())
        if foreign:
            return outcome(False, "error while checking: the test cell uses "
                                  + ", ".join(f"`{n}`" for n in foreign)
                           + ", which no solution cell defines (import it in the test cell)")
    was_alive = kernel.alive
    try:
        with kernel.time_limit(timeout):
            for name in sorted(names - ns.keys()):
                if name in MODULE_ALIASES:
                    ns[name] = importlib.import_module(MODULE_ALIASES[name])
                    continue
                value = kernel.get(name)
                if isinstance(value, RemoteHandle):
                    if value._ag_type == "module":
                        return outcome(False, f"error while checking: the test cell uses the module `{name}` "
                                              "without importing it")
                    value._set_label(name)
                ns[name] = value
            exec(compiled, ns)  # noqa: S102 - the instructor's (trusted) test cell
    except NotDefinedError as exc:
        return outcome(False, exc.text)
    except KernelTimeout as exc:
        if time.monotonic() - t0 >= timeout - 0.05:
            return outcome(False, f"timed out after {timeout:g} s")
        return outcome(False, f"timed out: {exc}")
    except (KernelDied, ProtocolError, KernelError) as exc:
        return outcome(False, str(exc))
    except StudentError as exc:
        tb = exc.student_traceback.strip()
        message = f"your code raised {exc}" + (f"\n{tb}" if tb else "")
        return outcome(False, _scrub(message, 4000))
    except AssertionError as exc:
        return outcome(False, _scrub(str(exc), 4000) or "a check failed")
    except (NameError, UnboundLocalError, ImportError) as exc:  # the test cell's own bug (a grader error)
        return outcome(False, f"error while checking: {type(exc).__name__}: {_scrub(str(exc))}")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - what the student's code returned broke the check
        return outcome(False, f"what your code returned could not be checked ({type(exc).__name__}: "
                              f"{_scrub(str(exc))}): compare its type and shape with the docstring")
    if was_alive and not kernel.alive:
        return outcome(False, kernel.failure or "the kernel running your code stopped during this test")
    if time.monotonic() - t0 > timeout:
        return outcome(False, f"timed out after {timeout:g} s")
    return outcome(True, "passed")
