"""A student release works on its own: a fresh virtualenv built from the release's ``requirements.txt`` alone
(what its README says to do) starts JupyterLab, runs the released notebook headless, and runs the student check
``python -m course_lib.check``.

One release (``fc_nets``, the first assignment; every release has the same ``requirements.txt``) and ONE venv
for the whole session: building it installs JupyterLab with pip (from PyPI or pip's cache) and takes minutes,
so these tests carry the ``student_env`` marker (``pytest -m "not student_env"`` leaves them out locally; CI's
plain ``pytest`` runs them). The kernels and the server run with a fresh ``HOME`` (no user Jupyter config or
kernelspecs) and without ``PYTHONPATH``: nothing of this repository's environment can help them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import nbformat
import pytest

from autograder.assignments import GRADING_ENV, get_assignment

REPO = Path(__file__).resolve().parents[1]
NAME = "fc_nets"
NOTEBOOK = f"{get_assignment(NAME).notebook}.ipynb"
HIDDEN_RE = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", re.S)

pytestmark = [pytest.mark.student_env, pytest.mark.timeout(1800)]


@pytest.fixture(scope="session")
def student_venv(tmp_path_factory) -> Path:
    """A venv with ``pip install -r release/fc_nets/requirements.txt`` and nothing else."""
    root = tmp_path_factory.mktemp("student-venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # keeps pip's config
    started = time.monotonic()
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r",
                           str(REPO / "release" / NAME / "requirements.txt")],
                          env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"pip install -r requirements.txt failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    print(f"student venv built in {time.monotonic() - started:.0f} s")
    return root / "venv"


@pytest.fixture
def student_folder(tmp_path) -> Path:
    """A copy of the release, as a student unpacks it."""
    work = tmp_path / NAME
    shutil.copytree(REPO / "release" / NAME, work)
    return work


def _student_env(home: Path, venv_dir: Path) -> dict[str, str]:
    """A student's shell after ``source .venv/bin/activate``: a fresh HOME, no PYTHONPATH, no CIFAR-10 folder."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "COURSE_CIFAR10_DIR", "VIRTUAL_ENV") and not k.startswith("JUPYTER")}
    env.update(HOME=str(home), VIRTUAL_ENV=str(venv_dir), PATH=f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.update(GRADING_ENV)  # grading-size data: the same code paths, seconds instead of minutes
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_starts_and_serves_its_api(student_venv, student_folder, tmp_path):
    env = _student_env(tmp_path / "home", student_venv)
    version = subprocess.run([str(student_venv / "bin" / "jupyter"), "lab", "--version"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and re.match(r"^4\.", version.stdout.strip()), version.stdout + version.stderr
    port, token = _free_port(), "student-env-test"
    server = subprocess.Popen(
        [str(student_venv / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={student_folder}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI machines may run tests as root
        env=env, cwd=student_folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, body, deadline = None, b"", time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/{NOTEBOOK}",
                                                 headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5) as response:
                    status = response.status
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = response.read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        if status != 200 and server.poll() is not None:
            pytest.fail(f"jupyter lab exited with code {server.returncode}:\n{server.stdout.read()[-3000:]}")
        assert status == 200, "GET /api did not answer 200 within 120 s"
        assert json.loads(body)["type"] == "notebook", "the server does not see the released notebook"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
    assert server.returncode is not None


_RUN_NOTEBOOK = """
import json, sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import sys, course_lib\\nprint('KERNEL', sys.prefix)\\n"
                                          "print('LIBRARY', course_lib.__file__)"))
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
errors = [[c.get("id"), o.ename, o.evalue] for c in nb.cells if c.cell_type == "code"
          for o in c.outputs if o.output_type == "error"]
printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
print(json.dumps({"errors": errors, "printed": printed}))
"""


def test_released_notebook_runs_headless_failing_only_on_the_students_work(student_venv, student_folder, tmp_path):
    env = _student_env(tmp_path / "home", student_venv)
    proc = subprocess.run([str(student_venv / "bin" / "python"), "-c", _RUN_NOTEBOOK,
                           str(student_folder / NOTEBOOK), str(student_folder)],
                          env=env, cwd=student_folder, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"], "the released notebook ran without any NotImplementedError: are the stubs there?"
    wrong = [e for e in result["errors"] if e[1] != "NotImplementedError"]
    assert not wrong, f"cells fail for reasons other than the student's work: {wrong}"
    assert f"KERNEL {student_venv}" in result["printed"], result["printed"]
    assert f"LIBRARY {student_folder}" in result["printed"], result["printed"]


def _solved_copy(folder: Path) -> Path:
    """The source notebook (solutions in) without its hidden blocks, which need the grader: a finished student."""
    nb = nbformat.read(REPO / get_assignment(NAME).source_notebook, as_version=4)
    for cell in nb.cells:
        cell.source = HIDDEN_RE.sub("", cell.source)
    path = folder / "solved.ipynb"
    nbformat.write(nb, path)
    return path


def test_student_check_runs_in_the_release_and_reports_failures_and_passes(student_venv, student_folder, tmp_path):
    env = _student_env(tmp_path / "home", student_venv)
    python = str(student_venv / "bin" / "python")
    n_tests = sum(1 for c in nbformat.read(student_folder / NOTEBOOK, as_version=4).cells
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c.cell_type == "code")
    helped = subprocess.run([python, "-m", "course_lib.check", "--help"], env=env, cwd=student_folder,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "usage: python -m course_lib.check" in helped.stdout

    blank = subprocess.run([python, "-m", "course_lib.check", NOTEBOOK], env=env, cwd=student_folder,
                           capture_output=True, text=True, timeout=900)
    assert blank.returncode == 1, blank.stdout + blank.stderr
    assert f"0 of {n_tests} test cells pass" in blank.stdout, blank.stdout
    assert "FAIL  NotImplementedError" in blank.stdout, blank.stdout

    solved = _solved_copy(student_folder)
    done = subprocess.run([python, "-m", "course_lib.check", solved.name], env=env, cwd=student_folder,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{n_tests} of {n_tests} test cells pass" in done.stdout, done.stdout
