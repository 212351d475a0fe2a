"""The student releases ``release/<name>/``: no drift, no leaks, a working stripped library, stubs, and a
notebook that runs in a fresh folder except for the student's work.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder.assignments import (
    CODE_STUB,
    GRADING_ENV,
    assignment_names,
    get_assignment,
)
from autograder.release.build import build_release, check_release, release
from autograder.release.errors import ReleaseError
from autograder.release.library import LIBRARY
from autograder.validate.leaks import release_leaks, secret_lines

REPO = Path(__file__).resolve().parents[1]
_STUB_LINES = CODE_STUB.split("\n")
# The stub, indented like the solution region it replaced.
STUB_RE = re.compile(r"^(?P<indent>[ \t]*)" + re.escape(_STUB_LINES[0])
                     + "".join(r"\n(?P=indent)" + re.escape(line) for line in _STUB_LINES[1:]) + "$", re.M)


def _require_release(name: str) -> Path:
    assignment = get_assignment(name)
    if not (REPO / assignment.source_notebook).is_file():
        pytest.fail(f"{assignment.source_notebook} does not exist yet: {name!r} cannot be released "
                    "(see docs/notebooks.md).", pytrace=False)
    path = REPO / "release" / name
    if not path.is_dir():
        pytest.fail(f"release/{name}/ is missing: run `python -m autograder release {name}`.", pytrace=False)
    return path


# ---------------------------------------------------------------------------------------------------
# Secrets: what must never be in a release (the logic is autograder.validate's, shared with the command)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", assignment_names())
def test_release_leaks_no_solution_or_hidden_test(name):
    _require_release(name)
    checked = secret_lines(name, REPO)
    assert len(checked) > 20, f"{name}: suspiciously few secret lines ({len(checked)}) to search for"
    leaks = release_leaks(name, REPO)
    assert not leaks, f"release/{name}/ contains solution or hidden-test text:\n" + "\n".join(map(str, leaks[:40]))


def test_leak_check_finds_a_solution_line_and_a_library_answer(tmp_path):
    """The leak check itself: a release holding a solution line or a stripped library definition fails."""
    course = tmp_path / "course"
    shutil.copytree(REPO / LIBRARY, course / LIBRARY, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "source", course / "source")
    shutil.copytree(REPO / "release" / "dropout", course / "release" / "dropout")
    assert release_leaks("dropout", course) == []
    secret = next(line for line in secret_lines("dropout", course) if "mask" in line)
    (course / "release" / "dropout" / "notes.md").write_text(f"hint:\n    {secret}\n")
    shutil.copy(REPO / LIBRARY / "layers.py", course / "release" / "dropout" / LIBRARY / "layers.py")
    leaks = release_leaks("dropout", course)
    where = {p.where for p in leaks}
    assert "release/dropout/notes.md" in where and f"release/dropout/{LIBRARY}/layers.py" in where
    assert all(p.check == "leaks" and "python -m autograder release dropout" in p.message for p in leaks)


# ---------------------------------------------------------------------------------------------------
# Drift, library, stubs
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", assignment_names())
def test_release_is_up_to_date(name):
    _require_release(name)
    problems = check_release(REPO, [name])
    assert not problems, "release/ differs from a fresh build; run `python -m autograder release`:\n" + \
        "\n".join(problems)


def test_release_cli_check_end_to_end():
    result = subprocess.run([sys.executable, "-m", "autograder", "release", "--check", "--course", str(REPO),
                             "fc_nets"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def _import_all(release_dir: Path) -> subprocess.CompletedProcess:
    modules = sorted(
        ".".join(p.relative_to(release_dir).with_suffix("").parts).removesuffix(".__init__")
        for p in (release_dir / LIBRARY).rglob("*.py"))
    code = textwrap.dedent("""
        import importlib, sys
        sys.path.insert(0, sys.argv[1])
        for name in sys.argv[2:]:
            module = importlib.import_module(name)
            assert module.__file__.startswith(sys.argv[1]), f"{name} imported from {module.__file__}"
        print("imported", len(sys.argv) - 2)
    """)
    return subprocess.run([sys.executable, "-I", "-B", "-c", code, str(release_dir), *modules],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", assignment_names())
def test_shipped_library_imports_alone(name):
    path = _require_release(name)
    result = _import_all(path)
    assert result.returncode == 0, f"release/{name}/{LIBRARY} does not import on its own:\n{result.stderr}"


@pytest.mark.parametrize("name", assignment_names())
def test_released_notebook_has_every_stub(name):
    path = _require_release(name)
    assignment = get_assignment(name)
    nb = nbformat.read(path / f"{assignment.notebook}.ipynb", as_version=4)
    solutions = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    solution_cells = {c.id: c for c in solutions if c.cell_type == "code"}
    assert sorted(solution_cells) == sorted(assignment.exercises)
    for cell in solutions:
        if cell.cell_type == "markdown":  # a written answer
            assert cell.source.strip() == "YOUR ANSWER HERE", f"{cell.id}: the written answer was not cleared"
    for exercise, cell in solution_cells.items():
        assert STUB_RE.search(cell.source), f"{exercise}: the released cell has no stub"
        assert re.search(rf"^(def|class) {exercise}\b", cell.source, re.M), f"{exercise}: definition missing"
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
    for cell in nb.cells:
        assert "HIDDEN TESTS" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert (path / "requirements.txt").read_text().split() == [
        "numpy>=1.24", "matplotlib>=3.6", "tqdm>=4.60", "jupyterlab>=4.2", "nbformat>=5.9", "nbclient>=0.8",
        "ipykernel>=6.25"]
    readme = (path / "README.md").read_text()
    # What a student needs, in order: a venv, the install, opening the notebook, the checks
    # (tests/test_release_student_env.py runs these commands).
    steps = ["python3 -m venv .venv", "python -m pip install -r requirements.txt",
             f"jupyter lab {assignment.notebook}.ipynb", "from course_lib.check import check; check()",
             f"python -m course_lib.check {assignment.notebook}.ipynb"]
    positions = [readme.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), dict(zip(steps, positions))


@pytest.mark.parametrize("name", assignment_names())
def test_released_notebook_runs_except_student_work(name, tmp_path):
    """In a fresh folder, every failing cell fails with NotImplementedError and nothing else."""
    from nbclient import NotebookClient

    path = _require_release(name)
    work = tmp_path / name
    shutil.copytree(path, work)
    nb = nbformat.read(work / f"{get_assignment(name).notebook}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import course_lib\nprint('LIBRARY', course_lib.__file__)"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COURSE_CIFAR10_DIR")}
    env.update(GRADING_ENV)
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(work)}}).execute(env=env)
    errors = [(c.get("id"), o.ename, o.evalue) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors, "the released notebook ran without any NotImplementedError: are the stubs there?"
    wrong = [e for e in errors if e[1] != "NotImplementedError"]
    assert not wrong, f"release/{name}: cells fail for reasons other than the student's work: {wrong}"
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert f"LIBRARY {work}" in printed, f"the notebook did not use the shipped library: {printed!r}"


def test_failed_release_keeps_the_previous_one(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / LIBRARY, course / LIBRARY, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "source" / "fc_nets", course / "source" / "fc_nets")
    [written] = release(["fc_nets"], course)
    before = {p.relative_to(written): p.read_bytes() for p in written.rglob("*") if p.is_file()}
    (course / "source" / "fc_nets" / "fc_nets.ipynb").write_text("{ not json")
    with pytest.raises(ReleaseError):
        release(["fc_nets"], course)
    after = {p.relative_to(written): p.read_bytes() for p in written.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in (course / "release").iterdir()) == ["fc_nets"]  # no staging left behind


def test_build_is_deterministic(tmp_path):
    build_release("fc_nets", REPO, tmp_path / "a")
    build_release("fc_nets", REPO, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_hidden_checks_work_next_to_the_stripped_library(tmp_path):
    """Plain nbgrader runs hidden blocks in the student's kernel, where the release's stripped course_lib
    comes first on sys.path: the checks still use the full reference, and leave the student's modules."""
    path = _require_release("fc_nets")
    work = tmp_path / "fc_nets"
    shutil.copytree(path, work)
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, "")
        sys.path.append(sys.argv[1])
        import numpy as np
        import course_lib.layers as student_layers
        assert not hasattr(student_layers, "affine_forward")

        def affine_forward(x, w, b):
            return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)

        from autograder.checks import fc_nets as _c
        _c.check_affine_forward(affine_forward)
        try:
            _c.check_affine_forward(lambda x, w, b: (x.reshape(x.shape[0], -1) @ w, (x, w, b)))
        except AssertionError as exc:
            print("caught:", exc)
        import course_lib.layers
        assert course_lib.layers is student_layers, "the student's course_lib was replaced"
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code, str(REPO)], cwd=work, capture_output=True, text=True,
                            timeout=300, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr
    assert "caught: affine_forward(x of shape (3, 4, 5), w, b): out is wrong" in result.stdout
    assert result.stdout.rstrip().endswith("ok")


def test_nbgrader_config_matches_the_release_settings():
    """Plain nbgrader reads nbgrader_config.py: same folders, stub and gradebook as the release builder."""
    from traitlets.config import Config

    config = Config()
    scope = {"get_config": lambda: config, "__file__": str(REPO / "nbgrader_config.py")}
    exec(compile((REPO / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), scope)
    assert config.CourseDirectory.root == str(REPO)
    assert config.CourseDirectory.source_directory == "source"
    assert config.CourseDirectory.release_directory == "release"
    assert config.CourseDirectory.db_url == f"sqlite:///{REPO / 'gradebook.db'}"
    assert config.ClearSolutions.code_stub == {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    assert scope["assignments"] == assignment_names(REPO)
    assert scope["assignments"][:4] == ["fc_nets", "batchnorm", "dropout", "deep_networks"]
