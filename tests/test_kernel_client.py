"""The sandboxed student kernel: cells, outputs, limits, death, timeouts and isolation.

Kernels are few (each costs ~2-3 s to start): one shared kernel for the cells that leave it
healthy, one for the destructive cases (restarted in between), one in fallback mode.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import autograder
import autograder.kernel.plan as kplan
import autograder.kernel.process as kprocess
from autograder.kernel.client import CellResult, StudentKernel
from autograder.kernel.errors import KernelDied, KernelError, KernelTimeout
from autograder.kernel.plan import SANDBOX_UID_BASE, Limits, data_mount
from autograder.kernel.process import namespace_support
from course_lib.data import get_CIFAR10_data

NAMESPACES, WHY_NOT = namespace_support()
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason=f"namespace isolation unavailable: {WHY_NOT}")
REPO = Path(autograder.__file__).resolve().parents[1]


def run_ok(kernel: StudentKernel, source: str) -> CellResult:
    res = kernel.run_cell(source)
    assert res.status == "ok", (res.error, res.outputs)
    return res


def stdout(res: CellResult) -> str:
    return "".join(o["text"] for o in res.outputs if o["output_type"] == "stream" and o["name"] == "stdout")


def pids_with(token: str) -> list[int]:
    """Host pids whose command line contains ``token``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if token.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def sandbox_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("sandbox")
    work, lib, secret = base / "work", base / "lib", base / "secret"
    for d in (work, lib, lib / "private", secret):
        d.mkdir()
    (work / "data.txt").write_text("released data\n")
    (lib / "released_helper.py").write_text("VALUE = 41 + 1\n")
    (lib / "private" / "answers.txt").write_text("hidden answer\n")
    (secret / "marker.txt").write_text("grader secret\n")
    return {"work": work, "lib": lib, "secret": secret}


@pytest.fixture(scope="module")
def kernel(sandbox_dirs):
    d = sandbox_dirs
    with StudentKernel(d["work"], extra_paths=[d["lib"]], hide=[d["secret"], d["lib"] / "private"],
                       limits=Limits(cell_timeout=30, output_bytes=100_000)) as k:
        yield k


# --------------------------------------------------------------------------- cells and outputs


def test_runs_cells_and_captures_outputs(kernel):
    res = run_ok(kernel, "import numpy as np\nx = np.arange(4)\nprint('hello', x.sum())\nx * 2")
    assert stdout(res) == "hello 6\n"
    result = [o for o in res.outputs if o["output_type"] == "execute_result"]
    assert result and result[0]["data"]["text/plain"] == "array([0, 2, 4, 6])"
    res = run_ok(kernel, "import sys\nprint('oops', file=sys.stderr)\nfrom IPython.display import display\n"
                         "display({'a': 1})")
    assert {"output_type": "stream", "name": "stderr", "text": "oops\n"} in res.outputs
    assert any(o["output_type"] == "display_data" for o in res.outputs)
    res = kernel.run_cell("def f(v):\n    raise ValueError(f'bad value {v}')\nf(3)")
    assert res.status == "error" and res.error == "ValueError: bad value 3"
    err = res.outputs[-1]
    assert err["output_type"] == "error" and err["ename"] == "ValueError"
    assert any("f(3)" in line for line in err["traceback"])
    assert kernel.run_cell("def broken(:\n").status == "error"
    assert kernel.get("x").tolist() == [0, 1, 2, 3]


