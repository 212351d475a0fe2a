"""Grade one submission: an ordered list of single-purpose steps.

:func:`grade_submission` takes a :class:`GradingJob` (everything one student's grading
needs, picklable so that a Dask worker can run it) and returns a plain result dict
(JSON-able, see :func:`build_result`). It never raises: whatever goes wrong becomes a
clear per-test result, so no submission is ever lost.

The steps, in order (:data:`STEPS`), each a function ``step(state) -> None`` on a
:class:`GradingState`, testable alone:

1. :func:`parse_source` -- graded cells (grade_id, points, test code) from the instructor's
   **source** notebook; the submission's metadata is never trusted for this.
   :func:`check_grader` -- the test cells compile and the modules they import (the hidden
   checks) import in this process.
2. :func:`load_submission` -- safe read of the submitted bytes (bad JSON, non-UTF-8, huge
   files), normalized, saved outputs dropped; a notebook of another assignment is flagged
   (:func:`wrong_assignment`).
3. :func:`prepare_workdir` -- a fresh scratch folder with only the released files and the
   student's notebook.
4. :func:`start_kernel` -- the resource-limited student kernel (:mod:`autograder.sandbox`).
5. :func:`execute_student_notebook` -- the student's code cells in order, except the cells
   whose grade_id is an autograded test cell of the source; errors do not stop execution;
   a cell that kills the kernel is skipped and the kernel is restarted with the cells
   before it re-run.
6. :func:`run_tests` -- each autograded test cell of the source, in source order, through
   :func:`autograder.remote.run_graded_cell`; all-or-nothing points from the source; manual
   cells are "pending manual grading"; a test that kills the kernel fails and the kernel is
   restarted and the student's cells re-run before the next test.
7. :func:`stop_kernel` -- ends the kernel and every process it left running.
8. :func:`render_feedback` -- feedback.html text (:mod:`autograder.feedback`).

Writing the outputs (results.json, feedback.html, grades.csv, gradebook) happens in the
main process, see :mod:`autograder.results` and :mod:`autograder.gradebook`.

**Grader errors are never a student's zero.** When the grader itself fails -- the kernel
cannot start or be restarted, the kernel dies before any student code ran, a check module
cannot be imported or has a programming error (``NameError``, ``ImportError``), a step raises
-- the result is marked ``grader_error``: its tests have status ``"error"``, its score is None,
no score is written anywhere (results.json, grades.csv, gradebook), the student is told the
grader failed (not their code), and the next run grades it again. The student's own kernel
deaths (``os._exit``, memory, time) stay the student's failures.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import importlib.util
import io
import json
import re
import shutil
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder import sandbox
from autograder.assignments import GRADING_ENV
from autograder.checks import collect_notes
from autograder.errors import AutograderError
from autograder.submissions import copy_tree_files, load_notebook_bytes, write_tree_files
from course_lib.data import CIFAR10_ENV_VAR, SYNTHETIC_WARNING_ENV_VAR

__all__ = [
    "GRADER_VERSION",
    "GradedCell",
    "GradingOptions",
    "GradingJob",
    "GradingState",
    "TestResult",
    "STEPS",
    "SourceNotebookError",
    "grade_submission",
    "error_result",
    "grader_fingerprint",
    "job_fingerprint",
    "parse_source",
    "check_grader",
    "parse_source_notebook",
    "notebook_exercises",
    "foreign_names_problem",
    "load_submission",
    "wrong_assignment",
    "WRONG_ASSIGNMENT",
    "SETUP_FAILED",
    "setup_failure",
    "prepare_workdir",
    "start_kernel",
    "execute_student_notebook",
    "run_tests",
    "stop_kernel",
    "render_feedback",
    "executed_notebook",
    "build_result",
    "redact_hidden",
    "PREAMBLE",
]

#: Bumped when the meaning of results changes; part of every result's fingerprint.
GRADER_VERSION = "1"


def _preamble() -> str:
    env = {"AUTOGRADER_GRADING": "1", **GRADING_ENV}
    return f"import os as _ag_os\n_ag_os.environ.update({env!r})\ndel _ag_os\n"


#: Run in the kernel before the student's cells (and after each restart): selects the
#: grading-size data of the notebooks (``COURSE_GRADING=1``, see :mod:`autograder.assignments`)
#: and makes ``course_lib.check.check()`` a no-op, so a submission that calls it does not
#: start a second kernel.
PREAMBLE = _preamble()

_HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
_HIDDEN_END = "### END HIDDEN TESTS"

#: Caps on what the student's cells print, kept for feedback.html.
_MAX_STREAM_CHARS = 100_000
_MAX_CELL_OUTPUT_CHARS = 2_000_000
_MAX_NOTEBOOK_OUTPUT_CHARS = 12_000_000
_MAX_MESSAGE_CHARS = 4_000


class SourceNotebookError(AutograderError, ValueError):
    """The instructor's source notebook cannot be used for grading."""


