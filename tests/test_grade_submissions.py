"""Finding and safely reading submissions (no kernels here)."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import grading_fixture as fx
import pytest

from autograder.grade.submissions import (
    CanvasName,
    SubmissionsError,
    SubmissionsNotFoundError,
    UnsafeArchiveError,
    ZipLimits,
    discover_submissions,
    extract_zip,
    extract_zip_with_notes,
    load_notebook_bytes,
    parse_canvas_name,
    safe_student_id,
)

A = fx.ASSIGNMENT


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_nbgrader_layout_picks_the_single_notebook_and_reports_oddities(tmp_path):
    root = tmp_path / "submitted"
    _write(root / "alice" / A / f"{A}.ipynb", fx.student_notebook("solution"))
    _write(root / "bob" / A / "my copy.ipynb", fx.student_notebook("partial"))  # renamed
    _write(root / "bob" / A / ".ipynb_checkpoints" / f"{A}-checkpoint.ipynb", b"{}")
    (root / "carol" / A).mkdir(parents=True)  # no notebook
    _write(root / "dave" / A / "a.ipynb", b"{}")
    _write(root / "dave" / A / "b.ipynb", b"{}")  # two, none named tiny.ipynb
    _write(root / "erin" / A / "scratch.ipynb", b"{}")
    _write(root / "erin" / A / f"{A}.ipynb", b"{}")  # two, one named right
    subs = {s.student: s for s in discover_submissions(root, A)}
    assert sorted(subs) == ["alice", "bob", "carol", "dave", "erin"]
    assert subs["alice"].path.name == f"{A}.ipynb" and subs["alice"].problems == []
    assert subs["bob"].path.name == "my copy.ipynb"
    assert "instead of 'tiny.ipynb'" in subs["bob"].problems[0]
    assert subs["carol"].path is None and "no notebook found" in subs["carol"].problems[0]
    assert subs["dave"].path is None and "several notebooks" in subs["dave"].problems[0]
    assert subs["erin"].path.name == f"{A}.ipynb" and "several notebooks" in subs["erin"].problems[0]


def test_flat_folder_ids_are_sanitized_and_unique(tmp_path):
    root = tmp_path / "lms"
    _write(root / "Jane Doe (1234).ipynb", b"{}")
    _write(root / "evil$(rm -rf ~);.ipynb", b"{}")
    _write(root / "jane_doe_1234.ipynb", b"{}")
    _write(root / "notes.txt", b"ignored")
    subs = discover_submissions(root, A)
    ids = [s.student for s in subs]
    assert len(ids) == len(set(ids)) == 3
    assert all(c.isalnum() or c in "_.-" for sid in ids for c in sid)
    assert "Jane_Doe_1234" in ids and "evil_rm_-rf" in ids
    dup = [s for s in subs if s.problems]
    assert len(dup) == 1 and "already used" in dup[0].problems[0]


@pytest.mark.parametrize("name, expected", [
    ("Jane Doe", "Jane_Doe"), ("../../etc/passwd", "etc_passwd"), (".hidden", "hidden"),
    ("", "student"), ("é" * 3, "student"), ("a" * 100, "a" * 64), ("grades.csv", "grades.csv_"),
])
def test_safe_student_id(name, expected):
    assert safe_student_id(name) == expected


def test_bad_submissions_argument_is_a_clear_error(tmp_path):
    with pytest.raises(SubmissionsNotFoundError, match="does not exist"):
        discover_submissions(tmp_path / "nope", A)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionsError, match="no submissions found"):
        discover_submissions(tmp_path / "empty", A)
    _write(tmp_path / "x.csv", b"a,b\n")
    with pytest.raises(SubmissionsError, match="not a zip"):
        discover_submissions(tmp_path / "x.csv", A)


def test_zip_of_flat_notebooks_wrapped_in_a_folder(tmp_path):
    archive = tmp_path / "export.zip"
    alice = fx.student_notebook("solution")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/alice.ipynb", alice)
        zf.writestr("export/bob.ipynb", fx.student_notebook("blank"))
        zf.writestr("export/readme.txt", "not a notebook")
        zf.writestr("__MACOSX/export/._alice.ipynb", b"junk")
    subs = discover_submissions(archive, A, extract_to=tmp_path / "x")
    assert [s.student for s in subs] == ["alice", "bob"]
    assert subs[0].path.read_bytes() == alice
    assert not list((tmp_path / "x").rglob("*.txt"))


@pytest.mark.parametrize("member", ["../escape.ipynb", "/abs/escape.ipynb", "a/../../escape.ipynb",
                                    "C:/escape.ipynb", "a\\..\\..\\escape.ipynb"])
def test_zip_slip_is_confined_to_the_folder_and_noted(tmp_path, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.ipynb", b"{}")
        zf.writestr(member, b"{}")
    dest = tmp_path / "deep" / "x"
    written = extract_zip_with_notes(archive, dest)
    assert not (tmp_path / "escape.ipynb").exists() and not (tmp_path / "deep" / "escape.ipynb").exists()
    assert not Path("/abs/escape.ipynb").exists()
    assert all(p.resolve().is_relative_to(dest.resolve()) for p in written)
    assert written[(dest / "ok.ipynb").resolve()] == []
    [(escaped, notes)] = [(p, n) for p, n in written.items() if p.name == "escape.ipynb"]
    assert len(notes) == 1 and "absolute or '..' path" in notes[0] and repr(member) in notes[0]


def _zip_with_raw_names(path: Path, entries: list[tuple[bytes, bytes]], *, utf8_flag: bool = False) -> Path:
    """A zip whose entry names are the given raw bytes (zipfile only writes names it can encode)."""
    # Placeholders as long as the real names keep every offset of the zip valid.
    placeholders = [str(k).rjust(len(name) - len(".ipynb"), "P") + ".ipynb" for k, (name, _) in enumerate(entries)]
    with zipfile.ZipFile(path, "w") as zf:
        for placeholder, (_, data) in zip(placeholders, entries, strict=True):
            zf.writestr(placeholder, data)
    raw = path.read_bytes()
    for placeholder, (name, _) in zip(placeholders, entries, strict=True):
        raw = raw.replace(placeholder.encode(), name)
    if utf8_flag:  # general purpose flag bit 11 ("names are UTF-8") of each central directory entry
        raw = bytearray(raw)
        at = raw.find(b"PK\x01\x02")
        while at >= 0:
            raw[at + 9] |= 0x08  # the flags are at offset 8, little-endian: bit 11 is bit 3 of byte 9
            at = raw.find(b"PK\x01\x02", at + 4)
        raw = bytes(raw)
    path.write_bytes(raw)
    return path


def test_odd_zip_entry_names_are_handled_per_submission(tmp_path):
    """Issue 8 point 5 / issue 9 point 6: a name over 255 bytes, a repeated name, a non-UTF-8 name."""
    long_name = "s" + "x" * 300 + ".ipynb"
    partial, blank, solution = (fx.student_notebook(k) for k in ("partial", "blank", "solution"))
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(long_name, partial)
        zf.writestr("bob.ipynb", blank)
        zf.writestr("bob.ipynb", solution)  # repeated: the later one counts
        zf.writestr("carol.ipynb", solution)
    subs = {s.student: s for s in discover_submissions(archive, A, extract_to=tmp_path / "x")}
    assert sorted(subs) == ["bob", "carol", "s" + "x" * 63]
    long_sub = subs["s" + "x" * 63]
    assert long_sub.path.read_bytes() == partial
    assert any("too long" in p for p in long_sub.problems)
    assert subs["bob"].path.read_bytes() == solution
    assert any("several entries named 'bob.ipynb'; graded the last one" in p for p in subs["bob"].problems)
    assert subs["carol"].problems == []

    latin1 = _zip_with_raw_names(tmp_path / "latin1.zip", [(b"Jos\xe9ph.ipynb", b"{}"), (b"anna.ipynb", b"{}")])
    subs = {s.student: s for s in discover_submissions(latin1, A, extract_to=tmp_path / "y")}
    assert sorted(subs) == ["Jos_ph", "anna"]  # read as cp437 (no UTF-8 flag), then a safe id

    flagged = _zip_with_raw_names(tmp_path / "flagged.zip", [(b"Jos\xe9ph.ipynb", b"{}"), (b"anna.ipynb", b"[]")],
                                  utf8_flag=True)  # Python's zipfile alone refuses the whole archive
    original = flagged.read_bytes()
    subs = {s.student: s for s in discover_submissions(flagged, A, extract_to=tmp_path / "z")}
    assert sorted(subs) == ["Jos_ph", "anna"] and subs["anna"].path.read_bytes() == b"[]"
    assert subs["Jos_ph"].problems == ["the zip entry name 'Jos\u0398ph.ipynb' was marked UTF-8 but is not; "
                                       "read it as cp437"] and subs["anna"].problems == []
    assert flagged.read_bytes() == original  # a copy was relabeled, not the instructor's file


def test_zip_symlink_entries_are_not_followed(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link.ipynb")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("real.ipynb", b"{}")
    written = extract_zip(archive, tmp_path / "out")
    assert [p.name for p in written] == ["real.ipynb"]
    assert not (tmp_path / "out" / "link.ipynb").exists()


def test_zip_bomb_is_refused_by_ratio_and_by_size(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.ipynb", b"0" * (20 * 1024 * 1024))  # compresses ~1000x
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        extract_zip(archive, tmp_path / "a")
    with pytest.raises(UnsafeArchiveError, match="limit"):
        extract_zip(archive, tmp_path / "b", limits=ZipLimits(max_file_bytes=1024 * 1024, max_ratio=1e9))
    with pytest.raises(UnsafeArchiveError, match="size limits"):
        extract_zip(archive, tmp_path / "c", limits=ZipLimits(max_total_bytes=2 * 1024 * 1024, max_ratio=1e9))
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(30):
            zf.writestr(f"s{i}.ipynb", b"{}")
    with pytest.raises(UnsafeArchiveError, match="entries"):
        extract_zip(many, tmp_path / "d", limits=ZipLimits(max_members=10))


def test_load_strips_saved_outputs_and_keeps_nbgrader_ids():
    loaded = load_notebook_bytes(fx.student_notebook("huge_output"))
    assert loaded.notebook is not None and loaded.problems == []
    code = [c for c in loaded.notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert [c.metadata["nbgrader"]["grade_id"] for c in code if "nbgrader" in c.metadata][:3] == \
        ["setup", "square_sol", "test_square"]


@pytest.mark.parametrize("kind, message", [
    ("malformed_json", "not valid JSON (line"),
    ("not_a_notebook", "not a notebook"),
])
def test_unreadable_notebooks_give_a_reason(kind, message):
    loaded = load_notebook_bytes(fx.student_notebook(kind))
    assert loaded.notebook is None
    assert message in loaded.problems[-1]


def test_non_utf8_bytes_are_replaced_and_reported():
    loaded = load_notebook_bytes(fx.student_notebook("non_utf8"))
    assert loaded.notebook is not None
    assert "not UTF-8" in loaded.problems[0]
    assert any("caf\ufffd" in c.source for c in loaded.notebook.cells)


def test_odd_structures_and_size_cap():
    assert load_notebook_bytes(b"").notebook is None
    assert "empty" in load_notebook_bytes(b"  \n").problems[-1]
    nested = b"[" * 100_000 + b"]" * 100_000
    assert load_notebook_bytes(nested).notebook is None
    weird = {"cells": [{"cell_type": "code", "source": ["a = ", "1"], "metadata": {"nbgrader": "x"}},
                       "not a cell", {"cell_type": "widget", "source": ""},
                       {"cell_type": "markdown", "source": 5, "metadata": {"nbgrader": {"grade_id": 3}}}],
             "metadata": [], "nbformat": 4, "nbformat_minor": 5}
    loaded = load_notebook_bytes(json.dumps(weird).encode())
    assert [c.cell_type for c in loaded.notebook.cells] == ["code", "markdown"]
    assert loaded.notebook.cells[0].source == "a = 1"
    assert "nbgrader" not in loaded.notebook.cells[1].metadata
    assert "2 malformed cell(s)" in loaded.problems[0]
    big = load_notebook_bytes(b"{" + b" " * 2000 + b"}", max_bytes=1000)
    assert big.notebook is None and "over the" in big.problems[0]


def test_canvas_names_give_one_student_each_and_the_latest_resubmission(tmp_path):
    """Canvas's "Download submissions" names: <name>[_LATE]_<userid>_<fileid>_<original>, resubmissions
    suffixed -1, -2 (issue 9 point 6; the example name is the issue's)."""
    first, second, third, other = (fx.student_notebook(k) for k in ("blank", "partial", "solution", "solution"))
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_234567_7890001_tiny.ipynb", first)
        zf.writestr("doejane_LATE_234567_7890124_tiny-1.ipynb", second)
        zf.writestr("doejane_LATE_234567_7890200_tiny-2.ipynb", third)  # the latest upload
        zf.writestr("smithjo_111_7890150_tiny.ipynb", other)
        zf.writestr("smithjo_222_7890151_My Tiny (final).ipynb", other)  # another user, same short name
        zf.writestr("plainname.ipynb", other)
    subs = {s.student: s for s in discover_submissions(archive, A, extract_to=tmp_path / "x")}
    assert sorted(subs) == ["doejane", "plainname", "smithjo-111", "smithjo-222"]
    jane = subs["doejane"]
    assert jane.path.read_bytes() == third and jane.origin == "doejane_LATE_234567_7890200_tiny-2.ipynb"
    assert any("3 submissions from Canvas user 234567; graded the latest" in p
               and "doejane_234567_7890001_tiny.ipynb" in p for p in jane.problems)
    assert "Canvas marked this submission LATE" in jane.problems
    assert subs["smithjo-111"].problems == [] and subs["plainname"].problems == []

    parsed = parse_canvas_name("doejane_LATE_234567_7890124_batchnorm-1.ipynb")
    assert parsed == CanvasName("doejane", True, "234567", 7890124, "batchnorm-1.ipynb", 1)
    assert parse_canvas_name("jane_doe.ipynb") is None and parse_canvas_name("alice.ipynb") is None
