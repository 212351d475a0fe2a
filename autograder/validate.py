"""Check an assignment after every edit: ``python -m autograder validate [ASSIGNMENT...]``.

Fast (no torch, no browser, no kernel unless asked), and the same checks everywhere:

* **structure** (:func:`structural_problems`): the source notebook reads; every nbgrader cell has a
  ``grade_id``, unique in the notebook; graded cells have valid points; solution and hidden-test markers
  are balanced; solution and test cells are valid Python; every free name of an autograded test cell is
  an exercise (a name a solution cell defines) or imported in the cell (:func:`autograder.grade.cell.foreign_names`).
  ``release`` and ``grade`` run this part first and refuse with the same messages
  (:func:`require_valid`).
* **library** (:func:`library_problems`): the solution markers of ``course_lib`` are balanced and name
  existing assignments, and the library this assignment's release ships defines none of the notebook's
  exercises (a student could import the answer).
* **leaks** (:func:`release_leaks`): no line of a solution region or hidden block (of any assignment) and no
  line of a ``course_lib`` region the release strips appears in ``release/<name>/``.
* **drift** (:func:`autograder.release.check_release`): ``release/<name>/`` is what a fresh build gives.
* **run** (optional, :func:`solution_problems`, needs a kernel): the source notebook, graded as a
  submission, passes every one of its autograded tests.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.grade.cell import foreign_names, strip_magics
from autograder.grade.job import SourceNotebookError
from autograder.grade.source import foreign_names_problem, notebook_exercises, parse_source_notebook
from autograder.release import ReleaseError

__all__ = [
    "Problem",
    "ValidationError",
    "CHECKS",
    "structural_problems",
    "library_problems",
    "secret_lines",
    "release_leaks",
    "drift_problems",
    "solution_problems",
    "validate",
    "require_valid",
]

#: The checks :func:`validate` runs, in order (``run`` only when asked).
CHECKS = ("structure", "library", "leaks", "drift", "run")

_SOLUTION_RE = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
_HIDDEN_RE = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
_MARKERS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
#: Shorter secret lines (``return x``) are too common to count as a leak.
_MIN_SECRET_CHARS = 12
_LIBRARY = "course_lib"


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


def _cell_label(path: str, index: int, cell) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"{path}, cell {index + 1}" + (f" ({gid})" if isinstance(gid, str) and gid else "")


def _source_path(name: str, course_dir: Path) -> Path:
    from autograder.grade.course import find_assignment

    return find_assignment(course_dir, name).source_notebook


def _read_notebook(path: Path):
    return nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)


def _marker_problems(source: str) -> list[str]:
    out = []
    for begin, end in _MARKERS:
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
    path = _source_path(name, course_dir)
    rel = path.relative_to(course_dir).as_posix() if path.is_relative_to(course_dir) else str(path)

    def problem(where: str, message: str) -> Problem:
        return Problem(name, "structure", where, message)

    try:
        nb = _read_notebook(path)
    except (ValueError, UnicodeDecodeError) as exc:
        return [problem(rel, f"not a readable notebook ({type(exc).__name__}: {str(exc)[:200]}); "
                             "save it again from Jupyter")]
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        where = _cell_label(rel, i, cell)
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
        where = _cell_label(rel, g.index, nb.cells[g.index])
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


def _library_modules(course_dir: Path) -> dict[str, str]:
    """Text of every module of the course's ``course_lib``, by path relative to the course directory."""
    root = Path(course_dir) / _LIBRARY
    return {p.relative_to(course_dir).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts}