@dataclass(frozen=True)
class GradedCell:
    """A graded cell of the instructor's source notebook.

    Attributes
    ----------
    grade_id : str
        nbgrader ``grade_id``.
    points : float
        Points from the source metadata.
    kind : str
        ``"auto"`` (autograded test cell) or ``"manual"`` (manually graded answer or task).
    source : str
        The cell's full source (visible and hidden tests). Never written for students.
    index : int
        Position in the source notebook.
    """

    grade_id: str
    points: float
    kind: str
    source: str
    index: int


@dataclass(frozen=True)
class GradingOptions:
    """Time and restart budgets of one submission.

    Attributes
    ----------
    cell_timeout : float
        Seconds for one of the student's cells.
    test_timeout : float
        Seconds for one graded test cell.
    submission_timeout : float
        Seconds for the whole submission (cells, tests and restarts); what is left when
        it runs out fails with a clear message.
    max_restarts : int
        Kernel restarts in a row allowed to recover from one failure (a cell or test that
        killed the kernel or ran out of time, then cells that fail again when re-run). Each
        failure is recovered on its own: a function that hangs or crashes in every cell and
        test that uses it costs those cells and tests only; ``submission_timeout`` bounds
        the total.
    memory_mb : int
        Memory limit of the student kernel.
    hide : tuple of str
        Paths the student kernel must not see (course folder, other submissions, outputs).
    extra_paths : tuple of str
        Folders added to the kernel's import path (where ``course_lib`` lives).
    trusted_notebooks : bool
        The notebooks are trusted: where no isolation works, run them with rlimits only instead of
        refusing (:func:`autograder.sandbox.require_isolation`).
    cifar10_dir : str or None
        The instructor's ``cifar-10-batches-py``: the student kernel reads it, read-only, as its
        ``COURSE_CIFAR10_DIR`` (on every machine that grades: Dask workers included). None: the kernel
        uses the synthetic stand-in. Either way the kernel's ``SyntheticDataWarning`` is silenced (its
        advice is for a student's own machine), and no verdict depends on it: checks that train use data
        the grader fixes.
    """

    cell_timeout: float = 300.0
    test_timeout: float = 60.0
    submission_timeout: float = 1800.0
    max_restarts: int = 3
    memory_mb: int = sandbox.Limits.memory_mb
    hide: tuple[str, ...] = ()
    extra_paths: tuple[str, ...] = ()
    trusted_notebooks: bool = False
    cifar10_dir: str | None = None


