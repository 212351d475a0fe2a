"""The default grading run (autograder.grade.definitions and run_cells="definitions" in autograder.grade.replay):
a notebook's definitions run, its experiments do not, and whenever that may change a verdict the whole notebook
runs instead. The scores are those of running every cell: on the tiny course's students of every kind, and on
the bundled examples of the four assignments.
"""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import grading_fixture as fx
import nbformat
import pytest

from autograder.grade.batch import grade_assignment
from autograder.grade.definitions import (
    BUILTIN_NAMES,
    definitions_only,
    drop_unused_imports,
    names_used,
    plotting_names,
)
from autograder.grade.fingerprint import job_fingerprint
from autograder.grade.job import GradingJob, GradingOptions, GradingOptionsError
from autograder.grade.pipeline import grade_submission
from autograder.grade.replay import DEFINITIONS_NOTE, SAVED_NOTE

REPO = Path(__file__).resolve().parents[1]
DEFINITIONS = GradingOptions(cell_timeout=4.0, test_timeout=15.0, submission_timeout=90.0)
ALL = GradingOptions(cell_timeout=4.0, test_timeout=15.0, submission_timeout=90.0, run_cells="all")


def _kept(source: str, modules: set[str] | None = None) -> tuple[str, bool]:
    return definitions_only(source, set(BUILTIN_NAMES) | (modules or set()), set(modules or ()))


# --------------------------------------------------------------------------- which statements run

def test_definitions_are_kept_and_experiments_dropped():
    source = (
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "EPS = 1e-5\n"
        "SETTINGS = {}\n"
        "SETTINGS.update(lr=EPS)\n"
        "TABLE = {'a': lambda x: np.sqrt(x)}\n"
        "TABLE['b'] = np.sqrt\n"
        "data = get_data()\n"
        "small = {'X': data['X_train'][:50]}\n"
        "solver = Solver(small)\n"
        "solver.train()\n"
        "plt.plot([1, 2])\n"
        "np.random.seed(0)\n"
        "def helper(x, scale=EPS):\n"
        "    return x * scale * data['k']\n"
        "class Net:\n"
        "    pass\n"
        "for i in range(3):\n"
        "    print(i)\n"
        "try:\n"
        "    import torch\n"
        "except ImportError:\n"
        "    torch = None\n"
    )
    kept, dropped = _kept(source)
    assert dropped
    assert kept == (
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "EPS = 1e-5\n"
        "SETTINGS = {}\n"
        "SETTINGS.update(lr=EPS)\n"
        "TABLE = {'a': lambda x: np.sqrt(x)}\n"
        "TABLE['b'] = np.sqrt\n"
        "def helper(x, scale=EPS):\n"
        "    return x * scale * data['k']\n"
        "class Net:\n"
        "    pass\n"
        "try:\n"
        "    import torch\n"
        "except ImportError:\n"
        "    torch = None\n"
    )


@pytest.mark.parametrize("source", [
    "import os\nX = 3\n",                                  # nothing to drop
    "a = 1; train()\n",                                    # two statements on one line: not split
    "def f(:\n",                                           # not Python: runs as written
])
def test_a_cell_with_nothing_to_drop_or_that_cannot_be_split_runs_whole(source):
    assert _kept(source) == (source, False)


@pytest.mark.parametrize("source", [
    "@cache(maxsize=3)\ndef f(x):\n    return x\n",       # a decorator that calls
    "def f(x, w=make()):\n    return x\n",               # a default that calls
    "class A(data.Base):\n    pass\n",                   # a base that reads an undefined name
    "y = data['X']\n",                                     # reads what did not run
    "np.random.seed(0)\n",                                 # a module's function: not the student's data
])
def test_statements_that_call_or_read_what_did_not_run_are_dropped(source):
    kept, dropped = _kept(source, modules={"np"})
    assert dropped and kept == ""


def test_names_bound_by_kept_statements_are_known_to_later_cells():
    known = set(BUILTIN_NAMES)
    definitions_only("LR = 1e-3\nrun()\n", known)
    kept, dropped = definitions_only("CONFIG = {'lr': LR}\nplot()\n", known)
    assert dropped and kept == "CONFIG = {'lr': LR}\n" and {"LR", "CONFIG"} <= known


