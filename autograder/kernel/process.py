"""The student kernel's process: isolation modes, memory cgroups, permissions, and the OS resources of one kernel.

:class:`autograder.kernel.client.StudentKernel` starts ``server.py`` (an IPython shell serving framed,
pickle-free requests, see :mod:`autograder.kernel.wire`) in the strongest sandbox this machine allows
(:func:`isolation_support`) and talks to it over a dedicated Unix socket; the sandbox's file system and
limits are planned in :mod:`autograder.kernel.plan`.

Isolation modes (:func:`isolation_support` picks the strongest; :attr:`StudentKernel.isolation` names it)
------------------------------------------------------------------------------------------------------------
=================== ==================================================== =========================================
mode                where                                                how
=================== ==================================================== =========================================
``namespaces``      root on Linux with a working ``unshare``             namespaces + allow-list chroot + own uid
``user namespaces`` an ordinary user on Linux whose ``unshare -r`` works the same inside a user namespace
                    (laptops, JupyterHub)                                (uid 0 there, without any capability)
``separate uid``    root without namespaces: a container without         own uid, secrets unreadable by file
                    ``CAP_SYS_ADMIN`` (Docker's default, Gradescope)      permissions, seccomp: no network
``rlimits only``    nothing isolates (no namespaces for an ordinary       trusted notebooks only: the grader
                    user, macOS) or ``isolate=False``                     refuses others (:func:`require_isolation`)
=================== ==================================================== =========================================

Namespace mode
--------------
The kernel runs under ``unshare -m -p -f -i -u --kill-child [-n]``: new mount, pid, IPC, UTS and (unless
``Limits.network``) network namespaces -- the network namespace has only a loopback device
that is down, so no connection of any kind is possible.  Pid 1 of the new namespace is a
small root supervisor (``server.py --init``) that builds an *allow-list* file system
on an empty tmpfs and chroots into it:

* read-only, nosuid: ``/usr`` and ``/etc`` (and ``/bin``, ``/lib``... or their symlinks),
  the Python installation (``sys.prefix``, ``sys.base_prefix``; a venv inside the hidden
  repository is bound back, since it holds no secrets) and the site dirs and ``.pth`` entries
  on the grader's ``sys.path`` that are not hidden (never the repository, pytest's rootdir or
  other ad-hoc entries);
* ``/sandbox/work``: a private copy of the workdir on a size-capped tmpfs (owned by the kernel's
  uid, the kernel's cwd): the student can write there, but nothing reaches the host's disk and the
  caller's workdir is left untouched;
* ``/sandbox/lib0``, ``/sandbox/lib1``...: the ``extra_paths``, read-only, first on ``sys.path``;
* ``/sandbox/data0``, ``/sandbox/data1``...: the ``data_dirs`` (e.g. the instructor's CIFAR-10), read-only,
  each named to the kernel by its environment variable;
* ``/sandbox/server``: a private copy of ``server.py`` and ``wire.py``, read-only;
* fresh ``/proc`` (only the sandbox's processes), fresh size-capped tmpfs ``/tmp`` and ``/dev/shm``,
  ``/dev/{null,zero,full,random,urandom}``.

Nothing else exists inside: not the course repository, ``/root``, ``/home``, the host's
``/tmp`` (other users' and other submissions' files), ``/work``, ``/srv``...  Paths that must
stay unreadable although they lie inside a bound directory are covered with an empty
read-only tmpfs (or ``/dev/null`` for files): the repository root (computed from
``autograder.__file__``), the installed ``autograder`` and ``course_lib`` packages wherever
they are (including ``site-packages``), Jupyter config dirs, and the caller's ``hide`` paths.
The supervisor then forks the kernel, which sets the rlimits, drops all capabilities (and
the bounding set), switches to a uid/gid of its own
(:data:`~autograder.kernel.plan.SANDBOX_UID_BASE` plus the supervisor's
host pid, so no two live sandboxes share one) with ``no_new_privs`` and execs
``server.py --serve``.  Killing pid 1 (the grader does, with a pidfd) ends every
process of the namespace, including background processes the student started; pid 1 also ends by
itself when the grader's process dies (a killed grading run leaves no kernel behind).
The fresh ``/tmp`` is mounted before the binds, so a project, venv or workdir under ``/tmp`` is bound
on top of it and stays visible: the grader runs from any folder.

User-namespace mode (an ordinary user)
--------------------------------------
The same plan, started with ``unshare -r`` in front (a new user namespace whose uid 0 is the invoking
user): the supervisor is root of that namespace, which is enough to mount the tmpfs, bind, chroot and mount
``/proc`` (bind remounts keep the flags the host mount has, as the kernel requires there).  Only uid 0 is
mapped, so the kernel cannot switch to a uid of its own; it stays uid 0 of the namespace and drops every
capability instead (bounding and ambient sets, then permitted/effective/inheritable through ``capset``,
with ``SECBIT_NOROOT`` locked so that exec gains none back, and ``no_new_privs``).  Without
``CAP_SYS_ADMIN`` it cannot unmount the empty tmpfs over hidden paths, and mounts made in a namespace it
could create itself are locked.  ``RLIMIT_NPROC`` counts per user namespace and uid (Linux >= 5.14).

Separate-uid mode (root in a container without ``CAP_SYS_ADMIN`` or namespaces)
---------------------------------------------------------------------------------
No mount namespace, so the kernel sees the container's file system.  The supervisor (root) copies the
workdir to ``<staging>/work`` owned by ``SANDBOX_UID_BASE + its pid`` and starts the kernel there under that
uid (no groups, no capabilities, ``no_new_privs``); ``HOME`` and ``TMPDIR`` are a private directory.  The
``data_dirs`` are used where they are: they must be readable and not writable by that uid (others'
permission bits, every parent directory enterable), else the kernel does not start and the error says what
to change.  Before
that, :func:`lock_down` makes every hidden path (course folder, installed/editable grader and library
packages, submissions, outputs, the caller's ``hide``) unreadable to other uids (``chmod go-rwx``; a venv
inside the course folder stays reachable, its siblings do not); the grader's own scratch directories are
``0700``.  A seccomp filter lets the kernel create Unix sockets only (no network).  When the kernel ends or
is killed, every process of its uid is killed.  Not confined: what every uid may read in the container
(system files), the host disk through ``/tmp`` (per file: ``RLIMIT_FSIZE``).

Fallback (``isolation`` starts with ``"rlimits only: "``)
------------------------------------------------------------
Where nothing isolates (an ordinary user without user namespaces, macOS), or with ``isolate=False``,
the kernel is
an ordinary child process in its own session (process group) with the same rlimits, its
cwd in the workdir and a scrubbed environment.  It can read whatever the invoking user can
and use the network: only run trusted notebooks this way.

Resource limits (all modes): ``RLIMIT_AS`` = ``memory_mb``, ``RLIMIT_FSIZE`` =
``max_file_mb``, ``RLIMIT_NOFILE`` 1024, ``RLIMIT_CORE`` 0, ``RLIMIT_CPU`` as a backstop,
``RLIMIT_NPROC`` 512 (isolated modes; counted per uid, and each sandbox has its own uid or user namespace,
so a fork bomb cannot starve the kernels of other submissions).  Every tmpfs of the sandbox is capped in
bytes and in inodes (:data:`~autograder.kernel.plan.TMPFS_INODES`): millions of empty files end with ``ENOSPC``
instead of
pinning kernel memory that no byte limit counts.  One memory limit for the whole sandbox: where the grader
can create a memory cgroup (root, cgroup v2 ``memory.max`` with the memory controller delegated, or the
cgroup v1 memory controller, whose usage counts tmpfs pages and inode/dentry kernel memory too), every
process of the sandbox joins one before the kernel starts, capped at ``memory_mb`` plus the byte caps of
its tmpfs plus :data:`~autograder.kernel.plan.CGROUP_HEADROOM_MB` (page cache of mapped libraries, kernel memory),
and the description in
:attr:`StudentKernel.isolation` says "one memory limit for the whole sandbox (cgroup)".  Where it cannot (an
ordinary user without a delegated cgroup, a container with a read-only ``/sys/fs/cgroup``), ``RLIMIT_AS``
holds per process only: a kernel that forks N children can use up to N x ``memory_mb`` (bounded by
``RLIMIT_NPROC``), the tmpfs contents add up to their size caps.  Wall-clock limits are enforced
by the grader.  The environment is replaced (``OPENBLAS_NUM_THREADS=1``, ``MPLBACKEND=Agg``,
``HOME=/tmp``...), so no grader secrets leak through it; only the caller's ``env`` and the variables naming
the ``data_dirs`` are added.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from autograder.kernel.errors import KernelError
from autograder.kernel.plan import _others_can_reach, _resolved, _under

__all__ = ["namespace_support", "isolation_support", "require_isolation", "IsolationUnavailableError",
           "NO_ISOLATION_HELP", "make_memory_cgroup", "memory_peak", "lock_down"]


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _describe_death(status: dict | None, memory_mb: int) -> str:
    if not status:
        return "the kernel running your code stopped unexpectedly"
    if "signal" in status:
        sig = status["signal"]
        name = _signal_name(sig)
        if sig == signal.SIGKILL:
            return (f"the kernel running your code was killed ({name}), most likely because it "
                    f"used more than the {memory_mb} MB of memory allowed")
        if sig == signal.SIGSEGV:
            return f"the kernel running your code crashed with a segmentation fault ({name})"
        if sig == signal.SIGXCPU:
            return f"the kernel running your code used up its CPU time ({name})"
        return f"the kernel running your code was killed by {name}"
    if "exit" in status:
        return (f"the kernel running your code exited with code {status['exit']} "
                "(os._exit() or a crash in native code)")
    return "the kernel running your code stopped unexpectedly"


_UNSHARE_FLAGS = ["-m", "-p", "-f", "-i", "-u", "--kill-child"]


def _probe_unshare(extra: list[str]) -> str:
    """Run ``unshare [extra] -m -n -p ... true``; "" when it works, else why not."""
    exe = shutil.which("unshare")
    if exe is None:
        return "the unshare program (util-linux) is not installed"
    try:
        r = subprocess.run([exe, *extra, "-n", *_UNSHARE_FLAGS, "true"],
                           capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare does not work here ({exc})"
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip()[:200]
        return f"unshare does not work here ({err or 'exit code ' + str(r.returncode)})"
    return ""


@functools.cache
def namespace_support() -> tuple[bool, str]:
    """Whether root namespace isolation works here, and why not if it does not (probed once).

    Returns
    -------
    (bool, str)
        ``(True, "")`` or ``(False, reason)``.
    """
    if not sys.platform.startswith("linux"):
        return False, f"namespaces need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, "not running as root, so mount/pid/network namespaces are not available"
    why = _probe_unshare([])
    return (not why), why


@functools.cache
def isolation_support() -> tuple[str | None, str]:
    """The strongest isolation mode available to this process (probed once).

    Returns
    -------
    (str or None, str)
        ``("namespaces", "")`` as root with working namespaces; ``("userns", "")`` as an ordinary
        user whose ``unshare -r`` works (unprivileged user namespaces); ``("uid", why)`` as root
        without namespaces (a container without ``CAP_SYS_ADMIN``: separate uid and file
        permissions); ``(None, why)`` where nothing isolates (an ordinary user without user
        namespaces, macOS): then only trusted notebooks may be run (:data:`NO_ISOLATION_HELP`).
    """
    ok, why = namespace_support()
    if ok:
        return "namespaces", ""
    if not sys.platform.startswith("linux"):
        return None, why
    if os.geteuid() == 0:
        return "uid", why
    why_user = _probe_unshare(["-r"])
    if not why_user:
        return "userns", ""
    why_user = why_user.removeprefix("unshare does not work here ")
    return None, f"not running as root, and user namespaces do not work: {why_user}"


#: What to tell an instructor whose machine cannot isolate student code.
NO_ISOLATION_HELP = (
    "Student code must run isolated, and nothing here can isolate it. Either run the grader as root "
    "(namespaces; in a container without CAP_SYS_ADMIN, a uid of its own), or enable unprivileged user "
    "namespaces (Debian/Ubuntu: sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; "
    "on Ubuntu 24.04+ also kernel.apparmor_restrict_unprivileged_userns=0), or grade in a Linux VM or "
    "container (macOS has no namespaces). If every notebook is trusted (your own), pass --trusted-notebooks "
    "to run them without isolation.")


class IsolationUnavailableError(KernelError):
    """Untrusted notebooks cannot be graded: no isolation works here (the message says what to do)."""


def require_isolation(trusted: bool) -> str:
    """The isolation mode the grader will use, or raise when there is none and notebooks are untrusted.

    Parameters
    ----------
    trusted : bool
        The instructor said every notebook is trusted (``--trusted-notebooks``).

    Returns
    -------
    str
        ``"namespaces"``, ``"userns"``, ``"uid"`` or ``"none"`` (trusted notebooks only).

    Raises
    ------
    IsolationUnavailableError
        With the reason and :data:`NO_ISOLATION_HELP`.
    """
    mode, why = isolation_support()
    if mode is not None:
        return mode
    if trusted:
        return "none"
    raise IsolationUnavailableError(f"refusing to grade untrusted notebooks: {why}. {NO_ISOLATION_HELP}")


# ---------------------------------------------------------------------------------------------
# one memory limit for the whole sandbox (cgroups)


def _own_cgroup_dir() -> Path | None:
    """The directory of this process's memory cgroup (v2 ``memory.max`` or v1 memory controller), or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):  # cgroup v1 memory hierarchy
            d = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (d / "memory.limit_in_bytes").exists():
                return d
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if _id == "0" and controllers == "":  # cgroup v2: memory must be enabled for children
            for base in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
                d = base / path.lstrip("/")
                ctl = d / "cgroup.controllers"
                if ctl.exists() and "memory" in ctl.read_text().split():
                    return d
    return None