@dataclass
class GradingJob:
    """Everything needed to grade one student's submission (picklable).

    Attributes
    ----------
    student : str
        Safe student id.
    assignment : str
        Assignment name.
    origin : str
        Where the submission came from (for messages).
    submission : bytes or None
        The notebook file's bytes, or None when no notebook was found.
    problems : list of str
        Problems found while locating the submission.
    source_notebook : bytes
        The instructor's source notebook file.
    release_dir : str
        Folder of released files copied next to the student's notebook (on the machine that
        grades), used when ``release_files`` is None.
    notebook_name : str
        File name the student's notebook gets in the scratch folder.
    fingerprint : str
        Hash of submission, source notebook and grader (see :func:`job_fingerprint`).
    options : GradingOptions
    release_files : dict of str to bytes, optional
        The released files themselves (relative POSIX path -> content), written next to the
        student's notebook instead of reading ``release_dir``: a job carries everything it
        needs, so a Dask worker that cannot see the course folder grades it correctly.
    """

    student: str
    assignment: str
    origin: str
    submission: bytes | None
    problems: list[str]
    source_notebook: bytes
    release_dir: str
    notebook_name: str
    fingerprint: str
    options: GradingOptions = field(default_factory=GradingOptions)
    release_files: dict[str, bytes] | None = None


@dataclass
class TestResult:
    """Outcome of one graded cell for one student.

    Attributes
    ----------
    grade_id : str
    kind : str
        ``"auto"`` or ``"manual"``.
    points : float
        Maximum points.
    score : float
        Points earned (0 for manual cells until graded by hand).
    status : str
        ``"passed"``, ``"failed"``, ``"pending"`` (manual grading) or ``"error"`` (not graded:
        the grader failed, see the module docstring).
    message : str
        Student-facing explanation; never the hidden test's code.
    duration : float
        Seconds spent.
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    kind: str
    points: float
    score: float
    status: str
    message: str
    duration: float = 0.0


@dataclass
class _Cell:
    """What happened to one of the student's code cells."""

    status: str  # ok, error, timeout, died, skipped, test
    outputs: list = field(default_factory=list)
    duration: float = 0.0
    error: str = ""  # why the kernel stopped, for died and timeout


@dataclass
class GradingState:
    """What the steps share while grading one submission."""

    job: GradingJob
    graded: list[GradedCell] = field(default_factory=list)
    source_ids: set[str] = field(default_factory=set)
    exercises: set[str] = field(default_factory=set)
    notebook: Any = None
    problems: list[str] = field(default_factory=list)
    fatal: str | None = None
    grader_error: bool = False
    grader_detail: str = ""
    workdir: Path | None = None
    kernel: Any = None
    isolation: str = ""
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    started: float = field(default_factory=time.monotonic)
    cells: dict[int, _Cell] = field(default_factory=dict)
    replay: list[int] = field(default_factory=list)
    restarts: int = 0
    output_chars: int = 0
    tests: list[TestResult] = field(default_factory=list)
    feedback_html: str = ""

    @property
    def deadline(self) -> float:
        return self.started + self.job.options.submission_timeout

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def grader_failed(self, reason: str, detail: str = "") -> None:
        """Record that the grader (not the submission) failed: nothing of this run is scored.

        ``reason`` is shown to the student; ``detail`` (the underlying error, whose wording may
        come from code that assumes the student is at fault) only to the instructor.
        """
        if not self.grader_error:
            self.fatal = (f"not graded: the grader failed on its side ({reason}). This is not a problem "
                          "with your submission; it will be graded again.")
            self.grader_detail = _clip(f"{reason}: {detail}" if detail else reason, 1000)
        self.grader_error = True


# --------------------------------------------------------------------------- fingerprints

