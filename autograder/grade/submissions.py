"""Find and safely read student submissions.

Three layouts are accepted for ``SUBMISSIONS``:

* nbgrader's ``<root>/<student>/<assignment>/*.ipynb`` (a student folder that holds the
  notebook directly, without the assignment level, is accepted too);
* a flat folder of ``<student>.ipynb`` files, as an LMS exports them;
* a ``.zip`` of either of the above (extracted safely: no path may leave the extraction
  folder, and sizes are capped so that a zip bomb cannot fill the disk).

Canvas's "Download submissions" zip names each file
``<name>[_LATE]_<userid>_<fileid>_<original file name>`` (e.g.
``doejane_LATE_234567_7890124_batchnorm-1.ipynb``; Canvas appends ``-1``, ``-2``... to the
original name of a resubmission). Such files are filed under the ``<name>`` part (``doejane``;
``<name>-<userid>`` when two Canvas users share a name), one submission per Canvas user: the
latest one (highest file id, then highest resubmission number) is graded and the others are
listed as ignored; ``LATE`` is noted.

Odd entry names in a zip (absolute, ``..``, too long for the file system, repeated, not
UTF-8 though marked so) are handled for that entry alone (:func:`extract_zip_with_notes`) and noted with the
submission; they never stop the run.

Student ids are made safe (letters, digits, ``_``, ``-``, ``.``) because they become folder
names in the output and keys in the gradebook. Reading a notebook never raises on bad
content: malformed JSON, non-UTF-8 bytes, a missing notebook or odd cell structure end as
*problems* that the pipeline turns into a clear per-test result. Saved outputs are never
run or graded: they are taken off the notebook on load and kept apart
(``LoadedNotebook.saved_outputs``), for feedback on the cells whose experiments the grader does not re-run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder.errors import AutograderError
from autograder.kernel.wire import valid_unicode_tree

__all__ = [
    "Submission",
    "LoadedNotebook",
    "SubmissionsError",
    "SubmissionsNotFoundError",
    "UnsafeArchiveError",
    "ZipLimits",
    "discover_submissions",
    "extract_zip",
    "extract_zip_with_notes",
    "load_notebook_bytes",
    "notebook_from_json",
    "copy_tree_files",
    "read_tree_files",
    "write_tree_files",
    "safe_student_id",
    "CanvasName",
    "parse_canvas_name",
    "MAX_NOTEBOOK_BYTES",
]

#: A notebook larger than this is not parsed (its outputs are dropped anyway, but parsing a
#: multi-gigabyte JSON file would take the grader's memory); it gets a clear fault instead.
MAX_NOTEBOOK_BYTES = 128 * 1024 * 1024

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
_RESERVED_IDS = {"grades.csv"}


class SubmissionsError(AutograderError, ValueError):
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
    saved_outputs : list of list of dict
        Per cell of ``notebook``, the outputs the file carried (code cells; as submitted, unvalidated dicts).
    """

    notebook: nbformat.NotebookNode | None
    problems: list[str] = field(default_factory=list)
    saved_outputs: list[list[dict]] = field(default_factory=list)


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


_CANVAS = re.compile(r"^(?P<name>[A-Za-z0-9]+?)(?P<late>_LATE)?_(?P<userid>\d+)_(?P<fileid>\d+)_(?P<original>.+)$",
                     re.IGNORECASE)


@dataclass(frozen=True)
class CanvasName:
    """The parts of a file name from Canvas's submissions download.

    Attributes
    ----------
    name : str
        Canvas's short name of the student (``doejane``).
    late : bool
        Canvas marked the submission ``LATE``.
    userid : str
        Canvas user id.
    fileid : int
        Canvas file id (grows with each upload).
    original : str
        The file name the student uploaded, with Canvas's resubmission suffix.
    resubmission : int
        0 for ``batchnorm.ipynb``, 1 for ``batchnorm-1.ipynb``...
    """

    name: str
    late: bool
    userid: str
    fileid: int
    original: str
    resubmission: int


def parse_canvas_name(filename: str) -> CanvasName | None:
    """Parse ``<name>[_LATE]_<userid>_<fileid>_<original>`` (Canvas); None for any other name."""
    m = _CANVAS.match(filename)
    if m is None:
        return None
    original = m["original"]
    resub = re.search(r"-(\d+)$", PurePosixPath(original).stem)
    return CanvasName(m["name"], bool(m["late"]), m["userid"], int(m["fileid"]), original,
                      int(resub[1]) if resub else 0)


