"""Find and safely read student submissions.

Three layouts are accepted for ``SUBMISSIONS``:

* nbgrader's ``<root>/<student>/<assignment>/*.ipynb`` (a student folder that holds the
  notebook directly, without the assignment level, is accepted too);
* a flat folder of ``<student>.ipynb`` files, as an LMS exports them;
* a ``.zip`` of either of the above (extracted safely: no path may leave the extraction
  folder, and sizes are capped so that a zip bomb cannot fill the disk).

Student ids are made safe (letters, digits, ``_``, ``-``, ``.``) because they become folder
names in the output and keys in the gradebook. Reading a notebook never raises on bad
content: malformed JSON, non-UTF-8 bytes, a missing notebook or odd cell structure end as
*problems* that the pipeline turns into a clear per-test result. Saved outputs are never
trusted: they are dropped on load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder.wire import valid_unicode_tree

__all__ = [
    "Submission",
    "LoadedNotebook",
    "SubmissionsError",
    "SubmissionsNotFoundError",
    "UnsafeArchiveError",
    "ZipLimits",
    "discover_submissions",
    "extract_zip",
    "load_notebook_bytes",
    "normalize_notebook",
    "copy_tree_files",
    "safe_student_id",
    "MAX_NOTEBOOK_BYTES",
]

#: A notebook larger than this is not parsed (its outputs are dropped anyway, but parsing a
#: multi-gigabyte JSON file would take the grader's memory); it gets a clear fault instead.
MAX_NOTEBOOK_BYTES = 128 * 1024 * 1024

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
_RESERVED_IDS = {"grades.csv"}


class SubmissionsError(ValueError):
    """The SUBMISSIONS argument cannot be used as given."""


class SubmissionsNotFoundError(SubmissionsError, FileNotFoundError):
    """The SUBMISSIONS path does not exist."""


class UnsafeArchiveError(SubmissionsError):
    """A zip of submissions tries to write outside its folder or is too large."""


@dataclass(frozen=True)
class ZipLimits:
    """Caps applied while extracting a zip of submissions.

    Attributes
    ----------
    max_members : int
        Number of entries in the archive.
    max_file_bytes : int
        Uncompressed size of one extracted notebook.
    max_total_bytes : int
        Uncompressed size of everything extracted.
    max_ratio : float
        Largest accepted uncompressed/compressed ratio of one entry (zip bombs reach 1000+;
        notebooks compress about 3-20x).
    """

    max_members: int = 20_000
    max_file_bytes: int = MAX_NOTEBOOK_BYTES
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0


@dataclass
class Submission:
    """One student's submission as found on disk.

    Attributes
    ----------
    student : str
        Safe student id (folder name in the output, gradebook key).
    path : Path or None
        The notebook to grade, or None when none was found.
    origin : str
        Where it came from, for messages (``alice/fc_nets/fc_nets.ipynb``).
    problems : list of str
        What was odd about it (no notebook, several notebooks, renamed id...).
    """

    student: str
    path: Path | None
    origin: str
    problems: list[str] = field(default_factory=list)


@dataclass
class LoadedNotebook:
    """Result of :func:`load_notebook_bytes`.

    Attributes
    ----------
    notebook : nbformat.NotebookNode or None
        Normalized v4 notebook without outputs, or None when it could not be read.
    problems : list of str
        Problems met while reading; when ``notebook`` is None the first one says why.
    """

    notebook: nbformat.NotebookNode | None
    problems: list[str] = field(default_factory=list)


def safe_student_id(name: str) -> str:
    """Turn a file or folder name into a safe student id.

    Parameters
    ----------
    name : str
        E.g. ``"Jane Doe (1234)"`` or a file stem.

    Returns
    -------
    str
        Only ``[A-Za-z0-9_.-]``, no leading dot, at most 64 characters, never empty.
    """
    sid = _SAFE_ID.sub("_", name).strip("._-")
    sid = sid[:64].rstrip("._-")
    if sid.lower() in _RESERVED_IDS:  # would clash with a file of the output folder
        sid += "_"
    return sid or "student"


def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".") or p.name.startswith("__MACOSX")


def _notebooks_in(folder: Path) -> list[Path]:
    """The ``*.ipynb`` files directly in ``folder`` (no checkpoints, no hidden files)."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.suffix.lower() == ".ipynb" and not _is_hidden(p) and p.is_file()]


