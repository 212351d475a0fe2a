"""``python -m autograder``: help, clear errors and exit codes (in-process), the student check, and
one end-to-end run of the real command."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import grading_fixture as fx
import pytest

from autograder import cli
from course_lib.check import CheckError, check, find_notebook

REPO = Path(__file__).resolve().parents[1]


def run(argv, capsys) -> tuple[int, str, str]:
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: --help and usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def course(tmp_path):
    return fx.make_course(tmp_path / "course")


@pytest.fixture
def submissions(tmp_path):
    root = tmp_path / "submitted"
    (root / "alice" / fx.ASSIGNMENT).mkdir(parents=True)
    (root / "alice" / fx.ASSIGNMENT / "tiny.ipynb").write_bytes(fx.student_notebook("solution"))
    (root / "bob" / fx.ASSIGNMENT).mkdir(parents=True)  # no notebook
    return root


@pytest.mark.parametrize("argv, words", [
    (["--help"], ["grade", "check", "validate", "release"]),
    (["validate", "--help"], ["examples:", "--run", "structure", "library", "leaks", "drift", "exit codes"]),
    (["grade", "--help"], ["examples:", "--scheduler", "--workers", "--timeout", "results.json", "grades.csv",
                           "--cifar10-dir", "manual_max", "SyntheticDataWarning", "--run-cells", "definitions"]),
    (["check", "--help"], ["examples:", "from course_lib.check import check; check()"]),
    (["release", "--help"], ["examples:", "ASSIGNMENT"]),
])
def test_help_texts(capsys, argv, words):
    code, out, _ = run(argv, capsys)
    assert code == 0
    for w in words:
        assert w in out


def test_no_command_prints_help_and_fails(capsys):
    code, out, _ = run([], capsys)
    assert code == 2 and "usage:" in out


def test_unknown_assignment_lists_the_known_ones(capsys, course, submissions):
    code, _, err = run(["grade", "tinyy", submissions, "--course", course], capsys)
    assert code == 2
    assert err.startswith("error: unknown assignment 'tinyy'") and "Known assignments" in err and ": tiny." in err


def test_missing_submissions_folder(capsys, course, tmp_path):
    code, _, err = run(["grade", "tiny", tmp_path / "nope", "--course", course], capsys)
    assert code == 2 and "submissions not found" in err


@pytest.mark.cifar
def test_cifar10_dir_defaults_to_the_graders_variable_and_reaches_the_grading_options(
        capsys, course, submissions, cifar10_dir, tmp_path, monkeypatch):
    from autograder.grade import batch

    seen = []

    def fake_grade(*args, options, **kwargs):
        seen.append(options.cifar10_dir)
        return batch.BatchSummary("tiny", tmp_path)

    monkeypatch.setattr(batch, "grade_assignment", fake_grade)
    monkeypatch.setenv("COURSE_CIFAR10_DIR", str(cifar10_dir))
    for extra in ([], ["--cifar10-dir", ""], ["--cifar10-dir", cifar10_dir]):
        code, _, err = run(["grade", "tiny", submissions, "--course", course, *extra], capsys)
        assert code == 0, err
    assert seen == [str(cifar10_dir.resolve()), None, str(cifar10_dir.resolve())]
    monkeypatch.delenv("COURSE_CIFAR10_DIR")
    code, _, _ = run(["grade", "tiny", submissions, "--course", course], capsys)
    assert code == 0 and seen[-1] is None  # no CIFAR-10 configured: the synthetic stand-in
    (tmp_path / "empty").mkdir()
    code, _, err = run(["grade", "tiny", submissions, "--course", course, "--cifar10-dir", tmp_path / "empty"], capsys)
    assert code == 2 and err.startswith(f"error: --cifar10-dir {tmp_path / 'empty'}") and "synthetic" in err


def test_bad_option_values_are_usage_errors(capsys, course, submissions):
    code, _, err = run(["grade", "tiny", submissions, "--workers", "-1"], capsys)
    assert code == 2 and "must be >= 0" in err
    code, _, err = run(["grade", "tiny", submissions, "--timeout", "soon"], capsys)
    assert code == 2 and "expected a number" in err


def test_unsafe_zip_is_refused_clearly(capsys, course, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../../evil.ipynb", b"0" * (20 * 1024 * 1024))  # compresses ~1000x
    code, _, err = run(["grade", "tiny", archive, "--course", course, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "refusing a possible zip bomb" in err and err.startswith("error: ")
    assert not (tmp_path / "evil.ipynb").exists()


def test_a_second_run_on_the_same_output_is_refused(capsys, course, submissions, tmp_path):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".grading.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242")
        fh.flush()
        code, _, err = run(["grade", "tiny", submissions, "--course", course, "--out", out], capsys)
    assert code == 2 and "another grading run (pid 4242)" in err


def test_unexpected_errors_are_one_line_with_a_hint(capsys, course, submissions, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("autograder.grade.batch.grade_assignment", broken)
    code, _, err = run(["grade", "tiny", submissions, "--course", course], capsys)
    assert code == 3 and "internal error: RuntimeError: disk on fire" in err and "--debug" in err

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("autograder.grade.batch.grade_assignment", interrupted)
    code, _, err = run(["grade", "tiny", submissions, "--course", course], capsys)
    assert code == 130 and "run the same command again to resume" in err


def test_release_calls_the_release_builder(capsys, course, monkeypatch):
    calls = []

    def fake_release(assignments, course_dir):
        calls.append((assignments, course_dir))
        return [course_dir / "release" / "tiny"]

    monkeypatch.setattr("autograder.release.build.release", fake_release)
    code, out, _ = run(["release", "--course", course], capsys)
    assert code == 0 and calls == [(None, course)] and out.strip().endswith("release/tiny")
    code, _, _ = run(["release", "tiny", "--course", course], capsys)
    assert code == 0 and calls[-1] == (["tiny"], course)
    code, _, err = run(["release", "tiny", "fc_net", "--course", course], capsys)
    assert code == 2 and "unknown assignment(s) fc_net" in err and "tiny" in err and len(calls) == 2


# --------------------------------------------------------------------------- the student check

def _student_copy(folder: Path, kind: str, name: str = "tiny.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(fx.student_notebook(kind))
    return path


@pytest.fixture
def kernel_sees_repo(monkeypatch):
    """Kernels started by check() import this checkout's course_lib (as a released copy would)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))


