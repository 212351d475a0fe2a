"""The source notebooks (``source/<name>/<name>.ipynb``): structure, one source of truth, isolation, budget.

* structure: nbgrader metadata, one solution cell and one self-contained test cell with a hidden block
  per exercise, points adding up to the assignment's total (any assignment of the course); the shipped
  assignments' hidden blocks also call an ``autograder.checks`` helper (the project's own standard, not
  required of an instructor's assignment: docs/authoring.md);
* one source of truth: the solution cells, executed alone, agree with ``course_lib`` on randomized
  inputs (each test cell's hidden block, run with several seeds, compares them with the reference);
* isolation: with exactly one exercise replaced by a plausible wrong version, exactly that
  exercise's test cell fails;
* the whole notebook runs top to bottom at grading size, hidden tests included, within the notebook's
  time budget (an acceptance budget for the grader, not a speed claim).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import autograder.checks
from autograder.assignments import assignment_names, get_assignment

REPO = Path(__file__).resolve().parents[1]
HIDDEN_RE = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION_RE = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)
#: The assignments this project ships, held to its own standards (helper-based hidden checks that agree with
#: course_lib, a table of graded mutants). An instructor's own assignment needs only the generic ones.
SHIPPED = ("fc_nets", "batchnorm", "dropout", "deep_networks")


def _notebook(name: str) -> nbformat.NotebookNode:
    path = REPO / get_assignment(name).source_notebook
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} does not exist yet: the assignment {name!r} has "
                    f"no source notebook (see docs/authoring.md).", pytrace=False)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _solution_cells(nb):
    return [c for c in nb.cells if _nbgrader(c).get("solution") and c.cell_type == "code"]


def _test_cells(nb):
    return [c for c in nb.cells if _nbgrader(c).get("grade") and c.cell_type == "code"]


def _defined(source: str) -> set[str]:
    return {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _free_names(source: str) -> set[str]:
    """Names a cell loads but neither assigns, imports nor gets from builtins (approximate, per cell)."""
    tree = ast.parse(source)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


def _solution_namespace(nb) -> dict:
    """Execute the solution cells alone, in order, with only numpy available."""
    ns: dict = {"np": np, "__name__": "solutions"}
    for cell in _solution_cells(nb):
        exec(compile(cell.source, f"<solution {_nbgrader(cell)['grade_id']}>", "exec"), ns)
    return ns


def _run_cell(source: str, ns: dict, label: str) -> BaseException | None:
    """Run a test cell's source in a copy of ``ns``; the exception it raised, or None."""
    scope = dict(ns)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"<test {label}>", "exec"), scope)
    except Exception as exc:  # a failing test cell is data here
        return exc
    return None