def library_problems(name: str, course_dir: Path) -> list[Problem]:
    """Problems of ``course_lib``'s solution markers, and library answers to ``name``'s exercises.

    * every ``# BEGIN SOLUTION`` has its ``# END SOLUTION`` and names only assignments of the course;
    * the library the release of ``name`` ships (:func:`autograder.release.strip_library`) defines none of
      the names the notebook's solution cells define: a student who imports it would get the points.
    """
    import tempfile

    from autograder.assignments import assignment_names, get_assignment
    from autograder.release import BEGIN_MARKER, END_MARKER, library_regions, strip_library, top_level_names

    course_dir = Path(course_dir)
    known = set(assignment_names(course_dir))
    out: list[Problem] = []
    for rel, text in _library_modules(course_dir).items():
        try:
            regions = library_regions(text, rel)
        except ReleaseError as exc:
            out.append(Problem(name, "library", rel, str(exc).split(": ", 1)[1]))
            continue
        for region in regions:
            for tag in sorted(region.tags - known):
                out.append(Problem(name, "library", f"{rel}:{region.start}",
                                   f"'{BEGIN_MARKER}' names {tag!r}, which is not an assignment of the course "
                                   f"(known: {', '.join(sorted(known))}): fix the name"))
    if out:
        return out
    exercises = set(get_assignment(name, course_dir).exercises)
    with tempfile.TemporaryDirectory(prefix="validate-library-") as tmp:
        try:
            report = strip_library(course_dir / _LIBRARY, name, Path(tmp) / _LIBRARY)
        except ReleaseError as exc:
            return [Problem(name, "library", _LIBRARY, str(exc))]
        for module in report.shipped:
            path = Path(tmp, *module.split(".")).with_suffix(".py")
            if not path.is_file():
                path = Path(tmp, *module.split("."), "__init__.py")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            # definitions only: a module that imports a stripped answer is omitted from the release
            defined = top_level_names(ast.Module(body=[s for s in tree.body if not isinstance(
                s, (ast.Import, ast.ImportFrom))], type_ignores=[]))
            for answer in sorted(defined & exercises):
                rel = path.relative_to(tmp).as_posix()
                out.append(Problem(
                    name, "library", rel,
                    f"the release ships {module}.{answer}, and {answer!r} is an exercise of this notebook: a "
                    f"student who imports it gets the points. Put its definition between '{BEGIN_MARKER} "
                    f"{name}' and '{END_MARKER}' lines in {rel} (or add {name} to the marker that is there)"))
    return out


# ---------------------------------------------------------------------------------------------------
# leaks


def _norm(line: str) -> str:
    return " ".join(line.split())


def _lines(text: str) -> set[str]:
    return {n for n in (_norm(line) for line in text.splitlines()) if n}


def _notebook_parts(path: Path) -> tuple[set[str], set[str]]:
    """(secret lines, public lines) of a source notebook: solution regions and hidden blocks vs the rest."""
    if not path.is_file():
        return set(), set()
    secret, public = set(), set()
    for cell in _read_notebook(path).cells:
        for region in _SOLUTION_RE.findall(cell.source) + _HIDDEN_RE.findall(cell.source):
            secret |= _lines(region)
        public |= _lines(_HIDDEN_RE.sub("", _SOLUTION_RE.sub("", cell.source)))
    return secret, public


def _library_parts(course_dir: Path, name: str) -> tuple[set[str], set[str]]:
    """(lines of the ``course_lib`` regions the release of ``name`` strips, lines it ships)."""
    from autograder.release import library_regions

    secret: set[str] = set()
    public: set[str] = set()
    for rel, text in _library_modules(course_dir).items():
        lines = text.splitlines()
        inside = [False] * len(lines)
        marker = [False] * len(lines)
        for region in library_regions(text, rel):
            marker[region.start - 1] = marker[region.end - 1] = True
            if name in region.tags:
                for i in range(region.start - 1, region.end):
                    inside[i] = True
        for line, is_secret, is_marker in zip(lines, inside, marker):
            if not is_marker:
                (secret if is_secret else public).add(_norm(line))
    return secret - {""}, public - {""}


def secret_lines(name: str, course_dir: Path) -> list[str]:
    """The normalized lines that must not appear in ``release/<name>/``, sorted.

    The solution regions and hidden blocks of every assignment's source notebook, and the ``course_lib``
    regions the release strips, minus every line that is public anyway (given code and prose of any
    notebook, library code the release ships, also as part of a longer line) and lines shorter than 12
    characters.
    """
    from autograder.assignments import assignment_names

    course_dir = Path(course_dir)
    secret, public = set(), set()
    for other in dict.fromkeys([*assignment_names(course_dir), name]):
        s, p = _notebook_parts(_source_path(other, course_dir))
        secret |= s
        public |= p
    lib_secret, lib_public = _library_parts(course_dir, name)
    secret |= lib_secret
    public |= lib_public
    markers = {m for pair in _MARKERS for m in pair}
    public_text = "\n".join(sorted(public))  # a secret line inside a public one (a shorter form) is public
    return sorted(s for s in secret - public
                  if len(s) >= _MIN_SECRET_CHARS and s not in markers and s not in public_text)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _release_texts(path: Path) -> dict[str, str]:
    """Every file of a release as normalized text; notebooks also as their decoded strings."""
    texts = {}
    for f in sorted(path.rglob("*")):
        if not f.is_file() or "__pycache__" in f.parts:
            continue
        raw = f.read_bytes().decode("utf-8", errors="replace")
        rel = f.relative_to(path).as_posix()
        texts[rel] = "\n".join(_norm(line) for line in raw.splitlines())
        if f.suffix == ".ipynb":
            try:
                decoded = "\n".join(_strings(json.loads(raw)))
            except ValueError:
                continue
            texts[rel + " (decoded)"] = "\n".join(_norm(line) for line in decoded.splitlines())
    return texts


