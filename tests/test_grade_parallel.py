"""Grading on a real Dask cluster: a scheduler and two workers started as separate processes on
loopback; one worker is SIGKILLed in the middle of the batch and nothing is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grading_fixture as fx
import nbformat
import pandas as pd
import pytest

from autograder.grade.parallel import MAX_AUTO_WORKERS, MIN_JOBS_PER_WORKER, choose_workers, usable_cpus

REPO = Path(__file__).resolve().parents[1]

# Six students; each notebook sleeps 2 s so that a worker is surely busy when it is killed.
KINDS = {"ann": "solution", "ben": "partial", "cat": "blank", "dov": "visible_only", "eve": "solution",
         "fay": "exception"}
SLEEP = nbformat.v4.new_code_cell("import time\ntime.sleep(2)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _submission(kind: str) -> bytes:
    nb = nbformat.reads(fx.student_notebook(kind).decode(), as_version=4)
    nb.cells.insert(1, SLEEP)
    return fx.as_bytes(nb)


def _procs_with(needle: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if needle.encode() in cmd:
                found.append(int(pid))
    return found


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.mark.timeout(300)
def test_a_killed_worker_loses_no_submission(tmp_path):
    from distributed import Client

    course = fx.make_course(tmp_path / "course")
    subs = tmp_path / "lms"
    subs.mkdir()
    for student, kind in KINDS.items():
        (subs / f"{student}.ipynb").write_bytes(_submission(kind))
    out = tmp_path / "out"
    ktmp = tmp_path / "ktmp"  # the workers' temp dir: every kernel they start has it in its command line
    ktmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(ktmp)}
    logs = tmp_path / "logs"
    logs.mkdir()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, argv: list[str]) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        procs[name] = subprocess.Popen([sys.executable, "-m", *argv], cwd=REPO, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)

    try:
        start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                            "--no-dashboard"])
        for name in ("w1", "w2"):
            start(name, ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
                         "--name", name, "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60"])
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
            grading = subprocess.Popen(
                [sys.executable, "-m", "autograder", "grade", "tiny", str(subs), "--course", str(course),
                 "--out", str(out), "--scheduler", address, "--no-progress", "--timeout", "20"],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, start_new_session=True)
            procs["grading"] = grading
            # Mid-batch: once a first student is done, kill a worker that is grading someone.
            victim, lost = None, []
            deadline = time.monotonic() + 120
            while victim is None and time.monotonic() < deadline and grading.poll() is None:
                if list(out.glob("*/results.json")):
                    info = client.scheduler_info()["workers"]
                    for addr, keys in client.processing().items():
                        if keys and addr in info:
                            victim, lost = info[addr]["name"], [str(k) for k in keys]
                            break
                time.sleep(0.2)
            assert victim is not None, "no worker was busy after the first result: the batch ended too early"
            done_before = {p.parent.name for p in out.glob("*/results.json")}
            _kill_group(procs[victim])
            stdout, stderr = grading.communicate(timeout=240)
        assert grading.returncode == 0, stderr[-3000:]
    finally:
        for proc in procs.values():
            _kill_group(proc)
        for pid in _procs_with(str(ktmp)):  # kernels of the killed worker, if any outlived it
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    lost_students = {k.split("-")[1] for k in lost}
    # The worker held tasks that were not done when it was killed (processing() lists its queued tasks too, and
    # one of those may finish on it between the poll and the snapshot of done_before).
    assert lost_students - done_before, (lost_students, done_before)
    assert "tiny: 6 submission(s); graded 6" in stdout and "grader errors 0" in stdout
    for student, kind in KINDS.items():
        doc = json.loads((out / student / "results.json").read_text())
        assert doc["score"] == fx.expected_score(kind), (student, doc["output"])
        assert not doc["extra_data"]["grader_error"]
    df = pd.read_csv(out / "grades.csv").set_index("student")
    assert sorted(df.index) == sorted(KINDS)
    assert {s: float(df.loc[s, "score"]) for s in KINDS} == {s: fx.expected_score(k) for s, k in KINDS.items()}


def test_local_cluster_grades_and_turns_failed_tasks_into_results(tmp_path):
    from autograder.grade.job import GradingJob
    from autograder.grade.parallel import run_jobs

    course = fx.make_course(tmp_path / "course")
    source = (course / "source" / "tiny" / "tiny.ipynb").read_bytes()
    jobs = [GradingJob(student=name, assignment="tiny", origin=name, submission=None,
                       problems=["no notebook found"], source_notebook=source,
                       release_dir=str(course / "release" / "tiny"), notebook_name="tiny.ipynb",
                       fingerprint="0" * 64) for name in ("amy", "crash1")]
    results = {r["student"]: r for r in run_jobs(iter(jobs), workers=1, grade=fx.grade_or_crash)}
    assert set(results) == {"amy", "crash1"}
    assert results["amy"]["fatal"] == "no notebook found" and not results["amy"]["grader_error"]
    crashed = results["crash1"]
    assert crashed["grader_error"] and "RuntimeError: grader bug" in crashed["grader_detail"]
    assert crashed["score"] is None and [t["status"] for t in crashed["tests"]] == ["error", "error", "pending"]


def test_local_workers_run_without_dasks_malloc_trimming_and_profiler(tmp_path, monkeypatch):
    # Dask's defaults made a solution grade 1.3-1.4x slower in a worker than in-process (LOCAL_CLUSTER_CONFIG)
    from autograder.grade.job import GradingJob
    from autograder.grade.parallel import run_jobs

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    job = GradingJob(student="amy", assignment="tiny", origin="amy", submission=None, problems=[], source_notebook=b"",
                     release_dir=str(tmp_path), notebook_name="tiny.ipynb", fingerprint="0" * 64)
    [settings] = list(run_jobs(iter([job]), workers=1, grade=fx.worker_settings))
    assert settings == {"student": "amy", "malloc_trim": None, "profiler": False, "blas_threads": "1"}


# --------------------------------------------------------------------------- a remote cluster (issue 9, point 5)

SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
#: An interpreter every user can run (this checkout's venv may live under a home folder others cannot enter).
SYSTEM_PYTHON = "/usr/bin/python3"


def _worker_env(folder: Path, user) -> Path:
    """A venv of the system Python in ``folder`` (owned by ``user``) that sees this project's installation."""
    venv = folder / "venv"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # The plain path line puts the packages on sys.path where the student kernel's sandbox binds them too (it
    # reads .pth path lines, not code); addsitedir also runs the .pth files there (the editable install of this
    # project, for the worker itself).
    (site / "project.pth").write_text(f"{SITE_PACKAGES}\nimport site; site.addsitedir({SITE_PACKAGES!r})\n")
    (venv / "share").symlink_to(Path(sys.prefix) / "share")  # their data files (nbconvert's templates)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    return venv / "bin" / "python"