def grader_fingerprint() -> str:
    """Hash of the code behind every verdict and its version: each ``*.py`` of the ``autograder`` package
    (pipeline, kernel, hidden checks) and of ``course_lib``, the reference the hidden checks compare with.

    Changing a check helper, the pipeline or the reference library therefore re-grades everything on the
    next run.
    """
    import course_lib

    h = hashlib.sha256(f"autograder {GRADER_VERSION}\n".encode())
    for name, pkg in (("autograder", Path(__file__).resolve().parent),
                      ("course_lib", Path(course_lib.__file__).resolve().parent)):
        for path in sorted(pkg.rglob("*.py")):
            rel = path.relative_to(pkg).as_posix()
            if rel.startswith("examples/"):
                continue
            h.update(f"{name}/{rel}".encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def job_fingerprint(submission: bytes | None, source_notebook: bytes, grader: str, *,
                    release_files: dict[str, bytes] | None = None, options: GradingOptions | None = None) -> str:
    """Hash of every input of a submission's verdict.

    The submission's bytes, the source notebook's (tests, points), the grader fingerprint
    (:func:`grader_fingerprint`), the released files the student's kernel gets, and the grading options
    (time and memory limits, data) except ``hide``, whose paths include each run's scratch folders.
    A student whose recorded fingerprint matches is not graded again on a re-run.
    """
    parts = [submission if submission is not None else b"<no notebook>", source_notebook, grader.encode()]
    for rel in sorted(release_files or {}):
        parts += [rel.encode(), (release_files or {})[rel]]
    if options is not None:
        settings = {k: v for k, v in asdict(options).items() if k != "hide"}
        parts.append(json.dumps(settings, sort_keys=True, default=str).encode())
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


# --------------------------------------------------------------------------- source notebook

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


def _clip(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    text = text.strip()
    if len(text) > limit:
        return text[:limit] + f"\n... [{len(text) - limit} more characters cut]"
    return text


# --------------------------------------------------------------------------- steps

def parse_source(state: GradingState) -> None:
    """Step 1: read the graded cells from the instructor's source notebook."""
    nb = nbformat.reads(state.job.source_notebook.decode("utf-8"), as_version=4)
    state.graded = parse_source_notebook(nb)
    state.source_ids = _grade_ids(nb)
    state.exercises = notebook_exercises(nb)


def notebook_exercises(nb) -> set[str]:
    """The names the solution cells of a source notebook define (:func:`autograder.remote.defined_names`).

    Raises
    ------
    SourceNotebookError
        A solution cell is not valid Python.
    """
    from autograder.remote import defined_names

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


#: The problem that flags a notebook of another assignment (see :func:`load_submission`).
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
    from autograder.remote import strip_magics

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
    from autograder.remote import foreign_names

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


def load_submission(state: GradingState) -> None:
    """Step 2: read the submitted bytes into a clean notebook, recording problems."""
    for p in state.job.problems:
        state.note(p)
    if state.job.submission is None:
        state.fatal = state.fatal or (state.job.problems[0] if state.job.problems else "no notebook found")
        return
    loaded = load_notebook_bytes(state.job.submission)
    for p in loaded.problems:
        state.note(p)
    if loaded.notebook is None:
        state.fatal = state.fatal or loaded.problems[-1]
        return
    state.notebook = loaded.notebook
    wrong = wrong_assignment(loaded.notebook, state.source_ids, state.job.assignment)
    if wrong:
        state.note(wrong)


def prepare_workdir(state: GradingState) -> None:
    """Step 3: a fresh scratch folder with the released files and the student's notebook only."""
    if state.notebook is None or state.grader_error:
        return
    release = Path(state.job.release_dir)
    if state.job.release_files is None and not release.is_dir():
        state.grader_failed(f"the assignment's released files ({release}) are missing on the grading machine; "
                            f"the instructor must run 'python -m autograder release {state.job.assignment}'")
        return
    workdir = Path(tempfile.mkdtemp(prefix=f"ag-{state.job.student[:20]}-"))
    state.workdir = workdir
    if state.job.release_files is not None:
        write_tree_files(state.job.release_files, workdir)
    else:
        copy_tree_files(release, workdir, skip_suffixes=(".ipynb",))
    nbformat.write(state.notebook, workdir / state.job.notebook_name)


def start_kernel(state: GradingState) -> None:
    """Step 4: start the student kernel in the scratch folder (a clear fault if it cannot start)."""
    if state.notebook is None or state.workdir is None:
        return
    opts = state.job.options
    try:
        limits = sandbox.Limits(cell_timeout=opts.cell_timeout, total_timeout=opts.submission_timeout,
                                memory_mb=opts.memory_mb)
        kernel = sandbox.StudentKernel(state.workdir, extra_paths=tuple(Path(p) for p in opts.extra_paths),
                                       limits=limits, hide=tuple(Path(p) for p in opts.hide),
                                       isolate=None if opts.trusted_notebooks else True,
                                       data_dirs={CIFAR10_ENV_VAR: opts.cifar10_dir} if opts.cifar10_dir else {},
                                       env={SYNTHETIC_WARNING_ENV_VAR: "off"})
        state.kernel = state.stack.enter_context(kernel)
    except Exception as exc:  # KernelError and whatever the OS says; no student code has run yet
        state.grader_failed("it could not start a Python kernel", f"{type(exc).__name__}: {exc}")
        return
    state.isolation = str(getattr(state.kernel, "isolation", "") or "")
    ran = _run(state, PREAMBLE, 30.0)
    if ran.status != "ok" or not _kernel_alive(state):  # before any student code: the grader's fault
        why = ran.error or "".join(str(o.get("text", "")) for o in ran.outputs if isinstance(o, dict))
        state.grader_failed("the new Python kernel failed before running any of your code",
                            f"{ran.status}: {why.strip()}")


def _run(state: GradingState, source: str, timeout: float) -> _Cell:
    """Run one cell in the kernel; every failure becomes a status, never an exception."""
    t0 = time.monotonic()
    try:
        res = state.kernel.run_cell(source, timeout=max(timeout, 0.1))
    except Exception as exc:
        name = type(exc).__name__
        status = "died" if "Died" in name else "timeout" if "Timeout" in name else "error"
        return _Cell(status, [nbformat.v4.new_output("stream", name="stderr",
                                                     text=f"[grader] {name}: {exc}\n")],
                     time.monotonic() - t0)
    status = getattr(res, "status", "error")
    if status not in ("ok", "error", "timeout", "died"):
        status = "error"
    outputs = list(getattr(res, "outputs", None) or [])
    return _Cell(status, outputs, float(getattr(res, "duration", time.monotonic() - t0)),
                 str(getattr(res, "error", "") or ""))


def _kernel_alive(state: GradingState) -> bool:
    try:
        return bool(state.kernel.alive)
    except Exception:
        return False


def _recover(state: GradingState, before: int | None) -> bool:
    """Restart the kernel and re-run the student's completed cells (those before ``before``).

    Returns False (with ``state.fatal`` set) when the restart budget or time runs out.
    """
    opts = state.job.options
    attempts = 0
    while True:
        if attempts >= opts.max_restarts:
            state.fatal = (f"the kernel running your code died {attempts + 1} times in a row; "
                           "stopped restarting it")
            return False
        if state.remaining() <= 0:
            state.fatal = f"the time budget of {opts.submission_timeout:.0f} s for the submission was used up"
            return False
        attempts += 1
        state.restarts += 1
        try:
            state.kernel.restart()
        except Exception as exc:
            state.grader_failed("it could not restart the Python kernel", f"{type(exc).__name__}: {exc}")
            return False
        _run(state, PREAMBLE, 30.0)
        clean = True
        for j in list(state.replay):
            if before is not None and j >= before:
                break
            left = state.remaining()
            if left <= 0:
                state.fatal = f"the time budget of {opts.submission_timeout:.0f} s was used up " \
                              "while re-running your cells"
                return False
            res = _run(state, state.notebook.cells[j].source, min(opts.cell_timeout, left))
            if res.status in ("died", "timeout") or not _kernel_alive(state):
                state.replay.remove(j)
                state.cells[j].status = res.status if res.status in ("died", "timeout") else "died"
                state.note(f"cell {j + 1} failed when it was re-run after a kernel restart; skipped it")
                if not _kernel_alive(state):
                    clean = False
                    break
        if clean:
            return True


def _keep_outputs(state: GradingState, outputs: list) -> list:
    """Cap what a cell printed: long text is cut, and past the per-cell and per-notebook budgets
    outputs are dropped with a note (plots within the budgets are kept)."""
    kept: list = []
    cell_chars = 0
    for out in outputs:
        try:
            node = nbformat.from_dict(out)
            if node.get("output_type") == "stream" and len(node.get("text", "")) > _MAX_STREAM_CHARS:
                cut = len(node["text"]) - _MAX_STREAM_CHARS
                node["text"] = node["text"][:_MAX_STREAM_CHARS] + \
                    f"\n[grader] output too large: {cut} more characters were cut\n"
            size = len(json.dumps(node))
        except (TypeError, ValueError):
            continue
        if cell_chars + size > _MAX_CELL_OUTPUT_CHARS or \
                state.output_chars + size > _MAX_NOTEBOOK_OUTPUT_CHARS:
            kept.append(nbformat.v4.new_output(
                "stream", name="stderr", text="[grader] output too large: the rest of this cell's output "
                                              "was dropped\n"))
            break
        kept.append(node)
        cell_chars += size
        state.output_chars += size
    return kept


#: The problem that flags a failed setup cell (see :func:`setup_failure`).
SETUP_FAILED = "setup failed"

_IMPORT_FAILURE = re.compile(r"^(ModuleNotFoundError|ImportError)\b")


def setup_failure(index: int, error: str, before_exercises: bool) -> str | None:
    """The problem text when the student's code cell ``index`` (0-based) failed while setting up, else None.

    A setup failure is a cell before the notebook's first solution cell (imports, data) that raised, or
    any cell whose import failed (``ModuleNotFoundError: No module named 'course_lib'`` when the release's
    library is missing on the grading machine): every test that needs what it sets up fails, so the
    instructor should see it in the command's summary, not only in feedback.html.
    """
    first = error.strip().splitlines()[0] if error.strip() else "an error"
    if not (before_exercises or _IMPORT_FAILURE.match(first)):
        return None
    return (f"{SETUP_FAILED}: cell {index + 1} raised {_clip(first, 300)}; the tests that need what it sets up "
            "fail")


def execute_student_notebook(state: GradingState) -> None:
    """Step 5: run the student's code cells in order (not the source's test cells).

    A setup cell that fails is noted as a problem (:func:`setup_failure`), once per submission.
    """
    if state.kernel is None or state.fatal:
        return
    opts = state.job.options
    tests = {g.grade_id for g in state.graded if g.kind == "auto"}
    first_solution = next((i for i, c in enumerate(state.notebook.cells)
                           if _nbgrader(c).get("solution") and c.cell_type == "code"), len(state.notebook.cells))
    for i, cell in enumerate(state.notebook.cells):
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("nbgrader", {}).get("grade_id") in tests:
            state.cells[i] = _Cell("test")
            continue
        if not cell.source.strip():
            continue
        left = state.remaining()
        if left <= 0:
            state.cells[i] = _Cell("skipped")
            state.note(f"the time budget of {opts.submission_timeout:.0f} s ran out at cell {i + 1}; "
                       "later cells were not run")
            continue
        res = _run(state, cell.source, min(opts.cell_timeout, left))
        res.outputs = _keep_outputs(state, res.outputs)
        state.cells[i] = res
        if res.status == "error" and not any(p.startswith(SETUP_FAILED) for p in state.problems):
            problem = setup_failure(i, res.error, i < first_solution)
            if problem:
                state.note(problem)
        alive = _kernel_alive(state)
        if res.status in ("ok", "error") and alive:
            state.replay.append(i)
        elif res.status == "timeout":
            state.note(f"cell {i + 1} did not finish within {min(opts.cell_timeout, left):.0f} s; it was "
                       "stopped, the kernel restarted and the cells before it re-run")
            res.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr", text="[grader] this cell was stopped: it ran out of time\n"))
        else:
            res.status = "died"
            why = res.error.splitlines()[0] if res.error else "os._exit, a crash or running out of memory"
            state.note(f"cell {i + 1} ended the kernel ({why}); "
                       "the kernel was restarted, the cells before it re-run, and grading went on")
            res.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text="[grader] the kernel died while running this cell" + (f": {res.error}\n" if res.error else "\n")))
        if not _kernel_alive(state) and not _recover(state, before=i):
            return


