"""docs/authoring.md, followed step by step: an instructor adds a sixth assignment from the notebook alone.

The test reads the page: the notebook's cells, its metadata, the library marker, the trial submissions and
the commands come from its annotated blocks (``<!-- cell: ... -->``, ``<!-- run: exit N -->``, ...), so the
page cannot drift from what works. It runs the commands as an instructor types them, in a copy of the course
(``python -m autograder ...`` with the course folder as the working directory), and checks what the page
promises: validate finds the library answer, then passes; the release and the notebook's own solutions
pass; a correct submission gets full marks, a wrong one and one importing the library's answer 0; no
existing release changes. It prints the time each command took.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from grading_fixture import tree_digest

from autograder.assignments import assignment_names, get_assignment

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "authoring.md"
NAME = "svm"

_ANNOTATION = re.compile(r"^<!-- (?P<what>[^>]*?) -->$")
_FENCE = re.compile(r"^```(?P<lang>\w*)$")


@dataclass
class Step:
    """An annotated block of the page: what the annotation says, and the block's text."""

    what: str
    text: str


def doc_steps(path: Path = DOC) -> list[Step]:
    """The page's annotated blocks, in order (an annotation applies to the next fenced block)."""
    steps: list[Step] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    pending = None
    i = 0
    while i < len(lines):
        note = _ANNOTATION.match(lines[i])
        if note:
            pending = note.group("what")
        elif _FENCE.match(lines[i]) and lines[i] != "```":
            end = lines.index("```", i + 1)
            if pending is not None:
                steps.append(Step(pending, "\n".join(lines[i + 1:end])))
                pending = None
            i = end
        i += 1
    return steps


def _cell(step: Step) -> nbformat.NotebookNode:
    kind, *args = step.what.removeprefix("cell: ").split()
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(step.text)
    cell = nbformat.v4.new_code_cell(step.text)
    # What nbgrader's Create Assignment tool writes for "Autograded answer" and "Autograder tests".
    if kind == "solution":
        cell.metadata["nbgrader"] = {"grade": False, "grade_id": args[0], "locked": False,
                                     "schema_version": 3, "solution": True, "task": False}
    elif kind == "tests":
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": args[0], "locked": True,
                                     "points": float(args[1]), "schema_version": 3, "solution": False,
                                     "task": False}
    else:
        assert kind == "code", f"unknown cell kind in docs/authoring.md: {step.what!r}"
    return cell


def _mark_library(course: Path, step: Step) -> None:
    """Put the block's first and last lines (the markers) around the named top-level definition."""
    rel, name = step.what.removeprefix("library: ").split()
    path = course / rel
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    [node] = [n for n in ast.parse("".join(lines)).body if getattr(n, "name", None) == name]
    begin, end = step.text.splitlines()[0], step.text.splitlines()[-1]
    assert begin.startswith("# BEGIN SOLUTION") and end == "# END SOLUTION", step.text
    lines.insert(node.end_lineno, end + "\n")
    lines.insert(node.lineno - 1, begin + "\n")
    path.write_text("".join(lines), encoding="utf-8")


def _submission(course: Path, step: Step) -> None:
    """``trial/<student>/svm/svm.ipynb``: the released notebook with the answer cell filled in."""
    student = step.what.removeprefix("submission: ")
    nb = nbformat.read(course / "release" / NAME / f"{NAME}.ipynb", as_version=4)
    [answer] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "svm_loss"]
    answer.source = step.text
    folder = course / "trial" / student / NAME
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")


def _run(course: Path, step: Step, timings: list[tuple[str, float]]) -> list[str]:
    """Run the block's commands in the course folder; each must exit as the annotation says."""
    expected = int(step.what.removeprefix("run: exit "))
    outputs = []
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COURSE_CIFAR10_DIR")}
    for line in step.text.splitlines():
        args = line.split()
        assert args[0] == "python", f"docs/authoring.md runs {line!r}; expected a python -m command"
        t0 = time.monotonic()
        result = subprocess.run([sys.executable, *args[1:]], cwd=course, env=env, capture_output=True,
                                text=True, timeout=900)
        timings.append((line, time.monotonic() - t0))
        assert result.returncode == expected, \
            f"{line!r} exited with {result.returncode}, the page says {expected}:\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout + result.stderr)
    return outputs


def _copy_course(root: Path) -> Path:
    """The course as a fresh clone has it: source/, release/ and course_lib/."""
    course = root / "course"
    for part in ("source", "release", "course_lib"):
        shutil.copytree(REPO / part, course / part, ignore=shutil.ignore_patterns("__pycache__"))
    return course


def test_the_page_has_every_step():
    kinds = [s.what.split(":")[0].split()[0] for s in doc_steps()]
    assert kinds.count("cell") == 4 and kinds.count("submission") == 3 and kinds.count("run") == 5
    assert kinds.index("library") < kinds.index("submission")


def test_an_instructor_adds_an_assignment_as_the_page_says(tmp_path):
    course = _copy_course(tmp_path)
    shipped = {name: tree_digest(course / "release" / name) for name in assignment_names(course)}
    assert NAME not in shipped
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    timings: list[tuple[str, float]] = []
    outputs: list[str] = []
    written = False
    for step in doc_steps():
        if step.what.startswith("cell: "):
            nb.cells.append(_cell(step))
            continue
        if step.what == "notebook metadata":
            nb.metadata.update(json.loads(step.text))
            continue
        if not written:  # the notebook is complete once the page moves on from it
            (course / "source" / NAME).mkdir()
            nbformat.write(nb, course / "source" / NAME / f"{NAME}.ipynb")
            written = True
        if step.what.startswith("library: "):
            _mark_library(course, step)
        elif step.what.startswith("submission: "):
            _submission(course, step)
        elif step.what.startswith("run: "):
            outputs += _run(course, step, timings)
        else:
            pytest.fail(f"unknown step in docs/authoring.md: {step.what!r}")

    first, second = outputs[0], outputs[1]
    assert "the release ships course_lib.layers.svm_loss, and 'svm_loss' is an exercise" in first
    assert "release/svm/: is missing: run 'python -m autograder release svm'" in first
    assert "svm_loss" not in second and "release/svm/: is missing" in second

    assignment = get_assignment(NAME, course)
    assert assignment.total_points == 5 and assignment.exercises == ("svm_loss",)
    assert assignment_names(course) == [*shipped, NAME]  # order 5: listed last
    with open(course / "trial-grades" / "grades.csv", newline="") as fh:
        scores = {row["student"]: float(row["score"]) for row in csv.DictReader(fh)}
    assert scores == {"correct": 5.0, "wrong": 0.0, "imports_library": 0.0}
    released = (course / "release" / NAME / "course_lib" / "layers.py").read_text()
    assert "def svm_loss" not in released and "SOLUTION" not in released
    assert {name: tree_digest(course / "release" / name) for name in shipped} == shipped
    assert "release/ is up to date" in outputs[-1]

    width = max(len(line) for line, _ in timings)
    print("\n" + "\n".join(f"{line:<{width}}  {seconds:6.1f} s" for line, seconds in timings))
