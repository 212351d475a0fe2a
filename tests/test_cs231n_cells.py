"""The official cs231n assignment-2 notebooks' cells run against course_lib with only the package name changed.

README promises "existing cs231n notebook cells run unchanged". Each test below is one cell of an official
notebook, rewritten in this project's form but calling exactly what the cell calls, with the same seeds,
draw order and arguments, through the names the notebook's setup cell imports::

    from cs231n.classifiers.fc_net import *          ->  from course_lib.fc_net import *
    from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
    from cs231n.solver import Solver
    from cs231n.optim import sgd_momentum, rmsprop, adam          (FullyConnectedNets, update-rule cells)

and asserts the values the notebook printed (or asserted), taken from ``tests.published`` where they were
already transcribed. Notebooks (repository:path@commit, course year):

The three 2018 notebooks are read in Aneureka/cs231n-assignments-2018 at commit
6f326b35f87c5909f39556a5166a96ca86a22ef4 ("2018" below).

* FullyConnectedNets 2018: assignment2/FullyConnectedNets.ipynb (TwoLayerNet, FullyConnectedNet initial losses
  2.3004790897684924 / 7.052114776533016); 2019: ``pub.SOURCE_LAYERS`` (0809zheng/CS231n-assignment2019);
  2020: 1219521375/CS231n2020:assignment2/FullyConnectedNets.ipynb@cbafdce997873d72f14ec75204439e50a190cd82;
  2022 (the 2021+ form, FullyConnectedNet only): ``pub.SOURCE_FCN`` (AnirudhM1/CS231n-2022-Solutions).
* BatchNormalization 2022: ``pub.SOURCE_BATCHNORM`` / ``pub.SOURCE_FCN_BATCHNORM``; 2018:
  assignment2/BatchNormalization.ipynb, the same ``normalization='batchnorm'`` cell printing the same
  initial losses 2.2611955101340957 / 6.996533220108303.
* Dropout 2018 (``dropout=``, keep probability): assignment2/Dropout.ipynb -- prints the same losses as the
  2022 notebook
  (``pub.SOURCE_FCN_DROPOUT``, ``dropout_keep_ratio=``): 2.3004790897684924, 2.302371489704412,
  2.3042759220785896.

No 2023 or 2024 copy of these notebooks was found in the public index searched, so "2018-2024" is
not claimed here: the cells are those of 2018-2022.

Cells that train on the full CIFAR-10 (the Solver runs, the overfitting cells, the plots) are not here:
their outputs depend on the data and the machine (``pub.BN_DEEP_EXPERIMENT`` shows two repositories
disagreeing).

Printed gradient-check errors depend on the implementation (``tests/published.py``); they are asserted
against the bound the notebook states, read as in tests/test_layers.py: "around e-7" is below ten times
the figure (``ORDER``), ranges are used as they are.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest

from tests import published as pub

ORDER = 10

# The cs231n N, D, H1, H2, C of the nets' gradient-check cells.
N, D, H1, H2, C = 2, 15, 20, 30, 10


def star_import(module_name: str) -> dict:
    """What ``from <module_name> import *`` binds: every name of the module's ``__all__``."""
    module = importlib.import_module(module_name)
    return {name: getattr(module, name) for name in module.__all__}


@pytest.fixture(scope="module")
def nb():
    """The names a cs231n assignment-2 notebook has after its setup cell, with course_lib for cs231n."""
    names = star_import("course_lib.fc_net")
    gradient_check = importlib.import_module("course_lib.gradient_check")
    optim = importlib.import_module("course_lib.optim")
    names.update(
        eval_numerical_gradient=gradient_check.eval_numerical_gradient,
        eval_numerical_gradient_array=gradient_check.eval_numerical_gradient_array,
        rel_error=gradient_check.rel_error,  # the setup cell's rel_error: pub.REL_ERROR_DEFINITION
        Solver=importlib.import_module("course_lib.solver").Solver,
        get_CIFAR10_data=importlib.import_module("course_lib.data").get_CIFAR10_data,
        sgd_momentum=optim.sgd_momentum, rmsprop=optim.rmsprop, adam=optim.adam,
    )
    return SimpleNamespace(**names)


def _gradient_errors(nb, model, X, y):
    """The cells' loop: ``for name in sorted(grads): rel_error(grad_num, grads[name])`` (h = 1e-5)."""
    loss, grads = model.loss(X, y)
    errors = {}
    for name in sorted(grads):
        grad_num = nb.eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False,
                                              h=1e-5)
        errors[name] = nb.rel_error(grad_num, grads[name])
    return loss, errors


