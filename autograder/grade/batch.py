"""Grade a whole folder (or zip) of submissions: what ``python -m autograder grade`` runs.

:func:`grade_assignment` finds the submissions, skips students whose results are up to
date (same submission bytes, source notebook and grader), grades the others on Dask
(:mod:`autograder.grade.parallel`) and, in this process only, writes as each result arrives:

* ``OUT/<student>/feedback.html`` (and, once per folder, ``OUT/_mathjax/`` that the pages typeset
  their mathematics with, offline)
* the nbgrader gradebook (and ``<course>/autograded/<student>/<assignment>/`` for formgrader)
* ``OUT/<student>/results.json`` (last: its fingerprint marks the student as done)
* ``OUT/grades.csv`` (rewritten after every student)

The bundled example submissions (``autograder/examples/``) are a demo: their grades go to a
throwaway gradebook ``OUT/gradebook.db`` (and ``OUT/autograded/``), never to the course's.

All files are written atomically, so stopping the run at any moment loses nothing and
re-running the same command resumes. One run at a time may write an output folder (a lock
file refuses a second one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import statistics
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.errors import AutograderError
from autograder.grade.course import find_assignment
from autograder.grade.fingerprint import grader_fingerprint, job_fingerprint
from autograder.grade.job import GradingJob, GradingOptions, SourceNotebookError
from autograder.grade.parallel import choose_workers, run_jobs
from autograder.grade.pipeline import grade_submission
from autograder.grade.replay import SETUP_FAILED
from autograder.grade.source import WRONG_ASSIGNMENT, parse_source_notebook
from autograder.grade.submissions import Submission, discover_submissions, read_tree_files
from autograder.kernel.process import require_isolation
from autograder.kernel.wire import valid_unicode_tree
from autograder.report.feedback import write_mathjax
from autograder.report.gradebook import GradebookError, GradebookWriter
from autograder.report.results import (
    atomic_write,
    grades_row,
    gradescope_results,
    max_points,
    read_results,
    write_grades_csv,
)
from autograder.validate.structure import require_valid

__all__ = [
    "OutputLockedError",
    "BatchSummary",
    "is_bundled_example",
    "grade_assignment",
    "write_student_outputs",
    "terminal_safe",
]

#: Characters never written raw to the instructor's terminal: C0 and C1 controls (ANSI and OSC escape
#: sequences start with ESC or CSI; a newline would forge a summary line), DEL, the Unicode format
#: characters that reorder or hide text (bidirectional overrides, zero-width), and lone surrogates.
_UNSAFE_FOR_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
                                  "\ud800-\udfff]")


def terminal_safe(text: object) -> str:
    """``text`` fit for the instructor's terminal: every unsafe character shown as its escape (``\\x1b``).

    Student ids, problems and error messages may carry what a submission printed or named; printed
    through this function they stay one visible line and can neither move the cursor, recolour or
    retitle the terminal nor hide text.
    """
    return _UNSAFE_FOR_TERMINAL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


class OutputLockedError(AutograderError, RuntimeError):
    """Another grading run is writing the same output folder."""


@dataclass
class BatchSummary:
    """What a grading run did.

    Attributes
    ----------
    assignment : str
    out_dir : Path
    total : int
        Submissions found.
    graded : int
        Graded in this run.
    skipped : int
        Up to date from an earlier run.
    grader_errors : list of str
        Students whose grading failed on the grader's side (graded again on the next run).
    grader_details : dict
        student -> what failed on the grader's side (for the instructor).
    faults : list of tuple
        (student, problem) for every submission-level problem (no notebook, bad JSON,
        kernel died...).
    scores : dict
        student -> (score, max autograded score); students with a grader error have none.
    manual_max : float
        Points graded by hand (pending; in none of the scores), the largest of any submission.
    gradebook_problems : list of str
    isolation : dict
        How the students' kernels were isolated (``extra_data.isolation`` of results.json) -> number of
        submissions.
    gradebook_db : str
        Where grades were recorded ("" without a gradebook).
    workers : str
        Who graded: in-process or how many local Dask workers, and why (see
        :func:`autograder.grade.parallel.choose_workers`), or the remote scheduler.
    """

    assignment: str
    out_dir: Path
    total: int = 0
    graded: int = 0
    skipped: int = 0
    grader_errors: list[str] = field(default_factory=list)
    grader_details: dict[str, str] = field(default_factory=dict)
    faults: list[tuple[str, str]] = field(default_factory=list)
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    manual_max: float = 0.0
    gradebook_problems: list[str] = field(default_factory=list)
    isolation: dict[str, int] = field(default_factory=dict)
    gradebook_db: str = ""
    workers: str = ""

    def _count_score(self, student: str, doc: dict) -> None:
        auto_max, manual_max = max_points(doc)
        self.manual_max = max(self.manual_max, manual_max)
        if "score" in doc:
            self.scores[student] = (float(doc["score"]), auto_max)

    def _count_isolation(self, doc: dict) -> None:
        text = str(doc.get("extra_data", {}).get("isolation") or "")
        if text:
            self.isolation[text] = self.isolation.get(text, 0) + 1

    @property
    def mean_score(self) -> float | None:
        vals = [s for s, _ in self.scores.values()]
        return statistics.fmean(vals) if vals else None

    def lines(self) -> list[str]:
        """A human-readable summary, one terminal-safe line per item (see :func:`terminal_safe`)."""
        out = [f"{self.assignment}: {self.total} submission(s); graded {self.graded}, "
               f"up to date {self.skipped}, grader errors {len(self.grader_errors)}."]
        out.extend(f"Student code isolation: {text} ({n} submission{'' if n == 1 else 's'})."
                   for text, n in sorted(self.isolation.items()))
        if self.workers:
            out.append(self.workers)
        if self.scores:
            top = max(m for _, m in self.scores.values())
            out.append(f"Mean autograded score: {self.mean_score:.2f} / {top:g} (grades.csv: score, max_score).")
        if self.manual_max:
            m = self.manual_max
            out.append(f"Graded by hand: {m:g} more point{'' if m == 1 else 's'}, pending, in none of these scores "
                       "(grades.csv: manual_max; the questions' columns stay empty until graded).")
        wrong = sorted({s for s, p in self.faults if p.startswith(WRONG_ASSIGNMENT)})
        if wrong:
            out.append(f"Notebooks of another assignment ({len(wrong)}): " + ", ".join(wrong))
        setup = {s: p for s, p in self.faults if p.startswith(SETUP_FAILED)}
        if setup:
            line = f"Setup cells failed ({len(setup)}): {', '.join(sorted(setup))}."
            if any("No module named" in p for p in setup.values()):
                name = self.assignment
                line += (f" A module missing on the grading machine (course_lib: release/{name}/ missing or "
                         f"incomplete?): run 'python -m autograder validate {name}', 'python -m autograder "
                         f"release {name}' or install the module, then grade again with --force.")
            out.append(line)
        if self.faults:
            out.append(f"Submissions with problems ({len({s for s, _ in self.faults})}):")
            out.extend(f"  {s}: {p}" for s, p in self.faults)
        if self.grader_errors:
            out.append("Grader errors, not scored (fix the cause and re-run the command to grade these again): "
                       + ", ".join(self.grader_errors))
            out.extend(f"  {s}: " + " | ".join(self.grader_details[s].splitlines())
                       for s in self.grader_errors if self.grader_details.get(s))
        if self.gradebook_problems:
            out.append("Not recorded in the gradebook (graded again on the next run):")
            out.extend(f"  {p}" for p in self.gradebook_problems)
        out.append(f"Results in {self.out_dir} (grades.csv, <student>/results.json, feedback.html).")
        if self.gradebook_db:
            out.append(f"Gradebook: {self.gradebook_db}")
        return [terminal_safe(line) for line in out]


def is_bundled_example(submissions: Path) -> bool:
    """Whether ``submissions`` is (inside) the grader's bundled example submissions."""
    import autograder.examples

    examples = Path(autograder.examples.__file__).resolve().parent
    return Path(submissions).resolve().is_relative_to(examples)


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / ".grading.lock"
    with open(lock_path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            who = fh.read().strip() or "?"
            raise OutputLockedError(
                f"another grading run (pid {who}) is writing {out_dir}; wait for it to finish or "
                "use another --out folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_student_outputs(result: dict, out_dir: Path, *, gradebook: GradebookWriter | None = None,
                          autograded_dir: Path | None = None, notebook_id: str = "") -> dict:
    """Write one student's files; results.json last. Returns the results.json document.

    Parameters
    ----------
    result : dict
        From :func:`autograder.grade.pipeline.grade_submission`.
    out_dir : Path
        ``OUT``; files go to ``OUT/<student>/``.
    gradebook : GradebookWriter, optional
        Records the scores when given (never for a grader error: nothing was graded). When
        that fails, results.json is not written (so the next run grades the student again)
        and :class:`GradebookError` is raised.
    autograded_dir : Path, optional
        ``<course>/autograded``: the executed notebook is saved there for formgrader.
    notebook_id : str
        Notebook file stem in ``autograded/``.
    """
    sdir = Path(out_dir) / result["student"]
    atomic_write(sdir / "feedback.html", result["feedback_html"] or "")
    if gradebook is not None and not result.get("grader_error"):
        if autograded_dir is not None and result.get("notebook"):
            atomic_write(autograded_dir / result["student"] / result["assignment"] / f"{notebook_id}.ipynb",
                         result["notebook"])
        gradebook.record(result)
    doc = gradescope_results(result)
    atomic_write(sdir / "results.json", _dumps(doc))
    return doc


def _dumps(doc: dict) -> str:
    import json

    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def grade_assignment(assignment: str, submissions: Path, *, course_dir: Path, out_dir: Path | None = None,
                     workers: int | None = None, scheduler: str | None = None,
                     options: GradingOptions | None = None, gradebook: bool = True,
                     force: bool = False, progress: bool = True,
                     grade: Callable[[GradingJob], dict] = grade_submission) -> BatchSummary:
    """Grade every submission of ``assignment`` found in ``submissions``.

    Parameters
    ----------
    assignment : str
        Assignment name (``source/<assignment>/<assignment>.ipynb`` must exist).
    submissions : Path
        Folder or zip (see :func:`autograder.grade.submissions.discover_submissions`).
    course_dir : Path
        The nbgrader course folder.
    out_dir : Path, optional
        Default ``<course>/grading-out/<assignment>``.
    workers : int, optional
        Local Dask workers (0: grade in this process); None chooses by the number of submissions to grade
        and the usable CPUs (:func:`autograder.grade.parallel.choose_workers`; a small batch in-process).
    scheduler : str, optional
        Address of a running Dask scheduler.
    options : GradingOptions, optional
        Time budgets; ``hide`` gets the course, submissions and output folders added. Unless
        ``options.trusted_notebooks``, grading is refused where student code cannot be isolated (here,
        or, on a remote cluster, each worker's kernels).
    gradebook : bool
        Record grades in the course's nbgrader gradebook (for the bundled examples, see
        :func:`is_bundled_example`: in ``OUT/gradebook.db``).
    force : bool
        Grade everyone again, even when up to date.
    progress : bool
        Show a progress bar.
    grade : callable
        Per-submission function (tests substitute it).

    Returns
    -------
    BatchSummary

    Raises
    ------
    AssignmentNotFoundError, SourceNotebookError, SubmissionsError, OutputLockedError,
    ParallelError, GradebookError
        Bad input, said clearly; nothing graded so far is lost. A source notebook failing the
        structural checks of ``python -m autograder validate`` raises
        :class:`autograder.validate.structure.ValidationError` (a SourceNotebookError) before anything is graded.
    IsolationUnavailableError
        Nothing isolates student code on this machine and the notebooks are not trusted.
    """
    from tqdm.auto import tqdm

    options = options if options is not None else GradingOptions()
    if scheduler is None:  # remote workers probe their own machines (their kernels refuse the same way)
        require_isolation(options.trusted_notebooks)
    course_dir = Path(course_dir).resolve()
    info = find_assignment(course_dir, assignment)
    require_valid(assignment, course_dir)  # the structural checks of `python -m autograder validate`
    source_bytes = info.source_notebook.read_bytes()
    try:
        graded_cells = parse_source_notebook(nbformat.reads(source_bytes.decode("utf-8"), as_version=4))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceNotebookError(f"{info.source_notebook}: {exc}") from exc
    grade_ids = [g.grade_id for g in graded_cells]
    out_dir = Path(out_dir) if out_dir is not None else course_dir / "grading-out" / assignment
    out_dir = out_dir.resolve()
    submissions = Path(submissions).resolve()
    summary = BatchSummary(assignment, out_dir)

    with _locked(out_dir), tempfile.TemporaryDirectory(prefix="ag-submissions-") as extract:
        write_mathjax(out_dir)
        subs = discover_submissions(submissions, assignment, extract_to=Path(extract))
        summary.total = len(subs)
        hide = tuple(dict.fromkeys([*options.hide, str(course_dir), str(submissions), str(out_dir),
                                    str(extract)]))
        opts = GradingOptions(**{**options.__dict__, "hide": hide})
        grader = grader_fingerprint()
        # The released files travel with each job (a remote Dask worker need not see the course) and are
        # inputs of every verdict, so they are part of each fingerprint.
        release_files = (read_tree_files(info.release_dir, skip_suffixes=(".ipynb",))
                         if info.release_dir.is_dir() else None)
        rows: dict[str, dict] = {}
        todo: list[tuple[Submission, bytes | None, str]] = []
        for sub in subs:
            data = None
            if sub.path is not None:
                try:
                    data = sub.path.read_bytes()
                except OSError as exc:
                    sub.problems.append(f"the notebook could not be read ({exc.strerror})")
                    sub.path = None
            fp = job_fingerprint(data, source_bytes, grader, release_files=release_files, options=opts)
            old = read_results(out_dir / sub.student / "results.json")
            extra = (old or {}).get("extra_data", {})
            if (not force and old is not None and extra.get("fingerprint") == fp
                    and not extra.get("grader_error") and (out_dir / sub.student / "feedback.html").is_file()):
                summary.skipped += 1
                rows[sub.student] = grades_row(old)
                summary._count_score(sub.student, old)
                summary._count_isolation(old)
                summary.faults.extend((sub.student, p) for p in extra.get("problems", []))
                continue
            todo.append((sub, data, fp))

        if scheduler is None:
            choice = choose_workers(workers, len(todo))
            workers, summary.workers = choice.workers, choice.describe()
        else:  # the cluster's workers grade; the local count is not used
            workers, summary.workers = 0, f"Workers: the Dask cluster at {scheduler}."

        def jobs() -> Iterator[GradingJob]:
            for sub, data, fp in todo:
                yield GradingJob(
                    student=sub.student, assignment=assignment, origin=sub.origin, submission=data,
                    problems=list(sub.problems), source_notebook=source_bytes,
                    release_dir=str(info.release_dir), notebook_name=info.source_notebook.name,
                    fingerprint=fp, options=opts, release_files=release_files)

        # The bundled examples are a demo: a throwaway gradebook under OUT, never the course's.
        book_dir = out_dir if is_bundled_example(submissions) else course_dir
        db_url = f"sqlite:///{out_dir / 'gradebook.db'}" if book_dir == out_dir else None
        writer_cm = (GradebookWriter(course_dir, assignment, info.source_notebook, db_url=db_url) if gradebook
                     else contextlib.nullcontext(None))
        with writer_cm as writer, tqdm(total=len(subs), initial=summary.skipped, unit="submission",
                                       desc=f"grading {assignment}", disable=not progress) as bar:
            # a database URL may carry a password: never printed
            summary.gradebook_db = re.sub(r"//([^/:@]*):[^/]*@", r"//\1:***@", writer.db_url) if writer else ""
            if summary.skipped or not todo:
                write_grades_csv(out_dir / "grades.csv", rows.values(), grade_ids)
            for result in run_jobs(jobs(), workers=workers, scheduler=scheduler, grade=grade):
                result = valid_unicode_tree(result)  # nothing a submission wrote may stop the writes
                student = result["student"]
                failed = bool(result.get("grader_error"))
                kept = _valid_result_of_same_submission(out_dir, result) if failed else None
                if kept is not None:  # e.g. --force while the grader is broken: the earlier verdict stands
                    doc = kept
                else:
                    try:
                        doc = write_student_outputs(
                            result, out_dir, gradebook=writer,
                            autograded_dir=book_dir / "autograded" if writer is not None else None,
                            notebook_id=info.source_notebook.stem)
                    except GradebookError as exc:
                        summary.gradebook_problems.append(f"{student}: {exc}")
                        doc = gradescope_results(result)
                rows[student] = grades_row(doc)
                write_grades_csv(out_dir / "grades.csv", rows.values(), grade_ids)
                summary.graded += 1
                summary._count_score(student, doc)
                summary._count_isolation(doc)
                summary.faults.extend((student, p) for p in result["problems"])
                if result.get("fatal") and result["fatal"] not in result["problems"] and not failed:
                    summary.faults.append((student, result["fatal"]))
                if failed:
                    summary.grader_errors.append(student)
                    summary.grader_details[student] = str(result.get("grader_detail", "")) + (
                        " (the earlier result of the same submission is kept)" if kept is not None else "")
                bar.set_postfix_str(terminal_safe(student), refresh=False)
                bar.update(1)
    return summary


def _valid_result_of_same_submission(out_dir: Path, result: dict) -> dict | None:
    """The student's results.json when it graded the same submission (same fingerprint) without a grader
    error: a grader failure never replaces it."""
    old = read_results(Path(out_dir) / result["student"] / "results.json")
    extra = (old or {}).get("extra_data", {})
    if old is None or extra.get("grader_error") or extra.get("fingerprint") != result["fingerprint"]:
        return None
    return old if "score" in old else None

