"""The grading pipeline: steps alone, then a whole batch of honest, cheating and faulty submissions.

The batch runs once (module fixture, in-process, real sandboxed kernels) on the tiny fixture
course of ``grading_fixture``; each test checks one property of what it wrote.
"""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import tempfile
import time
from pathlib import Path

import grading_fixture as fx
import nbformat
import pandas as pd
import pytest

from autograder.grade import pipeline
from autograder.grade.batch import grade_assignment
from autograder.grade.course import AssignmentNotFoundError, find_assignment
from autograder.grade.fingerprint import grader_fingerprint, job_fingerprint
from autograder.grade.job import GradingJob, GradingOptions, GradingState, SourceNotebookError
from autograder.grade.replay import execute_student_notebook, run_tests, setup_failure
from autograder.grade.source import (
    WRONG_ASSIGNMENT,
    _grade_ids,
    check_grader,
    foreign_names_problem,
    notebook_exercises,
    parse_source,
    parse_source_notebook,
    redact_hidden,
    wrong_assignment,
)
from autograder.report.results import validate_results

KINDS = ["solution", "blank", "partial", "visible_only", "cheat_metadata", "cheat_monkeypatch", "exception",
         "exit_cell", "infinite_loop", "test_kills_kernel", "background_process", "huge_output", "non_utf8",
         "malformed_json", "not_a_notebook"]
# Every cell runs (run_cells="all"): these tests exercise what running a student's cells does, the
# machinery the definitions-only default falls back to (tests/test_grade_definitions.py covers the default).
OPTIONS = GradingOptions(cell_timeout=4.0, test_timeout=15.0, submission_timeout=90.0, run_cells="all")


def sid(kind: str) -> str:
    """Student ids distinctive enough to search for in other students' files."""
    return f"{kind}-q7"


# --------------------------------------------------------------------------- steps alone

def _job(course: Path, kind: str | None, **kw) -> GradingJob:
    source = (course / "source" / fx.ASSIGNMENT / "tiny.ipynb").read_bytes()
    sub = fx.student_notebook(kind) if kind else None
    return GradingJob(student=sid(kind or "none"), assignment=fx.ASSIGNMENT, origin="x", submission=sub,
                      problems=[] if sub else ["no notebook found in none/"], source_notebook=source,
                      release_dir=str(course / "release" / fx.ASSIGNMENT), notebook_name="tiny.ipynb",
                      fingerprint="0" * 64, options=kw.get("options", OPTIONS))


def test_graded_cells_come_from_the_source_notebook():
    cells = parse_source_notebook(fx.source_notebook())
    assert [(c.grade_id, c.kind, c.points) for c in cells] == [
        ("test_square", "auto", 2.0), ("test_add", "auto", 1.0), ("explain", "manual", 1.0)]
    assert fx.HIDDEN_CANARY in cells[0].source  # the full source, hidden block included


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("grade_id"), "no grade_id"),
    (lambda m: m.update(points="two"), "no valid points"),
    (lambda m: m.update(grade_id="test_add"), "used by two cells"),
])
def test_invalid_source_metadata_is_refused(edit, message):
    nb = fx.source_notebook()
    edit(nb.cells[3].metadata["nbgrader"])
    with pytest.raises(SourceNotebookError, match=message):
        parse_source_notebook(nb)


def test_a_test_cell_using_a_name_no_solution_defines_is_a_grader_error(tmp_path):
    # in nbgrader `rel_error` would be the student's kernel's (redefinable); here nothing is graded
    assert notebook_exercises(fx.source_notebook()) == {"square", "add"}
    course = fx.make_course(tmp_path / "course")
    path = course / "source" / fx.ASSIGNMENT / "tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].source += "assert rel_error(square(2.0), 4.0) < 1e-9\n"
    nbformat.write(nb, path)
    state = GradingState(_job(course, "solution"))
    parse_source(state)
    check_grader(state)
    assert state.grader_error
    assert state.grader_detail.endswith(foreign_names_problem("test_square", ["rel_error"]))
    assert "`rel_error`" in state.grader_detail and "Import it in the test cell" in state.grader_detail


