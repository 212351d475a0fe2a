"""Remote handles and graded cells run in the grader against the student's kernel.

Expected values are computed here, in the grader process, with plain numpy (the reference
computation), never by the student kernel.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

from autograder.grade.cell import TestOutcome, defined_names, foreign_names, free_names, run_graded_cell, strip_magics
from autograder.kernel.client import StudentKernel
from autograder.kernel.errors import KernelDied, KernelError, ProtocolError, StudentError
from autograder.kernel.handles import RemoteDict, RemoteHandle
from autograder.kernel.plan import Limits

STUDENT_CELLS = [
    '''
import numpy as np

class Cache:
    def __init__(self, x, w, b):
        self.x, self.w, self.b = x, w, b

def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, Cache(x, w, b)

def affine_backward(dout, cache):
    x, w, b = cache.x, cache.w, cache.b
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)

def batchnorm_forward(x, gamma, beta, bn_param):
    momentum = bn_param.get('momentum', 0.9)
    rm = bn_param.get('running_mean', np.zeros(x.shape[1]))
    mu = x.mean(axis=0)
    bn_param['running_mean'] = momentum * rm + (1 - momentum) * mu
    bn_param['calls'] = bn_param.get('calls', 0) + 1
    out = gamma * (x - mu) / np.sqrt(x.var(axis=0) + 1e-5) + beta
    x[...] = 0  # student code trying to corrupt the grader's input
    return out, None

def check_mode(mode):
    if mode not in ('train', 'test'):
        raise ValueError(f'unknown mode {mode!r}')
    return mode
''',
    '''
class TwoLayerNet:
    def __init__(self, D, H, C, reg=0.0):
        rng = np.random.default_rng(0)
        self.params = {'W1': rng.standard_normal((D, H)), 'b1': np.zeros(H),
                       'W2': rng.standard_normal((H, C)), 'b2': np.zeros(C)}
        self.reg = reg

    def loss(self, X, y):
        h = np.maximum(0, X @ self.params['W1'] + self.params['b1'])
        scores = h @ self.params['W2'] + self.params['b2']
        scores = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(len(y)), y]).mean()
        loss += 0.5 * self.reg * sum((self.params[k] ** 2).sum() for k in ('W1', 'W2'))
        return loss, {'dummy': np.float64(1.0)}

from collections import UserDict

oddly_keyed = UserDict({1: 'one', 2: 'two'})  # not a dict: a handle
int_keyed = {1: 'one', 2: 'two'}
answer = 42

def label_sets(y):
    return set(int(v) for v in y), frozenset(), {int(v): complex(v, 1) for v in y}, bytes([len(y)])

def rel_error(x, y):
    return 0.0  # a student redefining a helper the notebook defines outside its exercises
''',
]


def reference_loss(params, X, y, reg):
    """The two-layer net's loss computed in the grader (softmax cross-entropy + L2)."""
    h = np.maximum(0, X @ params["W1"] + params["b1"])
    scores = h @ params["W2"] + params["b2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    return loss + 0.5 * reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())


def setup_kernel(k: StudentKernel) -> None:
    for cell in STUDENT_CELLS:
        res = k.run_cell(cell)
        assert res.status == "ok", res


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    with StudentKernel(tmp_path_factory.mktemp("remote"), limits=Limits(cell_timeout=20)) as k:
        setup_kernel(k)
        yield k


def ensure_alive(k: StudentKernel) -> None:
    if not k.alive:
        k.restart()
        setup_kernel(k)


# --------------------------------------------------------------------------- handles


def test_function_returning_array_and_opaque_object(kernel):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    forward = kernel.get("affine_forward")
    assert isinstance(forward, RemoteHandle)
    out, cache = forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(4, -1) @ w + b, rtol=1e-12)
    assert isinstance(out, np.ndarray) and isinstance(cache, RemoteHandle)
    assert "Cache" in repr(cache)
    np.testing.assert_array_equal(cache.w, w)  # attribute read: data
    dout = rng.standard_normal((4, 5))
    dx, dw, db = kernel.call("affine_backward", dout, cache)  # the handle goes back in
    np.testing.assert_allclose(dx, (dout @ w.T).reshape(x.shape), rtol=1e-12)
    np.testing.assert_allclose(dw, x.reshape(4, -1).T @ dout, rtol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=0), rtol=1e-12)


def test_dict_arguments_are_copied_back_and_arrays_are_not_shared(kernel):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 3))
    x_before = x.copy()
    bn_param = {"mode": "train", "momentum": 0.5, "running_mean": np.ones(3)}
    kernel.call("batchnorm_forward", x, np.ones(3), np.zeros(3), bn_param)
    np.testing.assert_array_equal(x, x_before)  # the student zeroed only the kernel's copy
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * np.ones(3) + 0.5 * x.mean(axis=0), rtol=1e-12)
    assert bn_param["calls"] == 1 and bn_param["mode"] == "train"
    kernel.call("batchnorm_forward", x, gamma=np.ones(3), beta=np.zeros(3), bn_param=bn_param)
    assert bn_param["calls"] == 2


