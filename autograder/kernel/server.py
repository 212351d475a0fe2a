"""The program that runs inside the sandbox: a minimal IPython kernel with a narrow RPC interface.

It is started by :class:`autograder.kernel.client.StudentKernel` from a private copy of this
file (next to a copy of ``wire.py``), so it imports only the standard library at
module level; numpy and IPython are imported in :func:`serve`.

Two modes:

``server.py --init PLAN``
    The supervisor of the isolated modes (``PLAN["mode"]``, see :mod:`autograder.kernel`):

    * ``"namespaces"``: runs as root and as pid 1 of a fresh pid namespace (started by
      ``unshare -m -n -p -f``).  Builds the sandbox file system described by the JSON ``PLAN`` (an
      empty tmpfs root, the fresh ``/tmp`` first, then read-only binds of the system and Python
      directories and the extra library dirs -- also those under ``/tmp`` --, a tmpfs copy of the
      workdir, empty tmpfs over hidden paths; every tmpfs capped in bytes and inodes), chroots into
      it, then forks the kernel: the child applies the resource limits, drops every capability,
      switches to the sandbox's own uid/gid (``uid_base`` + its host pid) with
      ``PR_SET_NO_NEW_PRIVS`` and execs ``--serve``.
    * ``"userns"``: the same, started by an ordinary user with ``unshare -r`` (root of a new user
      namespace, mapped to the invoking user).  Only uid 0 exists there, so the kernel stays uid 0
      of the user namespace and loses every capability instead (bounding, ambient, permitted,
      effective and inheritable sets cleared, ``SECBIT_NOROOT`` locked, ``PR_SET_NO_NEW_PRIVS``).
    * ``"uid"``: no namespaces (a container without ``CAP_SYS_ADMIN``): runs as root, copies the
      workdir to a directory owned by the sandbox's uid and starts the kernel there under that uid;
      the grader has made every secret unreadable to that uid beforehand, and (unless the network is
      allowed) a seccomp filter lets it create Unix sockets only.  When the kernel ends, every process
      of that uid is killed.

    The supervisor joins ``PLAN["cgroup"]`` (one memory limit for all its processes) when given,
    reaps orphans and, when the kernel exits, reports its wait status as one JSON
    line on the status fd and exits, which makes the kernel (Linux) kill every
    remaining process of the namespace. It also exits when the grader is gone (the
    status pipe's read end closed): a killed grading run leaves no kernel behind.

``server.py --serve CONFIG``
    The kernel proper: an IPython ``InteractiveShell`` whose output is captured
    (``stream``, ``display_data`` with ``image/png`` for matplotlib figures,
    ``execute_result``, ``error``), serving framed requests (see ``wire.py``) on a
    dedicated socket fd.  Requests are dicts ``{"op", "seq", ...}``; replies are
    ``{"seq", "ok": True, "value"...}`` or ``{"seq", "ok": False, "error": {...}}``.
    Ops: ``ping``, ``run_cell``, ``get``, ``call``, ``getattr``, ``setattr``,
    ``getitem``, ``setitem``, ``delitem``, ``import``.  Any request may carry
    ``release`` (handle ids the grader no longer uses).

Student code in the kernel can tamper with all of this; verdicts are computed in the
grader, which treats every byte it receives as hostile.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import sys

__all__ = ["apply_rlimits", "main", "serve", "supervise"]

RLIMITS = {
    "AS": resource.RLIMIT_AS,
    "FSIZE": resource.RLIMIT_FSIZE,
    "NOFILE": resource.RLIMIT_NOFILE,
    "CORE": resource.RLIMIT_CORE,
    "NPROC": resource.RLIMIT_NPROC,
    "CPU": resource.RLIMIT_CPU,
}


def apply_rlimits(limits: dict[str, int]) -> None:
    """Set soft = hard resource limits, e.g. ``{"AS": 4 << 30, "CORE": 0}`` (names as in :data:`RLIMITS`)."""
    for name, value in limits.items():
        resource.setrlimit(RLIMITS[name], (int(value), int(value)))


# ---------------------------------------------------------------------------------------------
# --init: supervisor, root, pid 1 of the new pid namespace

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_SET_SECUREBITS, PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 28, 36, 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
#: SECBIT_NOROOT, its lock, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE and its lock: uid 0 gains nothing on exec.
SECURE_NOROOT = 1 | 2 | 32 | 64 | 128
#: statvfs flag -> mount flag; a bind remount in a user namespace must keep the flags the source has.
_KEPT_FLAGS = ((os.ST_RDONLY, MS_RDONLY), (os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
               (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
               (os.ST_RELATIME, MS_RELATIME))


def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return ctypes, libc


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    ctypes, libc = _libc()
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    if libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} -> {dst} ({fstype}): {os.strerror(err)}")


def _prctl(option: int, arg: int) -> int:
    ctypes, libc = _libc()
    return libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _tmpfs_options(t: dict) -> str:
    """``size=...,nr_inodes=...,mode=...``: every tmpfs is capped in bytes and in inodes (an inode costs kernel
    memory that no byte limit counts)."""
    return f"size={t['size']},nr_inodes={t['inodes']},mode={t['mode']}"


def _kept_flags(path: str) -> int:
    """The mount flags ``path`` has now (a user namespace may not clear them on a bind remount)."""
    got = os.statvfs(path).f_flag
    return sum(ms for st, ms in _KEPT_FLAGS if got & st)


def _copy_workdir(src: str, dst: str, owner: int) -> None:
    """Copy the workdir to ``dst`` and give the copy to uid/gid ``owner``."""
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    os.lchown(dst, owner, owner)
    for dirpath, dirnames, filenames in os.walk(dst):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), owner, owner)


def _copy_files(pairs: list, owner: int) -> None:
    for src, dst in pairs:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fout.write(fin.read())
        os.chown(os.path.dirname(dst), owner, owner)
        os.chown(dst, owner, owner)


def _build_root(plan: dict, owner: int) -> None:
    """Mount the sandbox file system under ``plan["newroot"]`` (runs in the new mount namespace); the
    workdir copy and the copied files belong to uid/gid ``owner``."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = plan["newroot"]
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,nr_inodes=4096,mode=755")
    for d in plan["dirs"]:
        os.makedirs(_inside(root, d), mode=0o755, exist_ok=True)
    for link, target in plan["symlinks"]:
        os.makedirs(os.path.dirname(_inside(root, link)), exist_ok=True)
        os.symlink(target, _inside(root, link))
    # The fresh /tmp (and /dev/shm) first, the binds after: a venv or project under /tmp stays visible.
    for t in plan["tmpfs"]:
        dst = _inside(root, t["dst"])
        os.makedirs(dst, exist_ok=True)
        _mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, _tmpfs_options(t))
    for b in plan["binds"]:
        dst = _inside(root, b["dst"])
        if b.get("file"):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "a").close()
        else:
            os.makedirs(dst, exist_ok=True)
        _mount(b["src"], dst, None, MS_BIND | MS_REC)
        flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (MS_RDONLY if b["ro"] else 0) | (0 if b.get("dev") else MS_NODEV)
        _mount(None, dst, None, flags | _kept_flags(dst))
    for h in plan["hide"]:
        dst = _inside(root, h)
        if os.path.isdir(dst) and not os.path.islink(dst):
            _mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k,mode=555")
        elif os.path.lexists(dst):
            _mount("/dev/null", dst, None, MS_BIND)
    work = plan.get("workcopy")
    if work:  # a private, size-capped, writable copy of the workdir: the host disk is never written
        dst = _inside(root, work["dst"])
        os.makedirs(dst, exist_ok=True)
        _mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, _tmpfs_options({**work, "mode": "755"}))
        _copy_workdir(work["src"], dst, owner)
    _copy_files([[src, _inside(root, dst)] for src, dst in plan.get("copy", [])], owner)
    os.makedirs(_inside(root, "/proc"), exist_ok=True)
    _mount("proc", _inside(root, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_privileges(uid: int, gid: int) -> None:
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0:
            break  # EINVAL past the last capability
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop privileges")


def _drop_capabilities() -> None:
    """User-namespace mode: stay uid 0 of the namespace (the only uid it maps) but keep no capability."""
    ctypes, libc = _libc()
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0:
            break
    if _prctl(PR_SET_SECUREBITS, SECURE_NOROOT) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECUREBITS) failed")
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), ctypes.c_ulong(0), ctypes.c_ulong(0),
               ctypes.c_ulong(0))
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2 words): all empty
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, _, v in (line.partition(":") for line in f) if k.startswith("Cap")}
    if any(int(v, 16) for v in caps.values() if v):
        raise OSError(f"capabilities left after dropping them: {caps}")


