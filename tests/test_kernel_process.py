"""Where the grader isolates student code: as an ordinary user, in a container, anywhere on disk; and limits.

Each isolation test grades the tiny course (:mod:`grading_fixture`) with the real command line, from a
copy of the project and a virtualenv both under ``/tmp`` (so "any location" is tested by every one of
them), as:

* root: **namespaces**;
* an ordinary user created here (``useradd``): **user namespaces** (``unshare -r``);
* root with ``CAP_SYS_ADMIN`` really dropped (``capsh --drop=cap_sys_admin``, so ``unshare`` fails as in
  Docker's default profile): **separate uid**, secrets unreadable by file permissions, no network through
  a seccomp filter.

The batch holds a correct submission (full marks), another student's submission carrying a canary, and
a probe: the correct solution plus a cell that tries to read the instructor's source notebook, the
hidden-check modules (of the project copy and of the checkout the venv's editable install points to),
the gradebook and the other student's submission, and to connect to a TCP port of the host. It prints
``PROBE-LEAK name`` or ``PROBE-SAFE name`` for each; the tests read them back from its feedback.html.

The resource tests (in-process, root namespace mode) fill the sandbox's tmpfs with empty files (the inode
cap stops it) and fork children that together allocate more than the sandbox's memory limit (the
sandbox-wide cgroup stops them).
"""

from __future__ import annotations

import errno
import html
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import grading_fixture as gf
import nbformat
import pandas as pd
import pytest

import autograder.kernel.plan as kplan
import autograder.kernel.process as kprocess
from autograder.kernel.client import StudentKernel
from autograder.kernel.plan import Limits
from autograder.kernel.process import isolation_support, memory_peak

REPO = Path(__file__).resolve().parents[1]
SITE_PACKAGES = Path(next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)))
OTHER_CANARY = "peer_submission_canary_51c2"
GRADEBOOK_CANARY = "gradebook_canary_93ad"
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")

linux_root = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                                reason="creates a user and drops capabilities: needs root on Linux (as in CI)")


def _listening_server():
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(120)
    accepted: list[socket.socket] = []

    def accept():
        try:
            while True:
                conn, _ = srv.accept()
                accepted.append(conn)
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1], accepted


#: With a course CIFAR-10 (--cifar10-dir): the kernel must read it through COURSE_CIFAR10_DIR and not write it.
_DATA_PROBE = (
    "DATA_PROBLEMS = []\n"
    "data_dir = os.environ.get('COURSE_CIFAR10_DIR', '')\n"
    "try:\n"
    "    with open(os.path.join(data_dir, 'batches.meta'), 'rb') as f:\n"
    "        f.read(100)\n"
    "    print('DATA-READ ok')\n"
    "except OSError as e:\n"
    "    DATA_PROBLEMS.append('read')\n"
    "    print('DATA-READ failed', type(e).__name__)\n"
    "try:\n"
    "    open(os.path.join(data_dir, 'new_file'), 'w').close()\n"
    "    DATA_PROBLEMS.append('write')\n"
    "    print('DATA-WRITE possible')\n"
    "except OSError as e:\n"
    "    print('DATA-WRITE refused', type(e).__name__)\n")


def _probe_cell(targets: dict[str, Path], port: int, data: bool = False) -> str:
    return (
        "import os, socket\nPROBE_LEAKS = []\n" + (_DATA_PROBE if data else "DATA_PROBLEMS = []\n") +
        f"for name, path in {({k: str(v) for k, v in targets.items()})!r}.items():\n"
        "    try:\n"
        "        with open(path, 'rb') as f:\n"
        "            f.read(100)\n"
        "        print('PROBE-LEAK', name)\n"
        "        PROBE_LEAKS.append(name)\n"
        "    except OSError as e:\n"
        "        print('PROBE-SAFE', name, type(e).__name__)\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
        "    print('PROBE-LEAK network')\n"
        "except OSError as e:\n"
        "    print('PROBE-SAFE network', type(e).__name__)\n"
        "print('PROBE-UID', os.getuid())\n")