def test_a_cell_ending_in_a_value_shows_it_in_the_executed_notebook(tmp_path):
    # a cell's last expression is an execute_result; it once made the result notebook unwritable
    course = fx.make_course(tmp_path / "course")
    nb = nbformat.reads(fx.student_notebook("solution").decode(), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("6 * 7"))
    job = dataclasses.replace(_job(course, "solution"), submission=fx.as_bytes(nb))
    result = pipeline.grade_submission(job)
    assert result["score"] == fx.AUTO_MAX and not result["grader_error"]
    [out] = nbformat.reads(result["notebook"], as_version=4).cells[-1].outputs
    assert out.output_type == "execute_result" and out.data["text/plain"] == "42" and out.execution_count


def test_setup_failure_is_a_cell_before_the_exercises_or_a_failed_import():
    assert setup_failure(1, "NameError: name 'x' is not defined", True) == (
        "setup failed: cell 2 raised NameError: name 'x' is not defined; the tests that need what it sets up fail")
    assert setup_failure(9, "ModuleNotFoundError: No module named 'course_lib'\nmore", False).startswith(
        "setup failed: cell 10 raised ModuleNotFoundError: No module named 'course_lib';")
    assert setup_failure(9, "ImportError: cannot import name 'f'", False) is not None
    assert setup_failure(9, "ValueError: my own demo cell failed", False) is None


def test_a_failing_setup_cell_is_named_in_the_summary_and_the_problems(tmp_path, capsys):
    # The release on the grading machine lacks the library its setup cell imports (as when `nbgrader
    # generate_assignment --force` deleted release/<name>/course_lib/): the summary and the problems say so.
    from autograder.cli import main

    course = fx.make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.reads(fx.student_notebook("solution").decode(), as_version=4)
    nb.cells[1].source = "import numpy as np\nfrom tinylib import helper"  # the locked setup cell
    (subs / "ann.ipynb").write_bytes(fx.as_bytes(nb))
    (subs / "ben.ipynb").write_bytes(fx.student_notebook("solution"))
    out = tmp_path / "out"
    argv = ["grade", "tiny", str(subs), "--course", str(course), "--out", str(out), "--workers", "0",
            "--no-progress", "--no-gradebook"]
    assert main(argv) == 0
    summary = capsys.readouterr().out
    problem = "setup failed: cell 2 raised ModuleNotFoundError: No module named 'tinylib'"
    assert f"  ann: {problem}" in summary
    assert "Setup cells failed (1): ann. A module missing on the grading machine" in summary
    assert "python -m autograder validate tiny" in summary and "--force" in summary
    doc = json.loads((out / "ann" / "results.json").read_text())
    assert any(p.startswith(problem) for p in doc["extra_data"]["problems"])
    assert not json.loads((out / "ben" / "results.json").read_text())["extra_data"]["problems"]
    (course / "release" / "tiny" / "tinylib.py").write_text("def helper():\n    return 1\n")
    assert main([*argv, "--force"]) == 0
    summary = capsys.readouterr().out
    assert "Setup cells failed" not in summary and "graded 2" in summary


def test_redact_hidden_removes_hidden_code_lines_only():
    src = fx.source_notebook().cells[3].source
    hidden_line = next(line for line in src.splitlines() if fx.HIDDEN_CANARY in line)
    msg = f"Traceback:\n  {hidden_line}\nAssertionError: square is wrong for other inputs"
    out = redact_hidden(msg, src)
    assert fx.HIDDEN_CANARY not in out and "square is wrong for other inputs" in out


def test_fingerprint_changes_with_each_input():
    base = job_fingerprint(b"sub", b"src", "g")
    assert base == job_fingerprint(b"sub", b"src", "g")
    assert len({base, job_fingerprint(b"sub2", b"src", "g"), job_fingerprint(b"sub", b"src2", "g"),
                job_fingerprint(b"sub", b"src", "g2"), job_fingerprint(None, b"src", "g"),
                job_fingerprint(b"", b"subsrc", "g")}) == 6


