"""The grader's side of a student kernel: :class:`StudentKernel` (start, restart, close, and the narrow
call interface: run a cell, get a global, call, attributes and items) over :mod:`autograder.kernel.wire`.

Every reply is treated as hostile: size-capped, validated, and bounded in time (the grader kills the
kernel when a deadline passes). Objects that are not plain data stay in the kernel behind the handles of
:mod:`autograder.kernel.handles`. The process and its isolation: :mod:`autograder.kernel.process`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.kernel import process, wire
from autograder.kernel.errors import (
    KernelDied,
    KernelError,
    KernelTimeout,
    NotDefinedError,
    ProtocolError,
    _student_error_class,
)
from autograder.kernel.handles import RemoteDict, RemoteHandle, describe, sync_back
from autograder.kernel.plan import (
    CGROUP_HEADROOM_MB,
    SANDBOX_UID_BASE,
    Limits,
    _data_dir_problem,
    _editable_targets,
    _font_caches,
    _kernel_env,
    _python_roots,
    _resolved,
    _rlimits,
    _under,
    build_plan,
    data_mount,
    default_hidden_paths,
)
from autograder.kernel.process import _UNSHARE_FLAGS, _describe_death, _Proc, make_memory_cgroup

__all__ = ["StudentKernel", "CellResult"]

_HERE = Path(__file__).resolve().parent
_STARTUP_TIMEOUT = 60.0


@dataclass
class CellResult:
    """Outcome of :meth:`StudentKernel.run_cell`.

    Attributes
    ----------
    status : str
        ``"ok"``, ``"error"`` (the cell raised; the kernel lives on), ``"timeout"`` (the kernel
        was killed) or ``"died"`` (the kernel process ended).
    outputs : list of dict
        nbformat v4 output dicts (``stream``, ``display_data``, ``execute_result``, ``error``).
    error : str or None
        One line for the student: ``"ValueError: ..."`` or why the kernel stopped.
    duration : float
        Wall-clock seconds.
    """

    status: str
    outputs: list[dict] = field(default_factory=list)
    error: str | None = None
    duration: float = 0.0

class StudentKernel:
    """A student's Python kernel in a sandbox, driven through a narrow, validated interface.

    Parameters
    ----------
    workdir : Path
        Scratch directory holding only the submission copy and the released files (prepared by
        the caller).  It becomes the kernel's cwd and first ``sys.path`` entry; in namespace mode
        the kernel works on a writable tmpfs copy of it at ``/sandbox/work`` (files the student
        writes are not copied back; the caller's directory is not modified).
    extra_paths : list of Path
        Directories prepended to the kernel's ``sys.path`` (e.g. the released library dir),
        read-only (``/sandbox/lib0``... in namespace mode).
    limits : Limits
        Time, memory, output and file limits.
    isolate : bool or None
        ``None``: namespaces when available, else the rlimits-only fallback (reason in
        :attr:`isolation`).  ``True``: namespaces or :class:`KernelError`.  ``False``: fallback.
    hide : list of Path
        Extra paths that must be unreadable from the kernel (submissions root, output dir,
        gradebook dir...).  The course repository and the installed packages are always hidden.
    data_dirs : mapping of str to Path, optional
        Directories the kernel may read but not write, each named to it by an environment variable
        (e.g. ``{"COURSE_CIFAR10_DIR": <the instructor's CIFAR-10>}``): bound read-only at
        ``/sandbox/data<i>`` in namespace mode, used in place elsewhere (separate-uid mode: every uid must
        be able to read them and none to write them; with rlimits only, nothing stops writes).  The
        variable holds the path as the kernel sees it.
    env : mapping of str to str, optional
        Extra environment variables of the kernel (its environment is otherwise replaced).

    Attributes
    ----------
    isolation : str
        ``"namespaces: ..."`` or ``"rlimits only: <reason>"`` (set by :meth:`start`).
    limits : Limits
    student_errors : list of str
        The class names of the exceptions student code raised in remote operations, in order (a missing
        global counts as ``NameError``), including those a check caught: the grader reads them to tell a
        verdict on the student's code from a failure that may come from what did not run.

    Notes
    -----
    Student failures never raise from :meth:`run_cell` (see :class:`CellResult`); the remote
    operations (:meth:`get`, :meth:`call`, handle access) raise :class:`KernelTimeout`,
    :class:`KernelDied`, :class:`ProtocolError` for kernel failures and a
    :class:`~autograder.kernel.errors.StudentError`
    (mixed with the matching built-in exception) when student code raises.  After a timeout,
    death or protocol error the kernel is stopped; :meth:`restart` starts a fresh one.
    Methods are thread-safe (one request at a time).
    """

    def __init__(self, workdir: Path, extra_paths: Sequence[Path] = (), limits: Limits = Limits(),
                 isolate: bool | None = None, hide: Sequence[Path] = (),
                 data_dirs: Mapping[str, os.PathLike | str] | None = None, env: Mapping[str, str] | None = None):
        self.workdir = Path(workdir)
        self.extra_paths = [Path(p) for p in extra_paths]
        self.limits = limits
        self.hide = [Path(p) for p in hide]
        self.data_dirs = {str(k): Path(v) for k, v in (data_dirs or {}).items()}
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        reserved = set(_kernel_env("/tmp"))
        for name in [*self.data_dirs, *self.env]:
            if not name.isidentifier() or name in reserved:
                raise KernelError(f"cannot set the kernel's environment variable {name!r}: it must be a name "
                                  f"other than {', '.join(sorted(reserved))}")
        self._isolate = isolate
        self.isolation = ""
        self._proc: _Proc | None = None
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.RLock()
        self._seq = 0
        self._generation = 0
        self._total_deadline: float | None = None
        self._scope_deadline: float | None = None
        self._released: list[int] = []
        self._tracked: dict[int, weakref.ref] = {}
        self._flushing = False
        self._dead_reason: str | None = None
        self.student_errors: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> StudentKernel:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        """True while the kernel process runs and answers (no timeout/death/protocol error seen)."""
        p = self._proc
        return p is not None and p.sock is not None and p.popen is not None and p.popen.poll() is None

    @property
    def memory_cgroup(self) -> Path | None:
        """The cgroup holding the running sandbox's one memory limit, or None (no cgroup available)."""
        p = self._proc
        return p.cgroup if p is not None else None

    @property
    def failure(self) -> str | None:
        """Why the kernel was stopped (timeout, death, protocol error), or None."""
        return self._dead_reason

    def _choose_mode(self) -> str:
        """``"namespaces"``, ``"userns"``, ``"uid"`` or ``"none"``; sets :attr:`isolation`."""
        if self._isolate is False:
            self.isolation = "rlimits only: isolation disabled by the caller (isolate=False)"
            return "none"
        mode, why = process.isolation_support()
        net = "" if self.limits.network else "+net"
        if mode == "namespaces":
            self.isolation = (f"namespaces: mount+pid+ipc+uts{net}, chroot to an allow-list file system, "
                              "a uid of its own, no capabilities, rlimits")
        elif mode == "userns":
            self.isolation = (f"user namespaces: user+mount+pid+ipc+uts{net}, chroot to an allow-list file "
                              "system, no capabilities, rlimits")
        elif mode == "uid":
            net = "" if self.limits.network else ", no network (seccomp: Unix sockets only)"
            self.isolation = ("separate uid: a uid of its own, no capabilities, secrets unreadable by file "
                              f"permissions{net}, rlimits; no namespaces ({why})")
        elif self._isolate is True:
            raise process.IsolationUnavailableError(
                f"cannot isolate the student kernel: {why}. {process.NO_ISOLATION_HELP}")
        else:
            self.isolation = f"rlimits only: {why}"
            return "none"
        return mode

    def start(self) -> None:
        """Start the kernel process and wait until it answers (raises :class:`KernelError`)."""
        with self._lock:
            if self._proc is not None:
                raise KernelError("the kernel is already running; use restart()")
            if not self.workdir.is_dir():
                raise KernelError(f"workdir {self.workdir} is not a directory")
            for name, path in self.data_dirs.items():
                if not path.is_dir():
                    raise KernelError(f"the data directory {path} given for the kernel's {name} is not a "
                                      "directory")
            if self._total_deadline is None:
                self._total_deadline = time.monotonic() + self.limits.total_timeout
            self._generation += 1
            self._dead_reason = None
            proc = _Proc()
            self._proc = proc
            self._finalizer = weakref.finalize(self, proc.cleanup)
            try:
                self._spawn(proc, self._choose_mode())
                if proc.cgroup is not None:
                    self.isolation = self.isolation.replace("rlimits", "rlimits, one memory limit for the whole "
                                                            "sandbox (cgroup)", 1)
                deadline = min(time.monotonic() + _STARTUP_TIMEOUT, self._total_deadline)
                hello = self._receive(proc, 0, deadline, wire.MAX_FRAME_BYTES, "starting the kernel")
                if not (isinstance(hello, dict) and hello.get("hello") == "autograder-kernel"):
                    raise ProtocolError("the kernel did not start correctly")
            except BaseException:
                self.close()
                raise

    def _spawn(self, proc: _Proc, mode: str) -> None:
        staging = Path(tempfile.mkdtemp(prefix="autograder-kernel-"))
        proc.staging = staging
        os.chmod(staging, 0o711 if mode == "uid" else 0o755)  # uid mode: the kernel must not list it
        (staging / "server").mkdir(mode=0o755)
        (staging / "root").mkdir(mode=0o755)
        for name in ("server.py", "wire.py"):
            shutil.copyfile(_HERE / name, staging / "server" / name)
            os.chmod(staging / "server" / name, 0o644)
        proc.log = open(staging / "kernel.log", "w+b")  # noqa: SIM115 - closed in cleanup
        os.fchmod(proc.log.fileno(), 0o600)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        proc.sock = parent
        try:
            if mode in ("namespaces", "userns"):
                self._spawn_namespaces(proc, staging, child, mode)
            elif mode == "uid":
                self._spawn_uid(proc, staging, child)
            else:
                self._spawn_fallback(proc, staging, child)
        finally:
            child.close()

    def _memory_cgroup(self, proc: _Proc, tmpfs_mb: int) -> str | None:
        """One memory limit for every process of the sandbox, where a cgroup can be made (else None): the
        processes' ``memory_mb``, plus the caps of its in-memory file systems (``tmpfs_mb``), plus
        :data:`CGROUP_HEADROOM_MB` for the page cache of the libraries it maps and its kernel memory (without
        it a kernel near ``memory_mb`` thrashes instead of getting its ``MemoryError``)."""
        limit_mb = self.limits.memory_mb + tmpfs_mb + CGROUP_HEADROOM_MB
        proc.cgroup, _why = make_memory_cgroup(limit_mb << 20)
        return str(proc.cgroup) if proc.cgroup is not None else None

    def _start_supervisor(self, proc: _Proc, prefix: list[str], plan: dict, status_w: int,
                          child: socket.socket) -> None:
        """Start ``server.py --init`` (behind ``prefix``) on ``plan``; wait for its host pid."""
        assert proc.staging is not None, "_spawn made the staging directory first"
        plan_file = proc.staging / "plan.json"  # the grader's only, outside the sandbox: not on a command line
        plan_file.touch(mode=0o600)
        plan_file.write_text(json.dumps(plan))
        cmd = [*prefix, sys.executable, "-I", "-B", str(proc.staging / "server" / "server.py"), "--init",
               "@" + str(plan_file)]
        try:
            proc.popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=proc.log, stderr=proc.log, cwd="/",
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, pass_fds=(child.fileno(), status_w),
                start_new_session=True)
        finally:
            os.close(status_w)
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while proc.status("host_pid") is None and proc.status_r is not None and time.monotonic() < deadline:
            proc.read_status(0.5)
        host_pid = proc.status("host_pid")
        if isinstance(host_pid, int) and host_pid > 1:
            with contextlib.suppress(OSError):
                proc.pidfd = os.pidfd_open(host_pid)

    def _serve_config(self, fd: int, cwd: str, paths: list[str], rlimits: dict) -> str:
        return json.dumps({"fd": fd, "cwd": cwd, "paths": paths, "output_bytes": self.limits.output_bytes,
                           "rlimits": rlimits})

    def _spawn_namespaces(self, proc: _Proc, staging: Path, child: socket.socket, mode: str) -> None:
        status_r, status_w = os.pipe()
        proc.status_r = status_r
        cfg = self._serve_config(child.fileno(), "/sandbox/work",
                                 [f"/sandbox/lib{i}" for i in range(len(self.extra_paths))], {})
        argv = [sys.executable, "-I", "-B", "/sandbox/server/server.py", "--serve", cfg]
        env = {**_kernel_env("/tmp"), **self.env,
               **{name: data_mount(i) for i, name in enumerate(self.data_dirs)}}
        plan = build_plan(staging, self.workdir, self.extra_paths, self.hide, self.limits, argv,
                          env, status_w, mode=mode, data_dirs=list(self.data_dirs.values()))
        sizes = [t["size"] for t in plan["tmpfs"]] + [plan["workcopy"]["size"]]
        plan["cgroup"] = self._memory_cgroup(proc, sum(int(x.removesuffix("m")) for x in sizes))
        cmd = [shutil.which("unshare") or "unshare", *(["-r"] if mode == "userns" else []), *_UNSHARE_FLAGS]
        if not self.limits.network:
            cmd.append("-n")
        self._start_supervisor(proc, cmd, plan, status_w, child)

    def _spawn_uid(self, proc: _Proc, staging: Path, child: socket.socket) -> None:
        """Separate-uid mode: the kernel runs as a uid of its own on a copy of the workdir owned by that uid;
        every hidden path is made unreadable to it first (:func:`~autograder.kernel.process.lock_down`)."""
        hidden = [*default_hidden_paths(), *_editable_targets(), *(_resolved(h) for h in self.hide)]
        work = _resolved(self.workdir)
        data = [_resolved(p) for p in self.data_dirs.values()]
        keep = [*_python_roots(hidden, []), *(_resolved(p) for p in self.extra_paths), *data, staging]
        for h in hidden:
            if h != work and _under(h, work):
                raise KernelError(f"refusing to give {work} to the student kernel: it contains the hidden path {h}")
        for d in data:
            if any(_under(h, d) for h in hidden):
                raise KernelError(f"refusing to give the data directory {d} to the student kernel: it contains a "
                                  "hidden path (the course folder, submissions, outputs or the grader's packages)")
            problem = _data_dir_problem(d)
            if problem is not None:
                raise KernelError(f"the student kernel runs under a uid of its own and must be able to read the data "
                                  f"directory {d}, and only read it: {problem}. Run chmod -R o+rX,o-w {d} (and "
                                  "o+x on its parent directories), or copy it elsewhere")
        process.lock_down(hidden, keep)
        status_r, status_w = os.pipe()
        proc.status_r = status_r
        home = staging / "home"
        rl = _rlimits(self.limits, nproc=True)
        cfg = self._serve_config(child.fileno(), str(staging / "work"), [str(p.resolve()) for p in self.extra_paths],
                                 {})
        plan = {"mode": "uid", "uid_base": SANDBOX_UID_BASE, "status_fd": status_w,
                "block_network": not self.limits.network,
                "workcopy": {"src": str(work), "dst": str(staging / "work")}, "home": str(home),
                "copy": [[str(f), str(home / ".matplotlib" / f.name)] for f in _font_caches()],
                "cgroup": self._memory_cgroup(proc, 0),
                "exec": {"argv": [sys.executable, "-I", "-B", str(staging / "server" / "server.py"),
                                  "--serve", cfg],
                         "env": self._host_env(str(home)), "cwd": str(staging / "work"), "rlimits": rl}}
        self._start_supervisor(proc, [], plan, status_w, child)
        uid = proc.status("uid")
        if isinstance(uid, int) and uid >= SANDBOX_UID_BASE:
            proc.kill_uid = uid

    def _host_env(self, home: str) -> dict[str, str]:
        """The kernel's environment where it sees the host's file system (separate uid, fallback)."""
        return {**_kernel_env(home), **self.env, **{name: str(_resolved(p)) for name, p in self.data_dirs.items()}}

    def _spawn_fallback(self, proc: _Proc, staging: Path, child: socket.socket) -> None:
        home = staging / "home"
        (home / ".matplotlib").mkdir(parents=True)
        for f in _font_caches():
            shutil.copyfile(f, home / ".matplotlib" / f.name)
        cfg = self._serve_config(child.fileno(), str(self.workdir.resolve()),
                                 [str(p.resolve()) for p in self.extra_paths], _rlimits(self.limits, nproc=False))
        # The server applies its own rlimits first thing (no preexec_fn: unsafe with threads).
        cmd = [sys.executable, "-I", "-B", str(staging / "server" / "server.py"), "--serve", cfg]
        proc.popen = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=proc.log, stderr=proc.log, cwd=self.workdir,
            env=self._host_env(str(home)), pass_fds=(child.fileno(),), start_new_session=True)

    def close(self) -> None:
        """Kill the kernel and every process it started; remove the staging dir.  Idempotent."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()  # runs _Proc.cleanup once
                self._finalizer = None
            self._proc = None
            self._released.clear()

    def restart(self) -> None:
        """Close the kernel and start a fresh one (nothing is re-run; old handles become invalid)."""
        with self._lock:
            self.close()
            self.start()

    # -- deadlines ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Bound every request made inside the ``with`` block by one shared deadline.

        Used by :func:`autograder.grade.cell.run_graded_cell` to enforce a per-test budget across
        many remote calls; nests (the earliest deadline wins).
        """
        old = self._scope_deadline
        new = time.monotonic() + seconds
        self._scope_deadline = new if old is None else min(old, new)
        try:
            yield
        finally:
            self._scope_deadline = old

    def _deadline(self, timeout: float | None) -> tuple[float, str]:
        now = time.monotonic()
        t = self.limits.cell_timeout if timeout is None else float(timeout)
        cands = [(now + t, f"did not finish within {t:g} s")]
        if self._scope_deadline is not None:
            cands.append((self._scope_deadline, "was stopped: the test's time budget ran out"))
        if self._total_deadline is not None:
            cands.append((self._total_deadline, "was stopped: the submission used up its total time budget "
                                                f"of {self.limits.total_timeout:g} s"))
        return min(cands, key=lambda c: c[0])

    # -- transport ----------------------------------------------------------------------------
    def _fail(self, exc_type: type[KernelError], message: str) -> KernelError:
        self._dead_reason = message
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        return exc_type(message)

    def _died(self, proc: _Proc) -> KernelError:
        p = proc.popen
        if p is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        proc.read_status(0.0)
        status = None
        if proc.status("setup_error") is not None:
            return self._fail(KernelError, f"the sandbox could not be set up: {proc.status('setup_error')}")
        if proc.status("signal") is not None:
            status = {"signal": proc.status("signal")}
        elif proc.status("exit") is not None:
            status = {"exit": proc.status("exit")}
        elif p is not None and p.returncode is not None and self.isolation.startswith("rlimits"):
            rc = p.returncode
            status = {"signal": -rc} if rc < 0 else {"exit": rc}
        msg = _describe_death(status, self.limits.memory_mb)
        tail = proc.log_tail()
        if tail:
            msg += f"\nlast lines it wrote:\n{tail}"
        return self._fail(KernelDied, msg)

    def _receive(self, proc: _Proc, seq: int, deadline: tuple[float, str] | float, max_bytes: int,
                 what: str) -> Any:
        dl, why = deadline if isinstance(deadline, tuple) else (deadline, "took too long")
        if proc.sock is None:  # killed (deadline, close()) since the request was sent
            raise self._died(proc)
        try:
            body = wire.recv_frame(proc.sock, dl, max_bytes)
            reply = wire.decode(body, make_handle=self._make_handle)
        except TimeoutError:
            raise self._fail(KernelTimeout, f"{what} {why}; the kernel was stopped") from None
        except (EOFError, ConnectionError):
            raise self._died(proc) from None
        except wire.WireError as exc:
            raise self._fail(ProtocolError, f"the kernel sent an invalid reply ({exc}); it was stopped") from None
        except OSError as exc:
            raise self._fail(KernelDied, f"lost the connection to the kernel ({exc})") from None
        if not isinstance(reply, dict) or reply.get("seq") != seq or not isinstance(reply.get("ok"), bool):
            raise self._fail(ProtocolError, "the kernel sent an invalid reply; it was stopped")
        if reply["ok"]:
            return reply.get("value")
        err = reply.get("error")
        if not isinstance(err, dict):
            raise self._fail(ProtocolError, "the kernel sent an invalid error reply; it was stopped")
        if err.get("kind") == "undefined" and isinstance(err.get("name"), str):
            self.student_errors.append("NameError")
            raise NotDefinedError(err["name"][:200])
        if err.get("kind") == "exception":
            fields = [err.get(k) for k in ("type", "builtin", "message", "traceback")]
            texts = [f for f in fields if isinstance(f, str)]
            if len(texts) != len(fields):
                raise self._fail(ProtocolError, "the kernel sent an invalid error reply; it was stopped")
            tname, builtin, message, tb = (f[:8000] for f in texts)
            self.student_errors.append(tname[:200])
            raise _student_error_class(builtin)(tname[:200], message, tb)
        if err.get("kind") == "too_large":
            raise KernelError(f"the value is too large to send back from the kernel ({str(err.get('message'))[:200]})")
        raise self._fail(ProtocolError, "the kernel sent an unknown error reply; it was stopped")

    def _request(self, op: str, what: str, timeout: float | None = None,
                 max_bytes: int = wire.MAX_FRAME_BYTES, **payload: Any) -> Any:
        with self._lock:
            if not self._flushing:
                self._flush_tracked()
            proc = self._proc
            if proc is None or proc.sock is None:
                raise KernelError(self._dead_reason or "the kernel is not running (start() or restart() it)")
            self._seq += 1
            seq = self._seq
            msg = {"op": op, "seq": seq, **payload}
            if self._released:
                msg["release"], self._released = self._released, []
            frame = wire.encode(msg, handle=self._encode_handle)
            deadline = self._deadline(timeout)
            try:
                wire.send_frame(proc.sock, frame, deadline[0])
            except TimeoutError:
                raise self._fail(KernelTimeout, f"{what} {deadline[1]}; the kernel was stopped") from None
            except OSError:
                raise self._died(proc) from None
            return self._receive(proc, seq, deadline, max_bytes, what)

    # -- handles ------------------------------------------------------------------------------
    def _make_handle(self, hid: int, type_name: str):
        return RemoteHandle(self, hid, type_name, self._generation)

    def _encode_handle(self, obj: Any) -> list:
        if isinstance(obj, RemoteHandle):
            kernel, hid, _t, gen = obj._remote_ref()
            if kernel is not self or gen != self._generation:
                raise KernelError("this object belonged to an earlier run of the kernel (it was restarted)")
            return ["H", hid]
        raise TypeError(f"cannot send a {type(obj).__name__} to the student kernel: only numbers, strings, "
                        "numpy arrays, lists, tuples, dicts and objects received from the kernel can be sent")

    def _release(self, generation: int, hid: int) -> None:
        """Forget a kernel-side object (called when its handle is garbage-collected)."""
        if generation == self._generation:
            self._released.append(hid)

    def _track(self, d: Any) -> None:
        key = id(d)
        tracked = self._tracked
        tracked[key] = weakref.ref(d, lambda _r: tracked.pop(key, None))

    def _flush_tracked(self) -> None:
        """Push in-place edits of arrays held in write-through dicts (see RemoteDict) to the kernel."""
        self._flushing = True
        try:
            for ref in list(self._tracked.values()):
                d = ref()
                if d is not None:
                    d._push_changes()
        finally:
            self._flushing = False

    def _wrap(self, reply: Any, keep_ref: bool) -> Any:
        if not isinstance(reply, dict) or "value" not in reply:
            raise self._fail(ProtocolError, "the kernel sent an invalid reply; it was stopped")
        value, ref = reply["value"], reply.get("ref")
        if isinstance(value, dict) and ref is not None:
            if not isinstance(ref, int) or isinstance(ref, bool):
                raise self._fail(ProtocolError, "the kernel sent an invalid reply; it was stopped")
            if keep_ref:
                return RemoteDict(value, kernel=self, ref=ref, generation=self._generation)
            self._released.append(ref)
        elif ref is not None and isinstance(ref, int):
            self._released.append(ref)
        return value

    # -- public operations --------------------------------------------------------------------
    def run_cell(self, source: str, timeout: float | None = None) -> CellResult:
        """Run one cell of student code; never raises for student or kernel failures.

        Parameters
        ----------
        source : str
            Cell source (IPython syntax: magics, ``!`` lines...).
        timeout : float, optional
            Seconds; default ``limits.cell_timeout`` (also capped by the total budget).

        Returns
        -------
        CellResult
            ``status`` ``"timeout"``/``"died"`` means the kernel is stopped (``alive`` is False);
            the pipeline may :meth:`restart` it and re-run earlier cells.
        """
        t0 = time.monotonic()
        cap = 2 * self.limits.output_bytes + (1 << 20)
        try:
            value = self._request("run_cell", "your cell", timeout, max_bytes=cap, source=str(source))
        except KernelTimeout as exc:
            return CellResult("timeout", [], str(exc), time.monotonic() - t0)
        except (KernelDied, ProtocolError) as exc:
            return CellResult("died", [], str(exc), time.monotonic() - t0)
        except KernelError as exc:
            return CellResult("died", [], str(exc), time.monotonic() - t0)
        outputs, status, error = _check_cell_reply(value)
        if outputs is None:
            self._fail(ProtocolError, "the kernel sent an invalid cell result; it was stopped")
            return CellResult("died", [], "the kernel sent an invalid cell result", time.monotonic() - t0)
        return CellResult(status, outputs, error, time.monotonic() - t0)

    def get(self, name: str, timeout: float | None = None) -> Any:
        """The kernel's global ``name``: plain data (a copy) or a :class:`~autograder.kernel.handles.RemoteHandle`.

        Raises :class:`NotDefinedError` (a ``NameError``) when the notebook does not define it.
        """
        return self._wrap(self._request("get", f"reading `{name}`", timeout, name=str(name)), keep_ref=False)

    def call(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a kernel-side callable and return its result (data or handles).

        Parameters
        ----------
        target : str or RemoteHandle
            A global name, optionally with an attribute path (``"model.loss"``), or a handle.
        *args, **kwargs
            Plain data or handles.  The student's function receives fresh copies of every argument
            (never a grader object).  After the call the new state of each top-level ``dict``
            argument is copied into the caller's dict (so ``bn_param["running_mean"]`` written by
            the student appears in the dict the caller passed; see
            :func:`autograder.kernel.handles.sync_back`); nothing else is written back.

        The timeout is ``limits.cell_timeout`` within the current :meth:`time_limit` scope.
        Raises :class:`~autograder.kernel.errors.StudentError` (mixed with the built-in class) if the student
        code raises.
        """
        if not isinstance(target, (str, RemoteHandle)):
            raise TypeError("call() target must be a global name or a RemoteHandle")
        what = f"calling {describe(target)}"
        reply = self._request("call", what, None, target=target, args=list(args), kwargs=dict(kwargs))
        if (not isinstance(reply, dict) or "value" not in reply or not isinstance(reply.get("args"), list)
                or len(reply["args"]) != len(args) or not isinstance(reply.get("kwargs"), dict)):
            raise self._fail(ProtocolError, "the kernel sent an invalid call result; it was stopped")
        for orig, new in [*zip(args, reply["args"]), *((v, reply["kwargs"].get(k)) for k, v in kwargs.items())]:
            sync_back(orig, new)
        return reply["value"]

    def remote_import(self, module: str) -> Any:
        """Import ``module`` in the kernel and return a handle to it."""
        return self._wrap(self._request("import", f"importing {module}", None, module=str(module)),
                          keep_ref=False)

    def ping(self, timeout: float = 10.0) -> bool:
        """True if the kernel answers within ``timeout`` seconds (a stuck kernel is killed)."""
        try:
            return self._request("ping", "ping", timeout) == "pong"
        except KernelError:
            return False

    # used by RemoteHandle / RemoteDict
    def _getattr(self, obj: Any, name: str) -> Any:
        return self._wrap(self._request("getattr", f"reading {describe(obj)}.{name}", None, obj=obj, name=name),
                          keep_ref=True)

    def _setattr(self, obj: Any, name: str, value: Any) -> None:
        self._request("setattr", f"setting {describe(obj)}.{name}", None, obj=obj, name=name, value=value)

    def _getitem(self, obj: Any, key: Any) -> Any:
        return self._wrap(self._request("getitem", f"reading {describe(obj)}[{key!r}]", None, obj=obj, key=key),
                          keep_ref=True)

    def _setitem(self, obj: Any, key: Any, value: Any) -> None:
        self._request("setitem", f"setting {describe(obj)}[{key!r}]", None, obj=obj, key=key, value=value)

    def _delitem(self, obj: Any, key: Any) -> None:
        self._request("delitem", f"deleting {describe(obj)}[{key!r}]", None, obj=obj, key=key)


_OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}


def _check_cell_reply(value: Any) -> tuple[list[dict] | None, str, str | None]:
    """Validate a run_cell reply into (outputs, status, error); outputs None if malformed."""
    if not isinstance(value, dict) or value.get("status") not in ("ok", "error"):
        return None, "", None
    outputs = value.get("outputs")
    error = value.get("error")
    if not isinstance(outputs, list) or not (error is None or isinstance(error, str)):
        return None, "", None
    clean: list[dict] = []
    for out in outputs:
        if not isinstance(out, dict) or out.get("output_type") not in _OUTPUT_TYPES:
            return None, "", None
        kind = out["output_type"]
        if kind == "stream":
            if out.get("name") not in ("stdout", "stderr") or not isinstance(out.get("text"), str):
                return None, "", None
            clean.append({"output_type": kind, "name": out["name"], "text": out["text"]})
        elif kind == "error":
            tb = out.get("traceback")
            if (not isinstance(out.get("ename"), str) or not isinstance(out.get("evalue"), str)
                    or not isinstance(tb, list) or not all(isinstance(t, str) for t in tb)):
                return None, "", None
            clean.append({"output_type": kind, "ename": out["ename"], "evalue": out["evalue"], "traceback": tb})
        else:
            data, md = out.get("data"), out.get("metadata", {})
            if (not isinstance(data, dict) or not isinstance(md, dict)
                    or not all(isinstance(v, (str, dict, list)) for v in data.values())):
                return None, "", None
            item = {"output_type": kind, "data": data, "metadata": md}
            if kind == "execute_result":
                count = out.get("execution_count")
                item["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
            clean.append(item)
    return clean, value["status"], (error[:2000] if error else None)
