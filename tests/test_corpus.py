"""Independently written correct solutions get full points; the mutants keep losing theirs.

The corpus (:mod:`corpus_cases`, ``tests/corpus/<assignment>/*.py``) holds, per assignment, a few
submissions that each carry one variant of every graded function, written the way real students' code
differs (graph vs closed-form batch normalization inside the net, ``keepdims`` shapes, other operation
orders, loops vs vectorized, in-place vs copies, other cache layouts the docstrings allow, cs231n-2017 style
optimizer configs), each mimicking a named course's convention (cs231n assignment 2, UCLA C147 HW4, KTH
DD2424).

* in-process: every test cell of the source notebook (visible and hidden checks) passes on every corpus
  submission (fast; says which check rejects which correct code);
* through the real grading path (:func:`autograder.grade.batch.grade_assignment`: sandboxed kernels, hidden
  tests in the grader): one call per assignment grades the corpus and the mutants of
  ``tests/test_source_notebooks.py``; every corpus submission gets the assignment's total, every mutant
  loses exactly its function's points.
"""

from __future__ import annotations

import csv
import json
import time
import warnings

import nbformat
import numpy as np
import pytest
from corpus_cases import corpus_files, corpus_notebook, graded_code_solutions, read_cells
from test_source_notebooks import (
    GRADED_MUTANTS,
    REPO,
    SHIPPED,
    _graded_mutants,
    _nbgrader,
    _notebook,
    _run_cell,
    _test_cells,
    _write_submissions,
)

from autograder.assignments import get_assignment
from autograder.checks import CheckNote

#: Tests whose pass carries a note on an accepted (1, D) shape: (student, grade_id).
NOTED = {"batchnorm": [("corpus_cs231n_graph_keepdims", "test_batchnorm_backward"),
                       ("corpus_cs231n_graph_keepdims", "test_FullyConnectedNet")]}

#: Submissions per assignment (kept small: each one is a full notebook run under the grader).
CORPUS_SIZE = {"fc_nets": 3, "batchnorm": 3, "dropout": 3, "deep_networks": 3}


@pytest.mark.parametrize("name", SHIPPED)
def test_corpus_covers_every_graded_function(name):
    """Every submission of the corpus writes every code solution cell of the assignment."""
    files = corpus_files(name)
    assert len(files) == CORPUS_SIZE[name], sorted(files)
    wanted = set(graded_code_solutions(_notebook(name)))
    for stem, path in files.items():
        assert set(read_cells(path)) == wanted, f"{name}/{stem}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, stem", [(n, s) for n in SHIPPED for s in corpus_files(n)])
def test_corpus_passes_every_test_cell_in_process(name, stem):
    """The source notebook's test cells, run on the solution cells of the submission as pasted into the release
    (with the release's given imports, numpy as ``np`` from the setup cell) in one namespace."""
    release = nbformat.read(REPO / get_assignment(name).release_notebook, as_version=4)
    nb = corpus_notebook(release, corpus_files(name)[stem])
    ns: dict = {"__name__": f"corpus_{name}_{stem}", "np": np}
    for cell in nb.cells:
        if cell.cell_type == "code" and _nbgrader(cell).get("solution"):
            exec(compile(cell.source, f"<{stem}: {_nbgrader(cell)['grade_id']}>", "exec"), ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CheckNote)
        failures = {c.id: _run_cell(c.source, ns, c.id) for c in _test_cells(_notebook(name))}
    failed = {k: f"{type(v).__name__}: {v}" for k, v in failures.items() if v is not None}
    assert not failed, f"{name}/{stem}: correct code failed {failed}"


@pytest.mark.parametrize("name", SHIPPED)
def test_grader_gives_corpus_full_points_and_mutants_lose_theirs(name, tmp_path):
    """One ``grade_assignment`` call (``workers=0``) per assignment: corpus full marks, mutants lose their test."""
    from adversarial_cases import make_course

    from autograder.examples.make_examples import example_notebooks
    from autograder.grade.batch import grade_assignment

    assignment = get_assignment(name)
    course = make_course(tmp_path / "course", name)
    source = _notebook(name)
    release = nbformat.read(REPO / assignment.release_notebook, as_version=4)
    submissions = {f"corpus_{stem}": corpus_notebook(release, path) for stem, path in corpus_files(name).items()}
    submissions.update(_graded_mutants(example_notebooks(source, release)["solution"], name))
    _write_submissions(tmp_path / "submitted", name, submissions)

    t0 = time.monotonic()
    summary = grade_assignment(name, tmp_path / "submitted", course_dir=course, out_dir=tmp_path / "out",
                               workers=0, gradebook=False, progress=False)
    seconds = time.monotonic() - t0
    assert summary.graded == len(submissions) and not summary.grader_errors, summary
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    points = {_nbgrader(c)["grade_id"]: float(_nbgrader(c)["points"]) for c in _test_cells(source)}

    def lost(student: str) -> list[str]:
        return sorted(k for k in points if float(rows[student][k]) != points[k])

    for student in submissions:
        if student.startswith("corpus_"):
            assert lost(student) == [], f"{name}: the correct {student} lost {lost(student)}"
    for exercise, what, _old, _new in GRADED_MUTANTS[name]:
        assert lost(f"wrong_{exercise}") == [f"test_{exercise}"], f"{name}: {exercise} ({what})"
    # A result accepted up to dimensions of size 1 is passed with a note naming the docstring's shape.
    for student, test_id in NOTED.get(name, []):
        doc = json.loads((tmp_path / "out" / student / "results.json").read_text())
        test = next(t for t in doc["tests"] if t["extra_data"]["grade_id"] == test_id)
        assert test["status"] == "passed" and "its docstring asks for" in test["output"], test
        assert "its docstring asks for" in (tmp_path / "out" / student / "feedback.html").read_text()
    print(f"{name}: graded {len(submissions)} submissions in {seconds:.0f} s")
