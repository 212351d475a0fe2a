"""Faulty submissions of the real fc_nets assignment, graded end to end (issue 4, acceptance 2).

One submission per fault, each the solution notebook (30 points) with the fault added, in one batch with
the plain solution and the blank release: an exception, a cell that never ends, cells that kill the kernel
(``os._exit``, a segfault through ctypes, the OOM killer's SIGKILL), all memory allocated, a solution
function that loops forever or crashes the kernel whenever a test calls it, malformed JSON, no notebook,
a renamed notebook, non-UTF-8 bytes, huge output, processes left running. The batch must finish, every
submission must get exactly the points its code deserves, and each fault a clear per-test message.

Last, the real command line grades part of the batch, is SIGKILLed in the middle, and is run again: it
resumes, and its outputs equal those of the uninterrupted in-process run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import adversarial_cases as ac
import nbformat
import pandas as pd
import pytest

from autograder.grade.job import GradingOptions
from autograder.report.results import validate_results

PREFIX = "f"
#: One remote call (and one student cell) is stopped after ``cell_timeout``; a whole test after
#: ``test_timeout`` (the reference training of test_overfit_settings runs in the grader and needs ~15 s
#: on a loaded machine). 2048 MB of memory: ``MEMORY_HOG`` fills it page by page, and half the
#: default's pages reach ``MemoryError`` well inside ``cell_timeout`` even on a busy 2-core machine.
# Every cell runs (run_cells="all"): these tests exercise what running a student's cells does, the
# machinery the definitions-only default falls back to (tests/test_grade_definitions.py covers the default).
OPTIONS = GradingOptions(cell_timeout=10.0, test_timeout=45.0, submission_timeout=600.0, memory_mb=2048,
                         run_cells="all")
ALL = None


def _solution_plus(*cells: str, at: str = "start"):
    """The solution notebook with ``cells`` right after the imports (``start``) or at the end."""

    def build(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
        nb = course.examples()["solution"]
        return ac.as_bytes(ac.with_cells(nb, list(cells), at=len(nb.cells) if at == "end" else None, tag="fault"))

    return build


def _solution_with(grade_id: str, source: str):
    def build(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
        return ac.as_bytes(ac.replace_solution(course.examples()["solution"], grade_id, source))

    return build


def _malformed(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
    return ac.as_bytes(course.examples()["solution"])[:-200]


def _missing(course: ac.Course, targets: ac.Targets, student: str) -> None:
    return None


def _non_utf8(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
    nb = course.examples()["solution"]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Caf\u00e9 notes"))
    return ac.as_bytes(nb).replace("Caf\u00e9".encode(), b"Caf\xe9")  # saved as Latin-1 by an old editor


def _huge_output(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
    nb = ac.with_cells(course.examples()["solution"], ["print('x' * 30_000_000)\nprint('y' * 20_000)"], tag="fault")
    nb.cells[0].outputs = []
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="z" * 40_000_000)]  # saved, 40 MB
    return ac.as_bytes(nb)


HANG = '''def relu_forward(x):
    """ReLU, one entry at a time."""
    out = np.array(x, dtype=float, copy=True)
    i = 0
    while i < out.size:  # the bug: i is never incremented
        out.flat[i] = max(out.flat[i], 0.0)
    return out, x'''

CRASH = '''def softmax_loss(x, y):
    """Crashes the kernel (a segfault in native code) whenever it is called."""
    import ctypes

    ctypes.string_at(0)'''

LEFT_RUNNING = """\
import os
import subprocess

subprocess.Popen(["sleep", "1246.5"])
subprocess.Popen(["sleep", "1246.25"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "1246.75"])
    os._exit(0)
print("left three processes running")
"""

MEMORY_HOG = """\
import numpy as np

hog = []
while True:
    hog.append(np.ones(1 << 25))  # 256 MiB at a time, until the memory limit says no