# ---------------------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", assignment_names())
def test_structure_of_the_source_notebook(name):
    """What every assignment of the course needs, an instructor's own included (docs/authoring.md)."""
    assignment = get_assignment(name)
    nb = _notebook(name)
    ids = [_nbgrader(c).get("grade_id") for c in nb.cells if _nbgrader(c)]
    assert len(ids) == len(set(ids)), f"{name}: duplicate grade_ids {sorted(i for i in ids if ids.count(i) > 1)}"
    for cell in nb.cells:
        if _nbgrader(cell):
            assert _nbgrader(cell).get("schema_version") == 3, f"{name}: cell {cell.id} lacks nbgrader schema_version 3"
    defined: set[str] = set()
    for cell in _solution_cells(nb):
        assert SOLUTION_RE.search(cell.source), f"{name}: solution cell {cell.id} has no SOLUTION region"
        defined |= _defined(cell.source)
    assert defined <= set(assignment.exercises), \
        f"{name}: solution cells define {sorted(defined)}, the assignment lists {sorted(assignment.exercises)}"
    tests = _test_cells(nb)
    assert tests, f"{name}: the notebook has no autograded test cell"
    exercises = set(assignment.exercises)
    for cell in tests:
        meta = _nbgrader(cell)
        assert meta.get("locked") and not meta.get("solution") and meta.get("points", 0) > 0, \
            f"{name}: test cell {cell.id} must be locked, not a solution, with positive points"
        free = _free_names(cell.source)
        assert free <= exercises, f"{name}: test cell {cell.id} is not self-contained: it uses {sorted(free - exercises)}"
    # Manually graded written answers (markdown solution cells with points) are not in the autograded total.
    written = [c for c in nb.cells if _nbgrader(c).get("grade") and c.cell_type == "markdown"]
    for cell in written:
        assert _nbgrader(cell).get("solution") and _nbgrader(cell).get("points", 0) > 0, \
            f"{name}: graded markdown cell {cell.id} must be a written answer (solution) with points"
    total = sum(_nbgrader(c)["points"] for c in tests)
    assert total == assignment.total_points, f"{name}: points add up to {total}, the assignment says {assignment.total_points}"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_notebooks_follow_the_projects_conventions(name):
    """One exercise per solution cell, named cells, one test_<exercise> each whose hidden block (last) calls an
    autograder.checks helper and whose visible part calls no other exercise, grading-size data."""
    assignment = get_assignment(name)
    nb = _notebook(name)
    for cell in nb.cells:
        if _nbgrader(cell):
            assert cell.id == _nbgrader(cell)["grade_id"], f"{name}: cell id {cell.id!r} should equal its grade_id"
    defined = []
    for cell in _solution_cells(nb):
        names = _defined(cell.source)
        assert len(names) == 1, f"{name}: solution cell {cell.id} must define exactly one exercise, defines {names}"
        defined += names
        assert cell.id == next(iter(names)), f"{name}: solution cell of {names} should have grade_id {names}"
    assert sorted(defined) == sorted(assignment.exercises)
    tests = _test_cells(nb)
    assert sorted(_nbgrader(c)["grade_id"] for c in tests) == sorted(f"test_{e}" for e in assignment.exercises), \
        f"{name}: there must be one test cell test_<exercise> per exercise"
    exercises = set(assignment.exercises)
    for cell in tests:
        hidden = HIDDEN_RE.search(cell.source)
        assert hidden, f"{name}: test cell {cell.id} has no hidden block"
        assert cell.source.rstrip().endswith("### END HIDDEN TESTS"), f"{name}: {cell.id}: hidden block must come last"
        assert f"from autograder.checks import {name} as _c" in hidden.group(1) and \
            re.search(r"\b_c\.\w+\(", hidden.group(1)), \
            f"{name}: {cell.id}: the hidden block must call an autograder.checks.{name} helper"
        own = _nbgrader(cell)["grade_id"].removeprefix("test_")
        visible = cell.source[: hidden.start()]
        others = _free_names(visible) & (exercises - {own})
        assert not others, f"{name}: the visible part of {cell.id} calls other exercises {sorted(others)}"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'os.environ.get("COURSE_GRADING") == "1"' in code, f"{name}: the notebook must read COURSE_GRADING"
    assert assignment.grading_sizes, f"{name}: the notebook's metadata must record its grading sizes"
    for key, value in assignment.grading_sizes.items():
        assert f'"{key}": {value}' in code, \
            f"{name}: grading size {key}={value} of the notebook's metadata is not in its code"


# ---------------------------------------------------------------------------------------------------
# One source of truth
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("seed", [11, 202, 3003])
def test_solutions_agree_with_course_lib(name, seed, monkeypatch):
    """Each hidden block compares the notebook's solution with course_lib on inputs drawn from ``seed``."""
    nb = _notebook(name)
    ns = _solution_namespace(nb)
    monkeypatch.setattr(autograder.checks, "DEFAULT_SEED", seed)
    failures = []
    for cell in _test_cells(nb):
        exc = _run_cell(HIDDEN_RE.search(cell.source).group(1), ns, cell.id)
        if exc is not None:
            failures.append(f"{cell.id}: {type(exc).__name__}: {exc}")
    assert not failures, f"{name}: the notebook's solutions disagree with course_lib:\n" + "\n".join(failures)