SETUP = ("import os\n"
         "import matplotlib.pyplot as plt\n"
         "import numpy as np\n"
         "from course_lib.layers import *\n"
         "pass\n"                                           # what %matplotlib inline became
         "plt.rcParams['figure.figsize'] = (10.0, 8.0)\n")


def _pruned(setup: str, *running: str) -> str:
    """The setup cell's code when ``running`` (solution cells, tests) runs as written next to it."""
    plotting = plotting_names([setup])
    used = names_used(list(running)) | names_used([setup], plotting)
    return drop_unused_imports(setup, used, plotting)[0]


def test_imports_and_plot_settings_that_nothing_running_uses_are_dropped():
    exercise = "def relu(x):\n    return np.maximum(0, x)\n"
    assert _pruned(SETUP, exercise) == (
        "if __import__(\"importlib.util\").util.find_spec('os') is None:\n    __import__('os')\n"
        "if __import__(\"importlib.util\").util.find_spec('matplotlib') is None:\n    __import__('matplotlib')\n"
        "import numpy as np\nfrom course_lib.layers import *\npass\n")


@pytest.mark.parametrize("running", [
    "def show(x):\n    plt.plot(x)\n",                    # a function that plots: it may be called
    "def f():\n    return os.getcwd()\n",                 # os is used: it stays, the others go
])
def test_an_import_that_running_code_mentions_stays(running):
    kept = _pruned(SETUP, running)
    assert ("import matplotlib.pyplot as plt" in kept) == ("plt" in running)
    assert ("find_spec('matplotlib')" in kept) != ("plt" in running)
    assert ("plt.rcParams" in kept) == ("plt" in running)
    assert ("import os" in kept) == ("os." in running) != ("find_spec('os')" in kept)


def test_a_plot_setting_goes_with_an_import_of_another_cell():
    cells = ["import matplotlib.pyplot as plt\nimport numpy as np\n", "plt.rcParams['image.cmap'] = 'gray'\nK = 2\n"]
    plotting = plotting_names(cells)
    used = names_used(cells, plotting)
    assert plotting == {"plt"} and "plt" not in used
    assert drop_unused_imports(cells[1], used, plotting) == ("K = 2\n", True)


@pytest.mark.parametrize("running", [
    "def f():\n    return globals()['plt']\n",
    "import sys\nP = sys.modules['__main__'].plt\n",
    "def f(g):\n    return g.__globals__\n",
    "def f(:\n",
])
def test_code_that_may_reach_globals_by_name_keeps_every_import(running):
    assert names_used([running]) is None


def test_settings_of_a_library_that_is_not_for_plots_stay():
    setup = "import course_lib.layers as L\nL.EPS = 1e-3\n"
    assert _pruned(setup, "def f(x):\n    return x\n") == setup  # L.EPS may change what an exercise computes


def test_run_cells_must_be_a_known_mode():
    with pytest.raises(GradingOptionsError, match="run_cells must be one of 'definitions', 'all'"):
        GradingOptions(run_cells="some")


def test_the_mode_is_part_of_every_fingerprint():
    assert job_fingerprint(b"s", b"src", "g", options=DEFINITIONS) != job_fingerprint(b"s", b"src", "g", options=ALL)


# --------------------------------------------------------------------------- one submission

def _job(course: Path, notebook, options: GradingOptions) -> GradingJob:
    return GradingJob(student="s1", assignment=fx.ASSIGNMENT, origin="x", submission=fx.as_bytes(notebook),
                      problems=[], source_notebook=(course / "source" / fx.ASSIGNMENT / "tiny.ipynb").read_bytes(),
                      release_dir=str(course / "release" / fx.ASSIGNMENT), notebook_name="tiny.ipynb",
                      fingerprint="0" * 64, options=options)


def _solved(*cells: str, square: str = fx.SQUARE_SOLUTION, add: str = fx.ADD_SOLUTION):
    return fx.notebook(square_body=square, add_body=add,
                       extra_cells=[nbformat.v4.new_code_cell(c) for c in cells])