#: machine -> (AUDIT_ARCH_*, __NR_socket, __NR_io_uring_setup) for the no-network seccomp filter.
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}


def _block_network() -> None:
    """Separate-uid mode (no network namespace): a seccomp filter lets ``socket()`` create Unix sockets only.

    ``io_uring_setup`` (which can create sockets too) fails with ENOSYS; on x86_64 the x32 system call
    numbers are refused. Installed after ``PR_SET_NO_NEW_PRIVS``; inherited by every child, irrevocable.
    """
    import ctypes  # a module name the type checker can resolve (ctypes.Structure subclasses below)
    import errno
    import platform

    _, libc = _libc()
    machine = platform.machine()
    if machine not in _SECCOMP_ARCH:
        raise OSError(f"no seccomp network filter for {machine}: cannot block the network here")
    arch, nr_socket, nr_io_uring = _SECCOMP_ARCH[machine]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, kill, err = 0x7FFF0000, 0x80000000, 0x00050000  # SECCOMP_RET_*
    prog = [  # (code, jt, jf, k); a jump goes to the next instruction + jt (true) or + jf (false)
        (ld, 0, 0, 4),                          # 0  A = arch
        (jeq, 1, 0, arch),                      # 1  known arch -> 3
        (ret, 0, 0, kill),                      # 2
        (ld, 0, 0, 0),                          # 3  A = syscall number
        (jge, 4, 0, 0x40000000),                # 4  x32 ABI -> 9
        (jeq, 4, 0, nr_socket),                 # 5  socket -> 10
        (jeq, 1, 0, nr_io_uring),               # 6  io_uring_setup -> 8
        (ret, 0, 0, allow),                     # 7
        (ret, 0, 0, err | errno.ENOSYS),        # 8
        (ret, 0, 0, err | errno.EPERM),         # 9
        (ld, 0, 0, 16),                         # 10 A = args[0] (the address family, low 32 bits)
        (jeq, 0, 1, 1),                         # 11 AF_UNIX -> 12, else 13
        (ret, 0, 0, allow),                     # 12
        (ret, 0, 0, err | errno.EACCES),        # 13
    ]

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    filters = (SockFilter * len(prog))(*(SockFilter(*ins) for ins in prog))
    fprog = SockFprog(len(prog), filters)
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def _kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (separate-uid mode: no pid namespace ends them for us)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal: its own, but not this one
        except BaseException:  # noqa: BLE001 - nothing left to kill
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def supervise(plan: dict) -> None:
    """Entry point of the isolated modes: build the sandbox, start the kernel, wait, report, exit."""
    status_fd = plan["status_fd"]
    mode = plan.get("mode", "namespaces")

    def report(obj: dict) -> None:
        try:
            os.write(status_fd, (json.dumps(obj) + "\n").encode())
        except OSError:
            pass

    if mode == "uid":  # no pid namespace: adopt the orphans, and end them all ourselves (finish)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    else:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The host's /proc is still mounted here: /proc/self names our pid as the grader sees it. That pid is
    # unique on the host while this sandbox lives, and so is the kernel's uid derived from it.
    host_pid = int(os.readlink("/proc/self"))
    uid = 0 if mode == "userns" else plan["uid_base"] + host_pid
    report({"host_pid": host_pid, "uid": uid})
    try:
        if plan.get("cgroup"):  # before any fork: every process of the sandbox shares one memory limit
            with open(os.path.join(plan["cgroup"], "cgroup.procs"), "w") as f:
                f.write("0")
        if mode == "uid":
            _copy_workdir(plan["workcopy"]["src"], plan["workcopy"]["dst"], uid)
            os.makedirs(plan["home"], mode=0o700)
            os.chown(plan["home"], uid, uid)
            _copy_files(plan.get("copy", []), uid)
        else:
            _build_root(plan, uid)
            os.chroot(plan["newroot"])
            os.chdir("/")
    except Exception as exc:  # noqa: BLE001 - reported to the grader, then exit
        report({"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(70)
    ex = plan["exec"]
    pid = os.fork()
    if pid == 0:
        try:
            os.close(status_fd)
            os.setsid()
            apply_rlimits(ex["rlimits"])
            if mode == "userns":
                _drop_capabilities()
            else:
                _drop_privileges(uid, uid)
            if plan.get("block_network"):
                _block_network()
            os.chdir(ex["cwd"])
            os.execve(ex["argv"][0], ex["argv"], ex["env"])
        except BaseException as exc:  # noqa: BLE001
            os.write(2, f"sandbox: cannot start the kernel: {exc}\n".encode())
        os._exit(71)

    def finish() -> None:
        if mode == "uid":
            _kill_uid(uid)
        os._exit(0)

    # Wait for the kernel (reaping orphans), and also for the grader: when it is gone (killed), the read
    # end of the status pipe closes (POLLERR on our end) and the sandbox ends, instead of a kernel stuck in
    # a loop running on until its CPU limit.
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    poller = select.poll()
    poller.register(wake_r, select.POLLIN)
    poller.register(status_fd, 0)  # POLLERR and POLLHUP are always reported
    while True:
        while True:
            try:
                done, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                finish()
            if done == 0:
                break
            if done == pid:
                if os.WIFSIGNALED(status):
                    report({"signal": os.WTERMSIG(status)})
                else:
                    report({"exit": os.WEXITSTATUS(status)})
                finish()
        for fd, _events in poller.poll():
            if fd == status_fd:
                finish()
            while True:
                try:
                    if not os.read(wake_r, 4096):
                        break
                except BlockingIOError:
                    break


# ---------------------------------------------------------------------------------------------
# --serve: the kernel


class _Capture:
    """Collects the outputs of one cell (or call) as nbformat v4 dicts, capped in size."""

    def __init__(self, cap: int):
        self.cap = cap
        self.size = 0
        self.dropped = 0
        self.outputs: list[dict] = []

    def _room(self, n: int) -> int:
        room = max(0, self.cap - self.size)
        if n > room:
            self.dropped += n - room
        return min(n, room)

    def stream(self, name: str, text: str) -> None:
        k = self._room(len(text))
        if k <= 0:
            return
        text = text[:k]
        self.size += k
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, output: dict, size: int) -> None:
        if self._room(size) < size:
            return
        self.size += size
        self.outputs.append(output)

    def finish(self) -> list[dict]:
        if self.dropped:
            self.outputs.append({"output_type": "stream", "name": "stderr",
                                 "text": f"\n[output truncated: {self.dropped} more characters not shown]\n"})
        return self.outputs


def _data_size(data: dict) -> int:
    return sum(len(v) if isinstance(v, (str, bytes)) else len(repr(v)) for v in data.values())


class _Server:
    def __init__(self, cfg: dict):
        import importlib.util
        import io
        import socket

        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location("_autograder_wire", os.path.join(here, "wire.py"))
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load the wire protocol module {os.path.join(here, 'wire.py')}")
        self.wire = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = self.wire
        spec.loader.exec_module(self.wire)

        self.sock = socket.socket(fileno=cfg["fd"])
        self.cap = int(cfg["output_bytes"])
        self.server_file = os.path.abspath(__file__)
        self.handles: dict[int, object] = {}
        self.next_id = 1
        self.capture = _Capture(self.cap)
        self._io = io

        self.plt = None
        sys.meta_path.insert(0, _PyplotHook(self._patch_pyplot))  # matplotlib is imported lazily
        self.shell = self._make_shell()

    def _patch_pyplot(self, plt) -> None:
        """Called once ``matplotlib.pyplot`` is imported: Agg backend, ``plt.show`` captures PNGs."""
        plt.switch_backend("Agg")

        def show(*args, **kwargs):
            """Capture the open figures now (replaces ``plt.show``; figures also appear after each cell)."""
            self._flush_figures()

        plt.show = show
        self.plt = plt

    # -- IPython ----------------------------------------------------------------------------
    def _make_shell(self):
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets import Type
        from traitlets.config import Config

        server = self

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
                out = {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})}
                server.capture.rich(out, _data_size(data))

            def clear_output(self, wait=False):
                server.capture.outputs.clear()

        class Hook(DisplayHook):
            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                out = {"output_type": "execute_result", "execution_count": self.prompt_count,
                       "data": dict(format_dict), "metadata": dict(md_dict or {})}
                server.capture.rich(out, _data_size(format_dict))

            def finish_displayhook(self):
                pass

        class Shell(InteractiveShell):
            displayhook_class = Type(Hook)
            display_pub_class = Type(Publisher)

            def ask_exit(self):
                """``exit()``/``quit()`` in a cell: ignored, the kernel keeps serving."""

            def _showtraceback(self, etype, evalue, stb):
                name = getattr(etype, "__name__", "Error")
                try:
                    value = str(evalue)
                except Exception:  # noqa: BLE001 - a student exception whose __str__ fails
                    value = "<unprintable>"
                out = {"output_type": "error", "ename": name, "evalue": value, "traceback": list(stb)}
                server.capture.rich(out, sum(len(s) for s in stb) + len(value))
                server.last_error = f"{name}: {value}"

        c = Config()
        c.HistoryManager.enabled = False
        c.InteractiveShell.colors = "NoColor"
        c.InteractiveShell.autocall = 0
        c.InteractiveShell.xmode = "Context"
        shell = Shell.instance(config=c)
        shell.register_magic_function(self._matplotlib_magic, "line", "matplotlib")
        return shell

    def _matplotlib_magic(self, line: str = "") -> None:
        """``%matplotlib [inline]``: figures are always captured as PNG after each cell."""

    def _flush_figures(self) -> None:
        import base64

        plt = self.plt
        if plt is None:
            return
        for num in plt.get_fignums():
            fig = plt.figure(num)
            buf = self._io.BytesIO()
            try:
                fig.savefig(buf, format="png", bbox_inches="tight")
            except Exception as exc:  # noqa: BLE001 - a broken figure is the student's error
                self.capture.stream("stderr", f"could not draw figure {num}: {exc}\n")
                continue
            png = base64.b64encode(buf.getvalue()).decode("ascii")
            w, h = fig.get_size_inches() * fig.dpi
            text = f"<Figure size {w:g}x{h:g} with {len(fig.axes)} Axes>"
            self.capture.rich({"output_type": "display_data",
                               "data": {"image/png": png, "text/plain": text}, "metadata": {}}, len(png))
        plt.close("all")

    # -- captured execution -----------------------------------------------------------------
    def _captured(self, fn):
        server = self

        class Stream(self._io.TextIOBase):
            def __init__(self, name):
                self.name = name

            def write(self, s):
                if not isinstance(s, str):
                    raise TypeError(f"write() argument must be str, not {type(s).__name__}")
                server.capture.stream(self.name, s)
                return len(s)

            def writable(self):
                return True

            @property
            def encoding(self):
                return "utf-8"

        self.capture = _Capture(self.cap)
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
        try:
            return fn()
        finally:
            sys.stdout, sys.stderr = old

    def op_run_cell(self, req):
        self.last_error = None

        def run():
            result = self.shell.run_cell(req["source"], store_history=True)
            try:
                self._flush_figures()
            except Exception as exc:  # noqa: BLE001
                self.capture.stream("stderr", f"could not capture figures: {exc}\n")
            return result

        result = self._captured(run)
        ok = result.success
        error = None
        if not ok:
            exc = result.error_before_exec or result.error_in_exec
            error = self.last_error or (f"{type(exc).__name__}: {exc}" if exc is not None else "error")
        return {"status": "ok" if ok else "error", "outputs": self.capture.finish(), "error": error}

    # -- object access ----------------------------------------------------------------------
    def _handle(self, obj) -> list:
        hid = self.next_id
        self.next_id += 1
        self.handles[hid] = obj
        return ["H", hid, type(obj).__qualname__ if isinstance(type(obj).__qualname__, str) else "object"]

    def _value(self, obj) -> dict:
        """Reply payload for a looked-up value: the data, plus a reference if it is a dict."""
        ref = None
        if isinstance(obj, dict):
            ref = self._handle(obj)[1]
        return {"value": obj, "ref": ref}

    def _lookup(self, name: str):
        ns = self.shell.user_ns
        if not isinstance(name, str) or not name:
            raise _Undefined(str(name))
        head, *rest = name.split(".")
        if head not in ns:
            raise _Undefined(head)
        obj = ns[head]
        for part in rest:
            obj = getattr(obj, part)
        return obj

    def _target(self, t):
        return self._lookup(t) if isinstance(t, str) else t

    def op_get(self, req):
        return self._value(self._lookup(req["name"]))

    def op_call(self, req):
        fn = self._target(req["target"])
        args, kwargs = list(req.get("args", [])), dict(req.get("kwargs", {}))
        value = self._captured(lambda: fn(*args, **kwargs))
        # dict/list arguments go back so the grader can apply the student's in-place changes
        return {"value": value, "args": [_mutable_or_none(a) for a in args],
                "kwargs": {k: _mutable_or_none(v) for k, v in kwargs.items()}}

    def op_getattr(self, req):
        return self._value(getattr(self._target(req["obj"]), req["name"]))

    def op_setattr(self, req):
        setattr(self._target(req["obj"]), req["name"], req["value"])
        return None

    def op_getitem(self, req):
        return self._value(self._target(req["obj"])[req["key"]])

    def op_setitem(self, req):
        self._target(req["obj"])[req["key"]] = req["value"]
        return None

    def op_delitem(self, req):
        del self._target(req["obj"])[req["key"]]
        return None

    def op_import(self, req):
        import importlib

        return {"value": importlib.import_module(req["module"]), "ref": None}

    def op_ping(self, req):
        return "pong"

    # -- loop -------------------------------------------------------------------------------
    def _error(self, exc: BaseException) -> dict:
        import traceback

        if isinstance(exc, _Undefined):
            return {"kind": "undefined", "name": exc.name}
        builtin = "Exception"
        for klass in type(exc).__mro__:
            if klass.__module__ == "builtins" and issubclass(klass, Exception):
                builtin = klass.__name__
                break
        if not isinstance(exc, Exception):
            builtin = "BaseException"
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001
            message = "<unprintable>"
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != self.server_file]
        tb = "".join(traceback.format_list(frames))
        return {"kind": "exception", "type": type(exc).__name__, "builtin": builtin,
                "message": message[:4000], "traceback": tb[-8000:]}

    def _send(self, obj) -> None:
        wire = self.wire
        try:
            frame = wire.encode(obj, handle=self._handle)
        except (wire.FrameTooLarge, wire.NotPlainData) as exc:
            frame = wire.encode({"seq": obj.get("seq"), "ok": False,
                                 "error": {"kind": "too_large", "message": str(exc)}})
        wire.send_frame(self.sock, frame)

    def loop(self) -> None:
        wire = self.wire
        self._send({"seq": 0, "ok": True, "value": {"hello": "autograder-kernel", "pid": os.getpid(),
                                                      "uid": os.getuid()}})
        while True:
            try:
                body = wire.recv_frame(self.sock)
            except (EOFError, OSError):
                return
            req = wire.decode(body, make_handle=lambda hid, _t: self.handles.get(hid, _Stale(hid)))
            for hid in req.get("release", ()):
                self.handles.pop(hid, None)
            op = getattr(self, "op_" + str(req.get("op")), None)
            try:
                for v in (req.get("obj"), req.get("target")):
                    if isinstance(v, _Stale):
                        raise LookupError("this object no longer exists in the kernel")
                if op is None:
                    raise ValueError(f"unknown op {req.get('op')!r}")
                reply = {"seq": req.get("seq"), "ok": True, "value": op(req)}
            except BaseException as exc:  # noqa: BLE001 - everything is reported to the grader
                reply = {"seq": req.get("seq"), "ok": False, "error": self._error(exc)}
            self._send(reply)