def test_fingerprint_covers_the_released_files_and_the_options_but_not_the_hidden_paths():
    files = {"course_lib/layers.py": b"def f(): pass\n", "README.md": b"read me"}
    base = job_fingerprint(b"sub", b"src", "g", release_files=files, options=OPTIONS)
    assert base == job_fingerprint(b"sub", b"src", "g", release_files=dict(reversed(files.items())),
                                   options=GradingOptions(**{**OPTIONS.__dict__, "hide": ("/tmp/elsewhere",)}))
    changed = [job_fingerprint(b"sub", b"src", "g", release_files={**files, "README.md": b"new"}, options=OPTIONS),
               job_fingerprint(b"sub", b"src", "g", release_files={"README.md": b"read me"}, options=OPTIONS),
               job_fingerprint(b"sub", b"src", "g", release_files=files,
                               options=GradingOptions(**{**OPTIONS.__dict__, "memory_mb": 1024})),
               job_fingerprint(b"sub", b"src", "g", release_files=files, options=None)]
    assert len({base, *changed}) == 5


def test_grader_fingerprint_covers_the_reference_library(monkeypatch, tmp_path):
    """A fix to course_lib (the hidden checks' reference) re-grades, like a fix to the grader's own code."""
    import course_lib

    before = grader_fingerprint()
    copy = tmp_path / "course_lib"
    shutil.copytree(Path(course_lib.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(course_lib, "__file__", str(copy / "__init__.py"))
    assert grader_fingerprint() == before
    (copy / "layers.py").write_text((copy / "layers.py").read_text() + "\n# a fix\n")
    assert grader_fingerprint() != before


def test_load_and_prepare_workdir_copy_only_the_notebook_and_released_files(tmp_path):
    course = fx.make_course(tmp_path / "course")
    (course / "release" / fx.ASSIGNMENT / ".secret").write_text("dotfiles are not copied")
    state = GradingState(_job(course, "huge_output"))
    parse_source(state)
    pipeline.load_submission(state)
    assert state.fatal is None and state.notebook is not None
    try:
        pipeline.prepare_workdir(state)
        files = sorted(str(p.relative_to(state.workdir)) for p in state.workdir.rglob("*"))
        assert files == ["data.txt", "tiny.ipynb"]
        copied = nbformat.read(state.workdir / "tiny.ipynb", as_version=4)
        assert all(c.get("outputs", []) == [] for c in copied.cells)  # saved outputs never trusted
    finally:
        pipeline._cleanup(state)
    assert not state.workdir.exists()


def test_no_notebook_skips_the_kernel_and_fails_every_autograded_test(tmp_path):
    course = fx.make_course(tmp_path / "course")
    result = pipeline.grade_submission(_job(course, None))
    assert result["fatal"] == "no notebook found in none/" and result["score"] == 0
    assert [(t["grade_id"], t["status"]) for t in result["tests"]] == [
        ("test_square", "failed"), ("test_add", "failed"), ("explain", "pending")]
    assert result["tests"][0]["message"] == "no notebook found in none/"


def test_steps_one_by_one_on_a_kernel_killing_cell(tmp_path):
    course = fx.make_course(tmp_path / "course")
    state = GradingState(_job(course, "exit_cell"))
    try:
        for step in (parse_source, pipeline.load_submission, pipeline.prepare_workdir,
                     pipeline.start_kernel):
            step(state)
        assert state.kernel is not None and state.kernel.alive
        execute_student_notebook(state)
        statuses = {i: c.status for i, c in state.cells.items()}
        # 0 markdown; 1 import; 2 square; 3 os._exit; 4 test_square (source test: not run);
        # 5 add; 6 test_add (not run); 7 markdown answer
        assert statuses == {1: "ok", 2: "ok", 3: "died", 4: "test", 5: "ok", 6: "test"}
        assert state.restarts == 1 and state.replay == [1, 2, 5]
        assert any("cell 4 ended the kernel" in p for p in state.problems)
        run_tests(state)
        assert [(t.grade_id, t.status) for t in state.tests] == [
            ("test_square", "passed"), ("test_add", "passed"), ("explain", "pending")]
    finally:
        pipeline.stop_kernel(state)
        pipeline._cleanup(state)


@pytest.mark.cifar
def test_kernels_read_the_configured_cifar10_else_the_synthetic_set_and_feedback_carries_no_data_warning(
        tmp_path, cifar10_dir):
    """The course's CIFAR-10 reaches the kernel read-only (GradingOptions.cifar10_dir); without one the kernel
    uses the synthetic stand-in. Either way the student's page has no SyntheticDataWarning (its advice to
    download CIFAR-10 is for the student's own machine) and the verdicts are the same."""
    course = fx.make_course(tmp_path / "course")
    shutil.copytree(REPO / "release" / "fc_nets" / "course_lib", course / "release" / fx.ASSIGNMENT / "course_lib")
    nb = fx.notebook(square_body=fx.SQUARE_SOLUTION, add_body=fx.ADD_SOLUTION, extra_cells=[nbformat.v4.new_code_cell(
        "import os\nfrom course_lib.data import get_CIFAR10_data, resolve_cifar10_dir\n"
        "data = get_CIFAR10_data(50, 10, 10)\nprint('KIND', resolve_cifar10_dir().kind, data['X_train'].shape)")])
    results = {}
    for name, where in (("synthetic", None), ("course", str(cifar10_dir))):
        job = dataclasses.replace(_job(course, "solution"), submission=fx.as_bytes(nb),
                                  options=dataclasses.replace(OPTIONS, cifar10_dir=where))
        results[name] = pipeline.grade_submission(job)
    for name, kind in (("synthetic", "synthetic"), ("course", "environment")):
        page = html.unescape(results[name]["feedback_html"])
        assert f"KIND {kind} (50, 3, 32, 32)" in page, name
        assert "SyntheticDataWarning" not in page and "course_lib.data download" not in page, name
    verdicts = {name: [(t["grade_id"], t["status"], t["score"]) for t in r["tests"]] for name, r in results.items()}
    assert verdicts["synthetic"] == verdicts["course"]
    assert results["course"]["score"] == results["synthetic"]["score"] == fx.expected_score("solution")


# --------------------------------------------------------------------------- a whole batch

@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    # The grader's fingerprint hashes the autograder package; pin it so that edits made to the
    # package while this module runs (a shared checkout) do not count as a new grader version.
    root = tmp_path_factory.mktemp("batch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("autograder.grade.batch.grader_fingerprint", lambda: "pinned-grader-for-tests")
        # Scratch folders and kernel staging go here, so this batch's kernels can be told apart
        # from other kernels running on the machine.
        (root / "scratch").mkdir()
        mp.setattr(tempfile, "tempdir", str(root / "scratch"))
        yield _run_batch(root)


def _run_batch(root: Path) -> dict:
    course = fx.make_course(root / "course")
    subs = root / "submitted"
    for kind in KINDS:
        name = "my copy.ipynb" if kind == "partial" else "tiny.ipynb"  # a renamed notebook
        path = subs / sid(kind) / fx.ASSIGNMENT / name
        path.parent.mkdir(parents=True)
        path.write_bytes(fx.student_notebook(kind))
    (subs / sid("missing") / fx.ASSIGNMENT).mkdir(parents=True)  # no notebook at all
    before = {"subs": fx.tree_digest(subs), "source": fx.tree_digest(course / "source"),
              "release": fx.tree_digest(course / "release")}
    out = root / "out"
    t0 = time.monotonic()
    summary = grade_assignment(fx.ASSIGNMENT, subs, course_dir=course, out_dir=out, workers=0,
                               options=OPTIONS, progress=False)
    return {"course": course, "subs": subs, "out": out, "summary": summary, "before": before,
            "seconds": time.monotonic() - t0}


def _results(batch, kind: str) -> dict:
    return json.loads((batch["out"] / sid(kind) / "results.json").read_text())


def _test(doc: dict, grade_id: str) -> dict:
    return next(t for t in doc["tests"] if t["extra_data"]["grade_id"] == grade_id)


@pytest.mark.parametrize("kind", KINDS)
def test_every_submission_gets_its_honest_score(batch, kind):
    doc = _results(batch, kind)
    validate_results(doc)
    assert doc["score"] == fx.expected_score(kind), doc["output"]
    assert _test(doc, "explain")["output"] == "pending manual grading"
    assert not doc["extra_data"]["grader_error"]


def test_summary_counts_everyone_and_lists_faults(batch):
    s = batch["summary"]
    assert s.total == len(KINDS) + 1 and s.graded == s.total and s.skipped == 0 and s.grader_errors == []
    faulty = {student for student, _ in s.faults}
    assert {sid(k) for k in ("malformed_json", "not_a_notebook", "missing", "exit_cell", "infinite_loop",
                             "non_utf8", "partial", "test_kills_kernel")} <= faulty
    assert sid("solution") not in faulty and sid("blank") not in faulty
    text = "\n".join(s.lines())
    assert f"Mean autograded score: {s.mean_score:.2f} / 3 (grades.csv: score, max_score)." in text
    assert s.manual_max == 1 and "Graded by hand: 1 more point, pending" in text


@pytest.mark.parametrize("kind, grade_id, words", [
    ("missing", "test_square", "no notebook found"),
    ("malformed_json", "test_add", "not valid JSON (line"),
    ("not_a_notebook", "test_square", "not a notebook"),
    ("blank", "test_square", "NotImplementedError"),
    ("partial", "test_add", "add(2, 3) should be 5"),
    ("visible_only", "test_square", "square is wrong for other inputs"),
    ("cheat_monkeypatch", "test_add", "add(2, 3) should be 5"),
    ("test_kills_kernel", "test_add", "exited with code 1"),
])
def test_failed_tests_say_why(batch, kind, grade_id, words):
    assert words in _test(_results(batch, kind), grade_id)["output"]


@pytest.mark.parametrize("kind, words", [
    ("exit_cell", "ended the kernel"),
    ("infinite_loop", "did not finish within 4 s"),
    ("non_utf8", "not UTF-8"),
    ("partial", "named 'my copy.ipynb'"),
    ("test_kills_kernel", "test test_add stopped the kernel"),
])
def test_submission_level_problems_are_reported(batch, kind, words):
    doc = _results(batch, kind)
    assert words in doc["output"]
    assert words in html.unescape((batch["out"] / sid(kind) / "feedback.html").read_text())


def test_points_and_tests_come_from_the_source_not_the_submission(batch):
    doc = _results(batch, "cheat_metadata")
    assert [(t["extra_data"]["grade_id"], t["max_score"]) for t in doc["tests"]] == [
        ("test_square", 2), ("test_add", 1), ("explain", 1)]
    assert _test(doc, "test_add")["status"] == "failed"  # its emptied test cell was not what ran


def test_nothing_written_for_a_student_reveals_hidden_tests_or_other_students(batch):
    ids = [sid(k) for k in [*KINDS, "missing"]]
    for student in ids:
        for name in ("results.json", "feedback.html"):
            text = (batch["out"] / student / name).read_text()
            assert fx.HIDDEN_CANARY not in text, (student, name)
            assert "BEGIN HIDDEN TESTS" not in text
            others = [o for o in ids if o != student and o in text]
            assert others == [], (student, name, others)


def test_huge_output_is_capped_in_feedback(batch):
    page = batch["out"] / sid("huge_output") / "feedback.html"
    assert page.stat().st_size < 3_000_000
    assert "output too large" in page.read_text() or "dropped" in page.read_text()


def test_no_process_is_left_running(batch):
    assert fx.processes_matching("sleep 987") == []  # started in the background by a student cell
    assert fx.processes_matching(str(batch["out"].parent / "scratch")) == []  # this batch's kernels
    assert list((batch["out"].parent / "scratch").iterdir()) == []  # scratch folders removed


def test_no_input_file_changes(batch):
    course = batch["course"]
    assert fx.tree_digest(batch["subs"]) == batch["before"]["subs"]
    assert fx.tree_digest(course / "source") == batch["before"]["source"]
    assert fx.tree_digest(course / "release") == batch["before"]["release"]


def test_grades_csv_and_gradebook_agree_with_results(batch):
    df = pd.read_csv(batch["out"] / "grades.csv").set_index("student")
    assert sorted(df.index) == sorted(sid(k) for k in [*KINDS, "missing"])
    from nbgrader.api import Gradebook

    from autograder.report.gradebook import course_settings

    db_url, course_id = course_settings(batch["course"])
    with Gradebook(db_url, course_id) as gb:
        for kind in KINDS:
            assert df.loc[sid(kind), "score"] == fx.expected_score(kind)
            sub = gb.find_submission(fx.ASSIGNMENT, sid(kind))
            assert sub.score == fx.expected_score(kind)
            assert gb.find_grade("explain", "tiny", fx.ASSIGNMENT, sid(kind)).needs_manual_grade
    saved = batch["course"] / "autograded" / sid("solution") / fx.ASSIGNMENT / "tiny.ipynb"
    assert nbformat.read(saved, as_version=4).cells  # for formgrader


def test_rerun_skips_unchanged_and_regrades_changed_submissions(batch):
    out, subs = batch["out"], batch["subs"]
    stamp = (out / sid("solution") / "results.json").stat().st_mtime_ns
    t0 = time.monotonic()
    again = grade_assignment(fx.ASSIGNMENT, subs, course_dir=batch["course"], out_dir=out, workers=0,
                             options=OPTIONS, progress=False)
    assert again.skipped == again.total and again.graded == 0
    assert time.monotonic() - t0 < batch["seconds"] / 3  # nothing re-run
    assert (out / sid("solution") / "results.json").stat().st_mtime_ns == stamp
    assert len(pd.read_csv(out / "grades.csv")) == again.total

    # blank student fixes add; a crash lost another student's results.json
    (subs / sid("blank") / fx.ASSIGNMENT / "tiny.ipynb").write_bytes(fx.as_bytes(
        fx.notebook(add_body=fx.ADD_SOLUTION)))
    (out / sid("malformed_json") / "results.json").unlink()
    third = grade_assignment(fx.ASSIGNMENT, subs, course_dir=batch["course"], out_dir=out, workers=0,
                             options=OPTIONS, progress=False)
    assert third.graded == 2 and third.skipped == third.total - 2
    assert _results(batch, "blank")["score"] == 1
    assert pd.read_csv(out / "grades.csv").set_index("student").loc[sid("blank"), "score"] == 1


def test_bundled_examples_match_source_and_release():
    from autograder.examples.make_examples import check_examples

    assert check_examples() == []


def test_unknown_assignment_lists_known_ones(batch):
    with pytest.raises(AssignmentNotFoundError, match="Known assignments in .*: tiny"):
        find_assignment(batch["course"], "tinyy")


# --------------------------------------------------------------------------- another assignment's notebook

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("submitted, graded_as, flagged", [
    ("dropout", "batchnorm", True), ("deep_networks", "batchnorm", True), ("fc_nets", "dropout", True),
    ("batchnorm", "deep_networks", True), ("batchnorm", "batchnorm", False), ("fc_nets", "fc_nets", False),
])
def test_a_notebook_of_another_course_assignment_is_recognized(submitted, graded_as, flagged):
    """By grade_ids: the course's notebooks share up to 4 (FullyConnectedNet, its test, two inline questions)."""
    release = nbformat.read(REPO / "release" / submitted / f"{submitted}.ipynb", as_version=4)
    source = nbformat.read(REPO / "source" / graded_as / f"{graded_as}.ipynb", as_version=4)
    problem = wrong_assignment(release, _grade_ids(source), graded_as)
    assert (problem is not None) == flagged
    if flagged:
        assert problem.startswith(WRONG_ASSIGNMENT) and f"does not look like {graded_as}" in problem
    without_ids = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in release.cells])
    assert wrong_assignment(without_ids, _grade_ids(source), graded_as) is None  # cannot tell


def test_another_assignments_notebook_is_flagged_in_the_summary_and_the_feedback(tmp_path):
    course = fx.make_course(tmp_path / "course")
    other = fx.notebook(square_body=fx.SQUARE_SOLUTION, add_body=fx.ADD_SOLUTION)
    for cell in other.cells:  # the same code under another assignment's cell ids
        meta = cell.metadata.get("nbgrader")
        if meta:
            meta["grade_id"] = "hw2_" + meta["grade_id"]
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "zed.ipynb").write_bytes(fx.as_bytes(other))
    (subs / "amy.ipynb").write_bytes(fx.student_notebook("solution"))
    summary = grade_assignment(fx.ASSIGNMENT, subs, course_dir=course, out_dir=tmp_path / "out", workers=0,
                               options=OPTIONS, gradebook=False, progress=False)
    lines = "\n".join(summary.lines())
    assert "Notebooks of another assignment (1): zed" in lines
    assert "zed: wrong assignment: this notebook does not look like tiny: only 0 of its 6 graded cells" in lines
    assert "amy" not in lines.split("Notebooks of another assignment")[1].splitlines()[0]
    page = html.unescape((tmp_path / "out" / "zed" / "feedback.html").read_text())
    assert "wrong assignment: this notebook does not look like tiny" in page
    doc = json.loads((tmp_path / "out" / "zed" / "results.json").read_text())
    assert any(p.startswith("wrong assignment") for p in doc["extra_data"]["problems"])
    assert summary.scores["amy"] == (3.0, 3.0)


