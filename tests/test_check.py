"""``course_lib.check``, the students' check: the table it prints (whole messages, never cut), and the command
``python -m course_lib.check [NOTEBOOK]`` with ``--help`` and its exit codes (0 all pass, 1 a failure, 2 bad
input). Finding notebooks and the notebook-cell call ``check()`` are tested in tests/test_cli.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grading_fixture as fx
import nbformat
import pytest

from course_lib.check import CheckResult, format_table, main

REPO = Path(__file__).resolve().parents[1]

# A hint as long as the checks' real ones (e.g. autograder.checks' "...is wrong (relative error ...). <hint>").
LONG_HINT = ("add(2, 3) is wrong: it should return the sum of its two arguments; check the sign of the second "
             "argument and that you return the value instead of printing it (see the docstring above).")


def _notebook_with_long_hint(folder: Path) -> Path:
    """The tiny assignment with ``square`` right and ``add`` wrong, whose test asserts with LONG_HINT."""
    nb = fx.notebook(square_body=fx.SQUARE_SOLUTION, add_body="    return a - b\n")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_add":
            cell.source = f"assert add(2, 3) == 5, {LONG_HINT!r}\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_table_shows_a_long_message_whole():
    results = [CheckResult("test_square", 2.0, True, "passed", 4),
               CheckResult("test_add", 1.0, False, f"AssertionError: {LONG_HINT}\nsecond line of the message", 6)]
    table = format_table(results, Path("tiny.ipynb"))
    assert len(LONG_HINT) > 150 and f"AssertionError: {LONG_HINT}" in table
    assert "...\n" not in table and "second line of the message" in table
    assert "1 of 2 test cells pass (2 of 3 points)" in table


def test_help_says_how_to_run_it_and_what_the_exit_codes_mean(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for words in ("usage: python -m course_lib.check", "NOTEBOOK", "--timeout", "python -m course_lib.check fc_nets.ipynb",
                  "from course_lib.check import check; check()", "0 every test cell passes, 1 some fail"):
        assert words in out


def test_missing_notebook_is_one_error_line_and_exit_code_2(capsys, tmp_path):
    assert main([str(tmp_path / "missing.ipynb")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: notebook not found") and "Traceback" not in out + err


def test_bad_timeout_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "x.ipynb"), "--timeout", "0"])
    assert exc.value.code == 2 and "must be > 0" in capsys.readouterr().err


def test_a_failing_test_cell_prints_its_whole_hint_and_exits_1(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout's course_lib, as a release's
    nb = _notebook_with_long_hint(tmp_path / "hw")
    assert main([str(nb), "--timeout", "60"]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  test_")}
    assert "PASS" in rows["test_square"] and "FAIL" in rows["test_add"]
    assert f"AssertionError: {LONG_HINT}" in rows["test_add"]
    assert "1 of 2 test cells pass (2 of 3 points)" in out


def _clean_env() -> dict:
    """This environment without the markers that make check() a no-op (set while checking or grading)."""
    return {k: v for k, v in os.environ.items() if k not in ("COURSE_LIB_CHECK_RUNNING", "AUTOGRADER_GRADING")}


def test_module_command_end_to_end_exits_0_when_every_test_cell_passes(tmp_path):
    folder = tmp_path / "hw"
    folder.mkdir()
    (folder / "tiny.ipynb").write_bytes(fx.student_notebook("solution"))
    proc = subprocess.run([sys.executable, "-m", "course_lib.check", "--timeout", "60"], cwd=folder,
                          env={**_clean_env(), "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 test cells pass (3 of 3 points)" in proc.stdout
