"""The sandbox's plan, computed without side effects (testable without root): resource limits
(:class:`Limits`), which paths are hidden and which Python installation is bound (:func:`default_hidden_paths`),
the JSON plan ``server.py --init`` executes in the namespace modes (:func:`build_plan`), the rlimits, the
data mounts and the kernel's scrubbed environment. What the modes are: :mod:`autograder.kernel.process`."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import os
import site
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.kernel.errors import KernelError

__all__ = ["Limits", "build_plan", "default_hidden_paths", "data_mount", "SANDBOX_UID_BASE", "TMPFS_INODES",
           "CGROUP_HEADROOM_MB"]

#: The folder holding the ``autograder`` package: the repository root (or site-packages when installed).
_REPO = Path(__file__).resolve().parents[2]
#: Namespace mode: the kernel runs as uid = gid = this + the host pid of its sandbox's supervisor (pid 1 of
#: the sandbox, alive as long as any process in it), unique among the live sandboxes of the host. Not
#: one shared uid such as 65534: ``RLIMIT_NPROC`` counts the processes of a uid across the host.
SANDBOX_UID_BASE = 1 << 30
#: Inodes of the sandbox's writable tmpfs (``/tmp``, the workdir copy): an empty file costs kernel memory
#: (~1 KB of inode and dentry) that no byte limit counts; at this cap a tmpfs holds at most ~64 MB of them.
TMPFS_INODES = 65536
#: The sandbox's memory cgroup allows this much beyond ``memory_mb`` and its tmpfs caps (page cache, kernel memory).
CGROUP_HEADROOM_MB = 256


@dataclass(frozen=True)
class Limits:
    """Resource limits of one student kernel.

    The defaults are those of a kernel started on its own (tests, tools): a bare kernel's per-call and total
    time. Grading never relies on them for time: :func:`autograder.grade.pipeline.start_kernel` passes the
    :class:`~autograder.grade.job.GradingOptions` of the run (per-cell time, submission time, memory);
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
    hidden = [_REPO]  # the repository root (or site-packages when installed)
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
    """The JSON plan executed by ``server.py --init`` in mode ``"namespaces"`` or ``"userns"``
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
