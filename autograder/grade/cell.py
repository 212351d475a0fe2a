"""Running a graded test cell in the grader, with the student's exercises bound to kernel proxies.

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

from autograder.kernel.errors import (
    KernelDied,
    KernelError,
    KernelTimeout,
    NotDefinedError,
    ProtocolError,
    StudentError,
)
from autograder.kernel.handles import RemoteHandle

if TYPE_CHECKING:
    from autograder.kernel.client import StudentKernel

__all__ = [
    "TestOutcome",
    "run_graded_cell",
    "free_names",
    "defined_names",
    "foreign_names",
    "strip_magics",
    "MODULE_ALIASES",
]

#: Free names of a test cell bound to the grader's own modules, never to the kernel's.
MODULE_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math"}

_REPO_ROOT = str(Path(__file__).resolve().parents[2])


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
            exec(compiled, ns)  # the instructor's (trusted) test cell
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