def test_fc_nets_net_initialization_matches_course_lib():
    """With the same global seed, the notebook's net draws exactly the reference's initial weights."""
    from course_lib.fc_net import FullyConnectedNet as Reference

    ns = _solution_namespace(_notebook("fc_nets"))
    for seed, hidden in ((0, [7, 5]), (1, [12]), (2, [4, 6, 3])):
        np.random.seed(seed)
        ours = ns["FullyConnectedNet"](hidden, input_dim=9, num_classes=4, weight_scale=0.3, dtype=np.float64)
        np.random.seed(seed)
        ref = Reference(hidden, input_dim=9, num_classes=4, weight_scale=0.3, dtype=np.float64)
        assert sorted(ours.params) == sorted(ref.params)
        for key in ref.params:
            np.testing.assert_array_equal(ours.params[key], ref.params[key], err_msg=key)


def test_visible_checks_pass_on_the_solutions():
    """Every test cell, visible and hidden parts, passes in a namespace of the solutions alone."""
    nb = _notebook("fc_nets")
    ns = _solution_namespace(nb)
    failures = {c.id: _run_cell(c.source, ns, c.id) for c in _test_cells(nb)}
    assert not {k: v for k, v in failures.items() if v is not None}


# ---------------------------------------------------------------------------------------------------
# Isolation: exactly one wrong exercise loses exactly its points
# ---------------------------------------------------------------------------------------------------