def _seed_231_data():
    np.random.seed(231)
    return np.random.randn(N, D), np.random.randint(C, size=(N,))


# ---------------------------------------------------------------------------------------------------
# The star import
# ---------------------------------------------------------------------------------------------------

# Names each notebook's cells use after ``from cs231n.classifiers.fc_net import *`` (cs231n's fc_net
# star-imports cs231n.layers and cs231n.layer_utils).
STAR_NAMES = {
    "FullyConnectedNets 2018-2020": ["affine_forward", "affine_backward", "relu_forward", "relu_backward",
                                     "affine_relu_forward", "affine_relu_backward", "svm_loss", "softmax_loss",
                                     "TwoLayerNet", "FullyConnectedNet"],
    "BatchNormalization 2018-2022": ["batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
                                     "layernorm_forward", "layernorm_backward", "FullyConnectedNet"],
    "Dropout 2018-2022": ["dropout_forward", "dropout_backward", "FullyConnectedNet"],
}


@pytest.mark.parametrize("notebook", sorted(STAR_NAMES))
def test_star_import_of_fc_net_brings_the_names_the_notebook_uses(notebook):
    bound = star_import("course_lib.fc_net")
    missing = [name for name in STAR_NAMES[notebook] if name not in bound]
    assert not missing, f"{notebook}: `from course_lib.fc_net import *` does not bind {missing}"
    assert all(callable(bound[name]) for name in STAR_NAMES[notebook])


# ---------------------------------------------------------------------------------------------------
# FullyConnectedNets.ipynb
# ---------------------------------------------------------------------------------------------------

def test_fcn_affine_forward_cell(nb):
    a = pub.AFFINE_FORWARD
    input_shape, output_dim = a["input_shape"], a["output_dim"]
    x = np.linspace(*a["x_linspace"], num=a["num_inputs"] * np.prod(input_shape)).reshape(a["num_inputs"],
                                                                                          *input_shape)
    w = np.linspace(*a["w_linspace"], num=output_dim * np.prod(input_shape)).reshape(np.prod(input_shape),
                                                                                     output_dim)
    b = np.linspace(*a["b_linspace"], num=output_dim)
    out, _ = nb.affine_forward(x, w, b)
    # Printed "Testing affine_forward function: difference: 9.769847728806635e-10": the rounding of
    # correct_out to 8 decimals, so the same for every correct implementation to a few digits.
    assert nb.rel_error(out, np.asarray(a["correct_out"])) == pytest.approx(a["printed_difference"][0], rel=1e-4)


def test_fcn_relu_forward_cell(nb):
    r = pub.RELU_FORWARD
    out, _ = nb.relu_forward(np.linspace(*r["x_linspace"], num=12).reshape(r["x_shape"]))
    assert nb.rel_error(out, np.asarray(r["correct_out"])) == pytest.approx(r["printed_difference"], rel=1e-4)


def test_fcn_layer_gradient_check_cells(nb):
    bounds = {k: v["stated_bound"] for k, v in pub.LAYER_GRADCHECK.items()}
    np.random.seed(231)
    x, w, b, dout = np.random.randn(10, 2, 3), np.random.randn(6, 5), np.random.randn(5), np.random.randn(10, 5)
    dx, dw, db = nb.affine_backward(dout, nb.affine_forward(x, w, b)[1])
    for name, got, arg in (("dx", dx, 0), ("dw", dw, 1), ("db", db, 2)):
        args = [x, w, b]

        def f(v, arg=arg, args=args):
            return nb.affine_forward(*[v if i == arg else a for i, a in enumerate(args)])[0]

        num = nb.eval_numerical_gradient_array(f, args[arg], dout)
        assert nb.rel_error(num, got) < ORDER * bounds["affine_backward"], name
    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx = nb.relu_backward(dout, nb.relu_forward(x)[1])
    num = nb.eval_numerical_gradient_array(lambda v: nb.relu_forward(v)[0], x, dout)
    assert nb.rel_error(num, dx) < ORDER * bounds["relu_backward"]
    np.random.seed(231)
    x, w, b, dout = np.random.randn(2, 3, 4), np.random.randn(12, 10), np.random.randn(10), np.random.randn(2, 10)
    dx, dw, db = nb.affine_relu_backward(dout, nb.affine_relu_forward(x, w, b)[1])
    num = nb.eval_numerical_gradient_array(lambda v: nb.affine_relu_forward(v, w, b)[0], x, dout)
    assert nb.rel_error(num, dx) < ORDER * bounds["affine_relu"]


