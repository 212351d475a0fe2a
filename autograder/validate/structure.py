"""The structural checks of a source notebook (``release`` and ``grade`` run them first).

The notebook reads; every nbgrader cell has a ``grade_id``, unique in the notebook; graded cells have valid
points; solution and hidden-test markers are balanced; solution and test cells are valid Python; every free
name of an autograded test cell is an exercise (a name a solution cell defines) or imported in the cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.grade.cell import foreign_names, strip_magics
from autograder.grade.job import SourceNotebookError
from autograder.grade.source import foreign_names_problem, notebook_exercises, parse_source_notebook
from autograder.release.errors import ReleaseError

__all__ = [
    "Problem",
    "ValidationError",
    "NOTEBOOK_MARKERS",
    "structural_problems",
    "require_valid",
    "read_notebook",
    "source_path",
    "cell_label",
]


NOTEBOOK_MARKERS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an assignment.

    Attributes
    ----------
    assignment : str
    check : str
        One of :data:`CHECKS`.
    where : str
        The file and cell (``source/fc_nets/fc_nets.ipynb, cell 12 (test_relu)``) or release file.
    message : str
        What is wrong and what to do.
    """

    assignment: str
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.assignment}: {self.where}: {self.message}"


class ValidationError(SourceNotebookError, ReleaseError):
    """An assignment fails the structural checks; ``problems`` lists them (the message too)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"the source notebook has {len(self.problems)} problem(s); fix them and run "
                         f"'python -m autograder validate {self.problems[0].assignment}':\n{lines}")


def cell_label(path: str, index: int, cell) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"{path}, cell {index + 1}" + (f" ({gid})" if isinstance(gid, str) and gid else "")


def source_path(name: str, course_dir: Path) -> Path:
    from autograder.grade.course import find_assignment

    return find_assignment(course_dir, name).source_notebook


def read_notebook(path: Path):
    return nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)


def _marker_problems(source: str) -> list[str]:
    out = []
    for begin, end in NOTEBOOK_MARKERS:
        depth = 0
        for line in source.splitlines():
            text = line.strip()
            if text.startswith(begin):
                depth += 1
                if depth > 1:
                    out.append(f"'{begin}' inside another '{begin}' region: close the first with '{end}'")
            elif text.startswith(end):
                depth -= 1
                if depth < 0:
                    out.append(f"'{end}' without '{begin}' before it")
                    depth = 0
        if depth > 0:
            out.append(f"'{begin}' is never closed: add '{end}' (nbgrader would not remove the region "
                       "from the release)")
    return out


def structural_problems(name: str, course_dir: Path) -> list[Problem]:
    """The structural problems of ``source/<name>/`` (empty when it can be released and graded).

    Parameters
    ----------
    name : str
        Assignment name.
    course_dir : Path
        Course folder with ``source/``.

    Returns
    -------
    list of Problem

    Raises
    ------
    autograder.grade.course.AssignmentNotFoundError
        There is no source notebook for ``name``.
    """
    course_dir = Path(course_dir)
    path = source_path(name, course_dir)
    rel = path.relative_to(course_dir).as_posix() if path.is_relative_to(course_dir) else str(path)

    def problem(where: str, message: str) -> Problem:
        return Problem(name, "structure", where, message)

    try:
        nb = read_notebook(path)
    except (ValueError, UnicodeDecodeError) as exc:
        return [problem(rel, f"not a readable notebook ({type(exc).__name__}: {str(exc)[:200]}); "
                             "save it again from Jupyter")]
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        where = cell_label(rel, i, cell)
        source = cell.get("source", "")
        out += [problem(where, m) for m in _marker_problems(source)]
        if not isinstance(meta, dict) or not any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
            if "### BEGIN SOLUTION" in source or "### BEGIN HIDDEN TESTS" in source:
                out.append(problem(where, "has solution or hidden-test markers but no nbgrader metadata: make "
                                          "it a solution or test cell (View > Cell Toolbar > Create Assignment)"))
            continue
        gid = meta.get("grade_id")
        if not isinstance(gid, str) or not gid:
            out.append(problem(where, "an nbgrader cell without a grade_id: give it a unique grade_id"))
        elif gid in seen:
            out.append(problem(where, f"grade_id {gid!r} is also used by cell {seen[gid] + 1}: grade ids must "
                                      "be unique"))
        else:
            seen[gid] = i
        if meta.get("grade"):
            pts = meta.get("points")
            if not isinstance(pts, (int, float)) or isinstance(pts, bool) or pts < 0:
                out.append(problem(where, f"a graded cell needs points >= 0 (has {pts!r}): set its points"))
        if "### BEGIN HIDDEN TESTS" in source and not (meta.get("grade") and not meta.get("solution")
                                                        and cell.get("cell_type") == "code"):
            out.append(problem(where, "hidden tests outside an autograded test cell: move them into the test "
                                      "cell they belong to"))
    if out:
        return out  # the checks below need sound metadata
    try:
        exercises = notebook_exercises(nb)
        graded = parse_source_notebook(nb)
    except SourceNotebookError as exc:
        return [problem(rel, str(exc))]
    for g in graded:
        if g.kind != "auto":
            continue
        where = cell_label(rel, g.index, nb.cells[g.index])
        try:
            compile(strip_magics(g.source), where, "exec")
            foreign = foreign_names(g.source, exercises)
        except SyntaxError as exc:
            out.append(problem(where, f"not valid Python (line {exc.lineno}: {exc.msg})"))
            continue
        if foreign:
            out.append(problem(where, foreign_names_problem(g.grade_id, foreign)))
    if not any(g.kind == "auto" for g in graded):
        out.append(problem(rel, "no autograded test cell: mark a test cell 'Autograded tests' with points"))
    return out


def require_valid(name: str, course_dir: Path) -> None:
    """Raise :class:`ValidationError` when :func:`structural_problems` finds anything (``release``, ``grade``)."""
    problems = structural_problems(name, course_dir)
    if problems:
        raise ValidationError(problems)
