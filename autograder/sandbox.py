"""The isolated student kernel: process sandbox, resource limits and the narrow call interface.

:class:`StudentKernel` starts ``kernel_server.py`` (an IPython shell serving framed,
pickle-free requests, see :mod:`autograder.wire`) and talks to it over a dedicated
Unix socket.  Every reply is treated as hostile: size-capped, validated, and bounded
in time (the grader kills the kernel when a deadline passes).

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
small root supervisor (``kernel_server.py --init``) that builds an *allow-list* file system
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
* ``/sandbox/server``: a private copy of ``kernel_server.py`` and ``wire.py``, read-only;
* fresh ``/proc`` (only the sandbox's processes), fresh size-capped tmpfs ``/tmp`` and ``/dev/shm``,
  ``/dev/{null,zero,full,random,urandom}``.

Nothing else exists inside: not the course repository, ``/root``, ``/home``, the host's
``/tmp`` (other users' and other submissions' files), ``/work``, ``/srv``...  Paths that must
stay unreadable although they lie inside a bound directory are covered with an empty
read-only tmpfs (or ``/dev/null`` for files): the repository root (computed from
``autograder.__file__``), the installed ``autograder`` and ``course_lib`` packages wherever
they are (including ``site-packages``), Jupyter config dirs, and the caller's ``hide`` paths.
The supervisor then forks the kernel, which sets the rlimits, drops all capabilities (and
the bounding set), switches to a uid/gid of its own (:data:`SANDBOX_UID_BASE` plus the supervisor's
host pid, so no two live sandboxes share one) with ``no_new_privs`` and execs
``kernel_server.py --serve``.  Killing pid 1 (the grader does, with a pidfd) ends every
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
bytes and in inodes (:data:`TMPFS_INODES`): millions of empty files end with ``ENOSPC`` instead of
pinning kernel memory that no byte limit counts.  One memory limit for the whole sandbox: where the grader
can create a memory cgroup (root, cgroup v2 ``memory.max`` with the memory controller delegated, or the
cgroup v1 memory controller, whose usage counts tmpfs pages and inode/dentry kernel memory too), every
process of the sandbox joins one before the kernel starts, capped at ``memory_mb`` plus the byte caps of
its tmpfs plus :data:`CGROUP_HEADROOM_MB` (page cache of mapped libraries, kernel memory), and the description in
:attr:`StudentKernel.isolation` says "one memory limit for the whole sandbox (cgroup)".  Where it cannot (an
ordinary user without a delegated cgroup, a container with a read-only ``/sys/fs/cgroup``), ``RLIMIT_AS``
holds per process only: a kernel that forks N children can use up to N x ``memory_mb`` (bounded by
``RLIMIT_NPROC``), the tmpfs contents add up to their size caps.  Wall-clock limits are enforced
by the grader.  The environment is replaced (``OPENBLAS_NUM_THREADS=1``, ``MPLBACKEND=Agg``,
``HOME=/tmp``...), so no grader secrets leak through it; only the caller's ``env`` and the variables naming
the ``data_dirs`` are added.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib.util
import json
import os
import select
import shutil
import signal
import site
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from autograder.errors import AutograderError

from . import wire

__all__ = [
    "Limits",
    "CellResult",
    "KernelError",
    "KernelDied",
    "KernelTimeout",
    "ProtocolError",
    "StudentError",
    "NotDefinedError",
    "StudentKernel",
    "namespace_support",
    "isolation_support",
    "require_isolation",
    "IsolationUnavailableError",
    "NO_ISOLATION_HELP",
    "make_memory_cgroup",
    "memory_peak",
    "lock_down",
    "data_mount",
    "SANDBOX_UID_BASE",
    "TMPFS_INODES",
    "CGROUP_HEADROOM_MB",
]

#: Namespace mode: the kernel runs as uid = gid = this + the host pid of its sandbox's supervisor (pid 1 of
#: the sandbox, alive as long as any process in it), unique among the live sandboxes of the host. Not
#: one shared uid such as 65534: ``RLIMIT_NPROC`` counts the processes of a uid across the host.
SANDBOX_UID_BASE = 1 << 30
#: Inodes of the sandbox's writable tmpfs (``/tmp``, the workdir copy): an empty file costs kernel memory
#: (~1 KB of inode and dentry) that no byte limit counts; at this cap a tmpfs holds at most ~64 MB of them.
TMPFS_INODES = 65536
#: The sandbox's memory cgroup allows this much beyond ``memory_mb`` and its tmpfs caps (page cache, kernel memory).
CGROUP_HEADROOM_MB = 256
_HERE = Path(__file__).resolve().parent
_STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Limits:
    """Resource limits of one student kernel.

    The defaults are those of a kernel started on its own (tests, tools): a bare kernel's per-call and total
    time. Grading never relies on them for time: :func:`autograder.pipeline.start_kernel` passes the
    :class:`~autograder.pipeline.GradingOptions` of the run (per-cell time, submission time, memory);
    ``memory_mb``'s default is the one source of the grading default (``GradingOptions.memory_mb``).

    Attributes
    ----------
    cell_timeout : float
        Seconds per student cell and per remote call (default for ``timeout=None``).
    total_timeout : float
        Seconds for the whole submission, counted from the first :meth:`StudentKernel.start`
        across restarts; every request's deadline is capped by it.
    memory_mb : int
        ``RLIMIT_AS`` of the kernel process (and of each process it starts).
    output_bytes : int
        Cap on captured output per cell; the rest is dropped with a note.
    max_file_mb : int
        ``RLIMIT_FSIZE``; also sizes the sandbox's ``/tmp``.
    network : bool
        Keep the host network (namespace mode only; default: no network at all).
    """

    cell_timeout: float = 60.0
    total_timeout: float = 900.0
    memory_mb: int = 4096
    output_bytes: int = 2_000_000
    max_file_mb: int = 64
    network: bool = False


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


class KernelError(AutograderError, RuntimeError):
    """Base class of the kernel failures; messages are written for students."""


class KernelDied(KernelError):
    """The kernel process ended (``os._exit``, a crash, the memory limit...)."""


class KernelTimeout(KernelError):
    """A cell or a call exceeded its time; the kernel has been killed (:meth:`StudentKernel.restart`)."""


class ProtocolError(KernelError):
    """The kernel sent a malformed, inconsistent or oversized reply; the kernel has been killed."""


class StudentError(Exception):
    """Student code running in the kernel raised an exception during a remote operation.

    The instance raised is also an instance of the student's exception's nearest built-in
    class (``except ValueError`` works for a student ``ValueError`` or ``OptionError``).

    Attributes
    ----------
    type_name : str
        The student-side exception class name.
    text : str
        Its message.
    student_traceback : str
        The student-side traceback (kernel-server frames removed).
    """

    def __init__(self, type_name: str, text: str, student_traceback: str = ""):
        super().__init__(f"{type_name}: {text}" if text else type_name)
        self.type_name = type_name
        self.text = text
        self.student_traceback = student_traceback

    def __str__(self) -> str:
        return f"{self.type_name}: {self.text}" if self.text else self.type_name


class NotDefinedError(StudentError, NameError):
    """The notebook does not define the global that was asked for (:meth:`StudentKernel.get`)."""

    def __init__(self, name: str):
        super().__init__("NameError", f"your notebook does not define `{name}`")
        self.name = name


_UNMAPPED = {"StopIteration", "StopAsyncIteration", "ExceptionGroup", "UnicodeError",
             "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeTranslateError"}


@functools.cache
def _student_error_class(builtin_name: str) -> type[StudentError]:
    base = getattr(builtins, builtin_name, None) if builtin_name not in _UNMAPPED else None
    if (not isinstance(base, type) or not issubclass(base, Exception) or base is Exception
            or issubclass(base, StudentError)):
        return StudentError
    return type(f"Student{builtin_name}", (StudentError, base), {"__module__": __name__})


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


# ---------------------------------------------------------------------------------------------
# sandbox file system plan


def _resolved(p: os.PathLike | str) -> Path:
    return Path(os.path.realpath(os.fspath(p)))


def _under(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def _package_dir(name: str) -> Path | None:
    mod = sys.modules.get(name)
    spec = getattr(mod, "__spec__", None) if mod is not None else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    return _resolved(list(spec.submodule_search_locations)[0])


def default_hidden_paths() -> list[Path]:
    """Paths hidden from every kernel: the course repository, the installed grader/library, configs."""
    hidden = [_HERE.parent]  # the repository root (or site-packages when installed)
    for pkg in ("autograder", "course_lib"):
        d = _package_dir(pkg)
        if d is not None:
            hidden.append(d)
    for site_dir in _site_dirs():  # non-editable installs of the course packages
        hidden += [site_dir / "autograder", site_dir / "course_lib"]
    for config_dir in ("/etc/jupyter", "/usr/local/etc/jupyter", "/etc/nbgrader",
                       os.path.join(sys.prefix, "etc", "jupyter")):
        hidden.append(_resolved(config_dir))
    return hidden


def _editable_targets() -> list[Path]:
    """Where editable installs of the course packages point (``__editable__*finder.py`` in the site dirs).

    A separate-uid kernel sees the host's file system: a finder's mapping would lead it to a second copy
    of the course (e.g. the checkout the venv was installed from).
    """
    out = []
    site_dirs = _site_dirs()
    for d in [*site_dirs, *_pth_dirs(site_dirs)]:
        for finder in d.glob("__editable__*finder.py"):
            with contextlib.suppress(OSError, ValueError, SyntaxError):
                for node in ast.walk(ast.parse(finder.read_text(errors="replace"))):
                    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                    if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                            getattr(t, "id", "") == "MAPPING" for t in targets) and node.value is not None:
                        mapping = ast.literal_eval(node.value)
                        out += [_resolved(v) for k, v in mapping.items() if k in ("autograder", "course_lib")]
    return out


def _others_can_reach(path: Path) -> bool:
    """Whether a uid that owns nothing and is in no group could read ``path`` (or list/enter it)."""
    try:
        for anc in reversed(path.parents):
            if not os.stat(anc).st_mode & stat.S_IXOTH:
                return False
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode):
        return bool(st.st_mode & (stat.S_IROTH | stat.S_IXOTH))
    return bool(st.st_mode & stat.S_IROTH)


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


def _site_dirs() -> list[Path]:
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        dirs.append(site.getusersitepackages())
    return [_resolved(d) for d in dirs if os.path.isdir(d)]


def _pth_dirs(site_dirs: list[Path]) -> list[Path]:
    """Directories that ``.pth`` files in the site dirs add to ``sys.path`` (other installs)."""
    out = []
    for d in site_dirs:
        for pth in d.glob("*.pth"):
            try:
                lines = pth.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import ", "import\t")):
                    p = Path(line) if os.path.isabs(line) else d / line
                    if p.is_dir():
                        out.append(_resolved(p))
    return out


def _python_roots(hidden: list[Path], system: list[Path]) -> list[Path]:
    """Directories of the Python installation to bind read-only (deduplicated, outermost only).

    The prefixes (bound even inside a hidden directory: a venv in the repository holds no
    secrets), plus the entries of ``sys.path`` that the installation itself provides (site dirs
    and ``.pth`` entries) unless hidden -- or unless they belong to a virtual environment (a folder
    with ``pyvenv.cfg`` above them), which holds no secrets either: e.g. a Dask worker's venv whose
    ``.pth`` adds the site-packages of a venv inside the course repository.  Other ``sys.path``
    entries of the grader (the repo, pytest's rootdir, scratch dirs) are not exposed.
    """
    prefixes = {_resolved(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    site_dirs = _site_dirs()
    provided = set(site_dirs) | set(_pth_dirs(site_dirs))
    cands = set(prefixes)
    for entry in sys.path:
        if entry and os.path.isabs(entry) and os.path.isdir(entry):
            p = _resolved(entry)
            if p in provided and (not any(_under(p, h) for h in hidden)
                                  or any((q / "pyvenv.cfg").is_file() for q in p.parents)):
                cands.add(p)
    cands = {p for p in cands if not any(_under(p, s) for s in system) and p != Path("/")}
    return sorted(p for p in cands if not any(q != p and _under(p, q) for q in cands))


def build_plan(staging: Path, workdir: Path, extra_paths: Sequence[Path], hide: Sequence[Path],
               limits: Limits, exec_argv: list[str], env: dict[str, str], status_fd: int,
               mode: str = "namespaces", data_dirs: Sequence[Path] = ()) -> dict:
    """The JSON plan executed by ``kernel_server.py --init`` in mode ``"namespaces"`` or ``"userns"``
    (see the module docstring); ``data_dirs[i]`` is bound read-only at ``/sandbox/data<i>``."""
    hidden = [*default_hidden_paths(), *(_resolved(h) for h in hide)]
    binds: list[dict] = []
    symlinks: list[list[str]] = []
    system: list[Path] = []
    for name in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            symlinks.append([name, os.readlink(name)])
        elif os.path.isdir(name):
            system.append(Path(name))
    auto = [*system, *_python_roots(hidden, system)]
    for src in auto:
        if not any(h == src for h in hidden):
            binds.append({"src": str(src), "dst": str(src), "ro": True, "auto": True})
    for dev in ("null", "zero", "full", "random", "urandom"):
        if os.path.exists(f"/dev/{dev}"):
            binds.append({"src": f"/dev/{dev}", "dst": f"/dev/{dev}", "ro": False, "file": True, "dev": True})
    symlinks += [["/dev/fd", "/proc/self/fd"], ["/dev/stdin", "/proc/self/fd/0"],
                 ["/dev/stdout", "/proc/self/fd/1"], ["/dev/stderr", "/proc/self/fd/2"]]
    work = _resolved(workdir)
    explicit = [*((_resolved(p), f"/sandbox/lib{i}") for i, p in enumerate(extra_paths)),
                *((_resolved(p), data_mount(i)) for i, p in enumerate(data_dirs))]
    for src in [work, *(e[0] for e in explicit)]:
        if src == Path("/") or any(h == src for h in hidden):
            raise KernelError(f"refusing to expose {src} to the student kernel: it is a hidden path")
    for src, dst in explicit:
        binds.append({"src": str(src), "dst": dst, "ro": True})
    for h in hidden:
        if h != work and _under(h, work):
            raise KernelError(f"refusing to copy {work} into the sandbox: it contains the hidden path {h}")
    work_mb = _tree_size(work) // (1 << 20) + max(64, 4 * limits.max_file_mb)
    binds.append({"src": str(staging / "server"), "dst": "/sandbox/server", "ro": True})
    # Hidden paths inside a bound directory get an empty overlay.  Binds of the Python
    # installation are kept when a hidden path contains them (a venv in the repo); explicit
    # binds (workdir, extra paths, data dirs) likewise.
    overlays: set[str] = set()
    for b in binds:
        src = Path(b["src"])
        for h in hidden:
            if h != src and _under(h, src) and os.path.lexists(h):
                overlays.add(str(Path(b["dst"]) / h.relative_to(src)))
    tmp_mb = max(64, 2 * limits.max_file_mb)
    copies = [[str(f), f"/tmp/.matplotlib/{f.name}"] for f in _font_caches()]
    return {
        "newroot": str(staging / "root"),
        "dirs": ["/sandbox", "/tmp", "/dev"],
        "symlinks": symlinks,
        "binds": [{k: v for k, v in b.items() if k != "auto"} for b in binds],
        "tmpfs": [{"dst": "/tmp", "size": f"{tmp_mb}m", "inodes": TMPFS_INODES, "mode": "1777"},
                  {"dst": "/dev/shm", "size": "64m", "inodes": 1024, "mode": "1777"}],
        "hide": sorted(overlays),
        "workcopy": {"src": str(work), "dst": "/sandbox/work", "size": f"{work_mb}m",
                     "inodes": TMPFS_INODES + _tree_count(work)},
        "copy": copies,
        "mode": mode,
        "uid_base": SANDBOX_UID_BASE,
        "status_fd": status_fd,
        "exec": {"argv": exec_argv, "env": env, "cwd": "/sandbox/work", "rlimits": _rlimits(limits, nproc=True)},
    }


def _font_caches() -> list[Path]:
    """The grader's matplotlib font caches: seeding the kernel with them saves ~2 s per first plot."""
    dirs = [os.environ.get("MPLCONFIGDIR"), os.path.join(os.environ.get("XDG_CACHE_HOME") or
            os.path.expanduser("~/.cache"), "matplotlib"), os.path.expanduser("~/.matplotlib")]
    out: dict[str, Path] = {}
    for d in dirs:
        if d and os.path.isdir(d):
            for f in sorted(Path(d).glob("fontlist-v*.json")):
                if f.is_file() and f.stat().st_size < (16 << 20):
                    out.setdefault(f.name, f)
    return list(out.values())


def _rlimits(limits: Limits, nproc: bool) -> dict[str, int]:
    out = {"AS": limits.memory_mb << 20, "FSIZE": limits.max_file_mb << 20, "NOFILE": 1024,
           "CORE": 0, "CPU": int(limits.total_timeout) + 60}
    if nproc:
        out["NPROC"] = 512
    return out


def _tree_count(root: Path) -> int:
    return sum(len(dirs) + len(files) for _p, dirs, files in os.walk(root))


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for n in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, n)).st_size
    return total