#: "error while checking: NameError: ..." from :func:`autograder.remote.run_graded_cell`: a
#: programming error of the grader's own check code (the student's exceptions come back as
#: "your code raised ..."), so the test was not graded.
_GRADER_BUG = re.compile(r"^error while checking: (NameError|UnboundLocalError|ImportError|ModuleNotFoundError)"
                         r"\b")


def _run_graded_cell():
    from autograder.remote import run_graded_cell

    return run_graded_cell


def run_tests(state: GradingState) -> None:
    """Step 6: run every graded cell of the source against the student's kernel."""
    opts = state.job.options
    run_graded_cell = _run_graded_cell() if state.kernel is not None else None
    for g in state.graded:
        if g.kind == "manual":
            state.tests.append(TestResult(g.grade_id, "manual", g.points, 0.0, "pending",
                                          "pending manual grading"))
            continue
        if state.fatal or state.kernel is None or run_graded_cell is None:
            reason = state.fatal or "the submission could not be run"
            state.tests.append(TestResult(g.grade_id, "auto", g.points, 0.0, "failed", reason))
            continue
        left = state.remaining()
        if left <= 0:
            state.tests.append(TestResult(
                g.grade_id, "auto", g.points, 0.0, "failed",
                f"not run: the time budget of {opts.submission_timeout:.0f} s for the submission was used up"))
            continue
        t0 = time.monotonic()
        sink = io.StringIO()  # what the test cell prints may show expected values: never shown
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), collect_notes() as notes:
                outcome = run_graded_cell(state.kernel, g.source, timeout=min(opts.test_timeout, left),
                                          exercises=state.exercises)
            passed, message = bool(outcome.passed), str(outcome.message or "")
            if passed and notes:  # remarks of checks that passed (e.g. an accepted shape)
                message = "passed; note: " + "\n".join(notes)
        except Exception as exc:  # run_graded_cell reports student and kernel failures, never raises them
            state.grader_failed(f"test {g.grade_id} could not be run", f"{type(exc).__name__}: {exc}")
            return
        if not passed and _GRADER_BUG.match(message):
            state.grader_failed(f"the check of test {g.grade_id} has a bug", message)
            return
        duration = time.monotonic() - t0
        died = not _kernel_alive(state)
        if died:  # died, or was stopped at the deadline: the test fails, the kernel is restarted
            if passed or not message:
                message = "the kernel running your code stopped during this test"
            passed = False
        message = _clip(redact_hidden(message, g.source)) or ("passed" if passed else "failed")
        state.tests.append(TestResult(g.grade_id, "auto", g.points, g.points if passed else 0.0,
                                      "passed" if passed else "failed", message, duration))
        if died:
            state.note(f"test {g.grade_id} stopped the kernel ({message.splitlines()[0]}); it was "
                       "restarted and your cells re-run for the next tests")
            _recover(state, before=None)


