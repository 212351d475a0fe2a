"""A tiny nbgrader course used by the grading-pipeline tests (independent of the real assignments).

``make_course(root)`` writes ``source/tiny/tiny.ipynb`` (two solution cells, two autograded
test cells with visible and hidden checks, one manually graded markdown answer) and
``release/tiny/`` (the student version plus a data file). ``student_notebook(kind)`` returns
submission bytes for honest, partial, blank, cheating and faulty students.

The hidden blocks contain :data:`HIDDEN_CANARY`; it must never appear in anything written
for a student.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nbformat

ASSIGNMENT = "tiny"
HIDDEN_CANARY = "hidden_canary_7f3a9"
#: Points of the autograded cells and of the manual answer, from the source notebook.
POINTS = {"test_square": 2.0, "test_add": 1.0, "explain": 1.0}
AUTO_MAX = 3.0

SQUARE_SOLUTION = "    return np.asarray(x) ** 2\n"
ADD_SOLUTION = "    return a + b\n"
STUB = "    raise NotImplementedError()\n"


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def _test_square(hidden: bool) -> str:
    src = 'assert np.allclose(square(np.array([1.0, 2.0])), [1.0, 4.0]), "square([1, 2]) should be [1, 4]"\n'
    if hidden:
        src += ("### BEGIN HIDDEN TESTS\n"
                f"{HIDDEN_CANARY} = np.array([3.0, -1.5])\n"
                f"assert np.allclose(square({HIDDEN_CANARY}), {HIDDEN_CANARY} * {HIDDEN_CANARY}), "
                '"square is wrong for other inputs"\n'
                "### END HIDDEN TESTS\n")
    return src


def _test_add(hidden: bool) -> str:
    src = 'assert add(2, 3) == 5, "add(2, 3) should be 5"\n'
    if hidden:
        src += ("### BEGIN HIDDEN TESTS\n"
                f"{HIDDEN_CANARY}_b = add(-7, 7)\n"
                f'assert {HIDDEN_CANARY}_b == 0, "add is wrong for negative numbers"\n'
                "### END HIDDEN TESTS\n")
    return src


def notebook(*, square_body: str = STUB, add_body: str = STUB, hidden: bool = False,
             answer: str = "YOUR ANSWER HERE", extra_cells: list | None = None):
    """The tiny assignment's notebook: source (``hidden=True`` + solutions) or a student's copy."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny assignment\nImplement `square` and `add`."),
        nbformat.v4.new_code_cell("import numpy as np", metadata=_meta("setup", grade=False, solution=False,
                                                                       locked=True)),
        nbformat.v4.new_code_cell("def square(x):\n    \"\"\"Elementwise square.\"\"\"\n" + square_body,
                                  metadata=_meta("square_sol", grade=False, solution=True, locked=False)),
        nbformat.v4.new_code_cell(_test_square(hidden),
                                  metadata=_meta("test_square", grade=True, solution=False, locked=True,
                                                 points=POINTS["test_square"])),
        nbformat.v4.new_code_cell("def add(a, b):\n" + add_body,
                                  metadata=_meta("add_sol", grade=False, solution=True, locked=False)),
        nbformat.v4.new_code_cell(_test_add(hidden),
                                  metadata=_meta("test_add", grade=True, solution=False, locked=True,
                                                 points=POINTS["test_add"])),
        nbformat.v4.new_markdown_cell(answer, metadata=_meta("explain", grade=True, solution=True, locked=False,
                                                             points=POINTS["explain"])),
    ]
    for cell in extra_cells or []:
        nb.cells.append(cell)
    return nb


def source_notebook():
    """The instructor's source notebook (solutions and hidden tests)."""
    nb = notebook(square_body="    ### BEGIN SOLUTION\n" + SQUARE_SOLUTION + "    ### END SOLUTION\n",
                  add_body="    ### BEGIN SOLUTION\n" + ADD_SOLUTION + "    ### END SOLUTION\n",
                  hidden=True, answer="Squares are non-negative.")
    return nb