# --------------------------------------------------------------------------- the README's demo (issue 9, point 7)

DEMO = """
import dataclasses, sys
from pathlib import Path
from autograder.grade.batch import grade_assignment
from autograder.grade.pipeline import grade_submission

def without_kernel(job):  # the batch and gradebook path, not the kernels (graded elsewhere)
    return grade_submission(dataclasses.replace(job, submission=None, problems=["not run in this test"]))

repo, out = Path(sys.argv[1]), Path(sys.argv[2])
summary = grade_assignment("batchnorm", repo / "autograder" / "examples" / "batchnorm", course_dir=repo,
                           out_dir=out, workers=0, progress=False, grade=without_kernel)
print("\\n".join(summary.lines()))
"""


def test_the_demo_grades_into_a_throwaway_gradebook_without_an_activated_venv(tmp_path):
    """The README's first command from a shell where nothing is set up: nbgrader runs `alembic` by name to create
    a gradebook, which is not on PATH unless the venv is activated; the bundled examples' grades go to
    OUT/gradebook.db, never to the course's gradebook."""
    import subprocess
    import sys

    course_book = REPO / "gradebook.db"
    before = course_book.stat().st_mtime_ns if course_book.exists() else None
    out = tmp_path / "grading-out"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}  # no venv on PATH, as `su -` gives
    done = subprocess.run([sys.executable, "-c", DEMO, str(REPO), str(out)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Gradebook: sqlite:///{out / 'gradebook.db'}" in done.stdout
    assert (course_book.stat().st_mtime_ns if course_book.exists() else None) == before
    from nbgrader.api import Gradebook

    from autograder.report.gradebook import course_settings

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=course_settings(REPO)[1]) as gb:
        students = sorted(s.id for s in gb.students)
    assert students == sorted(p.name for p in (REPO / "autograder" / "examples" / "batchnorm").iterdir()
                              if p.is_dir() and not p.name.startswith(("_", ".")))