def test_class_instance_params_and_methods(kernel):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    model = kernel.get("TwoLayerNet")(4, 6, 3, reg=0.1)
    params = model.params
    assert isinstance(params, RemoteDict) and sorted(params) == ["W1", "W2", "b1", "b2"]
    loss, grads = model.loss(X, y)
    assert isinstance(loss, np.float64) and grads == {"dummy": 1.0}
    np.testing.assert_allclose(loss, reference_loss(params, X, y, 0.1), rtol=1e-12)
    # write-through: item assignment, attribute assignment, in-place edits of held arrays
    model.params["W1"] = np.linspace(-0.7, 0.3, 24).reshape(4, 6)
    model.reg = 0.0
    local = dict(model.params)
    np.testing.assert_allclose(model.loss(X, y)[0], reference_loss(local, X, y, 0.0), rtol=1e-12)
    W2 = params["W2"]
    W2[0, 0] += 1.0  # what a numerical gradient check does
    local["W2"] = W2
    np.testing.assert_allclose(model.loss(X, y)[0], reference_loss(local, X, y, 0.0), rtol=1e-12)
    assert model.reg == 0.0
    plain = copy.deepcopy(model.params)
    assert type(plain) is dict and plain.keys() == params.keys()


def test_handle_items_student_exceptions_and_bad_arguments(kernel):
    odd = kernel.get("oddly_keyed")  # a UserDict: not plain data
    assert isinstance(odd, RemoteHandle)
    int_keyed = kernel.get("int_keyed")  # a dict with int keys is data
    assert type(int_keyed) is dict and int_keyed == {1: "one", 2: "two"}
    assert odd[1] == "one"
    odd[3] = "three"
    assert odd[3] == "three"
    del odd[3]
    with pytest.raises(KeyError):
        odd[3]
    assert kernel.get("answer") == 42
    with pytest.raises(ValueError, match="unknown mode 'bogus'") as info:
        kernel.call("check_mode", "bogus")
    assert isinstance(info.value, StudentError) and "check_mode" in info.value.student_traceback
    with pytest.raises(TypeError, match="cannot send a object"):
        kernel.call("check_mode", object())
    with pytest.raises(NameError, match="does not define `nope`"):
        kernel.get("nope")
    np_remote = kernel.remote_import("numpy")
    assert isinstance(np_remote, RemoteHandle) and np_remote.pi == np.pi
    assert kernel.alive


# --------------------------------------------------------------------------- graded cells


def test_free_names_and_magics():
    src = strip_magics("%timeit x\nimport numpy as np\nfrom m import a as b\n!ls\n"
                       "def helper(v):\n    return student_fn(v) + np.pi\n"
                       "class T:\n    z = other_fn\nres = [helper(i) for i in range(3)]\n"
                       "assert len(res) == 3, undefined_msg\nfor k in res: print(k)\n")
    assert "%" not in src and "!ls" not in src
    assert free_names(src) == {"student_fn", "other_fn", "undefined_msg"}


def test_graded_cell_passes_and_fails_with_messages(kernel):
    ensure_alive(kernel)
    passing = ("import numpy as np\nx = np.arange(6.0).reshape(2, 3)\nw = np.eye(3)\n"
               "out, cache = affine_forward(x, w, np.zeros(3))\n"
               "assert np.allclose(out, x), 'affine_forward is wrong'\n")
    res = run_graded_cell(kernel, passing, timeout=20)
    assert res == TestOutcome(True, "passed", res.duration)
    failing = passing + "assert np.allclose(out, x + 1), 'the output of affine_forward is off by one'\n"
    res = run_graded_cell(kernel, failing, timeout=20)
    assert not res.passed and res.message == "the output of affine_forward is off by one"
    res = run_graded_cell(kernel, "out = layernorm_forward(1)\n", timeout=20)
    assert not res.passed and res.message == "your notebook does not define `layernorm_forward`"
    res = run_graded_cell(kernel, "check_mode('nope')\n", timeout=20)
    assert not res.passed and res.message.startswith("your code raised ValueError: unknown mode 'nope'")
    assert "check_mode" in res.message
    res = run_graded_cell(kernel, "import numpy as np\nnp.zeros(3) + 'text'\n", timeout=20)
    # a value the check cannot use: said in the student's terms, never like a crash of the grader
    assert not res.passed and res.message.startswith("what your code returned could not be checked (UFuncTypeError")
    assert res.message.endswith("compare its type and shape with the docstring")
    assert "Traceback" not in res.message and "File " not in res.message
    res = run_graded_cell(kernel, "%time x = 1\nassert answer == 42\n", timeout=20)
    assert res.passed, res