@pytest.mark.parametrize("loss_name", ["svm_loss", "softmax_loss"])
def test_fcn_loss_layer_cells(nb, loss_name):
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    loss_fn = getattr(nb, loss_name)
    loss, dx = loss_fn(x, y)
    assert loss == pytest.approx(pub.LOSS_LAYERS[loss_name], rel=1e-12)
    dx_num = nb.eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False)
    stated = 1e-9 if loss_name == "svm_loss" else 1e-8
    assert nb.rel_error(dx_num, dx) < ORDER * stated


def test_fcn_two_layer_net_cell(nb):
    # FullyConnectedNets 2018-2020: "Open the file cs231n/classifiers/fc_net.py and complete TwoLayerNet";
    # the cell asserts (it does not print) these values (pub.TWO_LAYER_NET).
    t = pub.TWO_LAYER_NET
    np.random.seed(231)
    n, d, h, c = 3, 5, 50, 7
    X = np.random.randn(n, d)
    y = np.random.randint(c, size=n)
    std = 1e-3
    model = nb.TwoLayerNet(input_dim=d, hidden_dim=h, num_classes=c, weight_scale=std)
    assert abs(model.params["W1"].std() - std) < std / 10, "First layer weights do not seem right"
    assert np.all(model.params["b1"] == 0), "First layer biases do not seem right"
    assert abs(model.params["W2"].std() - std) < std / 10, "Second layer weights do not seem right"
    assert np.all(model.params["b2"] == 0), "Second layer biases do not seem right"
    model.params["W1"] = np.linspace(-0.7, 0.3, num=d * h).reshape(d, h)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=h)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=h * c).reshape(h, c)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=c)
    X = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    scores = model.loss(X)
    assert np.abs(scores - np.asarray(t["correct_scores"])).sum() < t["scores_abs_sum_bound"]
    y = np.asarray([0, 5, 1])
    loss, _ = model.loss(X, y)
    assert abs(loss - t["correct_loss_reg0"]) < t["loss_abs_bound"]
    model.reg = 1.0
    loss, _ = model.loss(X, y)
    assert abs(loss - t["correct_loss_reg1"]) < t["loss_abs_bound"]
    # Then, same model, X and y: "Errors should be around e-7 or less" for model.reg in [0.0, 0.7]
    # (printed at most 8.18e-07, W1 with reg 0.7, in the 2018 and 2020 notebooks).
    for reg in (0.0, 0.7):
        model.reg = reg
        _, errors = _gradient_errors(nb, model, X, y)
        assert sorted(errors) == ["W1", "W2", "b1", "b2"]
        assert max(errors.values()) < ORDER * 1e-7, (reg, errors)


def test_fcn_fully_connected_net_initial_loss_and_gradient_check_cell(nb):
    # pub.SOURCE_FCN (2021+ form; the 2018-2020 cell is the same). "Initial loss: 2.300479089768492 /
    # 7.052114776533016"; errors ~1e-7, "fine ... W2 on the order of e-5 for the check when reg = 0.0".
    X, y = _seed_231_data()
    for reg in (0, 3.14):
        model = nb.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                     dtype=np.float64)
        loss, errors = _gradient_errors(nb, model, X, y)
        assert loss == pytest.approx(pub.FCN_INITIAL_LOSS[reg], rel=1e-12)
        for name, err in errors.items():
            bound = pub.FCN_INITIAL_LOSS["stated_bound_W2_reg0" if (name, reg) == ("W2", 0) else "stated_bound"]
            assert err < ORDER * bound, (reg, name, err)


def _linspace(pair, n, d):
    return np.linspace(*pair, num=n * d).reshape(n, d)