@pytest.mark.timeout(300)
@pytest.mark.filterwarnings("ignore:Mismatched versions found")  # the workers' system Python is 3.11.x too
def test_a_remote_worker_that_cannot_read_the_course_grades_correctly(tmp_path, ordinary_user):
    """Workers started in their own folder as another user, who cannot read the course folder: the released
    files travel with each job, so a solution that imports a released module gets full marks, a blank 0."""
    from distributed import Client

    from autograder.grade.batch import grade_assignment

    course = fx.make_course(tmp_path / "course")
    os.chmod(tmp_path, 0o700)  # root's only: the worker's user cannot enter the course
    (course / "release" / "tiny" / "tiny_given.py").write_text("OFFSET = 0\n")  # given code the notebook imports
    solution = fx.notebook(square_body=fx.SQUARE_SOLUTION, add_body="    return a + b + OFFSET\n")
    solution.cells.insert(1, nbformat.v4.new_code_cell("from tiny_given import OFFSET"))
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_bytes(fx.as_bytes(solution))
    (subs / "bob.ipynb").write_bytes(fx.student_notebook("blank"))
    (subs / "cat.ipynb").write_bytes(fx.as_bytes(solution))

    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ag-remote-worker-", dir="/tmp"))
    (folder / "tmp").mkdir()
    procs: list[subprocess.Popen] = []
    try:
        python = _worker_env(folder, ordinary_user)
        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        logs = tmp_path / "logs"
        logs.mkdir()
        with open(logs / "scheduler.log", "wb") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        worker_env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder / "tmp"),
                      "LANG": "C.UTF-8"}
        for name in ("r1", "r2"):
            with open(logs / f"{name}.log", "wb") as log:
                procs.append(subprocess.Popen(
                    [str(python), "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
                     "--name", name, "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60",
                     "--local-directory", str(folder / "tmp")],
                    cwd=folder, env=worker_env, user=ordinary_user.pw_uid, group=ordinary_user.pw_gid, extra_groups=[],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
            seen = client.run(lambda: (os.getuid(), os.getcwd(), os.access(course, os.R_OK),
                                       os.path.exists(course / "release" / "tiny" / "tiny_given.py")))
        assert {v for v in seen.values()} == {(ordinary_user.pw_uid, str(folder), False, False)}, seen
        summary = grade_assignment("tiny", subs, course_dir=course, out_dir=tmp_path / "out", scheduler=address,
                                   progress=False)
    finally:
        for proc in procs:
            _kill_group(proc)
        shutil.rmtree(folder, ignore_errors=True)
    logs_text = "".join(p.read_text(errors="replace")[-2000:] for p in (tmp_path / "logs").glob("*.log"))
    assert summary.graded == 3 and summary.grader_errors == [], (summary.lines(), logs_text)
    # The only problem allowed: the workers borrow this checkout's packages with the system's Python 3.11.2,
    # on which soupsieve cannot parse the feedback page's CSS selectors; the plain feedback page is written.
    assert {p for _, p in summary.faults} <= {"the notebook could not be rendered into feedback (SelectorSyntaxError)"}
    assert summary.scores == {"ann": (3.0, 3.0), "bob": (0.0, 3.0), "cat": (3.0, 3.0)}, summary.lines()
    for student in ("ann", "cat"):
        doc = json.loads((tmp_path / "out" / student / "results.json").read_text())
        assert [t["status"] for t in doc["tests"][:2]] == ["passed", "passed"]


# --------------------------------------------------------------------------- the default number of workers

@pytest.mark.parametrize("cpus", [1, 2, 4, 64])
def test_default_workers_grade_a_small_batch_in_process(cpus):
    """Below two workers' shares of MIN_JOBS_PER_WORKER submissions no cluster is started, on any machine:
    a batch of four took 42 s in-process and 65 s on two Dask workers (issue 13)."""
    for n_jobs in (0, 1, 4, 2 * MIN_JOBS_PER_WORKER - 1):
        choice = choose_workers(None, n_jobs, cpus=cpus)
        assert choice.workers == 0
        assert choice.describe() == (f"Workers: in-process (auto: {n_jobs} submission(s) to grade, "
                                     f"fewer than 2 x {MIN_JOBS_PER_WORKER}).")


def test_default_workers_of_a_large_batch_are_one_per_share_capped_by_cpus():
    assert choose_workers(None, 2 * MIN_JOBS_PER_WORKER, cpus=2).workers == 2
    assert choose_workers(None, 50, cpus=2).describe() == ("Workers: 2 local Dask worker(s) "
                                                           "(auto: 50 submissions to grade, 2 usable CPUs).")
    assert choose_workers(None, 3 * MIN_JOBS_PER_WORKER, cpus=64).workers == 3
    assert choose_workers(None, 1000, cpus=64).workers == MAX_AUTO_WORKERS
    one_cpu = choose_workers(None, 1000, cpus=1)
    assert one_cpu.workers == 0 and one_cpu.reason == "auto: 1 usable CPU"
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)


def test_requested_workers_are_kept_whatever_the_batch():
    assert choose_workers(0, 1000, cpus=64).workers == 0
    assert choose_workers(5, 1, cpus=1).describe() == "Workers: 5 local Dask worker(s) (as requested)."
    with pytest.raises(ValueError, match="0 \\(in-process\\) or more"):
        choose_workers(-1, 4)
