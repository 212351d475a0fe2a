"""``python -m autograder validate``: what an instructor runs after every edit (autograder.validate).

Every check is shown to pass on the shipped course and to name the cell and the fix on a broken copy;
``release`` and ``grade`` refuse a structurally broken notebook with the same messages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import grading_fixture as fx
import nbformat
import pytest

from autograder.assignments import assignment_names, get_assignment
from autograder.grade.batch import grade_assignment
from autograder.release.build import release
from autograder.release.errors import ReleaseError
from autograder.validate.checks import validate
from autograder.validate.library import library_problems
from autograder.validate.solutions import solution_problems
from autograder.validate.structure import Problem, ValidationError, structural_problems

REPO = Path(__file__).resolve().parents[1]
NAME = "dropout"


def _course(tmp_path: Path) -> Path:
    """A copy of the course with every source notebook and dropout's release (validate reads only these)."""
    course = tmp_path / "course"
    shutil.copytree(REPO / "course_lib", course / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "source", course / "source")
    shutil.copytree(REPO / "release" / NAME, course / "release" / NAME)
    return course


def _edit(course: Path, edit) -> None:
    path = course / "source" / NAME / f"{NAME}.ipynb"
    nb = nbformat.read(path, as_version=4)
    edit({c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}, nb)
    nbformat.write(nb, path)


def test_the_shipped_course_has_no_problem():
    t0 = time.monotonic()
    assert validate(assignment_names(), REPO, checks=("structure", "library", "leaks")) == []
    assert time.monotonic() - t0 < 60  # seconds, not minutes: no kernel, no torch


def _use_rel_error(cells, nb):
    cells["test_dropout_forward"].source += "\nassert rel_error(1.0, 1.0) < 1e-9\n"


def _duplicate_id(cells, nb):
    cells["test_dropout_backward"].metadata["nbgrader"]["grade_id"] = "test_dropout_forward"


def _no_points(cells, nb):
    del cells["test_dropout_backward"].metadata["nbgrader"]["points"]


def _open_hidden(cells, nb):
    cells["test_dropout_forward"].source = cells["test_dropout_forward"].source.replace(
        "### END HIDDEN TESTS", "")


def _syntax_error(cells, nb):
    cells["test_dropout_backward"].source += "\nassert (\n"