@pytest.mark.parametrize("rule, state_keys", [
    ("sgd_momentum", {"velocity": "velocity_linspace"}),
    ("rmsprop", {"cache": "cache_linspace"}),
    ("adam", {"m": "m_linspace", "v": "v_linspace"}),
])
def test_fcn_update_rule_cells(nb, rule, state_keys):
    spec = {"sgd_momentum": pub.SGD_MOMENTUM, "rmsprop": pub.RMSPROP, "adam": pub.ADAM}[rule]
    n, d = spec["N_D"]
    w, dw = _linspace(spec["w_linspace"], n, d), _linspace(spec["dw_linspace"], n, d)
    config = dict(spec["config"])
    config.update({key: _linspace(spec[lin], n, d) for key, lin in state_keys.items()})
    next_w, config = getattr(nb, rule)(w, dw, config=config)
    assert nb.rel_error(np.asarray(spec["expected_next_w"]), next_w) < ORDER * spec["stated_bound"]
    for key in state_keys:
        assert nb.rel_error(np.asarray(spec[f"expected_{key}"]), config[key]) < ORDER * spec["stated_bound"], key


# ---------------------------------------------------------------------------------------------------
# BatchNormalization.ipynb
# ---------------------------------------------------------------------------------------------------

def test_bn_training_forward_cell(nb):
    f = pub.BATCHNORM_FORWARD_TRAIN
    np.random.seed(231)
    n, d1, d2, d3 = f["N_D1_D2_D3"]
    X = np.random.randn(n, d1)
    W1, W2 = np.random.randn(d1, d2), np.random.randn(d2, d3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    np.testing.assert_allclose(a.mean(axis=0), f["before_means"], atol=1e-8)
    np.testing.assert_allclose(a.std(axis=0), f["before_stds"], atol=1e-8)
    a_norm, _ = nb.batchnorm_forward(a, np.ones(d3), np.zeros(d3), {"mode": "train"})
    assert np.all(np.abs(a_norm.mean(axis=0)) < 1e-12)
    np.testing.assert_allclose(a_norm.std(axis=0), f["after_stds_gamma1_beta0"], atol=1e-8)
    a_norm, _ = nb.batchnorm_forward(a, np.asarray(f["gamma"]), np.asarray(f["beta"]), {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), f["after_means_gamma_beta"], atol=1e-8)
    np.testing.assert_allclose(a_norm.std(axis=0), f["after_stds_gamma_beta"], atol=1e-8)


def test_bn_test_time_forward_cell(nb):
    f = pub.BATCHNORM_FORWARD_TEST
    np.random.seed(231)
    n, d1, d2, d3 = f["N_D1_D2_D3"]
    W1, W2 = np.random.randn(d1, d2), np.random.randn(d2, d3)
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(d3), np.zeros(d3)
    for _ in range(f["warmup_passes"]):
        X = np.random.randn(n, d1)
        nb.batchnorm_forward(np.maximum(0, X.dot(W1)).dot(W2), gamma, beta, bn_param)
    bn_param["mode"] = "test"
    X = np.random.randn(n, d1)
    a_norm, _ = nb.batchnorm_forward(np.maximum(0, X.dot(W1)).dot(W2), gamma, beta, bn_param)
    np.testing.assert_allclose(a_norm.mean(axis=0), f["means"], atol=1e-8)
    np.testing.assert_allclose(a_norm.std(axis=0), f["stds"], atol=1e-8)


@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
def test_bn_normalization_gradient_check_cells(nb, norm):
    stated = (pub.BATCHNORM_BACKWARD if norm == "batchnorm" else pub.LAYERNORM_BACKWARD)["stated_bound"]
    forward, backward = getattr(nb, f"{norm}_forward"), getattr(nb, f"{norm}_backward")
    np.random.seed(231)
    x = 5 * np.random.randn(4, 5) + 12
    gamma, beta, dout = np.random.randn(5), np.random.randn(5), np.random.randn(4, 5)
    param = {"mode": "train"} if norm == "batchnorm" else {}
    dx_num = nb.eval_numerical_gradient_array(lambda v: forward(v, gamma, beta, param)[0], x, dout)
    da_num = nb.eval_numerical_gradient_array(lambda v: forward(x, v, beta, param)[0], gamma.copy(), dout)
    db_num = nb.eval_numerical_gradient_array(lambda v: forward(x, gamma, v, param)[0], beta.copy(), dout)
    _, cache = forward(x, gamma, beta, param)
    dx, dgamma, dbeta = backward(dout, cache)
    for name, num, got in (("dx", dx_num, dx), ("dgamma", da_num, dgamma), ("dbeta", db_num, dbeta)):
        assert nb.rel_error(num, got) < stated, name


def test_bn_alternative_backward_cell(nb):
    np.random.seed(231)
    x = 5 * np.random.randn(100, 500) + 12
    gamma, beta, dout = np.random.randn(500), np.random.randn(500), np.random.randn(100, 500)
    _, cache = nb.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    graph, closed = nb.batchnorm_backward(dout, cache), nb.batchnorm_backward_alt(dout, cache)
    # Printed dx difference 8.5e-13 / 1.1e-12 (pub.BATCHNORM_BACKWARD_ALT): float64 rounding of two orders.
    assert nb.rel_error(graph[0], closed[0]) < 1e-10
    assert nb.rel_error(graph[1], closed[1]) < 1e-12 and nb.rel_error(graph[2], closed[2]) < 1e-12


def test_bn_fully_connected_net_initial_loss_and_gradient_check_cell(nb):
    p = pub.FCN_BATCHNORM_INITIAL_LOSS
    X, y = _seed_231_data()
    for reg in (0, 3.14):
        model = nb.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                     dtype=np.float64, normalization="batchnorm")
        loss, errors = _gradient_errors(nb, model, X, y)
        assert loss == pytest.approx(p[reg], rel=1e-12)
        for name, err in errors.items():
            # "losses between 1e-4~1e-10 for W, 1e-08~1e-10 for b, 1e-08~1e-09 for beta and gammas"; the
            # hidden biases before batchnorm get exactly zero gradient, so their numerical one is rounding
            # noise (a relative error of ~1e-16 and ~1e-11 is ~1): they are checked to be 0 up to rounding.
            if name in ("b1", "b2"):
                assert np.abs(model.loss(X, y)[1][name]).max() < 1e-12, name
                continue
            bound = p["stated_bound_W"] if name.startswith("W") else (
                p["stated_bound_b"] if name.startswith("b") and not name.startswith("beta") else
                p["stated_bound_gamma_beta"])
            assert err < ORDER * bound, (reg, name, err)