def stop_kernel(state: GradingState) -> None:
    """Step 7: end the kernel (the sandbox also ends every process the student started)."""
    try:
        state.stack.close()
    except Exception as exc:
        state.note(f"the kernel did not shut down cleanly ({exc})")
    state.kernel = None


def executed_notebook(state: GradingState):
    """The student's notebook with the outputs of this run (what feedback and formgrader show)."""
    if state.notebook is None:
        return None
    nb = nbformat.from_dict(json.loads(json.dumps(state.notebook)))
    count = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        ran = state.cells.get(i)
        if ran is not None and ran.status not in ("test", "skipped"):
            count += 1
            cell.execution_count = count
            cell.outputs = [dict(o, execution_count=count) if o.get("output_type") == "execute_result" else o
                            for o in ran.outputs]
    return nb


def render_feedback(state: GradingState) -> None:
    """Step 8: feedback.html text for the student."""
    from autograder.feedback import fallback_html, render_feedback_html

    _complete_tests(state)
    kwargs: dict[str, Any] = {"student": state.job.student, "assignment": state.job.assignment,
              "problems": state.problems, "fatal": state.fatal}
    try:
        state.feedback_html = render_feedback_html(executed_notebook(state), state.tests, **kwargs)
    except Exception as exc:  # nbconvert on odd content: still give the student their results
        state.note(f"the notebook could not be rendered into feedback ({type(exc).__name__})")
        state.feedback_html = fallback_html(state.tests, **kwargs)