def _markers_without_metadata(cells, nb):
    nb.cells.append(nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS\n"))


@pytest.mark.parametrize("edit, where, words", [
    (_use_rel_error, "(test_dropout_forward)", ["`rel_error`", "no solution cell defines", "Import it"]),
    (_duplicate_id, "(test_dropout_forward)", ["also used by cell", "must be unique"]),
    (_no_points, "(test_dropout_backward)", ["needs points", "set its points"]),
    (_open_hidden, "(test_dropout_forward)", ["'### BEGIN HIDDEN TESTS' is never closed", "### END HIDDEN TESTS"]),
    (_syntax_error, "(test_dropout_backward)", ["not valid Python"]),
    (_markers_without_metadata, "dropout.ipynb, cell", ["no nbgrader metadata"]),
])
def test_structural_problems_name_the_cell_and_the_fix(tmp_path, edit, where, words):
    course = _course(tmp_path)
    assert structural_problems(NAME, course) == []
    _edit(course, edit)
    problems = structural_problems(NAME, course)
    assert len(problems) == 1, problems
    [p] = problems
    assert p.assignment == NAME and p.check == "structure" and p.where.startswith(f"source/{NAME}/{NAME}.ipynb")
    assert where in p.where, p
    for w in words:
        assert w in p.message, p
    # release and grade refuse with the same message, before writing or grading anything
    before = sorted((course / "release" / NAME).rglob("*"))
    with pytest.raises(ValidationError) as info:
        release([NAME], course)
    assert isinstance(info.value, ReleaseError) and str(p) in str(info.value)
    assert info.value.problems == problems
    assert sorted((course / "release" / NAME).rglob("*")) == before
    with pytest.raises(ValidationError, match="python -m autograder validate dropout") as info:
        grade_assignment(NAME, tmp_path / "no-submissions-needed", course_dir=course, workers=0, progress=False)
    assert str(p) in str(info.value)
    assert not (course / "grading-out").exists()


def test_points_come_from_the_notebook_alone(tmp_path):
    course = _course(tmp_path)
    assert get_assignment(NAME, course).total_points == 9

    def more_points(cells, nb):
        cells["test_dropout_forward"].metadata["nbgrader"]["points"] += 2

    _edit(course, more_points)
    assert get_assignment(NAME, course).total_points == 11
    assert validate([NAME], course, checks=("structure", "library")) == []


def _mark(course: Path, old: str, new: str) -> None:
    path = course / "course_lib" / "layers.py"
    text = path.read_text()
    assert text.count(old) == 1, "dropout_forward and dropout_backward are one region"
    path.write_text(text.replace(old, new))


def test_a_library_answer_the_release_would_ship_is_reported(tmp_path):
    course = _course(tmp_path)
    assert library_problems(NAME, course) == []
    _mark(course, "# BEGIN SOLUTION fc_nets batchnorm dropout\n", "# BEGIN SOLUTION fc_nets batchnorm\n")
    problems = library_problems(NAME, course)
    assert {(p.where, p.message.split(",")[0]) for p in problems} == {
        ("course_lib/layers.py", f"the release ships course_lib.layers.{f}") for f in ("dropout_forward",
                                                                                       "dropout_backward")}
    assert all("'# BEGIN SOLUTION dropout'" in p.message and "a student who imports it" in p.message
               for p in problems)


def test_a_marker_naming_no_assignment_is_reported_once(tmp_path):
    course = _course(tmp_path)
    _mark(course, "# BEGIN SOLUTION fc_nets batchnorm dropout\n", "# BEGIN SOLUTION fc_nets batchnorm dropuot\n")
    problems = validate(["batchnorm", NAME], course, checks=("structure", "library"))
    assert len(problems) == 1  # said once although two assignments were validated
    assert all(p.check == "library" and "names 'dropuot', which is not an assignment" in p.message
               for p in problems)
    assert problems[0].where.split(":")[0] == "course_lib/layers.py"


def test_leaks_and_drift_are_reported(tmp_path):
    course = _course(tmp_path)
    (course / "release" / NAME / "stray.txt").write_text("left behind\n")
    with (course / "release" / NAME / "README.md").open("a") as fh:
        fh.write("\n".join(f"    {line}" for line in _solution_lines(course)) + "\n")
    problems = validate([NAME], course, checks=("structure", "leaks", "drift"))
    kinds = {(p.check, p.where) for p in problems}
    assert ("leaks", f"release/{NAME}/README.md") in kinds
    assert ("drift", f"release/{NAME}/stray.txt") in kinds and ("drift", f"release/{NAME}/README.md") in kinds
    assert all(f"python -m autograder release {NAME}" in p.message for p in problems)


def _solution_lines(course: Path) -> list[str]:
    from autograder.validate.leaks import secret_lines

    return [line for line in secret_lines(NAME, course) if "mask" in line][:2]


def test_run_grades_the_source_notebooks_own_solutions(tmp_path):
    course = fx.make_course(tmp_path / "course")
    assert solution_problems(fx.ASSIGNMENT, course) == []
    path = course / "source" / fx.ASSIGNMENT / "tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[4].source = nb.cells[4].source.replace("return a + b", "return a - b")
    nbformat.write(nb, path)
    [p] = solution_problems(fx.ASSIGNMENT, course)
    assert p == Problem(fx.ASSIGNMENT, "run", "source/tiny/tiny.ipynb, test_add",
                        "the notebook's own solutions fail this test: add(2, 3) should be 5")


def test_cli_end_to_end(tmp_path):
    course = _course(tmp_path)
    _edit(course, _use_rel_error)
    cmd = [sys.executable, "-m", "autograder", "validate", "--course", str(course)]
    res = subprocess.run([*cmd, NAME], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == str(structural_problems(NAME, course)[0])
    assert lines[-1] == "1 problem(s) in dropout."
    res = subprocess.run([*cmd, "nope"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 2 and "unknown assignment(s) nope" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([*cmd[:-2], "--help"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "python -m autograder validate dropout --run" in res.stdout
