"""Grading on a real Dask cluster: a scheduler and two workers started as separate processes on
loopback; one worker is SIGKILLed in the middle of the batch and nothing is lost."""

from __future__ import annotations

import json
import os
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
    assert lost_students and not lost_students & done_before  # its task was really in progress
    assert "tiny: 6 submission(s); graded 6" in stdout and "grader errors 0" in stdout
    for student, kind in KINDS.items():
        doc = json.loads((out / student / "results.json").read_text())
        assert doc["score"] == fx.expected_score(kind), (student, doc["output"])
        assert not doc["extra_data"]["grader_error"]
    df = pd.read_csv(out / "grades.csv").set_index("student")
    assert sorted(df.index) == sorted(KINDS)
    assert {s: float(df.loc[s, "score"]) for s in KINDS} == {s: fx.expected_score(k) for s, k in KINDS.items()}


def test_local_cluster_grades_and_turns_failed_tasks_into_results(tmp_path):
    from autograder.parallel import run_jobs
    from autograder.pipeline import GradingJob

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
