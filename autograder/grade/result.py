"""The result dict of one graded submission (:func:`build_result`) or of one that could not be graded
(:func:`~autograder.grade.pipeline.error_result`), and the executed notebook feedback.html shows."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import nbformat

from autograder.grade.job import (
    GradingState,
    TestResult,
)


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
            cell.outputs = [nbformat.from_dict(dict(o, execution_count=count))
                            if o.get("output_type") == "execute_result" else o for o in ran.outputs]
    return nb


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
        "cells_run": state.cells_run,
        "tests": [asdict(t) for t in state.tests],
        "feedback_html": state.feedback_html,
        "notebook": nbformat.writes(nb) if nb is not None else None,
    }