def _outputs(result: dict) -> str:
    nb = nbformat.reads(result["notebook"], as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_an_experiment_that_would_time_out_does_not_run(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved("import time\nprint('epoch-q7')\ntime.sleep(30)\nRESULT = 1\n")
    fast = grade_submission(_job(course, nb, DEFINITIONS))
    assert fast["score"] == fx.AUTO_MAX and fast["cells_run"] == "definitions"
    assert DEFINITIONS_NOTE.strip() in _outputs(fast) and "epoch-q7" not in _outputs(fast)
    slow = grade_submission(_job(course, nb, ALL))
    assert slow["score"] == fx.AUTO_MAX and slow["cells_run"] == "all"
    assert any("did not finish within 4 s" in p for p in slow["problems"])  # the cell timeout hit the experiment


#: A 1x1 PNG.
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_feedback_shows_the_saved_outputs_of_a_cell_whose_experiment_did_not_run(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved("print('epoch-q7')\nRESULT = 1\n")
    nb.cells[-1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="saved-loss-q5\n"),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>ok</b><script>document.title='pwned'</script>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert('pwned')"})]
    fast = grade_submission(_job(course, nb, DEFINITIONS))
    assert fast["score"] == fx.AUTO_MAX and fast["cells_run"] == "definitions"
    shown = _outputs(fast)
    assert shown.index(DEFINITIONS_NOTE.strip()) < shown.index(SAVED_NOTE.strip()) < shown.index("saved-loss-q5")
    assert "epoch-q7" not in shown
    page = fast["feedback_html"]
    assert f"data:image/png;base64,{PNG}" in page and "saved-loss-q5" in page and "<b>ok</b>" in page
    assert "document.title='pwned'</script>" not in page and "alert('pwned')</script>" not in page
    whole = grade_submission(_job(course, nb, ALL))  # the cell ran: its own outputs only
    assert "epoch-q7" in _outputs(whole) and "saved-loss-q5" not in _outputs(whole) and PNG not in whole["feedback_html"]


def test_a_helper_defined_next_to_an_experiment_is_defined(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved(square="    return _sq(np.asarray(x))\n")
    nb.cells.insert(2, nbformat.v4.new_code_cell("def _sq(v):\n    return v * v\n\nprint(_sq(3))\n"))
    result = grade_submission(_job(course, nb, DEFINITIONS))
    assert result["score"] == fx.AUTO_MAX and result["cells_run"] == "definitions"


def test_code_that_needs_what_did_not_run_is_graded_on_the_whole_notebook(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved(add="    return (a + b) * SCALE\n")
    nb.cells.insert(2, nbformat.v4.new_code_cell("SCALE = int('1')\n"))  # a call: not a definition
    result = grade_submission(_job(course, nb, DEFINITIONS))
    assert result["score"] == fx.AUTO_MAX
    assert result["cells_run"] == ("all (definitions only were not enough: test test_add: your code raised "
                                   "NameError)")


def test_an_import_that_only_the_experiments_use_does_not_run(tmp_path):
    course = fx.make_course(tmp_path / "course")
    (course / "release" / fx.ASSIGNMENT / "slowplot.py").write_text("print('slowplot-imported-q3')\n")
    nb = _solved("import math as m\nimport slowplot as viz\nHALF = m.pi / 2\nviz.plot(HALF)\n")
    result = grade_submission(_job(course, nb, DEFINITIONS))
    assert result["cells_run"] == "definitions" and result["score"] == fx.AUTO_MAX and result["problems"] == []
    assert "slowplot-imported-q3" not in _outputs(result)
    whole = grade_submission(_job(course, nb, ALL))
    assert whole["score"] == fx.AUTO_MAX and "slowplot-imported-q3" in _outputs(whole)


def test_a_dropped_import_of_a_missing_library_still_fails_its_cell(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved("import not_a_module_q9 as viz\nviz.plot(1)\n")
    result = grade_submission(_job(course, nb, DEFINITIONS))
    assert result["cells_run"].startswith("all (definitions only were not enough: cell 8 raised ModuleNotFoundError: "
                                          "No module named 'not_a_module_q9'")
    assert result["score"] == fx.AUTO_MAX


def test_a_cell_that_fails_with_definitions_only_is_graded_on_the_whole_notebook(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved("print('epoch-q7')\n", "import not_a_module_q9\nLIB = not_a_module_q9\n")
    result = grade_submission(_job(course, nb, DEFINITIONS))
    whole = grade_submission(_job(course, nb, ALL))
    assert result["cells_run"] == ("all (definitions only were not enough: cell 9 raised ModuleNotFoundError: "
                                   "No module named 'not_a_module_q9')")
    assert result["score"] == whole["score"] == fx.AUTO_MAX
    assert [t["status"] for t in result["tests"]] == [t["status"] for t in whole["tests"]]


def test_a_notebook_without_experiments_runs_whole_and_its_failures_stand(tmp_path):
    course = fx.make_course(tmp_path / "course")
    nb = _solved("import not_a_module_q9\nLIB = not_a_module_q9\n", add="    raise ValueError('mine')\n")
    result = grade_submission(_job(course, nb, DEFINITIONS))
    assert result["cells_run"] == "definitions" and result["score"] == 2.0  # nothing left out: no second run
    assert "your code raised ValueError: mine" in next(t["message"] for t in result["tests"]
                                                         if t["grade_id"] == "test_add")


def test_a_wrong_or_unfinished_function_is_a_verdict_not_a_reason_to_run_everything(tmp_path):
    course = fx.make_course(tmp_path / "course")
    for body, message in (("    return a - b\n", "add(2, 3) should be 5"), (fx.STUB, "NotImplementedError")):
        result = grade_submission(_job(course, _solved("print('plot')\n", add=body), DEFINITIONS))
        assert result["cells_run"] == "definitions" and result["score"] == 2.0
        [failed] = [t for t in result["tests"] if t["status"] == "failed"]
        assert failed["grade_id"] == "test_add" and message in failed["message"]


# --------------------------------------------------------------------------- whole batches: the same scores

KINDS = ["solution", "blank", "partial", "visible_only", "cheat_metadata", "cheat_monkeypatch", "exception",
         "exit_cell", "infinite_loop", "test_kills_kernel", "background_process", "non_utf8", "malformed_json"]


def _scores(out: Path) -> dict[str, float]:
    with open(out / "grades.csv", newline="") as fh:
        return {row["student"]: float(row["score"]) for row in csv.DictReader(fh)}


def test_every_kind_of_tiny_student_gets_its_honest_score(tmp_path):
    course = fx.make_course(tmp_path / "course")
    subs = tmp_path / "submitted"
    for kind in KINDS:
        (subs / kind / fx.ASSIGNMENT).mkdir(parents=True)
        (subs / kind / fx.ASSIGNMENT / "tiny.ipynb").write_bytes(fx.student_notebook(kind))
    summary = grade_assignment(fx.ASSIGNMENT, subs, course_dir=course, out_dir=tmp_path / "out", workers=0,
                               options=DEFINITIONS, gradebook=False, progress=False)
    assert summary.grader_errors == []
    assert _scores(tmp_path / "out") == {kind: fx.expected_score(kind) for kind in KINDS}


@pytest.mark.parametrize("name", ["fc_nets", "batchnorm", "dropout", "deep_networks"])
def test_the_bundled_examples_score_alike_with_definitions_only_and_with_every_cell(name, tmp_path):
    examples = REPO / "autograder" / "examples" / name
    timings, scores = {}, {}
    for mode in ("definitions", "all"):
        out = tmp_path / mode
        t0 = time.monotonic()
        summary = grade_assignment(name, examples, course_dir=REPO, out_dir=out, workers=0, gradebook=False,
                                   progress=False, options=GradingOptions(run_cells=mode))
        timings[mode] = time.monotonic() - t0
        assert summary.grader_errors == []
        scores[mode] = _scores(out)
        shutil.rmtree(out / "_mathjax", ignore_errors=True)
    assert scores["definitions"] == scores["all"] and len(scores["all"]) == 4
    print(f"\n{name}: definitions {timings['definitions']:.1f} s, all {timings['all']:.1f} s, scores {scores['all']}")
