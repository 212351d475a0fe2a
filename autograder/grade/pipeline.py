"""Grade one submission: an ordered list of single-purpose steps.

:func:`grade_submission` takes a :class:`~autograder.grade.job.GradingJob` (everything one student's grading
needs, picklable so that a Dask worker can run it) and returns a plain result dict
(JSON-able, see :func:`autograder.grade.result.build_result`). It never raises: whatever goes wrong becomes a
clear per-test result, so no submission is ever lost.

The steps, in order (:data:`STEPS`), each a function ``step(state) -> None`` on a
:class:`~autograder.grade.job.GradingState`, testable alone; the steps live in this module and in
:mod:`~autograder.grade.source` and :mod:`~autograder.grade.replay`:

1. :func:`~autograder.grade.source.parse_source` -- graded cells (grade_id, points, test code) from the instructor's
   **source** notebook; the submission's metadata is never trusted for this.
   :func:`~autograder.grade.source.check_grader` -- the test cells compile and the modules they import (the hidden
   checks) import in this process.
2. :func:`load_submission` -- safe read of the submitted bytes (bad JSON, non-UTF-8, huge
   files), normalized, saved outputs put apart; a notebook of another assignment is flagged
   (:func:`~autograder.grade.source.wrong_assignment`).
3. :func:`prepare_workdir` -- a fresh scratch folder with only the released files and the
   student's notebook.
4. :func:`start_kernel` -- the resource-limited student kernel (:mod:`autograder.kernel`).
5. :func:`~autograder.grade.replay.execute_student_notebook` -- the student's code cells in order, except the cells
   whose grade_id is an autograded test cell of the source; by default only their definitions
   outside the solution cells (``GradingOptions.run_cells``); errors do not stop execution;
   a cell that kills the kernel is skipped and the kernel is restarted with the cells
   before it re-run.
6. :func:`~autograder.grade.replay.run_tests` -- each autograded test cell of the source, in source order, through
   :func:`autograder.grade.cell.run_graded_cell`; all-or-nothing points from the source; manual
   cells are "pending manual grading"; a test that kills the kernel fails and the kernel is
   restarted and the student's cells re-run before the next test.
   :func:`~autograder.grade.replay.run_whole_notebook` -- when the definitions-only run may have
   changed a verdict (a cell failed; a test failed because the student's code raised, timed out or
   ended the kernel), every cell and the tests run again on a restarted kernel; that result counts.
7. :func:`stop_kernel` -- ends the kernel and every process it left running.
8. :func:`render_feedback` -- feedback.html text (:mod:`autograder.report.feedback`).

Writing the outputs (results.json, feedback.html, grades.csv, gradebook) happens in the
main process, see :mod:`autograder.report.results` and :mod:`autograder.report.gradebook`.

**Grader errors are never a student's zero.** When the grader itself fails -- the kernel
cannot start or be restarted, the kernel dies before any student code ran, a check module
cannot be imported or has a programming error (``NameError``, ``ImportError``), a step raises
-- the result is marked ``grader_error``: its tests have status ``"error"``, its score is None,
no score is written anywhere (results.json, grades.csv, gradebook), the student is told the
grader failed (not their code), and the next run grades it again. The student's own kernel
deaths (``os._exit``, memory, time) stay the student's failures.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import Any

import nbformat

from autograder.grade.job import (
    GradingJob,
    GradingState,
    SourceNotebookError,
)
from autograder.grade.replay import (
    PREAMBLE,
    _kernel_alive,
    _run,
    execute_student_notebook,
    run_tests,
    run_whole_notebook,
)
from autograder.grade.result import _complete_tests, build_result, executed_notebook
from autograder.grade.source import (
    check_grader,
    parse_source,
    wrong_assignment,
)
from autograder.grade.submissions import copy_tree_files, load_notebook_bytes, write_tree_files
from autograder.kernel.client import StudentKernel
from autograder.kernel.plan import Limits
from autograder.report.feedback import fallback_html, render_feedback_html
from course_lib.data import CIFAR10_ENV_VAR, SYNTHETIC_WARNING_ENV_VAR


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
    state.saved_outputs = loaded.saved_outputs
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
        limits = Limits(cell_timeout=opts.cell_timeout, total_timeout=opts.submission_timeout,
                                memory_mb=opts.memory_mb)
        kernel = StudentKernel(state.workdir, extra_paths=tuple(Path(p) for p in opts.extra_paths),
                                       limits=limits, hide=tuple(Path(p) for p in opts.hide),
                                       isolate=None if opts.trusted_notebooks else True,
                                       data_dirs={CIFAR10_ENV_VAR: opts.cifar10_dir} if opts.cifar10_dir else {},
                                       env={SYNTHETIC_WARNING_ENV_VAR: "off"})
        state.kernel = state.stack.enter_context(kernel)
    except Exception as exc:  # noqa: BLE001 - KernelError and whatever the OS says; no student code has run yet
        state.grader_failed("it could not start a Python kernel", f"{type(exc).__name__}: {exc}")
        return
    state.isolation = str(getattr(state.kernel, "isolation", "") or "")
    ran = _run(state, PREAMBLE, 30.0)
    if ran.status != "ok" or not _kernel_alive(state):  # before any student code: the grader's fault
        why = ran.error or "".join(str(o.get("text", "")) for o in ran.outputs if isinstance(o, dict))
        state.grader_failed("the new Python kernel failed before running any of your code",
                            f"{ran.status}: {why.strip()}")


def stop_kernel(state: GradingState) -> None:
    """Step 7: end the kernel (the sandbox also ends every process the student started)."""
    try:
        state.stack.close()
    except Exception as exc:  # noqa: BLE001 - shutting down must not lose the results
        state.note(f"the kernel did not shut down cleanly ({exc})")
    state.kernel = None


def render_feedback(state: GradingState) -> None:
    """Step 8: feedback.html text for the student."""
    _complete_tests(state)
    kwargs: dict[str, Any] = {"student": state.job.student, "assignment": state.job.assignment,
              "problems": state.problems, "fatal": state.fatal}
    try:
        state.feedback_html = render_feedback_html(executed_notebook(state), state.tests, **kwargs)
    except Exception as exc:  # noqa: BLE001 - nbconvert on odd content: still give the student their results
        state.note(f"the notebook could not be rendered into feedback ({type(exc).__name__})")
        state.feedback_html = fallback_html(state.tests, **kwargs)


STEPS = (parse_source, check_grader, load_submission, prepare_workdir, start_kernel, execute_student_notebook,
         run_tests, run_whole_notebook, stop_kernel, render_feedback)


def _cleanup(state: GradingState) -> None:
    with contextlib.suppress(Exception):
        state.stack.close()
    if state.workdir is not None:
        shutil.rmtree(state.workdir, ignore_errors=True)


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
            except Exception as exc:  # noqa: BLE001 - a failing step becomes the submission's grader error
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