@pytest.fixture
def scratch():
    """A fresh folder directly in /tmp, readable by everyone (pytest's own base folder is root's only, and
    other pytest runs on the machine may prune it)."""
    root = Path(tempfile.mkdtemp(prefix="ag-sandbox-modes-", dir="/tmp"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _make_project(root: Path, port: int, owner: pwd.struct_passwd | None,
                  cifar10: Path | None = None) -> dict[str, Path]:
    """Project copy + course + venv + submissions under ``root`` (in /tmp); ``owner`` gets all of it. With
    ``cifar10``, a copy of it inside the course folder is graded with (``--cifar10-dir``) and probed."""
    proj = root / "project"
    for package in ("autograder", "course_lib"):  # the CLI imports course_lib (the student-side check, data)
        shutil.copytree(REPO / package, proj / package, ignore=shutil.ignore_patterns("__pycache__"))
    gf.make_course(proj)
    (proj / "gradebook.db").write_text(GRADEBOOK_CANARY)
    venv = proj / ".venv"  # inside the project, as scripts/setup.sh makes it, and under /tmp
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "project-deps.pth").write_text(f"{SITE_PACKAGES}\n")  # this checkout's dependencies
    (venv / "share").symlink_to(Path(sys.prefix) / "share")  # their data files (nbconvert's templates)
    subs = root / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_bytes(gf.student_notebook("solution"))
    peer = gf.notebook(square_body=gf.SQUARE_SOLUTION, add_body=gf.ADD_SOLUTION, answer=OTHER_CANARY)
    (subs / "bob.ipynb").write_bytes(gf.as_bytes(peer))
    targets = {"source_notebook": proj / "source" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb",
               "checks": proj / "autograder" / "checks" / "__init__.py",
               "checkout_checks": REPO / "autograder" / "checks" / "__init__.py",
               "gradebook": proj / "gradebook.db", "peer_submission": subs / "bob.ipynb"}
    # Its add() is right only while nothing leaked: one file read costs it test_add's point.
    probe = gf.notebook(square_body=gf.SQUARE_SOLUTION,
                        add_body="    return a + b + len(PROBE_LEAKS) + len(DATA_PROBLEMS)\n")
    probe.cells.insert(1, nbformat.v4.new_code_cell(_probe_cell(targets, port, data=cifar10 is not None)))
    extra = {}
    if cifar10 is not None:
        extra["cifar10"] = proj / "data" / "cifar-10-batches-py"
        shutil.copytree(cifar10, extra["cifar10"])
    (subs / "probe.ipynb").write_bytes(gf.as_bytes(probe))
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in [".", *dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, n), owner.pw_uid, owner.pw_gid)
    return {"project": proj, "python": venv / "bin" / "python", "subs": subs, "out": proj / "grading-out", **extra}


def _grade_cmd(p: dict[str, Path]) -> list[str]:
    return [str(p["python"]), "-m", "autograder", "grade", gf.ASSIGNMENT, str(p["subs"]), "--course",
            str(p["project"]), "--out", str(p["out"]), "--workers", "0", "--no-gradebook", "--no-progress",
            "--timeout", "60", *(["--cifar10-dir", str(p["cifar10"])] if "cifar10" in p else [])]


def _check_graded(p: dict[str, Path], r: subprocess.CompletedProcess, mode: str) -> None:
    """The common assertions of an isolation test: the mode is reported and recorded, and every submission
    gets full marks -- the probe's only if none of the files it tried could be read (and, with a course
    CIFAR-10, only if it could read that and not write it)."""
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Student code isolation: {mode}: " in r.stdout, r.stdout
    grades = pd.read_csv(p["out"] / "grades.csv").set_index("student")
    assert list(grades["isolation"]) == [mode] * 3
    for student in ("alice", "bob", "probe"):
        doc = json.loads((p["out"] / student / "results.json").read_text())
        assert doc["score"] == gf.AUTO_MAX, (student, doc["output"], doc["tests"])
        assert doc["extra_data"]["isolation"].startswith(mode + ": ")
    page = (p["out"] / "probe" / "feedback.html").read_text()
    assert GRADEBOOK_CANARY not in page
    if "cifar10" in p:  # the probe's full marks say it read COURSE_CIFAR10_DIR and could not write there
        assert not (p["cifar10"] / "new_file").exists()


@linux_root
def test_ordinary_user_grades_in_user_namespaces_from_tmp(scratch, ordinary_user):
    """An ordinary user's grader isolates with user namespaces: nothing secret visible, no network."""
    if SYSTEM_PYTHON is None:
        pytest.skip("no system python3 for the ordinary user's venv")
    root = scratch
    srv, port, accepted = _listening_server()
    with srv:
        p = _make_project(root, port, ordinary_user)
        os.chmod(p["project"], 0o700)  # the instructor's course: their own
        cmd = ["setpriv", f"--reuid={ordinary_user.pw_uid}", f"--regid={ordinary_user.pw_gid}", "--clear-groups",
               "env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp", *_grade_cmd(p)]
        r = subprocess.run(cmd, cwd=p["project"], capture_output=True, text=True, timeout=900)
    _check_graded(p, r, "user namespaces")
    assert accepted == []  # no connection reached the host