def test_graded_cell_compares_plain_python_values(kernel):
    # a generic nbgrader test: sets, frozensets, int-keyed dicts, complex and bytes compare as in nbgrader
    ensure_alive(kernel)
    cell = ("import numpy as np\nlabels, empty, table, size = label_sets(np.array([3, 1, 3, 2]))\n"
            "assert labels == {1, 2, 3}, 'wrong labels'\nassert empty == frozenset() and type(empty) is frozenset\n"
            "assert table == {3: 3 + 1j, 1: 1 + 1j, 2: 2 + 1j}, 'wrong table'\nassert size == bytes([4])\n")
    res = run_graded_cell(kernel, cell, timeout=20, exercises={"label_sets"})
    assert res.passed, res
    wrong = cell.replace("{1, 2, 3}", "{1, 2}")
    res = run_graded_cell(kernel, wrong, timeout=20, exercises={"label_sets"})
    assert not res.passed and res.message == "wrong labels"


def test_free_names_that_are_not_exercises_are_never_taken_from_the_kernel(kernel):
    ensure_alive(kernel)
    cell = ("import numpy as np\nx = np.arange(6.0).reshape(2, 3)\nout, _ = affine_forward(x, np.eye(3), np.ones(3))\n"
            "assert rel_error(out, x) < 1e-9, 'affine_forward is wrong'\n")  # out = x + 1: wrong
    # what nbgrader does (and this grader without exercises): the student's rel_error passes it
    assert run_graded_cell(kernel, cell, timeout=20).passed
    res = run_graded_cell(kernel, cell, timeout=20, exercises={"affine_forward"})
    assert not res.passed
    assert res.message == ("error while checking: the test cell uses `rel_error`, which no solution cell "
                           "defines (import it in the test cell)")
    fixed = "from course_lib.gradient_check import rel_error\n" + cell
    res = run_graded_cell(kernel, fixed, timeout=20, exercises={"affine_forward"})
    assert not res.passed and res.message == "affine_forward is wrong"
    # np/numpy/math stay the grader's modules when a cell uses them without importing them
    res = run_graded_cell(kernel, "assert np.isclose(math.pi, numpy.pi)\n", timeout=20, exercises=())
    assert res.passed, res


def test_defined_and_foreign_names():
    solution = ("%matplotlib inline\nimport numpy as np\ndef f(x):\n    helper = 1\n    return x\n"
                "class Net:\n    pass\nsettings = {'lr': 1}\na, (b, *c) = 1, (2, 3)\nn: int = 3\nn += 1\n"
                "if True:\n    nested = 1\n")
    assert defined_names(solution) == {"f", "Net", "settings", "a", "b", "c", "n"}
    test = "%time f(1)\nassert Net and settings and np.pi and rel_error(1, 2) == 0 and other\n"
    assert foreign_names(test, {"f", "Net", "settings"}) == ["other", "rel_error"]
    with pytest.raises(SyntaxError):
        defined_names("def broken(:\n")


def test_monkeypatched_numpy_in_kernel_does_not_change_verdicts(kernel):
    ensure_alive(kernel)
    res = kernel.run_cell("import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                          "np.testing.assert_allclose = lambda *a, **k: None\n"
                          "def relu(x):\n    return x + 1\nprint(np.allclose(1, 2))")
    assert res.outputs[0]["text"] == "True\n"  # the kernel's numpy really is patched
    cells = ["import numpy as np\nassert np.allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0]), 'relu is wrong'\n",
             "assert np.allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0]), 'relu is wrong'\n"]  # np not imported
    for cell in cells:
        res = run_graded_cell(kernel, cell, timeout=20)
        assert not res.passed and res.message == "relu is wrong"


def test_graded_cell_timeout_and_death(kernel):
    ensure_alive(kernel)
    kernel.run_cell("import os\ndef spin(x):\n    while True:\n        pass\ndef die():\n    os._exit(4)")
    t0 = time.monotonic()
    res = run_graded_cell(kernel, "import numpy as np\nanswer_check = 1\nspin(np.zeros(3))\n", timeout=2)
    assert not res.passed and res.message == "timed out after 2 s"
    assert time.monotonic() - t0 < 8 and not kernel.alive
    res = run_graded_cell(kernel, "assert answer == 42\n", timeout=5)
    assert not res.passed and "the kernel" in res.message
    kernel.restart()
    setup_kernel(kernel)
    kernel.run_cell("import os\ndef die():\n    os._exit(4)")
    res = run_graded_cell(kernel, "die()\n", timeout=10)
    assert not res.passed and "exited with code 4" in res.message
    with pytest.raises(KernelError):
        kernel.get("answer")
    assert not isinstance(KernelDied("x"), StudentError)


def test_forged_call_reply_is_a_protocol_error(kernel):
    ensure_alive(kernel)
    res = kernel.run_cell(
        "import json, os\n"
        "_fd = json.loads(open('/proc/self/cmdline', 'rb').read().split(b'\\0')[-2])['fd']\n"
        "def forge():\n"
        "    import _autograder_wire as w\n"  # the kernel's own copy of the wire module
        "    for chunk in w.encode({'seq': 10**6, 'ok': True, 'value': {'value': 1, 'args': [], 'kwargs': {}}}):\n"
        "        os.write(_fd, bytes(chunk))\n"
        "    return 2\n")
    assert res.status == "ok", res
    with pytest.raises(ProtocolError, match="invalid reply"):
        kernel.call("forge")
    assert not kernel.alive
