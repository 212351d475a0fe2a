"""Running the student's notebook and the graded tests, with restart-and-replay: a cell or test that kills the
kernel fails, the kernel is restarted and the cells before the next one are run again (steps
``execute_student_notebook``, ``run_tests`` and ``run_whole_notebook``).

By default (``GradingOptions.run_cells="definitions"``) only the solution cells run in full and, of every
other cell, what defines something (:mod:`autograder.grade.definitions`): the verdicts read the exercises,
not the training runs and plots. When a cell then fails, or a test fails because the student's code raised
(other than ``NotImplementedError``), timed out or ended the kernel, something that did not run may be
the cause: ``run_whole_notebook`` runs every cell and the tests again, and that result counts.
"""

from __future__ import annotations

import contextlib
import io
import re
import time

import nbformat

from autograder.assignments import GRADING_ENV
from autograder.checks import collect_notes
from autograder.grade.cell import run_graded_cell, strip_magics
from autograder.grade.definitions import (
    bind_cell,
    definitions_only,
    drop_unused_imports,
    names_used,
    plotting_names,
)
from autograder.grade.job import (
    GradingState,
    TestResult,
    _Cell,
    _clip,
)
from autograder.grade.outputs import _keep_outputs
from autograder.grade.source import (
    _nbgrader,
    redact_hidden,
)
from autograder.report.feedback import clean_output


def _preamble() -> str:
    env = {"AUTOGRADER_GRADING": "1", **GRADING_ENV}
    return f"import os as _ag_os\n_ag_os.environ.update({env!r})\ndel _ag_os\n"


#: Run in the kernel before the student's cells (and after each restart): selects the
#: grading-size data of the notebooks (``COURSE_GRADING=1``, see :mod:`autograder.assignments`)
#: and makes ``course_lib.check.check()`` a no-op, so a submission that calls it does not
#: start a second kernel.
PREAMBLE = _preamble()


def _run(state: GradingState, source: str, timeout: float) -> _Cell:
    """Run one cell in the kernel; every failure becomes a status, never an exception."""
    t0 = time.monotonic()
    try:
        res = state.kernel.run_cell(source, timeout=max(timeout, 0.1))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a status
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
    except Exception:  # noqa: BLE001 - a kernel that cannot even say is not alive
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
        except Exception as exc:  # noqa: BLE001 - any failure to restart is the grader's
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
            ran = state.cells[j].code
            res = _run(state, state.notebook.cells[j].source if ran is None else ran, min(opts.cell_timeout, left))
            if res.status in ("died", "timeout") or not _kernel_alive(state):
                state.replay.remove(j)
                state.cells[j].status = res.status if res.status in ("died", "timeout") else "died"
                state.note(f"cell {j + 1} failed when it was re-run after a kernel restart; skipped it")
                if not _kernel_alive(state):
                    clean = False
                    break
        if clean:
            return True


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


#: Shown under a cell of which only the definitions ran.
DEFINITIONS_NOTE = ("[grader] only this cell's definitions ran (functions, classes, constants and the imports they "
                    "use): its other statements (training runs, plots) cannot change your grade, so the grader did "
                    "not run them\n")


#: Above the outputs a cell had in the submitted file, shown where the grader ran only the cell's definitions.
SAVED_NOTE = ("[grader] below: this cell's outputs as saved in your notebook when you ran it (the grader did not "
              "run them again; they do not count towards your grade)\n")


def _saved_outputs(state: GradingState, index: int) -> list:
    """The outputs cell ``index`` had in the submitted file, made safe to show and within the output caps,
    under :data:`SAVED_NOTE` (nothing when it had none)."""
    saved = state.saved_outputs[index] if index < len(state.saved_outputs) else []
    outputs = [o for o in map(clean_output, saved) if o is not None]
    if not outputs:
        return []
    return [nbformat.v4.new_output("stream", name="stdout", text=SAVED_NOTE), *_keep_outputs(state, outputs)]


def _definitions_plan(state: GradingState, tests: set[str]) -> dict[int, str | None]:
    """What runs of each of the student's code cells with definitions only: None for all of it, else the
    statements that define something (:func:`definitions_only`), less the imports that nothing that runs uses
    (:func:`drop_unused_imports`). Empty in the other modes."""
    if state.cells_run != "definitions":
        return {}
    plan: dict[int, str | None] = {}
    whole = [strip_magics(g.source) for g in state.graded if g.kind == "auto"]  # the tests run too, as written
    kept: dict[int, str] = {}  # the other cells: what of each runs (all of it, magics replaced, if nothing dropped)
    for i, cell in enumerate(state.notebook.cells):
        if cell.cell_type != "code" or _nbgrader(cell).get("grade_id") in tests or not cell.source.strip():
            continue
        source = strip_magics(cell.source)
        if _nbgrader(cell).get("solution"):  # solution cells run whole
            bind_cell(source, state.known_names, state.module_names)
            plan[i] = None
            whole.append(source)
            continue
        kept[i], dropped = definitions_only(source, state.known_names, state.module_names)
        plan[i] = kept[i] if dropped else None
    plotting = plotting_names(list(kept.values()))
    in_whole = names_used(whole)
    in_kept = names_used(list(kept.values()), plotting)
    if in_whole is not None and in_kept is not None:
        for i, code in kept.items():
            pruned, dropped = drop_unused_imports(code, in_whole | in_kept, plotting)
            if dropped:
                plan[i] = pruned
    return plan


