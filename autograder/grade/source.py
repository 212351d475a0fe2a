"""The instructor's source notebook: its graded cells and exercises (steps ``parse_source`` and ``check_grader``),
and what the student's notebook must not take from it (hidden tests redacted from messages)."""

from __future__ import annotations

import ast
import importlib
import importlib.util

import nbformat

from autograder.grade.cell import defined_names, foreign_names, strip_magics
from autograder.grade.job import (
    GradedCell,
    GradingState,
    SourceNotebookError,
)

_HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"


_HIDDEN_END = "### END HIDDEN TESTS"


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def parse_source_notebook(nb) -> list[GradedCell]:
    """The graded cells of an instructor's source notebook, in order.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The source notebook (with hidden tests and solutions).

    Returns
    -------
    list of GradedCell
        Autograded test cells (``grade`` and not ``solution``, code) and manually graded
        cells (``grade`` and ``solution``, or ``task``).

    Raises
    ------
    SourceNotebookError
        A graded cell has no grade_id or no points, or a grade_id is used twice.
    """
    out: list[GradedCell] = []
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if not (meta.get("grade") or meta.get("task")):
            continue
        gid = meta.get("grade_id")
        if not isinstance(gid, str) or not gid:
            raise SourceNotebookError(f"source cell {i + 1} is graded but has no grade_id; fix the "
                                      "source notebook's nbgrader metadata")
        if gid in seen:
            raise SourceNotebookError(f"grade_id {gid!r} is used by two cells of the source notebook")
        seen.add(gid)
        pts = meta.get("points")
        if not isinstance(pts, (int, float)) or isinstance(pts, bool) or pts < 0:
            raise SourceNotebookError(f"graded cell {gid!r} of the source notebook has no valid points")
        if meta.get("task") or meta.get("solution"):
            kind = "manual"
        elif cell.get("cell_type") == "code":
            kind = "auto"
        else:
            raise SourceNotebookError(f"graded cell {gid!r} is a {cell.get('cell_type')} cell but not "
                                      "a solution or task cell; nbgrader cannot grade it")
        source = cell.get("source", "")
        out.append(GradedCell(gid, float(pts), kind, source if isinstance(source, str) else "".join(source), i))
    return out


def redact_hidden(message: str, source: str) -> str:
    """Remove any line of the hidden-test block of ``source`` from ``message``.

    Test messages are meant to be student-facing AssertionError texts; this is a second
    line of defence in case a traceback quotes the hidden code.
    """
    hidden: list[str] = []
    inside = False
    for line in source.splitlines():
        s = line.strip()
        if s.startswith(_HIDDEN_BEGIN):
            inside = True
            continue
        if s.startswith(_HIDDEN_END):
            inside = False
            continue
        if inside and len(s) >= 6 and not s.startswith("#"):
            hidden.append(s)
    for s in sorted(hidden, key=len, reverse=True):
        message = message.replace(s, "[hidden test code]")
    return message


def parse_source(state: GradingState) -> None:
    """Step 1: read the graded cells from the instructor's source notebook."""
    nb = nbformat.reads(state.job.source_notebook.decode("utf-8"), as_version=4)
    state.graded = parse_source_notebook(nb)
    state.source_ids = _grade_ids(nb)
    state.exercises = notebook_exercises(nb)


def notebook_exercises(nb) -> set[str]:
    """The names the solution cells of a source notebook define (:func:`autograder.grade.cell.defined_names`).

    Raises
    ------
    SourceNotebookError
        A solution cell is not valid Python.
    """
    names: set[str] = set()
    for i, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if cell.get("cell_type") != "code" or not meta.get("solution") or meta.get("grade"):
            continue
        source = cell.get("source", "")
        try:
            names |= defined_names(source if isinstance(source, str) else "".join(source))
        except SyntaxError as exc:
            raise SourceNotebookError(f"solution cell {meta.get('grade_id') or i + 1} of the source notebook is "
                                      f"not valid Python (line {exc.lineno})") from exc
    return names


def foreign_names_problem(grade_id: str, names: list[str]) -> str:
    """The instructor-facing message for a test cell using names no solution cell defines."""
    listed = ", ".join(f"`{n}`" for n in names)
    return (f"test cell {grade_id!r} uses {listed}, which no solution cell defines: the grader would take "
            "it from the student's kernel, where the student can redefine it. Import it in the test cell "
            "(e.g. `from course_lib.gradient_check import rel_error`) or define it there")


def _grade_ids(nb) -> set[str]:
    """The nbgrader grade_ids of every cell of a notebook (solution, test and locked cells)."""
    return {gid for cell in nb.cells if isinstance(gid := _nbgrader(cell).get("grade_id"), str) and gid}


#: The problem that flags a notebook of another assignment (see :func:`~autograder.grade.pipeline.load_submission`).
WRONG_ASSIGNMENT = "wrong assignment"


def wrong_assignment(nb, source_ids: set[str], assignment: str) -> str | None:
    """A problem text when ``nb`` looks like a notebook of another assignment, else None.

    Judged by the nbgrader grade_ids of its cells: when fewer than half of them belong to
    the source notebook of ``assignment``, the student most likely uploaded another
    assignment's notebook (the four course notebooks share at most 4 ids). A notebook without
    any grade_id (copied into a new notebook) cannot be judged and is not flagged.
    """
    ids = _grade_ids(nb)
    if not ids or not source_ids:
        return None
    mine = ids & source_ids
    if 2 * len(mine) >= len(ids):
        return None
    others = ", ".join(sorted(ids - source_ids)[:4])
    return (f"{WRONG_ASSIGNMENT}: this notebook does not look like {assignment}: only {len(mine)} of its "
            f"{len(ids)} graded cells belong to it (others: {others}...). Was another assignment's notebook "
            "submitted? Submit your " + assignment + " notebook.")


def _imported_modules(source: str) -> list[str]:
    """The modules a test cell imports (``import a.b``, ``from a.b import c``: ``a.b``, ``a.b.c``...)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(strip_magics(source))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            # ``from autograder.checks import batchnorm``: the name may be a submodule
            names.extend(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return list(dict.fromkeys(names))


def check_grader(state: GradingState) -> None:
    """Step 1b: every autograded test cell compiles and the modules it imports load here.

    A hidden-check module missing on this machine (a Dask worker without the project) or
    broken (a syntax or import error) would otherwise fail every student's test with
    "error while checking"; it is a grader error instead, found before the kernel starts.
    """
    for g in state.graded:
        if g.kind != "auto":
            continue
        try:
            modules = _imported_modules(g.source)
            foreign = foreign_names(g.source, state.exercises)
        except SyntaxError as exc:
            raise SourceNotebookError(f"test cell {g.grade_id!r} is not valid Python (line {exc.lineno})") from exc
        if foreign:
            state.grader_failed(f"test {g.grade_id} uses names no solution cell defines",
                                foreign_names_problem(g.grade_id, foreign))
            return
        for name in modules:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                parent = name.rpartition(".")[0]
                if exc.name == name and parent and importlib.util.find_spec(parent) is not None:
                    continue  # ``from package import attribute``: not a submodule
                state.grader_failed(f"the module {name} of test {g.grade_id} is missing on the grading machine",
                                    str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - any failure of the grader's own module
                state.grader_failed(f"the module {name} of test {g.grade_id} fails to import",
                                    f"{type(exc).__name__}: {exc}")
                return