"""

NOT_LAYERS = {"test_relu_forward", "test_FullyConnectedNet"}
NOT_SOFTMAX = {"test_softmax_loss", "test_FullyConnectedNet"}


TESTS = ("test_affine_forward test_affine_backward test_relu_forward test_relu_backward test_softmax_loss "
         "test_FullyConnectedNet test_overfit_settings test_sgd_momentum test_sgd_nesterov_momentum test_rmsprop "
         "test_adam").split()

CASES = [  # the slowest first (see adversarial_cases.student_id)
    ac.Case("hang", "relu_forward loops forever (used by 4 cells and 2 tests)", "solution",
            _solution_with("relu_forward", HANG), frozenset(TESTS) - NOT_LAYERS),
    ac.Case("crash", "softmax_loss segfaults (used by 4 cells and 2 tests)", "solution",
            _solution_with("softmax_loss", CRASH), frozenset(TESTS) - NOT_SOFTMAX),
    ac.Case("solution", "the solution notebook (control)", "solution", ac.example("solution"), ALL),
    ac.Case("blank", "the blank release (control)", "blank", ac.example("blank")),
    ac.Case("exception", "a cell raises", "solution", _solution_plus("raise RuntimeError('my bad')"), ALL),
    ac.Case("timeout", "a cell never ends", "solution", _solution_plus("while True:\n    pass"), ALL),
    ac.Case("deadkernel", "three cells kill the kernel: os._exit(0), a ctypes segfault, SIGKILL (OOM killer)",
            "solution", _solution_plus("import os\nos._exit(0)", "import ctypes\nctypes.string_at(0)",
                                       "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), ALL),
    ac.Case("memoryhog", "allocates all memory (last cell)", "solution", _solution_plus(MEMORY_HOG, at="end"), ALL),
    ac.Case("malformedjson", "truncated notebook file", "solution", _malformed),
    ac.Case("missing", "no notebook in the folder", "-", _missing),
    ac.Case("renamed", "notebook saved under another name", "solution", ac.example("solution"), ALL,
            filename="fc_nets (1).ipynb"),
    ac.Case("nonutf8", "a Latin-1 byte in a markdown cell", "solution", _non_utf8, ALL),
    ac.Case("hugeoutput", "prints 30 MB, 40 MB of saved outputs", "solution", _huge_output, ALL),
    ac.Case("leftrunning", "processes left running (Popen, new session, daemon)", "solution",
            _solution_plus(LEFT_RUNNING), ALL),
]

#: (case, grade_id or None for the submission's problems, words the student is told)
MESSAGES = [
    ("hang", "test_relu_forward", "timed out: calling `relu_forward` did not finish within 10 s"),
    ("hang", None, "did not finish within 10 s"),
    ("crash", "test_softmax_loss", "crashed with a segmentation fault (SIGSEGV)"),
    ("crash", None, "ended the kernel (the kernel running your code crashed with a segmentation fault"),
    ("exception", None, None),  # a cell's own error is in its output, not a grading problem
    ("timeout", None, "did not finish within 10 s"),
    ("deadkernel", None, "cell 4 ended the kernel (the kernel running your code exited with code 0"),
    ("deadkernel", None, "cell 5 ended the kernel (the kernel running your code crashed with a segmentation fault"),
    ("deadkernel", None, "cell 6 ended the kernel (the kernel running your code was killed (SIGKILL), most likely "
                         f"because it used more than the {OPTIONS.memory_mb} MB of memory allowed)"),
    ("malformedjson", "test_adam", "not valid JSON"),
    ("missing", "test_affine_forward", "no notebook found"),
    ("renamed", None, "named 'fc_nets (1).ipynb'"),
    ("nonutf8", None, "not UTF-8"),
]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    yield from ac.graded(tmp_path_factory, "faults", PREFIX, CASES, OPTIONS)


def test_the_batch_finishes_and_counts_everyone(batch):
    print("\n" + batch.report())
    s = batch.summary
    assert s.total == s.graded == len(CASES) and s.skipped == 0 and s.grader_errors == []
    faulty = {student for student, _ in s.faults}
    assert batch.sid("solution") not in faulty and batch.sid("blank") not in faulty
    assert {batch.sid(n) for n in ("hang", "crash", "timeout", "deadkernel", "malformedjson", "missing", "renamed",
                                   "nonutf8")} <= faulty


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_every_submission_gets_exactly_its_honest_score(batch, name):
    case, doc = batch.case(name), batch.results(name)
    validate_results(doc)
    assert batch.passing(name) == case.expected_passing(batch.course), doc["output"]
    assert doc["score"] == case.expected_score(batch.course)
    assert len(doc["tests"]) == len(batch.course.points) + len(batch.course.manual_points)
    assert not doc["extra_data"]["grader_error"]


@pytest.mark.parametrize("name, grade_id, words", MESSAGES)
def test_each_fault_is_explained_to_the_student(batch, name, grade_id, words):
    doc = batch.results(name)
    if grade_id is not None:
        assert words in batch.tests(name)[grade_id]["output"]
    elif words is not None:
        assert words in doc["output"] and words in batch.feedback(name)
    failed = [t for t in doc["tests"] if t.get("status") == "failed"]
    assert all(t["output"].strip() and t["output"] != "failed" for t in failed)  # every failure says why


def test_what_happened_in_a_cell_shows_in_its_output(batch):
    assert "RuntimeError: my bad" in batch.outputs("exception")
    assert "MemoryError" in batch.outputs("memoryhog")
    assert ("[grader] the kernel died while running this cell: the kernel running your code crashed with a "
            "segmentation fault") in batch.outputs("deadkernel")


def test_a_hanging_function_costs_one_call_timeout_per_use(batch):
    """4 notebook cells and 2 tests call the looping relu_forward: each is stopped after cell_timeout (10 s),
    plus the restarts that re-run the cells before it; nbgrader pays its timeout per cell likewise."""
    doc = batch.results("hang")
    calls = 4 + 2
    assert doc["execution_time"] < calls * OPTIONS.cell_timeout + 150  # restarts and the other work
    for gid in NOT_LAYERS:
        assert "did not finish within 10 s" in batch.tests("hang")[gid]["output"]


def test_huge_output_is_capped(batch):
    page = batch.targets.out / batch.sid("hugeoutput") / "feedback.html"
    assert page.stat().st_size < 5_000_000
    assert "output too large" in batch.feedback("hugeoutput") or "truncated" in batch.feedback("hugeoutput")
    assert "z" * 1000 not in batch.feedback("hugeoutput")  # saved outputs are dropped


def test_no_process_is_left_running(batch):
    assert "left three processes running" in batch.outputs("leftrunning")
    assert ac.wait_until_gone("sleep 1246.") == []
    assert ac.processes_matching(str(batch.scratch)) == []
    assert batch.leftovers() == []


def test_nothing_written_for_a_student_reveals_hidden_tests_or_other_students(batch):
    secrets = batch.course.secrets()
    for sid in batch.ids:
        assert ac.leaks(batch, sid, secrets) == [], sid
        for path, text in batch.written_for(sid).items():
            assert [o for o in batch.ids if o != sid and o in text] == [], path


def test_grades_csv_and_gradebook_agree(batch):
    from nbgrader.api import Gradebook

    from autograder.report.gradebook import course_settings

    df = pd.read_csv(batch.targets.out / "grades.csv").set_index("student")
    db_url, course_id = course_settings(batch.course.root)
    with Gradebook(db_url, course_id) as gb:
        for case in CASES:
            sid = batch.sid(case.name)
            assert df.loc[sid, "score"] == case.expected_score(batch.course)
            assert gb.find_submission(ac.ASSIGNMENT, sid).score == case.expected_score(batch.course)


# --------------------------------------------------------------------------- the command line, killed

CLI_CASES = ["solution", "blank", "malformedjson", "missing"]  # graded in this (id) order
#: What differs between two runs of the same submissions: timings (the grader's, and those the notebook
#: prints), and the grader's fingerprint (the in-process run pins it, the command line computes it).
VOLATILE = re.compile(r'"execution_time": \d+|"fingerprint": "[0-9a-f]+"|\(\d+\.\d s\)')


def _frozen_grader(dest: Path) -> Path:
    """A copy of the grader and the library (so that edits made to the checkout meanwhile do not
    change the grader's fingerprint between the two runs)."""
    for pkg in ("autograder", "course_lib"):
        shutil.copytree(ac.REPO / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _cli(pkg: Path, subs: Path, course: Path, out: Path, scratch: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "autograder", "grade", ac.ASSIGNMENT, str(subs), "--course", str(course),
            "--out", str(out), "--workers", "0", "--no-progress", "--timeout", str(OPTIONS.cell_timeout),
            "--test-timeout", str(OPTIONS.test_timeout), "--submission-timeout", str(OPTIONS.submission_timeout),
            "--run-cells", OPTIONS.run_cells]
    env = {**os.environ, "PYTHONPATH": str(pkg), "TMPDIR": str(scratch)}
    return subprocess.Popen(argv, cwd=pkg, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _outputs(out: Path, course: Path, students: list[str]) -> dict[str, str]:
    """What was written for each student (results, feedback, the notebook for formgrader), timings removed."""
    files = {}
    for sid in students:
        for path in (out / sid / "results.json", out / sid / "feedback.html",
                     course / "autograded" / sid / ac.ASSIGNMENT / ac.NOTEBOOK):
            if path.exists():
                files[f"{sid}/{path.name}"] = VOLATILE.sub("", path.read_text())
    return files


def test_killed_command_line_run_resumes_to_the_same_outputs(batch, tmp_path):
    pkg = _frozen_grader(tmp_path / "pkg")
    course = ac.make_course(tmp_path / "course")
    subs, out, scratch = tmp_path / "submitted", tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    students = [batch.sid(n) for n in CLI_CASES]
    for sid in students:
        shutil.copytree(batch.targets.submissions / sid, subs / sid)

    repo_before = ac.repo_snapshot()
    first = _cli(pkg, subs, course, out, scratch)
    deadline = time.monotonic() + 300
    while not (out / students[0] / "results.json").exists() and time.monotonic() < deadline:
        assert first.poll() is None, first.stdout.read()
        time.sleep(0.2)
    assert (out / students[0] / "results.json").exists()
    first.send_signal(signal.SIGKILL)  # the grading process only: its kernels must go with it
    first.wait(timeout=30)
    first.stdout.close()
    done = {sid for sid in students if (out / sid / "results.json").exists()}
    assert students[0] in done and done != set(students)  # killed in the middle of the batch
    assert ac.wait_until_gone(str(scratch), 30) == []

    second = _cli(pkg, subs, course, out, scratch)
    log, _ = second.communicate(timeout=600)
    assert second.returncode == 0, log
    assert f"{len(students)} submission(s); graded {len(students) - len(done)}, up to date {len(done)}" in log

    # the same files as the uninterrupted in-process run, and the same gradebook
    assert _outputs(out, course, students) == _outputs(batch.targets.out, batch.course.root, students)
    ours = pd.read_csv(out / "grades.csv").set_index("student")
    theirs = pd.read_csv(batch.targets.out / "grades.csv").set_index("student").loc[sorted(students)]
    assert ours.equals(theirs)
    from nbgrader.api import Gradebook

    from autograder.report.gradebook import course_settings

    with Gradebook(*course_settings(course)) as gb:
        assert sorted(s.id for s in gb.students) == sorted(students)
        for name, sid in zip(CLI_CASES, students):
            assert gb.find_submission(ac.ASSIGNMENT, sid).score == batch.results(name)["score"]

    # idempotent: a third run grades nothing and changes nothing
    before = ac.tree_digest(out)
    third = _cli(pkg, subs, course, out, scratch)
    log, _ = third.communicate(timeout=300)
    assert third.returncode == 0 and f"graded 0, up to date {len(students)}" in log, log
    after = ac.tree_digest(out)
    assert after.pop(".grading.lock") != before.pop(".grading.lock")  # it holds the pid of the run
    assert after == before
    assert json.loads((out / students[0] / "results.json").read_text())["score"] == 30  # the solution
    assert ac.repo_snapshot() == repo_before


KILLED_GRADER = """\
import sys
from pathlib import Path

from autograder.kernel.plan import Limits
from autograder.kernel.client import StudentKernel

kernel = StudentKernel(Path(sys.argv[1]), limits=Limits(cell_timeout=600.0))
kernel.start()
print("started", flush=True)
kernel.run_cell("while True:\\n    pass")
"""


def test_a_killed_grader_leaves_no_kernel_behind(tmp_path):
    """A grading process killed while a kernel spins: the sandbox ends with it (not at its CPU limit)."""
    scratch, work = tmp_path / "scratch", tmp_path / "work"
    scratch.mkdir()
    work.mkdir()
    grader = subprocess.Popen([sys.executable, "-c", KILLED_GRADER, str(work)], cwd=ac.REPO,
                              env={**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(ac.REPO)},
                              stdout=subprocess.PIPE, text=True)
    assert grader.stdout.readline() == "started\n"
    time.sleep(1.0)
    assert ac.processes_matching(str(scratch)) != []  # the sandbox's supervisor runs
    grader.send_signal(signal.SIGKILL)
    grader.wait(timeout=10)
    grader.stdout.close()
    assert ac.wait_until_gone(str(scratch), 10) == []


def test_no_input_or_project_file_changes(batch):
    assert batch.input_changes() == []
    assert batch.repo_changes() == []  # tracked files and root grading outputs, while grading


# --------------------------------------------------------------------------- grader failures (issue 8, point 8)
# A submission the grader could not grade is a grader error, never the student's zero: no score in results.json,
# grades.csv or the gradebook, a non-zero exit, a text that does not blame the student, and the next run grades it.
# Each failure below is real (an interpreter that does not exist, a hidden-check module that is missing or has a
# bug, a release folder that is gone); then the cause is fixed and the same command grades everyone normally.

GRADER_ERROR_WORDS = "not a problem with your submission"


def _tiny_batch(tmp_path: Path, kinds: dict[str, str]) -> tuple[Path, Path, Path]:
    """The tiny course, a flat folder with one notebook per student (kind from grading_fixture), an output folder."""
    import grading_fixture as fx

    course = fx.make_course(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    for student, kind in kinds.items():
        (subs / f"{student}.ipynb").write_bytes(fx.student_notebook(kind))
    return course, subs, tmp_path / "out"


def _recorded(course: Path, student: str) -> dict[str, float | None] | None:
    """The gradebook's auto scores of ``student`` for the tiny assignment, or None without a submission."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.report.gradebook import course_settings

    url, course_id = course_settings(course)
    with Gradebook(url, course_id=course_id) as gb:
        try:
            sub = gb.find_submission("tiny", student)
        except MissingEntry:
            return None
        return {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}


def _assert_grader_error(out: Path, course: Path, student: str, words: str) -> dict:
    doc = json.loads((out / student / "results.json").read_text())
    assert doc["extra_data"]["grader_error"] is True and words in doc["extra_data"]["grader_error_detail"]
    assert "score" not in doc and not any("score" in t for t in doc["tests"])  # nothing scored, not 0
    assert [t["extra_data"]["status"] for t in doc["tests"]] == ["error", "error", "pending"]
    assert GRADER_ERROR_WORDS in doc["output"] and "your code" not in doc["output"]
    page = (out / student / "feedback.html").read_text()
    assert "not graded yet" in page and GRADER_ERROR_WORDS in page
    assert "kernel running your code" not in page and "crash" not in page.lower()
    row = pd.read_csv(out / "grades.csv", dtype=str, keep_default_na=False).set_index("student").loc[student]
    assert row["score"] == row["test_square"] == row["test_add"] == ""
    assert _recorded(course, student) is None
    return doc


def test_a_kernel_that_cannot_start_is_a_grader_error_and_the_next_run_grades_it(tmp_path, monkeypatch, capsys):
    from autograder.cli import main

    kinds = {"ann": "solution", "bob": "blank", "cat": "test_kills_kernel"}
    course, subs, out = _tiny_batch(tmp_path, kinds)
    argv = ["grade", "tiny", str(subs), "--course", str(course), "--out", str(out), "--workers", "0",
            "--no-progress"]
    with monkeypatch.context() as m:  # an interpreter that cannot be executed: no kernel can start
        m.setattr(sys, "executable", str(tmp_path / "gone" / "python3"))
        assert main(argv) == 1
    summary = capsys.readouterr().out
    assert "grader errors 3" in summary and "Mean autograded score" not in summary
    assert "Grader errors, not scored" in summary and "ann, bob, cat" in summary and "gone/python3" in summary
    before = {s: _assert_grader_error(out, course, s, "could not start a Python kernel") for s in kinds}

    assert main(argv) == 0  # the cause is gone; the same command, no --force
    summary = capsys.readouterr().out
    assert "graded 3, up to date 0, grader errors 0" in summary
    for student in kinds:
        doc = json.loads((out / student / "results.json").read_text())
        validate_results(doc)
        assert doc["extra_data"]["fingerprint"] == before[student]["extra_data"]["fingerprint"]
        assert not doc["extra_data"]["grader_error"]
    scores = {s: json.loads((out / s / "results.json").read_text())["score"] for s in kinds}
    # cat's add() kills the kernel when the test calls it: the student's own fault, a 0 for that test
    assert scores == {"ann": 3, "bob": 0, "cat": 2}
    assert _recorded(course, "cat") == {"test_square": 2.0, "test_add": 0.0, "explain": None}
    df = pd.read_csv(out / "grades.csv").set_index("student")
    assert {s: float(df.loc[s, "score"]) for s in kinds} == scores

    graded = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".grading.lock"}
    with monkeypatch.context() as m:  # --force while the grader is broken again: the earlier verdicts stand
        m.setattr(sys, "executable", str(tmp_path / "gone" / "python3"))
        assert main([*argv, "--force"]) == 1
    summary = capsys.readouterr().out
    assert "grader errors 3" in summary and "the earlier result of the same submission is kept" in summary
    assert {p: p.read_bytes() for p in graded} == graded
    assert _recorded(course, "ann") == {"test_square": 2.0, "test_add": 1.0, "explain": None}


CHECKS_MODULE = "tiny_hidden_checks"


def _course_with_check_module(course: Path) -> None:
    """Make the tiny source notebook's test_add call a hidden-check module, as the real assignments do."""
    source = course / "source" / "tiny" / "tiny.ipynb"
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add")
    cell.source += (f"### BEGIN HIDDEN TESTS\nfrom {CHECKS_MODULE} import check_add as _check\n_check(add)\n"
                    "### END HIDDEN TESTS\n")
    nbformat.write(nb, source)


def test_a_missing_or_broken_check_module_is_a_grader_error_until_fixed(tmp_path, monkeypatch):
    from autograder.grade.batch import grade_assignment

    kinds = {"ann": "solution", "dan": "partial"}
    course, subs, out = _tiny_batch(tmp_path, kinds)
    _course_with_check_module(course)
    checks = tmp_path / "checks"
    checks.mkdir()
    monkeypatch.syspath_prepend(str(checks))

    def grade():
        monkeypatch.delitem(sys.modules, CHECKS_MODULE, raising=False)  # a new grading process imports afresh
        return grade_assignment("tiny", subs, course_dir=course, out_dir=out, workers=0, progress=False)

    summary = grade()  # not on this machine at all: found before any kernel starts
    assert summary.grader_errors == ["ann", "dan"] and summary.scores == {}
    for s in kinds:
        _assert_grader_error(out, course, s, f"module {CHECKS_MODULE} of test test_add is missing")

    (checks / f"{CHECKS_MODULE}.py").write_text(  # a check with a programming error: NameError when called
        "def check_add(add):\n    assert add(-1, 1) == 0, 'add is wrong for negative numbers'\n"
        "    return undefined_helper(add)\n")
    summary = grade()
    # ann's correct add reaches the bug: a grader error; dan's wrong add fails the assertion before it: his 0
    assert summary.grader_errors == ["ann"] and summary.scores == {"dan": (2.0, 3.0)}
    doc = _assert_grader_error(out, course, "ann", "has a bug")
    assert "NameError" in doc["extra_data"]["grader_error_detail"]
    assert _recorded(course, "dan") == {"test_square": 2.0, "test_add": 0.0, "explain": None}

    (checks / f"{CHECKS_MODULE}.py").write_text(
        "def check_add(add):\n    assert add(-1, 1) == 0, 'add is wrong for negative numbers'\n")
    summary = grade()
    assert summary.grader_errors == [] and summary.graded == 1 and summary.skipped == 1  # dan was up to date
    assert summary.scores == {"ann": (3.0, 3.0), "dan": (2.0, 3.0)}
    assert _recorded(course, "ann") == {"test_square": 2.0, "test_add": 1.0, "explain": None}


def test_a_missing_release_is_a_grader_error(tmp_path):
    from autograder.grade.batch import grade_assignment

    course, subs, out = _tiny_batch(tmp_path, {"ann": "solution"})
    shutil.rmtree(course / "release" / "tiny")
    summary = grade_assignment("tiny", subs, course_dir=course, out_dir=out, workers=0, progress=False)
    assert summary.grader_errors == ["ann"]
    doc = _assert_grader_error(out, course, "ann", "released files")
    assert "python -m autograder release tiny" in doc["output"]
