"""Given code is sufficient: in each release, a net built from every layer the assignments define runs.

The shipped assignments are taken in teaching order (``SHIPPED``); a net of one assignment may use every
layer that assignment or an earlier one defines (a "layer" is a function of ``course_lib.layers.__all__`` that a
solution cell writes). In each release, the names a net can use are those the release's code cells import
(up to and including the net's cell, run next to the release's stripped ``course_lib``) and those its
solution cells define (the student's; here course_lib's reference layers are injected for them). The test
runs, in a subprocess inside ``release/<name>/``, a net that uses every such layer -- batch normalization
with the graph and with the closed-form backward, layer normalization, dropout -- and compares its loss and
gradients with the same net composed from the reference layers. So no correct solution needs a name the
release does not give (a net calling ``batchnorm_backward`` in the dropout release once raised NameError
only at grading).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_source_notebooks import SHIPPED

from autograder.assignments import get_assignment
from autograder.checks import reference

REPO = Path(__file__).resolve().parents[1]
NET_CELL = "FullyConnectedNet"

# Runs inside release/<name>/ (so ``course_lib`` is the release's): argv[1] is a JSON object with the import
# statements of the release, the names its solution cells define and the layers the net must use.
_SCRIPT = r'''
import json, sys
import numpy as np
from autograder.checks import reference

job = json.loads(sys.argv[1])
ns = {}
for statement in job["imports"]:
    exec(statement, ns)
ref = reference("layers")
for name in job["student"]:
    if hasattr(ref, name):
        ns[name] = getattr(ref, name)  # what a correct student writes
required = job["required"]
missing = sorted(n for n in required if n not in ns)
if missing:
    print(json.dumps({"missing": missing}))
    sys.exit(0)

def net(L, params, X, y):
    """affine-[bn]-relu-[dropout], affine-[ln]-relu-[dropout], affine-[bn]-relu-[dropout], affine-softmax."""
    bn = "batchnorm_forward" in required
    ln = "layernorm_forward" in required
    drop = "dropout_forward" in required
    backs = ["batchnorm_backward", "batchnorm_backward_alt"]
    h, caches = X, []
    for i, norm in enumerate(["bn" if bn else None, "ln" if ln else None, "bn" if bn else None], start=1):
        a, fc = L["affine_forward"](h, params[f"W{i}"], params[f"b{i}"])
        nc = None
        if norm == "bn":
            a, nc = L["batchnorm_forward"](a, params[f"g{i}"], params[f"be{i}"], {"mode": "train"})
        elif norm == "ln":
            a, nc = L["layernorm_forward"](a, params[f"g{i}"], params[f"be{i}"], {})
        h, rc = L["relu_forward"](a)
        dc = None
        if drop:
            h, dc = L["dropout_forward"](h, {"mode": "train", "p": 0.7, "seed": 5})
        caches.append((fc, norm, nc, rc, dc))
    scores, last = L["affine_forward"](h, params["W4"], params["b4"])
    loss, dh = L["softmax_loss"](scores, y)
    grads = {}
    dh, grads["W4"], grads["b4"] = L["affine_backward"](dh, last)
    for i in range(3, 0, -1):
        fc, norm, nc, rc, dc = caches[i - 1]
        if dc is not None:
            dh = L["dropout_backward"](dh, dc)
        da = L["relu_backward"](dh, rc)
        if norm == "bn":
            da, grads[f"g{i}"], grads[f"be{i}"] = L[backs[i // 3]](da, nc)
        elif norm == "ln":
            da, grads[f"g{i}"], grads[f"be{i}"] = L["layernorm_backward"](da, nc)
        dh, grads[f"W{i}"], grads[f"b{i}"] = L["affine_backward"](da, fc)
    return float(loss), grads

rng = np.random.default_rng(0)
dims = [6, 5, 4, 5, 3]
params = {}
for i in range(1, 5):
    params[f"W{i}"] = rng.normal(size=(dims[i - 1], dims[i]))
    params[f"b{i}"] = rng.normal(size=dims[i])
    params[f"g{i}"] = rng.uniform(0.5, 1.5, dims[i])
    params[f"be{i}"] = rng.normal(size=dims[i])
X, y = rng.normal(size=(7, 6)), rng.integers(0, 3, size=7)
loss, grads = net({n: ns[n] for n in required}, params, X, y)
want_loss, want = net({n: getattr(ref, n) for n in required}, params, X, y)
err = max([abs(loss - want_loss)] + [float(np.max(np.abs(grads[k] - want[k]))) for k in want])
print(json.dumps({"missing": [], "max_abs_difference": err, "grads": sorted(grads)}))
'''


def _release_notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / get_assignment(name).release_notebook, as_version=4)


def _cells_up_to_net(nb: nbformat.NotebookNode) -> list:
    cells = [c for c in nb.cells if c.cell_type == "code"]
    ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    return cells[: ids.index(NET_CELL) + 1] if NET_CELL in ids else cells


def _module(source: str) -> ast.Module:
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def _solution_defs(nb: nbformat.NotebookNode, cells=None) -> list[str]:
    out = []
    for cell in cells if cells is not None else nb.cells:
        if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            out += [n.name for n in _module(cell.source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    return out


def _imports(cells) -> list[str]:
    return [ast.unparse(n) for cell in cells for n in _module(cell.source).body
            if isinstance(n, (ast.Import, ast.ImportFrom))]


def _required_layers(name: str) -> list[str]:
    """Layers (names in course_lib.layers.__all__) that the assignment or an earlier one writes."""
    layers = set(reference("layers").__all__)
    names = list(SHIPPED)
    defined = set()
    for earlier in names[: names.index(name) + 1]:
        source = nbformat.read(REPO / get_assignment(earlier).source_notebook, as_version=4)
        defined |= set(_solution_defs(source)) & layers
    return sorted(defined)


def test_required_layers_grow_along_the_course():
    """fc_nets writes the affine/ReLU/softmax layers; by deep_networks every normalization and dropout layer exists."""
    first, last = _required_layers(SHIPPED[0]), _required_layers(SHIPPED[-1])
    assert {"affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss"} <= set(first)
    assert {"batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "dropout_forward"} <= set(last)


@pytest.mark.parametrize("name", SHIPPED)
def test_release_gives_every_layer_a_net_may_use(name):
    release = _release_notebook(name)
    cells = _cells_up_to_net(release)
    job = {"imports": _imports(cells), "student": _solution_defs(release, cells), "required": _required_layers(name)}
    run = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(job)], cwd=REPO / "release" / name,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["missing"] == [], (f"{name}: a net in the release cannot use {result['missing']}: add them to the "
                                     f"given imports of the {NET_CELL} cell in source/{name}/{name}.ipynb")
    assert result["max_abs_difference"] < 1e-9, result
    assert {"W1", "W4", "b4"} <= set(result["grads"])