def _canvas_submissions(files: list[Path]) -> tuple[list[Submission], list[Path]]:
    """Canvas-named files grouped by user, the latest of each graded; and the other files."""
    by_user: dict[str, list[tuple[CanvasName, Path]]] = {}
    others: list[Path] = []
    for path in files:
        parsed = parse_canvas_name(path.name)
        if parsed is None:
            others.append(path)
        else:
            by_user.setdefault(parsed.userid, []).append((parsed, path))
    users_of: dict[str, set[str]] = {}
    for userid, entries in by_user.items():
        users_of.setdefault(safe_student_id(entries[0][0].name).lower(), set()).add(userid)
    found = []
    for userid, entries in sorted(by_user.items()):
        entries.sort(key=lambda e: (e[0].fileid, e[0].resubmission, e[1].name))
        latest, path = entries[-1]
        sid = safe_student_id(latest.name)
        if len(users_of[sid.lower()]) > 1:  # two Canvas users with one short name
            sid = safe_student_id(f"{latest.name}-{userid}")
        problems = []
        if len(entries) > 1:
            problems.append(f"{len(entries)} submissions from Canvas user {userid}; graded the latest "
                            f"({path.name}), ignored " + ", ".join(p.name for _, p in entries[:-1]))
        if latest.late:
            problems.append("Canvas marked this submission LATE")
        found.append(Submission(sid, path, path.name, problems))
    return found, others


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
        notes = extract_zip_with_notes(root, extract_to, limits=zip_limits)
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
        notes = {}
    else:
        raise SubmissionsError(f"{root} is neither a folder nor a zip archive.")

    entries = [e for e in sorted(folder.iterdir()) if not _is_hidden(e)]
    found, flat = _canvas_submissions([e for e in entries if e.is_file() and e.suffix.lower() == ".ipynb"])
    found.extend(Submission(safe_student_id(entry.stem), entry, entry.name) for entry in flat)
    for entry in entries:
        if entry.is_dir():
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
    resolved = {path.resolve(): extra for path, extra in notes.items() if extra}
    for s in found:
        if s.path is not None:
            s.problems[:0] = resolved.get(s.path.resolve(), [])
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


#: Longest file-name component written (most file systems allow 255 bytes).
_MAX_NAME_BYTES = 200


def _fit_name(part: str) -> str:
    """``part``, or a shortened form of it (start + hash + suffix) when over :data:`_MAX_NAME_BYTES`."""
    if len(part.encode("utf-8", "surrogateescape")) <= _MAX_NAME_BYTES:
        return part
    digest = hashlib.sha256(part.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    suffix = PurePosixPath(part).suffix[:20]
    head = part.encode("utf-8", "surrogateescape")[:120].decode("utf-8", "ignore")
    return f"{head}~{digest}{suffix}"


def _member_target(name: str) -> tuple[PurePosixPath | None, list[str]]:
    """Where a zip member goes inside the extraction folder, and what was odd about its name.

    An absolute name or one with ``..`` is not written where it points: it is confined to
    the folder (leading ``/``, drive letters and ``..`` removed); over-long names are shortened.
    None only when nothing of the name is left.
    """
    notes: list[str] = []
    rel = _safe_member_path(name)
    if rel is None:
        cleaned = re.sub(r"^[A-Za-z]:", "", name.replace("\\", "/"))
        parts = [q for q in cleaned.split("/") if q not in ("", ".", "..")]
        if not parts:
            return None, notes
        rel = PurePosixPath(*parts)
        notes.append(f"the zip entry {name!r} had an absolute or '..' path; extracted it as {rel.as_posix()!r} "
                     "inside the extraction folder")
    fitted = PurePosixPath(*(_fit_name(q) for q in rel.parts))
    if fitted != rel:
        notes.append(f"the zip entry's name was too long for the file system ({len(name.encode())} bytes); "
                     "shortened it")
    return fitted, notes


def _unflag_non_utf8_names(path: Path) -> set[str]:
    """Clear the "name is UTF-8" flag of the entries of the zip at ``path`` whose names are not UTF-8.

    Edits the file in place (central directory and local headers); returns those names as
    they now read (cp437). Raises ``ValueError`` for a zip this cannot walk (zip64, damage).
    """
    utf8 = 0x800
    fixed: set[str] = set()
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - 65_557))
        tail = fh.read()
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or len(tail) < end + 22:
            raise ValueError("no end of central directory record")
        count, cd_size, cd_offset = struct.unpack("<HII", tail[end + 10:end + 20])
        if cd_offset == 0xFFFFFFFF or cd_offset + cd_size > size:
            raise ValueError("zip64 or damaged central directory")
        fh.seek(cd_offset)
        directory = bytearray(fh.read(cd_size))
        at = 0
        for _ in range(count):
            if directory[at:at + 4] != b"PK\x01\x02":
                raise ValueError("damaged central directory entry")
            flags, = struct.unpack("<H", directory[at + 8:at + 10])
            name_len, extra_len, comment_len = struct.unpack("<HHH", directory[at + 28:at + 34])
            local, = struct.unpack("<I", directory[at + 42:at + 46])
            name = bytes(directory[at + 46:at + 46 + name_len])
            if flags & utf8:
                try:
                    name.decode("utf-8")
                except UnicodeDecodeError:
                    directory[at + 8:at + 10] = struct.pack("<H", flags & ~utf8)
                    fh.seek(local)
                    header = fh.read(8)
                    if header[:4] != b"PK\x03\x04":
                        raise ValueError("damaged local file header") from None
                    local_flags, = struct.unpack("<H", header[6:8])
                    fh.seek(local + 6)
                    fh.write(struct.pack("<H", local_flags & ~utf8))
                    fixed.add(name.decode("cp437"))
            at += 46 + name_len + extra_len + comment_len
        fh.seek(cd_offset)
        fh.write(directory)
    return fixed