STEPS = (parse_source, check_grader, load_submission, prepare_workdir, start_kernel, execute_student_notebook,
         run_tests, stop_kernel, render_feedback)


def _cleanup(state: GradingState) -> None:
    with contextlib.suppress(Exception):
        state.stack.close()
    if state.workdir is not None:
        shutil.rmtree(state.workdir, ignore_errors=True)


def _complete_tests(state: GradingState) -> None:
    """Give every graded cell a result (a step that crashed may have left some out), in source order."""
    if state.grader_error:  # nothing of this run counts: every autograded test is "not graded"
        state.tests = [t for t in state.tests if t.kind != "auto"]
        state.tests.extend(TestResult(g.grade_id, "auto", g.points, 0.0, "error", state.fatal or "not graded")
                           for g in state.graded if g.kind == "auto")
    done = {t.grade_id for t in state.tests}
    for g in state.graded:
        if g.grade_id not in done:
            state.tests.append(TestResult(g.grade_id, g.kind, g.points, 0.0,
                                          "pending" if g.kind == "manual" else "failed",
                                          "pending manual grading" if g.kind == "manual"
                                          else (state.fatal or "not run")))
    order = {g.grade_id: k for k, g in enumerate(state.graded)}
    state.tests.sort(key=lambda t: order.get(t.grade_id, len(order)))