# ---------------------------------------------------------------------------------------------------
# Dropout.ipynb
# ---------------------------------------------------------------------------------------------------

def test_dropout_forward_cell(nb):
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p in (0.25, 0.4, 0.7):
        out, _ = nb.dropout_forward(x, {"mode": "train", "p": p})
        out_test, _ = nb.dropout_forward(x, {"mode": "test", "p": p})
        want = pub.DROPOUT_FORWARD[p]
        assert x.mean() == pytest.approx(want["input_mean"], rel=1e-12)
        assert out.mean() == pytest.approx(want["train_mean"], rel=1e-12)
        assert out_test.mean() == pytest.approx(want["test_mean"], rel=1e-12)
        assert (out == 0).mean() == want["train_frac_zero"] and (out_test == 0).mean() == want["test_frac_zero"]


def test_dropout_backward_cell(nb):
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = dict(pub.DROPOUT_BACKWARD["dropout_param"])
    out, cache = nb.dropout_forward(x, dropout_param)
    dx = nb.dropout_backward(dout, cache)
    dx_num = nb.eval_numerical_gradient_array(lambda xx: nb.dropout_forward(xx, dropout_param)[0], x, dout)
    assert nb.rel_error(dx, dx_num) < ORDER * pub.DROPOUT_BACKWARD["stated_bound"]


@pytest.mark.parametrize("keyword", ["dropout_keep_ratio",  # 2021+ (read in 2022)
                                     "dropout"])  # 2018-2020, keep probability as well
def test_dropout_fully_connected_net_gradient_check_cell(nb, keyword):
    """``FullyConnectedNet(..., <keyword>=keep, seed=123)`` for keep in [1, 0.75, 0.5]: the cell that reported
    relative error 1.0 for every parameter while ``seed`` did not fix the dropout masks. Run unchanged, it prints
    the published initial losses, the third (keep 0.5) included: its weights are drawn after the keep=0.75 net's
    dropout reseeded numpy's global generator with 123 and drew its masks from it, as cs231n's did."""
    p = pub.FCN_DROPOUT_INITIAL_LOSS
    X, y = _seed_231_data()
    for keep in (1, 0.75, 0.5):
        model = nb.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2, dtype=np.float64,
                                     seed=123, **{keyword: keep})
        loss, errors = _gradient_errors(nb, model, X, y)
        assert loss == pytest.approx(p[keep], rel=1e-12), keep
        for name, err in errors.items():
            bound = p["stated_bound_W2_keep1" if (name, keep) == ("W2", 1) else "stated_bound"]
            assert err < ORDER * bound, (keep, name, err)