def _pick_notebook(folder: Path, assignment: str) -> tuple[Path | None, list[str]]:
    """Pick the one notebook of a student folder; say what is wrong when it is ambiguous."""
    notebooks = _notebooks_in(folder)
    if len(notebooks) == 1:
        nb = notebooks[0]
        problems = []
        if nb.stem != assignment:
            problems.append(f"notebook is named {nb.name!r} instead of {assignment + '.ipynb'!r}; graded it")
        return nb, problems
    if not notebooks:
        return None, [f"no notebook found in {folder.name}/ (expected {assignment}.ipynb)"]
    named = [p for p in notebooks if p.stem == assignment]
    names = ", ".join(p.name for p in notebooks)
    if len(named) == 1:
        return named[0], [f"several notebooks found ({names}); graded {named[0].name}"]
    return None, [
        f"several notebooks found ({names}) and none is named {assignment}.ipynb; "
        "submit exactly one notebook"
    ]


def _unique(sid: str, taken: set[str]) -> str:
    """``sid``, or ``sid-2``, ``sid-3``... not in ``taken`` (compared case-insensitively, so that
    output folders do not collide on case-insensitive file systems)."""
    if sid.lower() not in taken:
        return sid
    k = 2
    while f"{sid}-{k}".lower() in taken:
        k += 1
    return f"{sid}-{k}"


def discover_submissions(root: Path, assignment: str, *, extract_to: Path | None = None,
                         zip_limits: ZipLimits = ZipLimits()) -> list[Submission]:
    """List the submissions under ``root`` (a folder or a zip), one per student.

    Parameters
    ----------
    root : Path
        nbgrader layout, flat folder of ``<student>.ipynb``, or a ``.zip`` of either.
    assignment : str
        Assignment name, used to find ``<student>/<assignment>/`` and the expected notebook name.
    extract_to : Path, optional
        Where to extract a zip (required when ``root`` is a zip).
    zip_limits : ZipLimits
        Caps for zip extraction.

    Returns
    -------
    list of Submission
        Sorted by student id. A student folder without a usable notebook is listed with
        ``path=None`` and a problem, so that it is graded 0 with a reason instead of vanishing.

    Raises
    ------
    SubmissionsNotFoundError
        ``root`` does not exist.
    SubmissionsError
        ``root`` is neither a folder nor a zip, or holds no submission at all.
    UnsafeArchiveError
        The zip is unsafe (path traversal, too large).
    """
    root = Path(root)
    if not root.exists():
        raise SubmissionsNotFoundError(
            f"submissions not found: {root} does not exist; pass a folder "
            f"(<student>/{assignment}/*.ipynb or <student>.ipynb files) or a .zip of one."
        )
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise SubmissionsError(
                f"{root} is a file but not a zip archive; pass a folder of submissions or a .zip."
            )
        if extract_to is None:
            raise SubmissionsError("a zip of submissions needs a folder to extract to (extract_to)")
        extract_zip(root, extract_to, limits=zip_limits)
        folder = extract_to
        # An LMS zip often wraps everything in one top-level folder.
        while True:
            entries = [p for p in folder.iterdir() if not _is_hidden(p)]
            if len(entries) == 1 and entries[0].is_dir() and not _notebooks_in(folder):
                folder = entries[0]
            else:
                break
    elif root.is_dir():
        folder = root
    else:
        raise SubmissionsError(f"{root} is neither a folder nor a zip archive.")

    found: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if _is_hidden(entry):
            continue
        if entry.is_file() and entry.suffix.lower() == ".ipynb":
            found.append(Submission(safe_student_id(entry.stem), entry, entry.name))
        elif entry.is_dir():
            sub = entry / assignment
            where = sub if sub.is_dir() else entry
            nb, problems = _pick_notebook(where, assignment)
            origin = str(nb.relative_to(folder)) if nb is not None else f"{entry.name}/"
            found.append(Submission(safe_student_id(entry.name), nb, origin, problems))
    if not found:
        raise SubmissionsError(
            f"no submissions found in {root}: expected <student>/{assignment}/*.ipynb folders "
            "or <student>.ipynb files."
        )
    taken: set[str] = set()
    for s in sorted(found, key=lambda s: s.origin):
        sid = _unique(s.student, taken)
        if sid != s.student:
            s.problems.append(f"student id {s.student!r} was already used; filed as {sid!r}")
            s.student = sid
        taken.add(sid.lower())
    return sorted(found, key=lambda s: s.student)


