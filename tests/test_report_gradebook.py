"""The nbgrader gradebook follows the source notebook (autograder.report.gradebook).

Changed points, added and removed graded cells are synced at the start of the next grading run without
losing any recorded grade; nbgrader's own ``SaveCells`` (what ``nbgrader generate_assignment`` runs) works
on the synced gradebook afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import grading_fixture as fx
import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grade.batch import grade_assignment
from autograder.grade.job import GradingOptions
from autograder.report.gradebook import GradebookWriter, course_settings

OPTIONS = GradingOptions(cell_timeout=10.0, test_timeout=20.0, submission_timeout=120.0)
EXTRA = ("test_extra", 2.0, 'assert add(10, -4) == 6, "add(10, -4) should be 6"\n')


def _source(course: Path) -> Path:
    return course / "source" / fx.ASSIGNMENT / "tiny.ipynb"


def _grade_cell(grade_id: str, points: float, source: str):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "locked": True, "points": points, "schema_version": 3,
        "solution": False}})


def _edit_source(course: Path, *, add_points: float | None = None, add_cell=None, remove: str | None = None):
    nb = nbformat.read(_source(course), as_version=4)
    for cell in list(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if add_points is not None and meta.get("grade_id") == "test_add":
            meta["points"] = add_points
        if remove is not None and meta.get("grade_id") == remove:
            nb.cells.remove(cell)
    if add_cell is not None:
        nb.cells.insert(6, add_cell)  # after test_add
    nbformat.write(nb, _source(course))


def _submit(root: Path, students: dict[str, str]) -> Path:
    for student, kind in students.items():
        path = root / student / fx.ASSIGNMENT / "tiny.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(fx.student_notebook(kind))
    return root


def _grades(course: Path, student: str) -> dict[str, tuple]:
    db_url, course_id = course_settings(course)
    with Gradebook(db_url, course_id) as gb:
        sub = gb.find_submission_notebook("tiny", fx.ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.manual_score, g.max_score) for g in sub.grades}


def test_changed_points_and_an_added_cell_are_graded_and_earlier_grades_kept(tmp_path):
    course = fx.make_course(tmp_path / "course")
    first = _submit(tmp_path / "first", {"alice": "solution", "bob": "partial"})
    summary = grade_assignment(fx.ASSIGNMENT, first, course_dir=course, out_dir=tmp_path / "out1", workers=0,
                               options=OPTIONS, progress=False)
    assert not summary.grader_errors and not summary.gradebook_problems
    db_url, course_id = course_settings(course)
    with Gradebook(db_url, course_id) as gb:  # a grader scores bob's written answer by hand
        gb.find_grade("explain", "tiny", fx.ASSIGNMENT, "bob").manual_score = 0.5
        gb.db.commit()
    bob_before = _grades(course, "bob")
    assert bob_before == {"test_square": (2.0, None, 2.0), "test_add": (0.0, None, 1.0),
                          "explain": (None, 0.5, 1.0)}

    _edit_source(course, add_points=4.0, add_cell=_grade_cell(*EXTRA[:2], EXTRA[2]))
    second = _submit(tmp_path / "second", {"carol": "solution", "dave": "partial"})
    summary = grade_assignment(fx.ASSIGNMENT, second, course_dir=course, out_dir=tmp_path / "out2", workers=0,
                               options=OPTIONS, progress=False)
    assert not summary.grader_errors and not summary.gradebook_problems, summary.lines()
    # the new maximum is used and the new cell graded (carol: all right; dave: add is wrong)
    assert _grades(course, "carol") == {"test_square": (2.0, None, 2.0), "test_add": (4.0, None, 4.0),
                                        "test_extra": (2.0, None, 2.0), "explain": (None, None, 1.0)}
    assert _grades(course, "dave")["test_extra"] == (0.0, None, 2.0)
    assert summary.scores == {"carol": (8.0, 8.0), "dave": (2.0, 8.0)}
    # earlier students keep every recorded score; the new cell waits for their next grading
    bob_after = _grades(course, "bob")
    assert bob_after == {**{k: (a, m, 4.0 if k == "test_add" else mx) for k, (a, m, mx) in bob_before.items()},
                         "test_extra": (None, None, 2.0)}
    with Gradebook(db_url, course_id) as gb:
        assert gb.find_submission(fx.ASSIGNMENT, "alice").score == 3.0
        assert gb.find_assignment(fx.ASSIGNMENT).max_score == 9.0  # 2 + 4 + 2 + the manual 1


def test_removed_cells_go_and_nbgrader_can_generate_the_assignment_again(tmp_path):
    course = fx.make_course(tmp_path / "course")
    tests = [("test_square", 2.0), ("test_add", 1.0)]
    result = {"student": "erin", "tests": [
        {"grade_id": g, "kind": "auto", "score": p, "points": p} for g, p in tests]
        + [{"grade_id": "explain", "kind": "manual", "score": 0.0, "points": 1.0}]}
    with GradebookWriter(course, fx.ASSIGNMENT, _source(course)) as writer:
        writer.record(result)
    _edit_source(course, remove="test_add", add_cell=_grade_cell(*EXTRA[:2], EXTRA[2]))
    with GradebookWriter(course, fx.ASSIGNMENT, _source(course)) as writer:
        assert writer.gb.find_notebook("tiny", fx.ASSIGNMENT).submissions  # an assignment with submissions
        result["tests"] = [result["tests"][0], {"grade_id": "test_extra", "kind": "auto", "score": 0.0,
                                                "points": 2.0}, result["tests"][2]]
        writer.record(result)
    assert _grades(course, "erin") == {"test_square": (2.0, None, 2.0), "test_extra": (0.0, None, 2.0),
                                       "explain": (None, None, 1.0)}
    # Plain nbgrader (what `nbgrader generate_assignment --force` runs) accepts the synced gradebook now.
    from nbgrader.preprocessors import SaveCells

    db_url, _ = course_settings(course)
    SaveCells().preprocess(nbformat.read(_source(course), as_version=4),
                           {"nbgrader": {"notebook": "tiny", "assignment": fx.ASSIGNMENT, "db_url": db_url}})
    assert _grades(course, "erin")["test_square"] == (2.0, None, 2.0)


def test_an_unknown_grade_cell_says_to_grade_again(tmp_path):
    course = fx.make_course(tmp_path / "course")
    with GradebookWriter(course, fx.ASSIGNMENT, _source(course)) as writer, pytest.raises(
            Exception, match="run the same grade command again") as info:
        writer.record({"student": "x", "tests": [{"grade_id": "nope", "kind": "auto", "score": 1.0}]})
    assert type(info.value).__name__ == "GradebookError"
    shutil.rmtree(course)