def execute_student_notebook(state: GradingState) -> None:
    """Step 5: run the student's code cells in order (not the source's test cells).

    A setup cell that fails is noted as a problem (:func:`setup_failure`), once per submission. With
    ``run_cells="definitions"``, a cell that fails stops this step: the whole notebook will run instead.
    """
    if state.kernel is None or state.fatal:
        return
    opts = state.job.options
    state.cells_run = state.cells_run or opts.run_cells
    tests = {g.grade_id for g in state.graded if g.kind == "auto"}
    first_solution = next((i for i, c in enumerate(state.notebook.cells)
                           if _nbgrader(c).get("solution") and c.cell_type == "code"), len(state.notebook.cells))
    plan = _definitions_plan(state, tests)
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
        code = plan.get(i)
        state.dropped = state.dropped or code is not None
        if code is not None and not code.strip():  # nothing in it defines anything
            state.cells[i] = _Cell("ok", [nbformat.v4.new_output("stream", name="stdout", text=DEFINITIONS_NOTE),
                                          *_saved_outputs(state, i)], code="")
            continue
        res = _run(state, cell.source if code is None else code, min(opts.cell_timeout, left))
        res.outputs = _keep_outputs(state, res.outputs)
        res.code = code
        state.cells[i] = res
        if state.cells_run == "definitions" and state.dropped and res.status != "ok":
            state.undecided.append(f"cell {i + 1} {'raised ' + res.error if res.error else res.status}"[:200])
            return
        if code is not None:
            res.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=DEFINITIONS_NOTE))
            res.outputs += _saved_outputs(state, i)
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


#: "error while checking: NameError: ..." from :func:`autograder.grade.cell.run_graded_cell`: a
#: programming error of the grader's own check code (the student's exceptions come back as
#: "your code raised ..."), so the test was not graded.
_GRADER_BUG = re.compile(r"^error while checking: (NameError|UnboundLocalError|ImportError|ModuleNotFoundError)"
                         r"\b")


def run_tests(state: GradingState) -> None:
    """Step 6: run every graded cell of the source against the student's kernel."""
    opts = state.job.options
    if state.cells_run == "definitions" and state.undecided:
        return  # a cell failed: run_whole_notebook grades the whole notebook
    for g in state.graded:
        if g.kind == "manual":
            state.tests.append(TestResult(g.grade_id, "manual", g.points, 0.0, "pending",
                                          "pending manual grading"))
            continue
        if state.fatal or state.kernel is None:
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
        raised_before = len(state.kernel.student_errors)
        sink = io.StringIO()  # what the test cell prints may show expected values: never shown
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), collect_notes() as notes:
                outcome = run_graded_cell(state.kernel, g.source, timeout=min(opts.test_timeout, left),
                                          exercises=state.exercises)
            passed, message = bool(outcome.passed), str(outcome.message or "")
            if passed and notes:  # remarks of checks that passed (e.g. an accepted shape)
                message = "passed; note: " + "\n".join(notes)
        except Exception as exc:  # noqa: BLE001 - run_graded_cell reports student and kernel failures, never raises them
            state.grader_failed(f"test {g.grade_id} could not be run", f"{type(exc).__name__}: {exc}")
            return
        if not passed and _GRADER_BUG.match(message):
            state.grader_failed(f"the check of test {g.grade_id} has a bug", message)
            return
        duration = time.monotonic() - t0
        died = not _kernel_alive(state)
        raised = [e for e in state.kernel.student_errors[raised_before:] if e != "NotImplementedError"]
        undecided = raised or died or "timed out" in message  # maybe for want of what did not run
        if state.cells_run == "definitions" and state.dropped and not passed and undecided:
            state.undecided.append(f"test {g.grade_id}: " + (f"your code raised {raised[0]}" if raised
                                                            else "the kernel stopped" if died else "timed out"))
            return  # run_whole_notebook runs every cell and all the tests again
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


def run_whole_notebook(state: GradingState) -> None:
    """Step 6b: after a definitions-only run that may have changed a verdict, run every cell and the tests again.

    That happens when one of the student's cells failed, or a test failed because the student's code raised
    (other than ``NotImplementedError``), timed out or ended the kernel: a statement that did not run may be
    the cause. The kernel is restarted; the results of the whole run replace those of the first.
    """
    if state.cells_run != "definitions" or not state.undecided or state.kernel is None or state.fatal:
        return
    state.cells_run = f"all (definitions only were not enough: {state.undecided[0]})"
    state.cells.clear()
    state.replay.clear()
    state.tests.clear()
    if _recover(state, before=0):
        execute_student_notebook(state)
        run_tests(state)