def extract_zip(archive: Path, dest: Path, *, limits: ZipLimits = ZipLimits()) -> list[Path]:
    """Extract the notebooks of ``archive`` into ``dest``, refusing anything unsafe.

    See :func:`extract_zip_with_notes`; this returns only the written files.
    """
    return list(extract_zip_with_notes(archive, dest, limits=limits))


def extract_zip_with_notes(archive: Path, dest: Path, *,
                           limits: ZipLimits = ZipLimits()) -> dict[Path, list[str]]:
    """Extract the notebooks of ``archive`` into ``dest``; odd entry names are handled one by one.

    Only ``*.ipynb`` members are written (as regular files; symlink entries are skipped).
    Sizes are counted on the bytes actually decompressed, not the headers' claims. Nothing is
    ever written outside ``dest``: absolute and ``..`` names are confined to it, names too long
    for the file system are shortened, and an entry whose name repeats an earlier one replaces
    it (the later entry of a zip is the later upload), a name marked UTF-8 that is not is read
    as cp437 (as zip names without the mark are); each of these is noted for that file.

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
    dict
        Written file -> notes about its entry (empty when nothing was odd).

    Raises
    ------
    UnsafeArchiveError
        The archive cannot be read, or a cap is exceeded (a possible zip bomb).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: dict[Path, list[str]] = {}
    total = 0
    relabeled: set[str] = set()
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except UnicodeDecodeError:  # a name marked UTF-8 that is not: read such names as cp437 instead
            copy = dest / ".relabeled.zip"  # hidden: never taken for a submission
            shutil.copyfile(archive, copy)
            relabeled = _unflag_non_utf8_names(copy)
            zf = zipfile.ZipFile(copy)
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnsafeArchiveError(f"cannot open {archive} as a zip archive: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise UnsafeArchiveError(
                f"{archive.name} has {len(infos)} entries, more than the limit of {limits.max_members}."
            )
        for info in infos:
            if info.is_dir() or not info.filename.lower().endswith(".ipynb"):
                continue
            rel, notes = _member_target(info.filename)
            if info.filename in relabeled:
                notes.insert(0, f"the zip entry name {info.filename!r} was marked UTF-8 but is not; read it as cp437")
            if rel is None or rel.suffix.lower() != ".ipynb":
                continue
            if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            mode = (info.external_attr >> 16) & 0o170000
            if mode == stat.S_IFLNK:
                continue
            target = root.joinpath(*rel.parts)
            if not target.resolve().is_relative_to(root):  # e.g. through a folder symlink: never
                continue
            if info.file_size > limits.max_file_bytes:
                raise UnsafeArchiveError(
                    f"{archive.name}: {info.filename!r} is {info.file_size} bytes uncompressed, over the "
                    f"per-notebook limit of {limits.max_file_bytes}."
                )
            if target in written:
                notes = [*written.pop(target), *notes,
                         f"the zip holds several entries named {rel.as_posix()!r}; graded the last one"]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                out = open(target, "wb")  # noqa: SIM115 - closed below
            except OSError as exc:  # a name the file system refuses in another way: a plain one
                notes = [*notes, f"the zip entry {info.filename!r} could not be extracted under its name "
                                 f"({exc.strerror}); extracted it as {safe_student_id(rel.stem)}.ipynb"]
                target = root / f"{safe_student_id(rel.stem)}.ipynb"
                out = open(target, "wb")  # noqa: SIM115 - closed below
            size = 0
            with zf.open(info) as src, out:
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
            written[target] = notes
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


def notebook_from_json(data: object) -> LoadedNotebook:
    """Build a clean v4 notebook (no outputs) from parsed JSON of unknown quality.

    Keeps each cell's type (code, markdown or raw), its source as one string, and the
    well-typed part of its nbgrader metadata; puts the outputs apart (``saved_outputs``); drops execution counts,
    attachments
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
            data = dict(nbformat.convert(nbformat.from_dict(data), 4))  # a plain dict for the checker
            problems.append("notebook was in the old v3 format; converted it")
        except Exception as exc:  # noqa: BLE001 - nbformat raises many types on odd v3 content
            return LoadedNotebook(None, [f"the notebook is in the old v3 format and could not be "
                                         f"converted: {exc}"])
    cells = data.get("cells")
    if not isinstance(cells, list):
        return LoadedNotebook(None, ["the file is JSON but has no list of 'cells'; it is not a notebook"])
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    dropped = 0
    saved: list[list[dict]] = []
    for raw in cells:
        if not isinstance(raw, dict):
            dropped += 1
            continue
        ctype = raw.get("cell_type")
        source = _as_text(raw.get("source", ""))
        meta = raw.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
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
        outputs = raw.get("outputs") if ctype == "code" else None
        saved.append([o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else [])
    if dropped:
        problems.append(f"{dropped} malformed cell(s) were ignored")
    return LoadedNotebook(nb, problems, saved)


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
    loaded = notebook_from_json(valid)
    loaded.problems[:0] = problems
    return loaded


def _tree_files(src: Path, skip_suffixes: tuple[str, ...]) -> Iterator[tuple[Path, str]]:
    """(path, relative POSIX path) of the regular files under ``src``: no hidden files or folders,
    no ``__pycache__``, no symlink that leads out of ``src``."""
    src = Path(src)
    root = src.resolve()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            if fname.startswith(".") or path.suffix.lower() in skip_suffixes:
                continue
            if not path.resolve().is_relative_to(root) or not path.is_file():
                continue
            yield path, path.relative_to(src).as_posix()


def copy_tree_files(src: Path, dest: Path, *, skip_suffixes: tuple[str, ...] = ()) -> None:
    """Copy the regular files under ``src`` into ``dest`` (following no symlink out of ``src``)."""
    for path, rel in _tree_files(src, skip_suffixes):
        target = Path(dest) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def read_tree_files(src: Path, *, skip_suffixes: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The regular files under ``src`` as {relative POSIX path: bytes} (what :func:`copy_tree_files` copies).

    Lets a grading job carry the released files to a machine that cannot see ``src``.
    """
    return {rel: path.read_bytes() for path, rel in _tree_files(src, skip_suffixes)}


def write_tree_files(files: Mapping[str, bytes], dest: Path) -> None:
    """Write {relative POSIX path: bytes} (from :func:`read_tree_files`) under ``dest``.

    Raises
    ------
    ValueError
        A path is absolute or leaves ``dest`` (``..``): the files did not come from
        :func:`read_tree_files`.
    """
    dest = Path(dest)
    for rel, data in files.items():
        safe = _safe_member_path(rel)
        if safe is None or safe.as_posix() != rel:
            raise ValueError(f"refusing to write the released file {rel!r}: not a plain relative path")
        target = dest.joinpath(*safe.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