def release_leaks(name: str, course_dir: Path) -> list[Problem]:
    """Lines of :func:`secret_lines` found in ``release/<name>/`` (nothing when it does not exist)."""
    course_dir = Path(course_dir)
    path = course_dir / "release" / name
    if not path.is_dir():
        return []
    texts = _release_texts(path)
    return [Problem(name, "leaks", f"release/{name}/{rel}",
                    f"contains solution or hidden-test text {line!r}: keep it inside the solution region or "
                    "hidden block only (in course_lib: between solution markers naming this assignment), then "
                    f"run 'python -m autograder release {name}'")
            for line in secret_lines(name, course_dir) for rel, text in texts.items() if line in text]


def drift_problems(name: str, course_dir: Path) -> list[Problem]:
    """Differences between ``release/<name>/`` and a fresh build (:func:`autograder.release.check_release`).

    """
    from autograder.release import check_release

    return [Problem(name, "drift", line.split(" ", 1)[0],
                    line.split(" ", 1)[1].split("; run ")[0] + f": run 'python -m autograder release {name}'")
            for line in check_release(Path(course_dir), [name])]


def solution_problems(name: str, course_dir: Path, *, timeout: float = 600.0) -> list[Problem]:
    """Grade the source notebook itself as a submission: every autograded test must pass.

    Runs the instructor's notebook (trusted) in a grading kernel, with the release's files beside it.
    """
    from autograder.grade.job import GradingJob, GradingOptions
    from autograder.grade.pipeline import grade_submission
    from autograder.grade.submissions import read_tree_files

    course_dir = Path(course_dir)
    path = _source_path(name, course_dir)
    release_dir = course_dir / "release" / name
    if not release_dir.is_dir():
        return [Problem(name, "run", f"release/{name}", "missing: the solutions run next to the release's "
                                                          f"files; run 'python -m autograder release {name}'")]
    data = path.read_bytes()
    job = GradingJob(student="source", assignment=name, origin=str(path), submission=data, problems=[],
                     source_notebook=data, release_dir=str(release_dir), notebook_name=path.name,
                     fingerprint="0" * 64,
                     options=GradingOptions(submission_timeout=timeout, trusted_notebooks=True,
                                            hide=(str(course_dir / "grading-out"),)),
                     release_files=read_tree_files(release_dir, skip_suffixes=(".ipynb",)))
    result = grade_submission(job)
    rel = path.relative_to(course_dir).as_posix() if path.is_relative_to(course_dir) else str(path)
    if result.get("grader_error"):
        return [Problem(name, "run", rel, f"could not be graded: {result.get('grader_detail')}")]
    return [Problem(name, "run", f"{rel}, {t['grade_id']}",
                    f"the notebook's own solutions fail this test: {t['message']}")
            for t in result["tests"] if t["kind"] == "auto" and t["status"] != "passed"]


def validate(names: list[str], course_dir: Path, *, checks: tuple[str, ...] = CHECKS[:-1]) -> list[Problem]:
    """Run ``checks`` (default: all but ``run``) on each assignment; the problems found, in order.

    The later checks of an assignment are skipped when its structure is broken (they would only repeat it).
    """
    runners = {"library": library_problems, "leaks": release_leaks, "drift": drift_problems,
               "run": solution_problems}
    out: list[Problem] = []
    for name in names:
        found = structural_problems(name, course_dir)
        out += found
        if found:
            continue
        for check in checks:
            if check != "structure":
                out += [p for p in runners[check](name, course_dir)
                        if not (check == "library" and any((q.where, q.message) == (p.where, p.message)
                                                           for q in out))]  # course-wide, said once
    return out