@linux_root
@pytest.mark.cifar
def test_root_grades_in_namespaces_with_project_and_venv_under_tmp(scratch, cifar10_dir):
    """Root namespace mode: the sandbox's fresh /tmp is mounted first, the venv under /tmp bound after it."""
    if SYSTEM_PYTHON is None or isolation_support()[0] != "namespaces":
        pytest.skip("needs a system python3 and root namespaces")
    srv, port, accepted = _listening_server()
    with srv:
        p = _make_project(scratch, port, None, cifar10=cifar10_dir)
        r = subprocess.run(_grade_cmd(p), cwd=p["project"], capture_output=True, text=True, timeout=900,
                           env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    _check_graded(p, r, "namespaces")
    assert accepted == []


@linux_root
@pytest.mark.cifar
def test_container_without_cap_sys_admin_grades_under_a_uid_of_its_own(scratch, cifar10_dir):
    """Root without CAP_SYS_ADMIN (unshare fails, as in Docker): a uid of its own, secrets unreadable; the
    course's CIFAR-10 inside the (locked-down) course folder stays readable, and only readable."""
    if SYSTEM_PYTHON is None or shutil.which("capsh") is None:
        pytest.skip("needs a system python3 and capsh (libcap2-bin, installed by scripts/setup.sh test)")
    root = scratch
    watched = [REPO / "autograder", REPO / "course_lib"]  # the editable install's targets get locked down
    modes = {d: os.stat(d).st_mode for d in watched}
    srv, port, accepted = _listening_server()
    try:
        with srv:
            p = _make_project(root, port, None, cifar10=cifar10_dir)
            cmd = [shutil.which("capsh"), "--drop=cap_sys_admin", "--", "-c", shlex.join(_grade_cmd(p))]
            r = subprocess.run(cmd, cwd=p["project"], capture_output=True, text=True, timeout=900,
                               env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
        _check_graded(p, r, "separate uid")
        # the secrets were made unreadable to other uids (the grader did it, the test did not)
        for secret in (p["project"] / "source", p["project"] / "autograder", p["subs"], REPO / "autograder"):
            assert not os.stat(secret).st_mode & 0o007, secret
    finally:
        for d, m in modes.items():
            os.chmod(d, m)
    # No network namespace: a seccomp filter allows Unix sockets only, and the summary says so.
    assert accepted == [] and "no network (seccomp: Unix sockets only)" in r.stdout


# --------------------------------------------------------------------------- refusal


def test_no_isolation_refuses_untrusted_notebooks_unless_trusted(tmp_path, monkeypatch, capsys):
    from autograder import cli

    monkeypatch.setattr(kprocess, "isolation_support", lambda: (None, "testing: no namespaces on this machine"))
    with pytest.raises(kprocess.IsolationUnavailableError, match="refusing to grade untrusted notebooks: testing"):
        kprocess.require_isolation(trusted=False)
    assert kprocess.require_isolation(trusted=True) == "none"
    gf.make_course(tmp_path / "course")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_bytes(gf.student_notebook("solution"))
    argv = ["grade", gf.ASSIGNMENT, str(tmp_path / "subs"), "--course", str(tmp_path / "course"), "--out",
            str(tmp_path / "out"), "--workers", "0", "--no-gradebook", "--no-progress"]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "refusing to grade untrusted notebooks" in err and "--trusted-notebooks" in err
    assert "user namespaces" in err and not (tmp_path / "out" / "alice").exists()
    with pytest.raises(kprocess.IsolationUnavailableError, match="cannot isolate the student kernel"):
        StudentKernel(tmp_path, isolate=True).start()
    with StudentKernel(tmp_path) as k:  # the library default (trusted callers): labelled, rlimits only
        assert k.isolation == "rlimits only: testing: no namespaces on this machine"


# --------------------------------------------------------------------------- resources

needs_isolation = pytest.mark.skipif(isolation_support()[0] not in ("namespaces", "userns"),
                                     reason="the sandbox's tmpfs needs namespace isolation")


@needs_isolation
def test_millions_of_empty_files_stop_at_the_inode_cap(tmp_path):
    fill = ("import os, errno\nn, err = 0, None\ntry:\n    while n < 3_000_000:\n"
            "        open(os.path.join({d!r}, f'f{{n}}'), 'w').close()\n        n += 1\n"
            "except OSError as e:\n    err = e.errno\nprint(n, err)\n")
    with StudentKernel(tmp_path, limits=Limits(cell_timeout=300, memory_mb=1024)) as k:
        for d in ("/tmp", "."):
            res = k.run_cell(fill.format(d=d))
            assert res.status == "ok", res.error
            n, err = res.outputs[0]["text"].split()
            assert int(err) == errno.ENOSPC and 1000 < int(n) <= kplan.TMPFS_INODES, (d, n, err)
        assert k.run_cell("print('still alive')").outputs[0]["text"] == "still alive\n"


@needs_isolation
def test_forked_children_share_one_memory_limit(tmp_path):
    limits = Limits(cell_timeout=120, memory_mb=1024)
    with StudentKernel(tmp_path, limits=limits) as k:
        if k.memory_cgroup is None:
            pytest.skip(f"no memory cgroup here: {kprocess.make_memory_cgroup(1 << 30)[1]}")
        assert "one memory limit for the whole sandbox (cgroup)" in k.isolation
        cg = k.memory_cgroup
        limit = int(next(f for f in (cg / "memory.max", cg / "memory.limit_in_bytes") if f.exists()).read_text())
        # Each child alone is well within RLIMIT_AS (1024 MB); the four together are not within the sandbox's.
        assert limit < 4 * (600 << 20)
        res = k.run_cell(
            "import os, time\npids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
            "        x = b'x' * (600 << 20)\n        time.sleep(3)\n        os._exit(0)\n    pids.append(pid)\n"
            "print([os.waitpid(p, 0)[1] for p in pids])\n")
        if res.status == "ok":
            statuses = json.loads(res.outputs[0]["text"])
            assert any(os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL for s in statuses), statuses
            peak = memory_peak(k.memory_cgroup)
            assert peak is not None and peak <= limit, (peak, limit)
        else:  # the OOM killer chose the kernel itself: the sandbox ended as a whole
            assert res.status == "died" and "killed" in res.error, res


@needs_isolation
def test_resource_faults_graded_end_to_end_keep_their_points(scratch):
    """An inode bomb and a memory-hungry family of processes, in graded submissions: the batch finishes and
    each submission still gets the points its functions deserve (the limits stop the fault, not grading)."""
    from autograder.grade.batch import grade_assignment
    from autograder.grade.job import GradingOptions

    course = gf.make_course(scratch / "course")
    subs = scratch / "subs"
    subs.mkdir()
    faults = {
        "inode_bomb": "import os\nn = 0\ntry:\n    while n < 3_000_000:\n        open(f'/tmp/e{n}', 'w').close()\n"
                      "        n += 1\nexcept OSError as e:\n    print('stopped after', n, 'files:', e.strerror)\n",
        "memory_forks": "import os, time\npids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
                        "        x = b'x' * (600 << 20)\n        time.sleep(2)\n        os._exit(0)\n"
                        "    pids.append(pid)\nprint([os.waitpid(p, 0)[1] for p in pids])\n",
    }
    for student, cell in faults.items():
        nb = gf.notebook(square_body=gf.SQUARE_SOLUTION, add_body=gf.ADD_SOLUTION)
        nb.cells.insert(1, nbformat.v4.new_code_cell(cell))
        (subs / f"{student}.ipynb").write_bytes(gf.as_bytes(nb))
    options = GradingOptions(cell_timeout=120, test_timeout=60, submission_timeout=600, memory_mb=1024,
                             run_cells="all")  # the probe cells must run
    summary = grade_assignment(gf.ASSIGNMENT, subs, course_dir=course, out_dir=scratch / "out", workers=0,
                               options=options, gradebook=False, progress=False)
    assert summary.graded == 2 and summary.grader_errors == []
    for student in faults:
        doc = json.loads((scratch / "out" / student / "results.json").read_text())
        assert doc["score"] == gf.AUTO_MAX, (student, doc["output"])
    page = html.unescape((scratch / "out" / "inode_bomb" / "feedback.html").read_text())
    n = int(re.search(r"stopped after (\d+) files: No space left on device", page).group(1))
    assert n <= kplan.TMPFS_INODES


def test_cgroups_of_killed_graders_are_removed():
    """A grader killed with SIGKILL leaves its sandbox's (empty) cgroup behind; the next one removes it."""
    mine, why = kprocess.make_memory_cgroup(1 << 30)
    if mine is None:
        pytest.skip(f"no memory cgroup here: {why}")
    try:
        r = subprocess.run([sys.executable, "-c", "from autograder.kernel.process import make_memory_cgroup\n"
                            "print(make_memory_cgroup(1 << 30)[0])"], capture_output=True, text=True, check=True)
        left = Path(r.stdout.strip())
        assert left.is_dir()  # its grader ended without removing it
        again, _ = kprocess.make_memory_cgroup(1 << 30)
        kprocess._remove_cgroup(again)
        assert not left.exists() and mine.is_dir()  # a live grader's cgroup stays
    finally:
        kprocess._remove_cgroup(mine)