def make_memory_cgroup(limit_bytes: int) -> tuple[Path | None, str]:
    """A fresh memory cgroup capped at ``limit_bytes`` for one sandbox, or ``(None, why not)``.

    cgroup v2 (``memory.max``, swap off) where this process's cgroup has the memory controller and
    may enable it for a child; cgroup v1 (``memory.limit_in_bytes``, which counts tmpfs pages and the
    kernel memory of inodes too) where the memory controller is mounted there. Elsewhere (no writable
    cgroup, e.g. an ordinary user without a delegated cgroup) the caller keeps per-process rlimits only.
    """
    base = _own_cgroup_dir()
    if base is None:
        return None, "no memory cgroup controller here"
    _remove_stale_cgroups(base)
    d = base / f"autograder-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        v2 = (base / "cgroup.controllers").exists()
        if v2 and "memory" not in (base / "cgroup.subtree_control").read_text().split():
            (base / "cgroup.subtree_control").write_text("+memory")
        d.mkdir()
        if v2:
            (d / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
        else:
            (d / "memory.limit_in_bytes").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
    except OSError as exc:
        with contextlib.suppress(OSError):
            d.rmdir()
        return None, f"cannot create a memory cgroup under {base} ({exc.strerror})"
    return d, ""


def _remove_stale_cgroups(base: Path) -> None:
    """Remove the empty sandbox cgroups of graders that are gone (a killed grader cannot remove its own)."""
    for d in base.glob("autograder-*-*"):
        try:
            os.kill(int(d.name.split("-")[1]), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                d.rmdir()  # fails while a process is still in it
        except (ValueError, PermissionError):
            continue


def memory_peak(cgroup: Path) -> int | None:
    """The highest memory use of the sandbox's cgroup so far, in bytes (None when unknown)."""
    for name in ("memory.peak", "memory.max_usage_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            return int((Path(cgroup) / name).read_text().split()[0])
    return None


def _remove_cgroup(d: Path) -> None:
    """Remove a sandbox cgroup once its processes are gone (they die asynchronously after a kill)."""
    with contextlib.suppress(OSError):
        (d / "cgroup.kill").write_text("1")
    deadline = time.monotonic() + 5
    while True:
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


def lock_down(hidden: Sequence[Path], keep: Sequence[Path]) -> list[Path]:
    """Make every ``hidden`` path unreadable to other uids, except the way to the ``keep`` paths.

    Separate-uid mode (no namespaces): the kernel's uid owns nothing and has no group, so "others"
    permission bits decide what it can read. A hidden path that others can reach loses its group and
    others bits (``chmod go-rwx``); when a kept path lies inside it (a venv inside the course
    repository), the hidden directory keeps only ``o+x`` (no listing) and each of its entries that does
    not lead to a kept path loses them instead, recursively.

    Returns
    -------
    list of Path
        The paths whose mode was changed.
    """
    changed: list[Path] = []
    keep = [_resolved(k) for k in keep]

    def strip(p: Path, bits: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            if mode & bits:
                os.chmod(p, mode & ~bits)
                changed.append(p)

    def hide(p: Path) -> None:
        inner = [k for k in keep if k != p and _under(k, p)]
        if any(k == p for k in keep) or (not inner and not _others_can_reach(p)):
            return
        if not inner:
            if not os.path.islink(p):
                strip(p, 0o077)
            return
        strip(p, 0o066)  # stays enterable (o+x) on the way to a kept path, but cannot be listed
        for child in p.iterdir():
            if any(_under(k, child) for k in inner):
                hide(child)
            elif not child.is_symlink():
                strip(child, 0o077)

    for h in hidden:
        if os.path.lexists(h):
            hide(_resolved(h))
    still = [h for h in hidden if os.path.lexists(h) and _others_can_reach(_resolved(h))
             and not any(_under(k, _resolved(h)) for k in keep)]
    if still:
        raise KernelError(f"cannot make {still[0]} unreadable to the student kernel; fix its permissions")
    return changed

# ---------------------------------------------------------------------------------------------
# the kernel


class _Proc:
    """OS resources of one running kernel; ``kill`` is idempotent and safe from a finalizer."""

    def __init__(self) -> None:
        self.popen: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.status_r: int | None = None
        self.pidfd: int | None = None
        self.staging: Path | None = None
        self.log: BinaryIO | None = None
        self.cgroup: Path | None = None
        self.kill_uid: int | None = None
        self.status_lines: list[dict] = []
        self._status_buf = b""

    def read_status(self, timeout: float = 0.0) -> None:
        """Read what the supervisor reported on the status pipe (JSON lines), waiting up to ``timeout``."""
        fd = self.status_r
        if fd is None:
            return
        ready = select.select([fd], [], [], max(0.0, timeout))[0]
        while ready and len(self._status_buf) < 65536:
            chunk = os.read(fd, 4096)
            if not chunk:
                os.close(fd)
                self.status_r = None
                self._status_buf += b"\n"
                break
            self._status_buf += chunk
            ready = select.select([fd], [], [], 0)[0]
        self._parse_status()

    def _parse_status(self) -> None:
        *lines, self._status_buf = self._status_buf.split(b"\n")
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                self.status_lines.append(obj)

    def status(self, key: str) -> Any:
        for s in self.status_lines:
            if key in s:
                return s[key]
        return None

    def kill(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        p = self.popen
        if p is not None:
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(p.pid, signal.SIGKILL)  # own session: pgid == pid
                with contextlib.suppress(OSError):
                    p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
        if self.kill_uid is not None:  # separate-uid mode: no pid namespace ends the kernel's children
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([shutil.which("kill") or "/bin/kill", "-s", "KILL", "--", "-1"], user=self.kill_uid,
                               group=self.kill_uid, extra_groups=[], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, cwd="/")
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None

    def cleanup(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            self.read_status(0.0)
        if self.status_r is not None:
            with contextlib.suppress(OSError):
                os.close(self.status_r)
            self.status_r = None
        if self.log is not None:
            with contextlib.suppress(OSError):
                self.log.close()
            self.log = None
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
            self.cgroup = None
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def log_tail(self, n: int = 1500) -> str:
        if self.log is None:
            return ""
        try:
            self.log.flush()
            size = os.fstat(self.log.fileno()).st_size
            with open(self.log.name, "rb") as f:
                f.seek(max(0, size - n))
                return f.read().decode("utf-8", errors="replace").strip()
        except OSError:
            return ""