def make_course(root: Path) -> Path:
    """Write the tiny course (source, release, nbgrader_config.py) under ``root``; returns ``root``."""
    root = Path(root)
    (root / "source" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (root / "release" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    nbformat.write(notebook(), root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (root / "release" / ASSIGNMENT / "data.txt").write_text("released data\n")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'tinycourse'\n")
    return root


def as_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def student_notebook(kind: str) -> bytes:
    """Submission bytes of a named kind of student (see the table in the code)."""
    code = nbformat.v4.new_code_cell
    if kind == "solution":
        return as_bytes(notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION, answer="They are >= 0."))
    if kind == "blank":
        return as_bytes(notebook())
    if kind == "partial":  # square right, add wrong
        return as_bytes(notebook(square_body=SQUARE_SOLUTION, add_body="    return a - b\n"))
    if kind == "visible_only":  # passes the visible square check only
        return as_bytes(notebook(square_body="    return np.array([1.0, 4.0])\n", add_body=ADD_SOLUTION))
    if kind == "cheat_metadata":
        # Wrong add; edits the test cells (to pass), their points (to 100) and adds a fake graded cell.
        nb = notebook(square_body=SQUARE_SOLUTION, add_body="    return 0\n")
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                meta["points"] = 100
            if meta.get("grade_id") == "test_add":
                cell.source = "pass"
        nb.cells.append(code("x = 1", metadata=_meta("bonus", grade=True, solution=False, locked=True,
                                                     points=50)))
        return as_bytes(nb)
    if kind == "cheat_monkeypatch":  # wrong add, patches numpy and builtins in its own kernel
        return as_bytes(notebook(square_body="    return x\n", add_body="    return 0\n", extra_cells=[
            code("import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                 "import builtins\nbuiltins.AssertionError = type('X', (Exception,), {})")]))
    if kind == "exception":  # a cell raises: later cells still run
        nb = notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION)
        nb.cells.insert(1, code("raise RuntimeError('boom in my first cell')"))
        return as_bytes(nb)
    if kind == "exit_cell":  # os._exit in a cell between the two solutions
        nb = notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION)
        nb.cells.insert(3, code("import os\nos._exit(7)"))
        return as_bytes(nb)
    if kind == "infinite_loop":  # a cell never ends: stopped at the cell timeout, grading goes on
        nb = notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION)
        nb.cells.insert(3, code("while True:\n    pass"))
        return as_bytes(nb)
    if kind == "test_kills_kernel":  # add() kills the kernel when called by the test
        return as_bytes(notebook(square_body=SQUARE_SOLUTION, add_body="    import os\n    os._exit(1)\n"))
    if kind == "background_process":  # leaves a process running
        nb = notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION)
        nb.cells.append(code("import subprocess\nsubprocess.Popen(['sleep', '987'])\n"
                             "import os\nif os.fork() == 0:\n    import time\n    time.sleep(986)\n"))
        return as_bytes(nb)
    if kind == "huge_output":  # prints ~30 MB and saved 40 MB of outputs
        nb = notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION)
        nb.cells.append(code("print('x' * 30_000_000)"))
        nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * 40_000_000)]
        return as_bytes(nb)
    if kind == "malformed_json":
        return as_bytes(notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION))[:-40]
    if kind == "non_utf8":  # valid solution, a Latin-1 byte in a markdown cell
        raw = as_bytes(notebook(square_body=SQUARE_SOLUTION, add_body=ADD_SOLUTION, answer="caf\u00e9"))
        return raw.replace("caf\u00e9".encode(), b"caf\xe9")
    if kind == "not_a_notebook":
        return json.dumps([1, 2, 3]).encode()
    raise KeyError(kind)


def expected_score(kind: str) -> float:
    """The honest autograded score of each kind (what its code deserves)."""
    return {
        "solution": 3.0, "blank": 0.0, "partial": 2.0, "visible_only": 1.0, "cheat_metadata": 2.0,
        "cheat_monkeypatch": 0.0, "exception": 3.0, "exit_cell": 3.0, "infinite_loop": 3.0,
        "test_kills_kernel": 2.0, "background_process": 3.0, "huge_output": 3.0, "malformed_json": 0.0,
        "non_utf8": 3.0, "not_a_notebook": 0.0,
    }[kind]


def grade_or_crash(job):
    """A per-job grading function for the parallel tests: crashes for students named ``crash*``."""
    from autograder.grade.pipeline import grade_submission

    if job.student.startswith("crash"):
        raise RuntimeError("grader bug")
    return grade_submission(job)


def worker_settings(job):
    """A per-job function for the parallel tests: what the process that grades ``job`` runs with."""
    import os

    import dask

    return {"student": job.student, "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            "profiler": dask.config.get("distributed.worker.profile.enabled"),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> hex digest)."""
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def processes_matching(needle: str) -> list[int]:
    """Pids of the processes whose command line contains ``needle``."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if needle in cmd:
                found.append(int(pid))
    return found