def data_mount(index: int) -> str:
    """Where the ``index``-th of a kernel's ``data_dirs`` appears inside the namespace sandbox."""
    return f"/sandbox/data{index}"


def _data_dir_problem(root: Path) -> str | None:
    """Why a uid owning nothing and in no group could not use ``root`` read-only (separate-uid mode, where the
    data directory is used in place): a path it cannot read or enter, or one it could write; else None."""
    if not _others_can_reach(root):
        return f"{root} or one of its parent directories is not readable by others"
    for dirpath, dirs, files in os.walk(root):
        for p in [Path(dirpath), *(Path(dirpath) / n for n in [*dirs, *files])]:
            with contextlib.suppress(OSError):
                mode = os.stat(p).st_mode
                need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
                if mode & need != need:
                    return f"{p} is not readable by others"
                if mode & stat.S_IWOTH:
                    return f"{p} is writable by others"
    return None


def _kernel_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp" if home == "/tmp" else home,
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        "IPYTHONDIR": os.path.join(home, ".ipython"), "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


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

    Notes
    -----
    Student failures never raise from :meth:`run_cell` (see :class:`CellResult`); the remote
    operations (:meth:`get`, :meth:`call`, handle access) raise :class:`KernelTimeout`,
    :class:`KernelDied`, :class:`ProtocolError` for kernel failures and a :class:`StudentError`
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
        mode, why = isolation_support()
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
            raise IsolationUnavailableError(f"cannot isolate the student kernel: {why}. {NO_ISOLATION_HELP}")
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
        for name in ("kernel_server.py", "wire.py"):
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
        """Start ``kernel_server.py --init`` (behind ``prefix``) on ``plan``; wait for its host pid."""
        assert proc.staging is not None, "_spawn made the staging directory first"
        plan_file = proc.staging / "plan.json"  # the grader's only, outside the sandbox: not on a command line
        plan_file.touch(mode=0o600)
        plan_file.write_text(json.dumps(plan))
        cmd = [*prefix, sys.executable, "-I", "-B", str(proc.staging / "server" / "kernel_server.py"), "--init",
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
        argv = [sys.executable, "-I", "-B", "/sandbox/server/kernel_server.py", "--serve", cfg]
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
        every hidden path is made unreadable to it first (:func:`lock_down`)."""
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
        lock_down(hidden, keep)
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
                "exec": {"argv": [sys.executable, "-I", "-B", str(staging / "server" / "kernel_server.py"),
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
        cmd = [sys.executable, "-I", "-B", str(staging / "server" / "kernel_server.py"), "--serve", cfg]
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

        Used by :func:`autograder.remote.run_graded_cell` to enforce a per-test budget across
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
            raise NotDefinedError(err["name"][:200])
        if err.get("kind") == "exception":
            fields = [err.get(k) for k in ("type", "builtin", "message", "traceback")]
            texts = [f for f in fields if isinstance(f, str)]
            if len(texts) != len(fields):
                raise self._fail(ProtocolError, "the kernel sent an invalid error reply; it was stopped")
            tname, builtin, message, tb = (f[:8000] for f in texts)
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
        from .remote import RemoteHandle

        return RemoteHandle(self, hid, type_name, self._generation)

    def _encode_handle(self, obj: Any) -> list:
        from .remote import RemoteHandle

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
                from .remote import RemoteDict

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
        """The kernel's global ``name``: plain data (a copy) or a :class:`~autograder.remote.RemoteHandle`.

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
            :func:`autograder.remote.sync_back`); nothing else is written back.

        The timeout is ``limits.cell_timeout`` within the current :meth:`time_limit` scope.
        Raises :class:`StudentError` (mixed with the built-in class) if the student code raises.
        """
        from .remote import RemoteHandle, describe, sync_back

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
        from .remote import describe

        return self._wrap(self._request("getattr", f"reading {describe(obj)}.{name}", None, obj=obj, name=name),
                          keep_ref=True)

    def _setattr(self, obj: Any, name: str, value: Any) -> None:
        from .remote import describe

        self._request("setattr", f"setting {describe(obj)}.{name}", None, obj=obj, name=name, value=value)

    def _getitem(self, obj: Any, key: Any) -> Any:
        from .remote import describe

        return self._wrap(self._request("getitem", f"reading {describe(obj)}[{key!r}]", None, obj=obj, key=key),
                          keep_ref=True)

    def _setitem(self, obj: Any, key: Any, value: Any) -> None:
        from .remote import describe

        self._request("setitem", f"setting {describe(obj)}[{key!r}]", None, obj=obj, key=key, value=value)

    def _delitem(self, obj: Any, key: Any) -> None:
        from .remote import describe

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