# Plausible wrong implementations (exercise, description, replaced solution text, replacement).
MUTANTS = [
    ("affine_forward", "forgets the bias", "out = rows @ w + b", "out = rows @ w"),
    ("affine_backward", "does not reshape dx", "dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T"),
    ("affine_backward", "averages db instead of summing", "db = np.sum(dout, axis=0)", "db = np.sum(dout, axis=0) / dout.shape[0]"),
    ("relu_forward", "leaky ReLU", "out = np.maximum(x, 0)", "out = np.where(x > 0, x, 0.01 * x)"),
    ("relu_backward", "forgets dout", "dx = dout * (x > 0)", "dx = (x > 0).astype(float)"),
    ("softmax_loss", "sums instead of averaging the loss", "loss = -np.sum(log_probs[rows, y]) / n",
     "loss = -np.sum(log_probs[rows, y])"),
    ("softmax_loss", "no max subtraction", "shifted = x - np.max(x, axis=1, keepdims=True)", "shifted = x"),
    ("FullyConnectedNet", "no regularization gradient", 'grads[f"W{i}"] += self.reg * w', "pass"),
    ("FullyConnectedNet", "biases start at one", 'self.params[f"b{i}"] = np.zeros(dims[i])',
     'self.params[f"b{i}"] = np.ones(dims[i])'),
    ("overfit_settings", "tiny initialization for the deep net", '"five_layer": {"weight_scale": 5e-2',
     '"five_layer": {"weight_scale": 1e-4'),
    ("sgd_momentum", "adds the gradient", 'v = config["momentum"] * v - config["learning_rate"] * dw',
     'v = config["momentum"] * v + config["learning_rate"] * dw'),
    ("sgd_nesterov_momentum", "plain momentum step", "next_w = w + v + mu * (v - v_prev)", "next_w = w + v"),
    ("rmsprop", "does not store the cache", 'config["cache"] = cache', "pass"),
    ("adam", "no bias correction", "m_hat = m / (1 - b1**t)", "m_hat = m"),
    ("adam", "increments t after use", "t = config.get(\"t\", 0) + 1", "t = max(config.get(\"t\", 0), 1)"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the mutants overflow on purpose
@pytest.mark.parametrize("exercise, what, old, new", MUTANTS, ids=[f"{m[0]}: {m[1]}" for m in MUTANTS])
def test_one_wrong_exercise_fails_only_its_cell(exercise, what, old, new):
    nb = _notebook("fc_nets")
    ns = _solution_namespace(nb)
    cell = next(c for c in _solution_cells(nb) if c.id == exercise)
    assert old in cell.source, f"mutant {what!r}: {old!r} is not in the solution of {exercise}"
    exec(compile(cell.source.replace(old, new), f"<mutant {exercise}>", "exec"), ns)
    verdicts = {c.id: _run_cell(c.source, ns, c.id) for c in _test_cells(nb)}
    failed = sorted(k for k, v in verdicts.items() if v is not None)
    assert failed == [f"test_{exercise}"], (
        f"{exercise} ({what}) should fail exactly test_{exercise}; failed: "
        + "; ".join(f"{k}: {verdicts[k]}" for k in failed))
    message = str(verdicts[f"test_{exercise}"])
    assert message, "the failing check must say what is wrong"


def test_hidden_checks_catch_mutants_that_pass_the_visible_checks():
    """A rule that is wrong only without a stored state passes the visible check but not the hidden one."""
    nb = _notebook("fc_nets")
    ns = _solution_namespace(nb)
    cell = next(c for c in _solution_cells(nb) if c.id == "sgd_momentum")
    old = "v = np.zeros_like(w)"
    assert old in cell.source
    # Starts the velocity at the gradient instead of at zero: the visible check passes a velocity.
    exec(compile(cell.source.replace(old, "v = dw.copy()"), "<mutant>", "exec"), ns)
    test = next(c for c in _test_cells(nb) if c.id == "test_sgd_momentum")
    hidden_start = test.source.index("### BEGIN HIDDEN TESTS")
    assert _run_cell(test.source[:hidden_start], ns, "visible") is None
    exc = _run_cell(test.source, ns, "full")
    assert isinstance(exc, AssertionError) and "sgd_momentum" in str(exc), exc


def test_unimplemented_layer_message():
    """A stub (the released code) fails with a message naming the exercise, not a bare traceback."""
    from autograder.checks import fc_nets as checks

    def stub(x, w, b):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="affine_forward.*not implemented"):
        checks.check_affine_forward(stub)


# ---------------------------------------------------------------------------------------------------
# The whole notebook at grading size
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", assignment_names())
def test_source_notebook_runs_within_budget(name, executed_source):
    assignment = get_assignment(name)
    run = executed_source(name)
    nb = run.notebook
    errors = [f"{c.id}: {o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{name}: cells failed at grading size:\n" + "\n".join(errors)
    passed = sum("visible checks passed" in "".join(o.get("text", "") for o in c.outputs) for c in _test_cells(nb))
    assert passed == len(_test_cells(nb)), f"{name}: only {passed} test cells printed their success line"
    assert run.seconds < assignment.time_budget_s, \
        f"{name}: the source notebook took {run.seconds:.0f} s at grading size, budget {assignment.time_budget_s:.0f} s"


def test_the_shipped_assignments_are_the_courses_first():
    assert assignment_names()[: len(SHIPPED)] == list(SHIPPED)


# ---------------------------------------------------------------------------------------------------
# Under the real grader (proxies into a sandboxed student kernel, Dask workers): full, zero, one mistake
# ---------------------------------------------------------------------------------------------------

# One plausible mistake per submission, two per assignment: (exercise, what, solution text, replacement), as in
# MUTANTS (fc_nets takes its first mutants of two exercises from there). The replaced text is the source
# notebook's; the rest of the submission is the released notebook with every solution filled in from the
# source, as a student hands it in.
GRADED_MUTANTS = {
    "fc_nets": [next(m for m in MUTANTS if m[0] == exercise) for exercise in ("affine_forward", "adam")],
    "batchnorm": [
        ("batchnorm_forward", "unbiased batch variance",
         "batch_var = np.mean((x - batch_mean) ** 2, axis=0)", "batch_var = np.var(x, axis=0, ddof=1)"),
        ("batchnorm_backward_alt", "drops the variance path",
         "dx = inv_std * (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0))",
         "dx = inv_std * (g - g.mean(axis=0))"),
    ],
    "dropout": [
        ("dropout_forward", "does not rescale by 1/p", "mask = ((uniform < p) / p).astype(x.dtype)",
         "mask = (uniform < p).astype(x.dtype)"),
        ("FullyConnectedNet", "no regularization gradient",
         'grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * weights', 'grads[f"W{layer}"] = grads[f"W{layer}"]'),
    ],
    "deep_networks": [
        ("init_std", "He with variance 1/fan_in", '{"he": 2.0, "xavier": 1.0}', '{"he": 1.0, "xavier": 1.0}'),
        ("cyclical_lr", "sawtooth instead of triangle", "frac = in_cycle / n_s if rising else 2.0 - in_cycle / n_s",
         "frac = in_cycle / (2 * n_s)"),
    ],
}


def _mutant(nb: nbformat.NotebookNode, exercise: str, old: str, new: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if _nbgrader(c).get("solution") and _nbgrader(c).get("grade_id") == exercise)
    assert old in cell.source, f"mutant of {exercise}: {old!r} is not in its solution"
    cell.source = cell.source.replace(old, new)
    return nb


def _graded_mutants(solved: nbformat.NotebookNode, name: str) -> dict[str, nbformat.NotebookNode]:
    """``wrong_<exercise>`` -> the solved notebook with that one mistake of GRADED_MUTANTS[name]."""
    return {f"wrong_{exercise}": _mutant(solved, exercise, old, new) for exercise, _what, old, new in GRADED_MUTANTS[name]}


def _write_submissions(root: Path, name: str, submissions: dict[str, nbformat.NotebookNode]) -> Path:
    """``root/<student>/<name>/<notebook>.ipynb`` for every submission, as the grader's input folder."""
    for student, nb in submissions.items():
        folder = root / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{get_assignment(name).notebook}.ipynb")
    return root


@pytest.mark.parametrize("name", SHIPPED)
def test_grader_scores_source_full_release_zero_and_one_mistake_its_points(name, tmp_path):
    """Through the real grading path (sandboxed kernels, hidden tests in the grader, Dask workers): the source
    notebook submitted as is gets the assignment's total; the untouched release gets 0 on every autograded
    test; a submission with exactly one function wrong loses exactly that function's test points."""
    import csv

    from adversarial_cases import make_course

    from autograder.examples.make_examples import example_notebooks
    from autograder.grade.batch import grade_assignment

    assignment = get_assignment(name)
    course = make_course(tmp_path / "course", name)
    source = _notebook(name)
    release = nbformat.read(REPO / assignment.release_notebook, as_version=4)
    solved = example_notebooks(source, release)["solution"]
    submissions = {"source": source, "release": release, **_graded_mutants(solved, name)}
    _write_submissions(tmp_path / "submitted", name, submissions)

    summary = grade_assignment(name, tmp_path / "submitted", course_dir=course, out_dir=tmp_path / "out",
                               workers=2, gradebook=False, progress=False)
    assert summary.graded == len(submissions) and not summary.grader_errors, summary
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    points = {_nbgrader(c)["grade_id"]: float(_nbgrader(c)["points"]) for c in _test_cells(source)}
    assert sum(points.values()) == assignment.total_points

    def lost(student: str) -> list[str]:
        return sorted(k for k in points if float(rows[student][k]) != points[k])

    assert lost("source") == [] and float(rows["source"]["score"]) == assignment.total_points, \
        f"{name}: the source notebook lost {lost('source')}"
    assert {k: float(rows["release"][k]) for k in points} == dict.fromkeys(points, 0.0), rows["release"]
    assert float(rows["release"]["score"]) == 0.0
    for exercise, what, _old, _new in GRADED_MUTANTS[name]:
        student = f"wrong_{exercise}"
        assert lost(student) == [f"test_{exercise}"], f"{name}: {exercise} ({what}) lost {lost(student)}"
        assert float(rows[student][f"test_{exercise}"]) == 0.0
        assert float(rows[student]["score"]) == assignment.total_points - points[f"test_{exercise}"]