def test_matplotlib_figures_become_png(kernel):
    res = run_ok(kernel, "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                         "plt.plot([1, 3, 2])\nplt.title('loss')\nplt.show()\nplt.figure(); plt.plot([0, 1])")
    pngs = [o["data"]["image/png"] for o in res.outputs if o["output_type"] == "display_data"]
    assert len(pngs) == 2
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    res = run_ok(kernel, "import matplotlib.pyplot as plt\nprint(len(plt.get_fignums()))")
    assert stdout(res) == "0\n"  # figures are closed once captured


def test_ipython_features(kernel):
    res = run_ok(kernel, "%load_ext autoreload\n%autoreload 2\nip = get_ipython()\nprint(type(ip).__name__)\n"
                         "import released_helper\nprint(released_helper.VALUE)")
    assert stdout(res).split() == ["Shell", "42"]


def test_exit_does_not_end_the_kernel(kernel):
    assert run_ok(kernel, "exit()").outputs == []
    run_ok(kernel, "quit()")
    for src in ("import sys\nsys.exit(3)", "raise SystemExit('bye')"):
        res = kernel.run_cell(src)
        assert res.status == "error" and res.error.startswith("SystemExit"), res
    assert kernel.alive and kernel.ping()
    assert stdout(run_ok(kernel, "print('still here')")) == "still here\n"


def test_huge_print_is_truncated(kernel):
    res = run_ok(kernel, "print('x' * 5_000_000)\nprint('after')")
    text = "".join(o.get("text", "") for o in res.outputs)
    assert 100_000 <= len(text) < 101_000
    assert "[output truncated: 4900007 more characters not shown]" in text


def test_memory_limit_raises_memory_error(kernel):
    res = kernel.run_cell("import numpy as np\nbig = np.ones(10 * 1024**3 // 8)")
    assert res.status == "error" and res.error.startswith("MemoryError"), res
    assert kernel.alive


# --------------------------------------------------------------------------- death, timeouts, cleanup


@pytest.fixture(scope="module")
def fragile(tmp_path_factory):
    work = tmp_path_factory.mktemp("fragile")
    with StudentKernel(work, limits=Limits(cell_timeout=2.0, max_file_mb=8)) as k:
        yield k


def test_os_exit_is_kernel_died(fragile):
    res = fragile.run_cell("import os\nos._exit(3)")
    assert res.status == "died" and "exited with code 3" in res.error
    assert not fragile.alive
    with pytest.raises(KernelError, match="code 3"):
        fragile.get("os")
    fragile.restart()
    run_ok(fragile, "import os\ndef die():\n    os._exit(5)")
    with pytest.raises(KernelDied, match="exited with code 5"):
        fragile.call("die")
    fragile.restart()
    res = fragile.run_cell("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert res.status == "died" and "segmentation fault" in res.error


def test_file_size_and_disk_limits(fragile):
    if not fragile.alive:
        fragile.restart()
    res = fragile.run_cell("chunk = b'x' * (7 << 20)\n"
                           "try:\n    open('big.bin', 'wb').write(chunk * 2)\nexcept OSError as e:\n"
                           "    print('file too large:', e.errno)\n"
                           f"written = 0\ntry:\n    for i in range({40 if NAMESPACES else 0}):\n"
                           "        open(f'part{i}.bin', 'wb').write(chunk)\n        written += 7\n"
                           "except OSError as e:\n    print('disk full:', e.errno)\nprint(written)")
    lines = stdout(res).split("\n")
    assert lines[0] == "file too large: 27", res  # EFBIG from RLIMIT_FSIZE (8 MB)
    if NAMESPACES:  # the workdir copy is a 64 MB tmpfs
        assert lines[1] == "disk full: 28" and 49 <= int(lines[2]) <= 70, lines
    run_ok(fragile, "import os\nfor f in os.listdir('.'):\n    os.remove(f)")


FORGE = ("import json, os\n"
         "cfg = json.loads(open('/proc/self/cmdline', 'rb').read().split(b'\\0')[-2])\n"
         "os.write(cfg['fd'], {frame!r})\n")


def test_forged_replies_stop_the_kernel(fragile):
    """Student code can write to the kernel's socket: the grader must reject what it sends."""
    if not fragile.alive:
        fragile.restart()
    res = fragile.run_cell(FORGE.format(frame=b"AGW1" + (2**40).to_bytes(8, "big")))
    assert res.status == "died" and "invalid reply" in res.error and not fragile.alive
    fragile.restart()
    res = fragile.run_cell(FORGE.format(frame=b"AGW1" + (20).to_bytes(8, "big") + b"\x00\x00\x00\x10" + b"{" * 16))
    assert res.status == "died" and "invalid reply" in res.error
    fragile.restart()


def test_infinite_loop_times_out_and_restarts(fragile):
    if not fragile.alive:
        fragile.restart()
    t0 = time.monotonic()
    res = fragile.run_cell("while True:\n    pass", timeout=1.0)
    assert res.status == "timeout" and "1 s" in res.error
    assert time.monotonic() - t0 < 10 and not fragile.alive
    fragile.restart()
    run_ok(fragile, "def spin(n):\n    while True:\n        n += 1")
    with pytest.raises(KernelTimeout, match="did not finish within 2 s"):
        fragile.call("spin", 0)
    fragile.restart()
    assert stdout(run_ok(fragile, "print(6 * 7)")) == "42\n"


def test_background_processes_end_with_the_kernel(fragile):
    if not fragile.alive:
        fragile.restart()
    run_ok(fragile, "import subprocess\n"
                    "p1 = subprocess.Popen(['sleep', '987.125'])\n"
                    "p2 = subprocess.Popen(['sleep', '987.126'], start_new_session=True)")
    deadline = time.monotonic() + 10
    while len(pids_with("987.12")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pids_with("987.12")) == 2  # they really run
    fragile.close()
    deadline = time.monotonic() + 10
    while pids_with("987.125") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids_with("987.125") == []
    if NAMESPACES:  # even the process that left the kernel's session is gone with the pid namespace
        assert pids_with("987.126") == []
    else:
        for pid in pids_with("987.126"):
            os.kill(pid, 9)


def test_total_time_budget_caps_every_request(fragile):
    fragile.start()
    fragile._total_deadline = time.monotonic() + 1.0  # as if the submission had used up its budget
    res = fragile.run_cell("import time\ntime.sleep(20)")
    assert res.status == "timeout" and "total time budget of 900 s" in res.error
    with pytest.raises(KernelError, match="total time budget"):
        fragile.get("time")


# --------------------------------------------------------------------------- isolation


def _listening_server():
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(10)
    accepted = []

    def accept():
        try:
            conn, _ = srv.accept()
            accepted.append(conn)
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return srv, srv.getsockname()[1], accepted


CONNECT = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
           "    print('connected')\nexcept OSError as e:\n    print('refused', type(e).__name__)")


@needs_namespaces
def test_kernel_cannot_read_course_or_hidden_files(kernel, sandbox_dirs):
    assert kernel.isolation.startswith("namespaces")
    paths = [REPO / "source", REPO / "course_lib" / "__init__.py", REPO / "CONTRIBUTING.md",
             REPO / "autograder" / "sandbox.py", sandbox_dirs["secret"] / "marker.txt",
             "/sandbox/lib0/private/answers.txt", "/root", "/home", "/work", "/farm"]
    probe = (f"import os\nfor p in {[str(p) for p in paths]!r}:\n"
             "    try:\n        print(p, 'READ', open(p).read()[:10] if os.path.isfile(p) else os.listdir(p))\n"
             "    except OSError as e:\n        print(p, 'denied', type(e).__name__)\n")
    lines = stdout(run_ok(kernel, probe)).splitlines()
    assert len(lines) == len(paths)
    # directories above the bound Python installation exist, holding only the path to it
    python_path_parts = set(Path(sys.prefix).parts) | set(Path(sys.base_prefix).parts)
    for line in lines:
        if " READ [" in line:
            listing = ast.literal_eval(line.split(" READ ", 1)[1])
            assert set(listing) <= python_path_parts, line
        else:
            assert " denied " in line, line
    out = stdout(run_ok(kernel, "print(open('/sandbox/lib0/released_helper.py').read().strip())\n"
                                "print(open('data.txt').read().strip())\n"))
    assert out == "VALUE = 41 + 1\nreleased data\n"
    for mod in ("autograder", "course_lib"):
        res = kernel.run_cell(f"import {mod}")
        assert res.status == "error" and res.error.startswith("ModuleNotFoundError"), res


@needs_namespaces
def test_kernel_runs_unprivileged_and_can_only_write_its_workdir(kernel, sandbox_dirs):
    out = stdout(run_ok(kernel, "import os\nprint(os.getuid(), os.getgid(), os.getcwd())\n"
                                "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:1])"))
    uid, gid, cwd = out.splitlines()[0].split()
    assert int(uid) == int(gid) > SANDBOX_UID_BASE and cwd == "/sandbox/work"  # a uid of its own, see
    assert out.splitlines()[1] == "[1]"  # test_adversarial.py::test_a_fork_bomb_does_not_starve_...
    probe = (f"for p in ['/sandbox/lib0/x.py', '/etc/x', '/usr/x', '/x', '{REPO}/x']:\n"
             "    try:\n        open(p, 'w').write('x')\n        print('WROTE', p)\n"
             "    except OSError as e:\n        print('denied', type(e).__name__)\n"
             "open('result.txt', 'w').write('student output')\n")
    out = stdout(run_ok(kernel, probe))
    assert "WROTE" not in out and out.count("denied") == 5
    assert stdout(run_ok(kernel, "print(open('result.txt').read())")) == "student output\n"
    # the kernel wrote to its private copy of the workdir: the caller's directory is untouched
    assert sorted(p.name for p in sandbox_dirs["work"].iterdir()) == ["data.txt"]
    assert not (sandbox_dirs["lib"] / "x.py").exists() and not (REPO / "x").exists()


@needs_namespaces
def test_kernel_has_no_network(kernel):
    srv, port, accepted = _listening_server()
    with srv:
        out = stdout(run_ok(kernel, CONNECT.format(port=port)))
    assert out.startswith("refused") and accepted == []


def test_fallback_mode_is_labelled_and_limited(tmp_path):
    """Without namespaces: rlimits, own process group; the network is reachable (a control)."""
    with StudentKernel(tmp_path, isolate=False, limits=Limits(memory_mb=2048)) as k:
        assert k.isolation.startswith("rlimits only: ")
        out = stdout(run_ok(k, "import resource, os\nprint(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20)\n"
                               "print(os.getcwd())\nprint(os.getpgid(0) == os.getpid())"))
        assert out.splitlines() == ["2048", str(tmp_path.resolve()), "True"]
        srv, port, accepted = _listening_server()
        with srv:
            assert stdout(run_ok(k, CONNECT.format(port=port))) == "connected\n"
        run_ok(k, "import subprocess\np = subprocess.Popen(['sleep', '987.127'])")
        assert pids_with("987.127")
    deadline = time.monotonic() + 10
    while pids_with("987.127") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids_with("987.127") == []


def test_isolate_true_without_namespaces_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(kprocess, "isolation_support", lambda: (None, "testing"))
    with pytest.raises(KernelError, match="cannot isolate the student kernel: testing"):
        StudentKernel(tmp_path, isolate=True).start()
    k = StudentKernel(tmp_path / "missing")
    with pytest.raises(KernelError, match="not a directory"):
        k.start()


def test_plan_binds_a_venv_inside_the_hidden_repo_but_hides_installed_packages(tmp_path, monkeypatch):
    repo, work = tmp_path / "repo", tmp_path / "work"
    venv = repo / ".venv"
    site_dir = venv / "lib" / "python3.11" / "site-packages"
    for d in (site_dir / "course_lib", site_dir / "numpy", work, repo / "source"):
        d.mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setattr(sys, "exec_prefix", str(venv))
    monkeypatch.setattr(kplan, "_site_dirs", lambda: [site_dir])
    plan = kplan.build_plan(tmp_path / "staging", work, [], [repo], Limits(), ["python"], {}, 5)
    binds = {b["src"]: b for b in plan["binds"]}
    assert binds[str(venv)]["ro"] and binds[str(venv)]["dst"] == str(venv)  # the venv is bound back
    assert str(site_dir / "course_lib") in plan["hide"]  # but the installed course package is not
    assert not any(src == str(repo) or src.startswith(str(repo / "source")) for src in binds)
    assert plan["workcopy"]["src"] == str(work.resolve())
    with pytest.raises(KernelError, match="hidden path"):
        kplan.build_plan(tmp_path / "staging", work, [repo], [repo], Limits(), ["python"], {}, 5)
    with pytest.raises(KernelError, match="contains the hidden path"):
        kplan.build_plan(tmp_path / "staging", tmp_path, [], [repo], Limits(), ["python"], {}, 5)


# ---------------------------------------------------------------------------------------------------
# data directories: read-only, named by an environment variable
# ---------------------------------------------------------------------------------------------------

_READ_DATA_CELL = """
import hashlib, os, warnings
warnings.simplefilter("error")  # a SyntheticDataWarning (or any other) would fail the cell
from course_lib.data import get_CIFAR10_data, resolve_cifar10_dir
where = resolve_cifar10_dir()
data = get_CIFAR10_data(100, 10, 10)
print("KIND", where.kind, "PATH", where.path, "SHA", hashlib.sha256(data["X_train"].tobytes()).hexdigest())
for name, mode in (("data_batch_1", "ab"), ("new_file", "w")):
    try:
        with open(os.path.join(os.environ["COURSE_CIFAR10_DIR"], name), mode) as f:
            f.write("x")
        print("WROTE", name)
    except OSError as exc:
        print("DENIED", name, exc.errno)
"""


@pytest.mark.cifar
def test_kernel_reads_its_data_dir_read_only_through_its_variable(cifar10_dir, tmp_path):
    # A copy that every uid may write: only the sandbox's read-only bind can stop the kernel writing it.
    data = tmp_path / "cifar-10-batches-py"
    shutil.copytree(cifar10_dir, data)
    for p in [data, *data.iterdir()]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    os.chmod(tmp_path, 0o755)
    work = tmp_path / "work"
    work.mkdir()
    with StudentKernel(work, extra_paths=[REPO / "release" / "fc_nets"], data_dirs={"COURSE_CIFAR10_DIR": data},
                       env={"COURSE_SYNTHETIC_WARNING": "off"}, limits=Limits(cell_timeout=60)) as k:
        out = stdout(run_ok(k, _READ_DATA_CELL))
        isolation = k.isolation
    want = get_CIFAR10_data(100, 10, 10, cifar10_dir=cifar10_dir)
    assert f"KIND environment PATH {data_mount(0) if NAMESPACES else data}" in out, (isolation, out)
    assert f"SHA {hashlib.sha256(want['X_train'].tobytes()).hexdigest()}" in out
    assert "WROTE" not in out and "DENIED data_batch_1" in out and "DENIED new_file" in out
    assert (data / "data_batch_1").read_bytes() == (cifar10_dir / "data_batch_1").read_bytes()
    assert not (data / "new_file").exists()


def test_kernel_without_data_dir_uses_the_silenced_synthetic_stand_in(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    cell = _READ_DATA_CELL.split("for name")[0]
    with StudentKernel(work, extra_paths=[REPO / "release" / "fc_nets"], env={"COURSE_SYNTHETIC_WARNING": "off"},
                       limits=Limits(cell_timeout=60)) as k:
        out = stdout(run_ok(k, cell))
    assert "KIND synthetic PATH None" in out


def test_separate_uid_mode_refuses_a_data_dir_it_cannot_read_or_could_write_before_changing_permissions(
        tmp_path, monkeypatch):
    data = Path(tempfile.mkdtemp(prefix="ag-data-test-"))  # under /tmp (1777), not pytest's 0700 folders
    try:
        secret = data / "data_batch_1"
        secret.write_text("x")
        os.chmod(data, 0o755)
        os.chmod(secret, 0o600)
        assert kplan._data_dir_problem(data) == f"{secret} is not readable by others"
        os.chmod(secret, 0o666)
        assert kplan._data_dir_problem(data) == f"{secret} is writable by others"
        os.chmod(secret, 0o644)
        assert kplan._data_dir_problem(data) is None
        assert "not readable by others" in kplan._data_dir_problem(tmp_path)  # pytest's base folder is 0700
        os.chmod(secret, 0o600)
        monkeypatch.setattr(kprocess, "isolation_support", lambda: ("uid", "testing"))
        monkeypatch.setattr(kprocess, "lock_down", lambda *a: pytest.fail("permissions changed before the refusal"))
        with pytest.raises(KernelError, match=r"must be able to read the data directory .*chmod -R o\+rX,o-w"):
            StudentKernel(tmp_path, data_dirs={"COURSE_CIFAR10_DIR": data}).start()
    finally:
        shutil.rmtree(data)


def test_data_dirs_and_env_may_not_replace_the_kernels_own_variables(tmp_path):
    with pytest.raises(KernelError, match="PATH"):
        StudentKernel(tmp_path, env={"PATH": "/evil"})
    with pytest.raises(KernelError, match="is not a directory"):
        StudentKernel(tmp_path, data_dirs={"COURSE_CIFAR10_DIR": tmp_path / "missing"}).start()


def test_plan_binds_data_dirs_read_only(tmp_path):
    work, data = tmp_path / "work", tmp_path / "data"
    work.mkdir()
    data.mkdir()
    plan = kplan.build_plan(tmp_path / "staging", work, [], [], Limits(), ["python"], {}, 5, data_dirs=[data])
    assert {"src": str(data.resolve()), "dst": data_mount(0), "ro": True} in plan["binds"]
    with pytest.raises(KernelError, match="hidden path"):
        kplan.build_plan(tmp_path / "staging", work, [], [data], Limits(), ["python"], {}, 5, data_dirs=[data])