def test_check_reports_each_visible_test_cell(capsys, tmp_path, kernel_sees_repo):
    nb = _student_copy(tmp_path / "partial", "partial")
    code, out, _ = run(["check", nb], capsys)
    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  test_")}
    assert "PASS" in lines["test_square"] and "FAIL" in lines["test_add"]
    assert "AssertionError: add(2, 3) should be 5" in lines["test_add"]
    assert "1 of 2 test cells pass (2 of 3 points)" in out
    assert fx.HIDDEN_CANARY not in out  # only the visible tests are in a student's copy


def test_one_line_notebook_call_finds_the_notebook_and_does_not_recurse(tmp_path, monkeypatch, kernel_sees_repo):
    import nbformat

    nb = fx.notebook(square_body=fx.SQUARE_SOLUTION, add_body=fx.ADD_SOLUTION,
                     extra_cells=[nbformat.v4.new_code_cell("from course_lib.check import check; check()")])
    folder = tmp_path / "hw"
    folder.mkdir()
    nbformat.write(nb, folder / "tiny.ipynb")
    monkeypatch.chdir(folder)
    results = check(show=False)  # what the notebook's last cell runs, from the notebook's folder
    assert [(r.grade_id, r.points, r.passed) for r in results] == [("test_square", 2.0, True), ("test_add", 1.0, True)]


def test_check_finds_notebooks_or_says_which_to_pass(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    code, _, err = run(["check", tmp_path / "missing.ipynb"], capsys)
    assert code == 2 and "notebook not found" in err
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckError, match="no notebook"):
        find_notebook()
    _student_copy(tmp_path, "blank", "a.ipynb")
    assert find_notebook().name == "a.ipynb"
    _student_copy(tmp_path, "blank", "b.ipynb")
    code, _, err = run(["check"], capsys)
    assert code == 2 and "several notebooks" in err and "a.ipynb, b.ipynb" in err
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "b.ipynb"))  # Jupyter says which one runs
    assert find_notebook().name == "b.ipynb"
    (tmp_path / "broken.ipynb").write_text("{not json")
    code, _, err = run(["check", tmp_path / "broken.ipynb"], capsys)
    assert code == 2 and "cannot read" in err


# --------------------------------------------------------------------------- end to end

def test_grade_command_end_to_end(course, submissions, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "tiny", str(submissions), "--course", str(course),
         "--out", str(out), "--no-progress", "--timeout", "20"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tiny: 2 submission(s); graded 2" in proc.stdout
    # The default --workers grades a batch this small in this process, and says so.
    assert "Workers: in-process (auto: 2 submission(s) to grade, fewer than 2 x 8)." in proc.stdout
    assert "bob: no notebook found" in proc.stdout
    alice = json.loads((out / "alice" / "results.json").read_text())
    assert alice["score"] == 3 and (out / "alice" / "feedback.html").is_file()
    mode = alice["extra_data"]["isolation"].split(":")[0]
    assert mode in ("namespaces", "user namespaces", "separate uid")  # the tests run where code is isolated
    assert f"Student code isolation: {alice['extra_data']['isolation']} (1 submission)." in proc.stdout
    lines = (out / "grades.csv").read_text().splitlines()
    # score and max_score: autograded points; manual_max: graded by hand, its question's column empty
    assert lines[0] == "student,assignment,score,max_score,manual_max,test_square,test_add,explain,isolation"
    assert lines[1].startswith("alice,tiny,3,3,1,2,1,,")
    assert "Mean autograded score: 1.50 / 3 (grades.csv: score, max_score)." in proc.stdout  # alice 3, bob 0
    assert "Graded by hand: 1 more point, pending" in proc.stdout
    assert lines[1].startswith("alice,") and lines[1].endswith(f",{mode}")
    assert lines[2].startswith("bob,") and lines[2].endswith(",")  # no notebook, no kernel: no isolation
    assert (course / "gradebook.db").is_file()


def test_grade_defaults_are_the_grading_options_defaults():
    import dataclasses

    from autograder.grade.job import GradingOptions

    args = cli.build_parser().parse_args(["grade", "fc_nets", "subs"])
    defaults = {f.name: f.default for f in dataclasses.fields(GradingOptions)}
    assert (args.timeout, args.test_timeout, args.submission_timeout, args.memory) == (
        defaults["cell_timeout"], defaults["test_timeout"], defaults["submission_timeout"], defaults["memory_mb"])
    assert (300.0, 60.0, 1800.0, 4096) == (args.timeout, args.test_timeout, args.submission_timeout, args.memory)