def _safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path a zip member may be written to, or None when it must be refused."""
    name = name.replace("\\", "/")
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [part for part in p.parts if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        return None
    return PurePosixPath(*parts)


def extract_zip(archive: Path, dest: Path, *, limits: ZipLimits = ZipLimits()) -> list[Path]:
    """Extract the notebooks of ``archive`` into ``dest``, refusing anything unsafe.

    Only ``*.ipynb`` members are written (as regular files; symlink entries are skipped).
    Sizes are counted on the bytes actually decompressed, not the headers' claims.

    Parameters
    ----------
    archive : Path
        The zip file.
    dest : Path
        Folder to extract into (created).
    limits : ZipLimits
        Size and count caps.

    Returns
    -------
    list of Path
        The written files.

    Raises
    ------
    UnsafeArchiveError
        A member's path leaves ``dest``, or a cap is exceeded.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[Path] = []
    total = 0
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeArchiveError(f"cannot open {archive} as a zip archive: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise UnsafeArchiveError(
                f"{archive.name} has {len(infos)} entries, more than the limit of {limits.max_members}."
            )
        for info in infos:
            rel = _safe_member_path(info.filename)
            if rel is None:
                raise UnsafeArchiveError(
                    f"{archive.name}: entry {info.filename!r} would be written outside the extraction "
                    "folder; refusing the archive (re-export it without absolute or '..' paths)."
                )
            if info.is_dir() or rel.suffix.lower() != ".ipynb":
                continue
            if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            mode = (info.external_attr >> 16) & 0o170000
            if mode == stat.S_IFLNK:
                continue
            target = root.joinpath(*rel.parts)
            if not target.resolve().is_relative_to(root):
                raise UnsafeArchiveError(f"{archive.name}: entry {info.filename!r} leaves the folder.")
            if info.file_size > limits.max_file_bytes:
                raise UnsafeArchiveError(
                    f"{archive.name}: {info.filename!r} is {info.file_size} bytes uncompressed, over the "
                    f"per-notebook limit of {limits.max_file_bytes}."
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    size += len(chunk)
                    total += len(chunk)
                    if size > limits.max_file_bytes or total > limits.max_total_bytes:
                        raise UnsafeArchiveError(
                            f"{archive.name}: extracting {info.filename!r} exceeds the size limits "
                            f"({limits.max_file_bytes} bytes per notebook, {limits.max_total_bytes} in "
                            "total); refusing a possible zip bomb."
                        )
                    if size > 1 << 20 and size > limits.max_ratio * max(info.compress_size, 1):
                        raise UnsafeArchiveError(
                            f"{archive.name}: {info.filename!r} decompresses more than "
                            f"{limits.max_ratio:.0f}x; refusing a possible zip bomb."
                        )
                    out.write(chunk)
            written.append(target)
    return written


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def _clean_nbgrader_meta(meta: object) -> dict:
    """Keep only well-typed nbgrader keys of a cell's metadata."""
    if not isinstance(meta, dict):
        return {}
    out: dict = {}
    for key, typ in (("grade_id", str), ("grade", bool), ("solution", bool), ("locked", bool),
                     ("task", bool), ("schema_version", int)):
        if isinstance(meta.get(key), typ):
            out[key] = meta[key]
    pts = meta.get("points")
    if isinstance(pts, (int, float)) and not isinstance(pts, bool):
        out["points"] = pts
    return out


def normalize_notebook(data: object) -> LoadedNotebook:
    """Build a clean v4 notebook (no outputs) from parsed JSON of unknown quality.

    Keeps each cell's type (code, markdown or raw), its source as one string, and the
    well-typed part of its nbgrader metadata; drops outputs, execution counts, attachments
    and every other metadata key; cell ids are positional (``cell-1``, ``cell-2``...). Cells
    that are not objects are dropped with a problem.

    Parameters
    ----------
    data : object
        What ``json.loads`` returned for the file.

    Returns
    -------
    LoadedNotebook
    """
    problems: list[str] = []
    if not isinstance(data, dict):
        return LoadedNotebook(None, [f"the file is JSON but not a notebook (top level is a "
                                     f"{type(data).__name__}, expected an object with 'cells')"])
    if data.get("nbformat") == 3 or ("worksheets" in data and "cells" not in data):
        try:
            data = nbformat.convert(nbformat.from_dict(data), 4)
            problems.append("notebook was in the old v3 format; converted it")
        except Exception as exc:  # nbformat raises many types on odd v3 content
            return LoadedNotebook(None, [f"the notebook is in the old v3 format and could not be "
                                         f"converted: {exc}"])
    cells = data.get("cells")
    if not isinstance(cells, list):
        return LoadedNotebook(None, ["the file is JSON but has no list of 'cells'; it is not a notebook"])
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    dropped = 0
    for raw in cells:
        if not isinstance(raw, dict):
            dropped += 1
            continue
        ctype = raw.get("cell_type")
        source = _as_text(raw.get("source", ""))
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        nbg = _clean_nbgrader_meta(meta.get("nbgrader"))
        if ctype == "code":
            cell = nbformat.v4.new_code_cell(source)
        elif ctype == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        elif ctype == "raw":
            cell = nbformat.v4.new_raw_cell(source)
        else:
            dropped += 1
            continue
        if nbg:
            cell.metadata["nbgrader"] = nbg
        cell.id = f"cell-{len(nb.cells) + 1}"  # not a random one: the same file gives the same outputs
        nb.cells.append(cell)
    if dropped:
        problems.append(f"{dropped} malformed cell(s) were ignored")
    return LoadedNotebook(nb, problems)


def load_notebook_bytes(raw: bytes, *, max_bytes: int = MAX_NOTEBOOK_BYTES) -> LoadedNotebook:
    """Read a submitted notebook from its bytes, never raising on bad content.

    Parameters
    ----------
    raw : bytes
        The file's content.
    max_bytes : int
        Larger files are refused with a problem instead of parsed.

    Returns
    -------
    LoadedNotebook
        ``notebook`` is None when the bytes are not a readable notebook; ``problems`` says why.
    """
    if len(raw) > max_bytes:
        return LoadedNotebook(None, [
            f"the notebook file is {len(raw) / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit; "
            "clear its outputs (Kernel > Restart & Clear Output) and submit again"])
    problems: list[str] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
        problems.append(f"the notebook contains bytes that are not UTF-8 (first at byte {exc.start}); "
                        "they were replaced by U+FFFD")
    if not text.strip():
        return LoadedNotebook(None, problems + ["the notebook file is empty"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return LoadedNotebook(None, problems + [
            f"the notebook is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "it may have been edited outside Jupyter or truncated"])
    except RecursionError:
        return LoadedNotebook(None, problems + ["the notebook JSON is nested too deeply to read"])
    valid = valid_unicode_tree(data)  # JSON may spell a lone surrogate ("\\udc80"): no UTF-8 file takes it
    if valid != data:
        problems.append("the notebook contains lone surrogate characters (\\udXXX escapes); they were replaced "
                        "by U+FFFD")
    loaded = normalize_notebook(valid)
    loaded.problems[:0] = problems
    return loaded


def copy_tree_files(src: Path, dest: Path, *, skip_suffixes: tuple[str, ...] = ()) -> None:
    """Copy the regular files under ``src`` into ``dest`` (following no symlink out of ``src``)."""
    src = Path(src)
    root = src.resolve()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for fname in filenames:
            path = Path(dirpath) / fname
            if fname.startswith(".") or path.suffix.lower() in skip_suffixes:
                continue
            if not path.resolve().is_relative_to(root):
                continue
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