def _mutable_or_none(v):
    return v if isinstance(v, (dict, list)) else None


class _PyplotHook:
    """Meta-path finder that runs ``on_import(module)`` right after ``matplotlib.pyplot`` loads."""

    def __init__(self, on_import):
        self.on_import = on_import

    def find_spec(self, name, path, target=None):
        if name != "matplotlib.pyplot":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        exec_module = spec.loader.exec_module
        on_import = self.on_import

        def exec_and_patch(module):
            exec_module(module)
            on_import(module)

        spec.loader.exec_module = exec_and_patch
        return spec


class _Undefined(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _Stale:
    def __init__(self, hid: int):
        self.hid = hid


def serve(cfg: dict) -> None:
    """Serve-mode entry point (see the module docstring)."""
    import faulthandler

    apply_rlimits(cfg.get("rlimits", {}))  # fallback mode; in namespace mode the supervisor did it
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past RLIMIT_FSIZE fails instead of killing
    faulthandler.enable()
    os.chdir(cfg["cwd"])
    sys.path[:0] = [*cfg["paths"], cfg["cwd"]]
    sys.argv = ["kernel"]
    _Server(cfg).loop()


def main(argv: list[str]) -> None:
    """Dispatch ``--init PLAN`` / ``--serve CONFIG`` (JSON strings, or ``@file`` holding one)."""
    if len(argv) != 3 or argv[1] not in ("--init", "--serve"):
        sys.exit("usage: server.py --init PLAN | --serve CONFIG")
    arg = argv[2]
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            arg = f.read()
    cfg = json.loads(arg)
    if argv[1] == "--init":
        supervise(cfg)
    else:
        serve(cfg)


if __name__ == "__main__":
    main(sys.argv)