def build_result(state: GradingState) -> dict:
    """The plain result dict of one submission (what a Dask task returns).

    Keys: student, assignment, origin, fingerprint, grader_error, grader_detail (what failed,
    for the instructor), score (None for a grader error), max_score, execution_time,
    problems, fatal, isolation, tests (list of TestResult dicts), feedback_html, notebook
    (executed notebook as JSON text, or None).
    """
    _complete_tests(state)
    nb = executed_notebook(state)
    return {
        "student": state.job.student,
        "assignment": state.job.assignment,
        "origin": state.job.origin,
        "fingerprint": state.job.fingerprint,
        "grader_error": state.grader_error,
        "grader_detail": state.grader_detail,
        "score": None if state.grader_error else float(sum(t.score for t in state.tests)),
        "max_score": float(sum(t.points for t in state.tests)),
        "execution_time": time.monotonic() - state.started,
        "problems": list(state.problems),
        "fatal": state.fatal,
        "isolation": state.isolation,
        "tests": [asdict(t) for t in state.tests],
        "feedback_html": state.feedback_html,
        "notebook": nbformat.writes(nb) if nb is not None else None,
    }


def grade_submission(job: GradingJob) -> dict:
    """Grade one submission; never raises (an internal error becomes a result too).

    Parameters
    ----------
    job : GradingJob

    Returns
    -------
    dict
        See :func:`build_result`.
    """
    state = GradingState(job)
    try:
        for step in STEPS:
            try:
                step(state)
            except Exception as exc:
                # Later steps cope with a fatal state: tests fail with this reason, the kernel is
                # stopped and feedback is still written.
                what = traceback.format_exception_only(type(exc), exc)[-1].strip()
                if isinstance(exc, SourceNotebookError):
                    state.grader_failed("the instructor's source notebook is invalid", str(exc))
                else:
                    state.grader_failed(f"internal error in its step {step.__name__}", what)
    finally:
        _cleanup(state)
    return build_result(state)


def error_result(job: GradingJob, reason: str) -> dict:
    """A result for ``job`` whose grading could not happen: every test failed with ``reason``.

    Marked as a grader error, so a re-run grades the submission again.
    """
    state = GradingState(job)
    with contextlib.suppress(Exception):
        parse_source(state)
    with contextlib.suppress(Exception):
        load_submission(state)
    state.fatal = None
    state.grader_failed(reason)
    run_tests(state)
    render_feedback(state)
    return build_result(state)
