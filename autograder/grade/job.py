"""The data of one submission's grading: options, the job (everything a worker needs), the shared state of
the steps, and the per-test result; plus the graded cells of a source notebook."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError
from autograder.grade.definitions import BUILTIN_NAMES
from autograder.kernel.plan import Limits

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


#: The values of :attr:`GradingOptions.run_cells`: a notebook's definitions only, or every cell.
RUN_CELLS = ("definitions", "all")


class GradingOptionsError(AutograderError, ValueError):
    """A grading option has a value it cannot have."""


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
        refusing (:func:`autograder.kernel.process.require_isolation`).
    cifar10_dir : str or None
        The instructor's ``cifar-10-batches-py``: the student kernel reads it, read-only, as its
        ``COURSE_CIFAR10_DIR`` (on every machine that grades: Dask workers included). None: the kernel
        uses the synthetic stand-in. Either way the kernel's ``SyntheticDataWarning`` is silenced (its
        advice is for a student's own machine), and no verdict depends on it: checks that train use data
        the grader fixes.
    run_cells : str
        What of the student's notebook runs before the tests (:data:`RUN_CELLS`). ``"definitions"``
        (default): the solution cells in full and, of every other cell, only what defines something
        (imports, functions, classes, constants: :func:`autograder.grade.definitions.definitions_only`),
        not the training runs and plots no verdict reads; when a cell then fails, or a test fails other than
        by a verdict on the student's code, the whole notebook is run and the tests again (that result
        counts). ``"all"``: every cell, as nbgrader does.
    """

    cell_timeout: float = 300.0
    test_timeout: float = 60.0
    submission_timeout: float = 1800.0
    max_restarts: int = 3
    memory_mb: int = Limits.memory_mb
    hide: tuple[str, ...] = ()
    extra_paths: tuple[str, ...] = ()
    trusted_notebooks: bool = False
    cifar10_dir: str | None = None
    run_cells: str = "definitions"

    def __post_init__(self):
        if self.run_cells not in RUN_CELLS:
            raise GradingOptionsError(f"run_cells must be one of {', '.join(map(repr, RUN_CELLS))}, "
                                      f"got {self.run_cells!r}")


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
        Hash of submission, source notebook and grader (see :func:`~autograder.grade.fingerprint.job_fingerprint`).
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
    code: str | None = None  # what ran when it was not the cell's whole source (its definitions only)


@dataclass
class GradingState:
    """What the steps share while grading one submission."""

    job: GradingJob
    graded: list[GradedCell] = field(default_factory=list)
    source_ids: set[str] = field(default_factory=set)
    exercises: set[str] = field(default_factory=set)
    notebook: Any = None
    saved_outputs: list[list[dict]] = field(default_factory=list)
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
    #: What ran of the notebook: "definitions", or "all" (with why, when definitions were not enough).
    cells_run: str = ""
    #: Why a definitions-only run may not decide the grade (a failed cell, a test failing other than by a verdict).
    undecided: list[str] = field(default_factory=list)
    #: The global names defined so far in the kernel, and which are modules (definitions-only runs).
    known_names: set[str] = field(default_factory=lambda: set(BUILTIN_NAMES))
    module_names: set[str] = field(default_factory=set)
    #: Whether a definitions-only run has left out a statement so far (if not, it is the whole notebook).
    dropped: bool = False

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


def _clip(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    text = text.strip()
    if len(text) > limit:
        return text[:limit] + f"\n... [{len(text) - limit} more characters cut]"
    return text
