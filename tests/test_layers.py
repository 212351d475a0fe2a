"""Tests of course_lib.layers: affine, ReLU, batch/layer normalization, dropout, SVM and softmax losses.

Expected values come from
(a) published cs231n notebook outputs (``tests.published``, which cites the repository, path and
    commit of each value) replayed with the same seed and draw order,
(b) PyTorch (float64) as an independent implementation, and
(c) centered-difference numerical gradients (float64).

The notebooks state most error bounds as orders of magnitude ("around e-10 or less", "on the order
of e-12"), and their own printed errors exceed the stated figure by up to ~3x (relu_backward prints
3.3e-12 for "on the order of e-12"). Such a bound is read as "below ten times the stated figure"
(``ORDER * bound``); bounds stated as ranges ("between 1e-13 and 1e-8") are used as they are.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.errors import OptionError, ShapeError
from course_lib.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from course_lib.layers import (
    MODES,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from tests import published as pub

#: A bound stated as an order of magnitude admits errors up to ten times the stated figure.
ORDER = 10

BATCHNORM_BACKWARDS = [batchnorm_backward, batchnorm_backward_alt]


def _leaf(a):
    """A float64 torch tensor that collects a gradient."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _linspace(lo_hi, shape):
    return np.linspace(*lo_hi, num=int(np.prod(shape))).reshape(shape)


def _draw_two_layer_net(n, d1, d2, d3, draw_x_first):
    """X (optional), W1, W2 of cs231n's simulated activations ``relu(X W1) W2``, from the global generator."""
    x = np.random.randn(n, d1) if draw_x_first else None
    w1 = np.random.randn(d1, d2)
    w2 = np.random.randn(d2, d3)
    return x, w1, w2


def _norm_inputs(seed, n=4, d=5):
    """cs231n's normalization gradient-check inputs: x = 5 randn + 12, gamma, beta, dout (global generator)."""
    np.random.seed(seed)
    x = 5 * np.random.randn(n, d) + 12
    gamma = np.random.randn(d)
    beta = np.random.randn(d)
    dout = np.random.randn(n, d)
    return x, gamma, beta, dout


def _norm_numerical_grads(forward, x, gamma, beta, param, dout):
    """Numerical gradients of ``sum(forward(x, gamma, beta, param)[0] * dout)`` w.r.t. x, gamma, beta."""
    dx = eval_numerical_gradient_array(lambda v: forward(v, gamma, beta, param)[0], x, dout)
    dgamma = eval_numerical_gradient_array(lambda v: forward(x, v, beta, param)[0], gamma.copy(), dout)
    dbeta = eval_numerical_gradient_array(lambda v: forward(x, gamma, v, param)[0], beta.copy(), dout)
    return dx, dgamma, dbeta


def _assert_grads_close(actual, expected, rtol=1e-10, atol=1e-12):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


# ===========================================================================
# Published cs231n values
# ===========================================================================

def test_affine_forward_matches_published_output():
    # pub.SOURCE_LAYERS, stated "The error should be around e-9 or less"; the seed document
    # ../shared/seeds/001_15691f710f150164.txt states it strictly: "difference should be less than 1e-9".
    p = pub.AFFINE_FORWARD
    d = int(np.prod(p["input_shape"]))
    x = _linspace(p["x_linspace"], (p["num_inputs"], *p["input_shape"]))
    w = _linspace(p["w_linspace"], (d, p["output_dim"]))
    b = np.linspace(*p["b_linspace"], num=p["output_dim"])
    out, _ = affine_forward(x, w, b)
    assert rel_error(out, np.asarray(p["correct_out"])) < 1e-9


def test_relu_forward_matches_published_output():
    # pub.SOURCE_LAYERS; stated "The error should be on the order of e-8".
    p = pub.RELU_FORWARD
    out, _ = relu_forward(_linspace(p["x_linspace"], p["x_shape"]))
    assert rel_error(out, np.asarray(p["correct_out"])) < ORDER * p["stated_bound"]


def test_affine_backward_passes_published_gradient_check():
    # pub.SOURCE_LAYERS, LAYER_GRADCHECK["affine_backward"]: seed 231, x (10, 2, 3), w (6, 5), b (5,).
    np.random.seed(231)
    x, w, b = np.random.randn(10, 2, 3), np.random.randn(6, 5), np.random.randn(5)
    dout = np.random.randn(10, 5)
    dx_num = eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    bound = ORDER * pub.LAYER_GRADCHECK["affine_backward"]["stated_bound"]
    assert max(rel_error(dx_num, dx), rel_error(dw_num, dw), rel_error(db_num, db)) < bound


def test_relu_backward_passes_published_gradient_check():
    # pub.SOURCE_LAYERS, LAYER_GRADCHECK["relu_backward"]: seed 231, x (10, 10).
    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    assert rel_error(dx_num, dx) < ORDER * pub.LAYER_GRADCHECK["relu_backward"]["stated_bound"]


@pytest.mark.parametrize("loss_fn", [svm_loss, softmax_loss], ids=["svm", "softmax"])
def test_loss_value_matches_published_seed_231(loss_fn):
    # pub.SOURCE_LOSSES: seed 231, x = 0.001 * randn(50, 10), y = randint(10, size=50).
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    loss, _ = loss_fn(x, y)
    assert loss == pytest.approx(pub.LOSS_LAYERS[loss_fn.__name__], rel=1e-12)


@pytest.mark.parametrize("loss_fn, stated_bound", [(svm_loss, 1e-9), (softmax_loss, 1e-8)], ids=["svm", "softmax"])
def test_loss_gradient_passes_published_gradient_check(loss_fn, stated_bound):
    # pub.LOSS_LAYERS["svm_stated"]: "dx error should be around the order of e-9";
    # pub.LOSS_LAYERS["softmax_stated"]: "dx error should be around e-8".
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    dx_num = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False)
    _, dx = loss_fn(x, y)
    assert rel_error(dx_num, dx) < ORDER * stated_bound


@pytest.mark.parametrize("forward, p, axis", [
    (batchnorm_forward, pub.BATCHNORM_FORWARD_TRAIN, 0),  # pub.SOURCE_BATCHNORM, statistics per feature
    (layernorm_forward, pub.LAYERNORM_FORWARD, 1),  # pub.SOURCE_LAYERNORM, statistics per data point
], ids=["batchnorm_train", "layernorm"])
def test_normalization_forward_matches_published_statistics(forward, p, axis):
    # seed 231; X, W1, W2 drawn in that order; a = relu(X W1) W2.
    n, d1, d2, d3 = p["N_D1_D2_D3"]
    np.random.seed(231)
    x, w1, w2 = _draw_two_layer_net(n, d1, d2, d3, draw_x_first=True)
    a = np.maximum(0, x.dot(w1)).dot(w2)
    # Precondition: the replayed activations are the published ones.
    np.testing.assert_allclose(a.mean(axis=axis), p["before_means"], atol=1e-8)
    np.testing.assert_allclose(a.std(axis=axis), p["before_stds"], atol=1e-8)

    plain, _ = forward(a, np.ones(d3), np.zeros(d3), {"mode": "train"})
    scaled, _ = forward(a, np.asarray(p["gamma"]), np.asarray(p["beta"]), {"mode": "train"})
    assert np.abs(plain.mean(axis=axis)).max() < 1e-12  # printed as ~1e-17 noise
    np.testing.assert_allclose(plain.std(axis=axis), p["after_stds_gamma1_beta0"], atol=1e-8)
    np.testing.assert_allclose(scaled.mean(axis=axis), p["after_means_gamma_beta"], atol=1e-8)
    np.testing.assert_allclose(scaled.std(axis=axis), p["after_stds_gamma_beta"], atol=1e-8)


def test_batchnorm_test_forward_after_50_warmups_matches_published_statistics():
    # pub.SOURCE_BATCHNORM, BATCHNORM_FORWARD_TEST: seed 231; W1, W2 (no X first), 50 training passes.
    p = pub.BATCHNORM_FORWARD_TEST
    n, d1, d2, d3 = p["N_D1_D2_D3"]
    np.random.seed(231)
    _, w1, w2 = _draw_two_layer_net(n, d1, d2, d3, draw_x_first=False)
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(d3), np.zeros(d3)
    for _ in range(p["warmup_passes"]):
        a = np.maximum(0, np.random.randn(n, d1).dot(w1)).dot(w2)
        batchnorm_forward(a, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    a = np.maximum(0, np.random.randn(n, d1).dot(w1)).dot(w2)
    a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)
    np.testing.assert_allclose(a_norm.mean(axis=0), p["means"], atol=1e-8)
    np.testing.assert_allclose(a_norm.std(axis=0), p["stds"], atol=1e-8)


@pytest.mark.parametrize("backward", BATCHNORM_BACKWARDS, ids=lambda f: f.__name__)
def test_batchnorm_backward_passes_published_gradient_check(backward):
    # pub.SOURCE_BATCHNORM, BATCHNORM_BACKWARD: "relative errors between 1e-13 and 1e-8".
    x, gamma, beta, dout = _norm_inputs(231)
    bn_param = {"mode": "train"}
    expected = _norm_numerical_grads(batchnorm_forward, x, gamma, beta, bn_param, dout)
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    actual = backward(dout, cache)
    errors = [rel_error(e, a) for e, a in zip(expected, actual)]
    assert max(errors) < pub.BATCHNORM_BACKWARD["stated_bound"], errors


def test_batchnorm_graph_and_closed_form_backward_agree_on_the_same_cache():
    # The published comparison (pub.BATCHNORM_BACKWARD_ALT): seed 231, N, D = 100, 500; printed dx
    # differences ~1e-12.
    np.random.seed(231)
    x = 5 * np.random.randn(100, 500) + 12
    gamma, beta, dout = np.random.randn(500), np.random.randn(500), np.random.randn(100, 500)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    graph, closed = batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)
    assert max(rel_error(g, c) for g, c in zip(graph, closed)) < 1e-10


def test_layernorm_backward_passes_published_gradient_check():
    # pub.SOURCE_LAYERNORM, LAYERNORM_BACKWARD: "relative errors between 1e-12 and 1e-8".
    x, gamma, beta, dout = _norm_inputs(231)
    ln_param = {}
    expected = _norm_numerical_grads(layernorm_forward, x, gamma, beta, ln_param, dout)
    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    errors = [rel_error(e, a) for e, a in zip(expected, layernorm_backward(dout, cache))]
    assert max(errors) < pub.LAYERNORM_BACKWARD["stated_bound"], errors


def test_dropout_forward_matches_published_statistics():
    # pub.SOURCE_DROPOUT, DROPOUT_FORWARD: seed 231; x = randn(500, 500) + 10; the masks for
    # p = 0.25, 0.4, 0.7 are consecutive np.random.rand(500, 500) draws (no 'seed' key).
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p in (0.25, 0.4, 0.7):
        expected = pub.DROPOUT_FORWARD[p]
        out, _ = dropout_forward(x, {"mode": "train", "p": p})
        out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
        assert x.mean() == pytest.approx(expected["input_mean"], rel=1e-12)
        assert out.mean() == pytest.approx(expected["train_mean"], rel=1e-12)
        assert out_test.mean() == pytest.approx(expected["test_mean"], rel=1e-12)
        assert (out == 0).mean() == expected["train_frac_zero"]
        assert (out_test == 0).mean() == expected["test_frac_zero"]


def test_dropout_backward_passes_published_gradient_check():
    # pub.SOURCE_DROPOUT, DROPOUT_BACKWARD: seed 231; p = 0.2 with a fixed mask seed 123.
    p = pub.DROPOUT_BACKWARD
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = dict(p["dropout_param"])
    _, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: dropout_forward(v, dropout_param)[0], x, dout)
    assert rel_error(dx, dx_num) < ORDER * p["stated_bound"]


# ===========================================================================
# Numerical gradients beyond the published checks
# ===========================================================================

@pytest.mark.parametrize("backward", BATCHNORM_BACKWARDS, ids=lambda f: f.__name__)
def test_batchnorm_test_mode_backward_matches_numerical_gradient(backward):
    x, gamma, beta, dout = _norm_inputs(0)
    rng = np.random.default_rng(0)
    bn_param = {"mode": "test", "running_mean": rng.normal(12, 1, size=5), "running_var": rng.uniform(5, 30, size=5)}
    expected = _norm_numerical_grads(batchnorm_forward, x, gamma, beta, bn_param, dout)
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    errors = [rel_error(e, a) for e, a in zip(expected, backward(dout, cache))]
    assert max(errors) < 1e-8, errors


# ===========================================================================
# PyTorch (float64) as an independent implementation
# ===========================================================================

def test_affine_forward_and_backward_match_torch_linear():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    tx, tw, tb = _leaf(x), _leaf(w), _leaf(b)
    tout = F.linear(tx.reshape(4, -1), tw.T, tb)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    _assert_grads_close((dx, dw, db), (tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()))


def test_relu_forward_and_backward_match_torch_including_zero_inputs():
    # At exactly 0 both pass no gradient.
    x = np.array([[-2.0, -0.5, 0.0, 0.5], [0.0, 3.0, -1e-3, 1e-3]])
    dout = np.arange(1.0, 9.0).reshape(2, 4)
    out, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    tx = _leaf(x)
    tout = F.relu(tx)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def _bn_case(seed=2, n=16, d=5):
    rng = np.random.default_rng(seed)
    return (3 * rng.standard_normal((n, d)) + 2, rng.uniform(0.5, 2, d), rng.standard_normal(d),
            rng.standard_normal((n, d)))


@pytest.mark.parametrize("backward", BATCHNORM_BACKWARDS, ids=lambda f: f.__name__)
def test_batchnorm_train_output_and_gradients_match_torch(backward):
    x, gamma, beta, dout = _bn_case()
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-3})
    tx, tg, tb = _leaf(x), _leaf(gamma), _leaf(beta)
    tout = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-3)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    _assert_grads_close(backward(dout, cache), (tx.grad.numpy(), tg.grad.numpy(), tb.grad.numpy()))


def test_batchnorm_running_mean_matches_torch_and_running_var_uses_the_biased_batch_variance():
    x, gamma, beta, _ = _bn_case()
    n = x.shape[0]
    rng = np.random.default_rng(3)
    mean0, var0 = rng.standard_normal(5), rng.uniform(0.5, 2, 5)
    momentum = 0.8  # ours: running = momentum * running + (1 - momentum) * batch; torch's momentum is 1 - ours
    bn_param = {"mode": "train", "momentum": momentum, "running_mean": mean0.copy(), "running_var": var0.copy()}
    batchnorm_forward(x, gamma, beta, bn_param)
    t_mean, t_var = torch.tensor(mean0), torch.tensor(var0)
    F.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(gamma), torch.tensor(beta), training=True,
                 momentum=1 - momentum)
    np.testing.assert_allclose(bn_param["running_mean"], t_mean.numpy(), rtol=1e-12)
    # torch updates running_var with the UNBIASED batch variance (divides by N - 1); the course spec (as
    # cs231n) uses the BIASED one (divides by N), so running_var is checked against that formula directly ...
    np.testing.assert_allclose(bn_param["running_var"], momentum * var0 + (1 - momentum) * x.var(axis=0),
                               rtol=1e-12)
    # ... and torch's value differs from ours exactly by the factor N / (N - 1) on the batch term.
    torch_batch_term = t_var.numpy() - momentum * var0
    np.testing.assert_allclose(momentum * var0 + torch_batch_term * (n - 1) / n, bn_param["running_var"], rtol=1e-12)


@pytest.mark.parametrize("backward", BATCHNORM_BACKWARDS, ids=lambda f: f.__name__)
def test_batchnorm_test_mode_output_and_gradients_match_torch_eval(backward):
    x, gamma, beta, dout = _bn_case()
    rng = np.random.default_rng(4)
    mean, var = rng.standard_normal(5), rng.uniform(0.5, 2, 5)
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "test", "running_mean": mean, "running_var": var})
    tx, tg, tb = _leaf(x), _leaf(gamma), _leaf(beta)
    tout = F.batch_norm(tx, torch.tensor(mean), torch.tensor(var), tg, tb, training=False, eps=1e-5)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    _assert_grads_close(backward(dout, cache), (tx.grad.numpy(), tg.grad.numpy(), tb.grad.numpy()))


def test_layernorm_output_and_gradients_match_torch():
    x, gamma, beta, dout = _bn_case(seed=5, n=6, d=7)
    out, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-3})
    tx, tg, tb = _leaf(x), _leaf(gamma), _leaf(beta)
    tout = F.layer_norm(tx, (7,), tg, tb, eps=1e-3)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    _assert_grads_close(layernorm_backward(dout, cache), (tx.grad.numpy(), tg.grad.numpy(), tb.grad.numpy()))


def test_svm_loss_and_gradient_match_torch_multi_margin_loss_times_num_classes():
    # torch's multi_margin_loss divides each example's hinge sum by C (and the batch mean by N);
    # ours divides by N only, so ours = C * torch.
    rng = np.random.default_rng(6)
    n, c = 12, 7
    x, y = rng.standard_normal((n, c)), rng.integers(c, size=n)
    loss, dx = svm_loss(x, y)
    tx = _leaf(x)
    tloss = F.multi_margin_loss(tx, torch.from_numpy(y), p=1, margin=1.0, reduction="mean")
    tloss.backward()
    assert loss == pytest.approx(c * tloss.item(), rel=1e-12)
    np.testing.assert_allclose(dx, c * tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 1000.0], ids=["unit_scores", "scores_of_magnitude_1000"])
def test_softmax_loss_and_gradient_match_torch_cross_entropy(scale):
    rng = np.random.default_rng(7)
    x, y = scale * rng.standard_normal((9, 6)), rng.integers(6, size=9)
    loss, dx = softmax_loss(x, y)
    tx = _leaf(x)
    tloss = F.cross_entropy(tx, torch.from_numpy(y))
    tloss.backward()
    assert np.isfinite(loss) and loss == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("keep", [0.3, 0.8])
def test_dropout_keeps_a_fraction_p_and_scales_kept_units_by_1_over_p_like_torch(keep):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((400, 500)) + 10
    out, _ = dropout_forward(x, {"mode": "train", "p": keep, "rng": rng})
    kept = out != 0
    # Binomial keep rate: 5 standard deviations of the fraction.
    assert abs(kept.mean() - keep) < 5 * np.sqrt(keep * (1 - keep) / x.size)
    np.testing.assert_allclose(out[kept], x[kept] / keep, rtol=1e-15)
    # torch's inverted dropout (p = drop probability) uses the same 1 / keep scaling of kept units.
    t_out = F.dropout(torch.from_numpy(x), p=1 - keep, training=True).numpy()
    t_kept = t_out != 0
    np.testing.assert_allclose(t_out[t_kept], x[t_kept] / keep, rtol=1e-12)


def test_dropout_preserves_the_mean_activation():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((400, 500)) + 10
    keep = 0.4
    out, _ = dropout_forward(x, {"mode": "train", "p": keep, "rng": rng})
    # E[out] = x; the sample mean's standard deviation is sqrt(mean(x**2) * (1 - p) / p / size).
    std_of_mean = np.sqrt(np.mean(x**2) * (1 - keep) / keep / x.size)
    assert abs(out.mean() - x.mean()) < 5 * std_of_mean


# ===========================================================================
# Behaviour: shapes, modes, parameters, errors
# ===========================================================================

def test_affine_forward_flattens_each_example_and_backward_restores_the_input_shape():
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal((8, 4)), rng.standard_normal(4)
    out, cache = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(3, 8) @ w + b, rtol=1e-14)
    dx, dw, db = affine_backward(np.ones((3, 4)), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape


def test_affine_backward_without_dx_returns_none_and_the_same_weight_gradients():
    rng = np.random.default_rng(11)
    x, w, b, dout = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2), \
        rng.standard_normal((3, 2))
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache, need_dx=False)
    _, dw_full, db_full = affine_backward(dout, cache)
    assert dx is None
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)


def test_affine_forward_rejects_x_and_w_that_do_not_fit_naming_both_shapes():
    with pytest.raises(ShapeError, match=r"x has 12 features per example \(shape \(2, 3, 4\)\).*w has 10 rows"):
        affine_forward(np.zeros((2, 3, 4)), np.zeros((10, 5)), np.zeros(5))


def test_affine_forward_rejects_a_bias_of_the_wrong_length():
    with pytest.raises(ShapeError, match=r"b has shape \(4,\), expected \(5,\)"):
        affine_forward(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(4))


def test_affine_forward_rejects_one_dimensional_weights():
    with pytest.raises(ShapeError, match=r"w must have 2 dimensions, got shape \(6,\)"):
        affine_forward(np.zeros((2, 3)), np.zeros(6), np.zeros(2))


def test_layers_reject_a_list_instead_of_an_array_and_say_how_to_convert():
    with pytest.raises(ShapeError, match=r"relu_forward: x must be a numpy array, got list.*np\.asarray"):
        relu_forward([1.0, -1.0])


def test_layers_reject_non_numeric_arrays_naming_the_dtype():
    with pytest.raises(ShapeError, match=r"x has dtype <U1"):
        relu_forward(np.array(["a", "b"]))


def test_shape_errors_are_value_errors():
    assert issubclass(ShapeError, ValueError) and issubclass(OptionError, ValueError)


def test_batchnorm_requires_a_mode():
    with pytest.raises(ValueError, match=r"bn_param has no 'mode'"):
        batchnorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {})


@pytest.mark.parametrize("forward", [batchnorm_forward, layernorm_forward], ids=lambda f: f.__name__)
def test_normalization_rejects_an_unknown_mode_naming_it_and_the_allowed_ones(forward):
    with pytest.raises(OptionError, match=rf"{forward.__name__}: unknown mode 'eval'; use one of 'train', 'test'"):
        forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {"mode": "eval"})


@pytest.mark.parametrize("forward", [batchnorm_forward, layernorm_forward], ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", ["gamma", "beta"])
def test_normalization_rejects_gamma_or_beta_of_the_wrong_shape(forward, bad):
    args = {"gamma": np.ones(3), "beta": np.zeros(3)}
    args[bad] = np.ones(4)
    with pytest.raises(ShapeError, match=rf"{bad} has shape \(4,\), expected \(3,\): one value per feature"):
        forward(np.zeros((2, 3)), args["gamma"], args["beta"], {"mode": "train"})


@pytest.mark.parametrize("forward", [batchnorm_forward, layernorm_forward], ids=lambda f: f.__name__)
def test_normalization_rejects_inputs_that_are_not_two_dimensional(forward):
    with pytest.raises(ShapeError, match=r"x must have 2 dimensions, got shape \(2, 3, 1\)"):
        forward(np.zeros((2, 3, 1)), np.ones(3), np.zeros(3), {"mode": "train"})


def test_modes_are_train_and_test():
    assert MODES == ("train", "test")


def test_batchnorm_train_writes_running_statistics_back_into_bn_param():
    x, gamma, beta, _ = _bn_case()
    bn_param = {"mode": "train"}
    batchnorm_forward(x, gamma, beta, bn_param)
    # Defaults: running statistics start at zero, momentum 0.9.
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.1 * x.var(axis=0), rtol=1e-12)


def test_batchnorm_uses_default_eps_1e_minus_5():
    x, gamma, beta, _ = _bn_case()
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    expected = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_batchnorm_test_mode_uses_and_keeps_the_running_statistics():
    x, gamma, beta, _ = _bn_case()
    mean, var = np.full(5, 2.0), np.full(5, 4.0)
    bn_param = {"mode": "test", "running_mean": mean.copy(), "running_var": var.copy(), "eps": 0.0}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, gamma * (x - 2.0) / 2.0 + beta, rtol=1e-14)
    np.testing.assert_array_equal(bn_param["running_mean"], mean)
    np.testing.assert_array_equal(bn_param["running_var"], var)


def test_batchnorm_keeps_float32_in_output_and_running_statistics():
    x, gamma, beta, _ = (a.astype(np.float32) for a in _bn_case())
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype == bn_param["running_mean"].dtype == bn_param["running_var"].dtype == np.float32


def test_layernorm_gives_the_same_output_in_train_and_test_mode_and_keeps_no_running_statistics():
    x, gamma, beta, _ = _bn_case(seed=12, n=3, d=4)
    train_param, test_param = {"mode": "train"}, {"mode": "test"}
    train_out, _ = layernorm_forward(x, gamma, beta, train_param)
    test_out, _ = layernorm_forward(x, gamma, beta, test_param)
    np.testing.assert_array_equal(train_out, test_out)
    assert train_param == {"mode": "train"} and test_param == {"mode": "test"}


@pytest.mark.parametrize("missing", ["p", "mode"])
def test_dropout_requires_p_and_mode(missing):
    param = {"p": 0.5, "mode": "train"}
    del param[missing]
    with pytest.raises(ValueError, match=rf"dropout_param has no '{missing}'"):
        dropout_forward(np.ones((2, 2)), param)


def test_dropout_rejects_an_unknown_mode_naming_it_and_the_allowed_ones():
    with pytest.raises(OptionError, match=r"dropout_forward: unknown mode 'eval'; use one of 'train', 'test'"):
        dropout_forward(np.ones((2, 2)), {"p": 0.5, "mode": "eval"})


@pytest.mark.parametrize("p", [0.0, -0.2, 1.5])
def test_dropout_rejects_a_keep_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=rf"p={p!r} is the probability of keeping a unit and must be in \(0, 1\]"):
        dropout_forward(np.ones((2, 2)), {"p": p, "mode": "train"})


def test_dropout_with_p_1_keeps_every_unit():
    x = np.random.default_rng(13).standard_normal((5, 6))
    out, _ = dropout_forward(x, {"p": 1.0, "mode": "train", "seed": 0})
    np.testing.assert_array_equal(out, x)


def test_dropout_in_test_mode_is_the_identity_forward_and_backward():
    rng = np.random.default_rng(14)
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    out, cache = dropout_forward(x, {"p": 0.3, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_dropout_backward_masks_the_upstream_gradient_like_the_forward():
    rng = np.random.default_rng(15)
    x, dout = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    out, cache = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 3})
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], dout[out != 0] / 0.5, rtol=1e-15)


def test_dropout_with_the_same_seed_draws_the_same_mask_on_every_call():
    x = np.ones((8, 9))
    param = {"p": 0.5, "mode": "train", "seed": 123}
    first, _ = dropout_forward(x, param)
    second, _ = dropout_forward(x, param)
    np.testing.assert_array_equal(first, second)


def test_dropout_seed_reseeds_the_global_generator_and_draws_from_it_in_cs231n_order():
    # cs231n: np.random.seed(seed); mask = (np.random.rand(*x.shape) < p) / p -- the global generator is left
    # reseeded and advanced, which later cs231n cells (the Dropout notebook's next net) depend on.
    x = np.ones((8, 9))
    np.random.seed(2024)  # a state that only re-seeding with 123 turns into the expected one
    out, _ = dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 123})
    after = np.random.get_state()
    np.random.seed(123)
    expected = (np.random.rand(8, 9) < 0.6) / 0.6
    cs231n_after = np.random.get_state()
    np.testing.assert_array_equal(out, expected)
    assert all(np.array_equal(a, b) for a, b in zip(cs231n_after[1:], after[1:]))


def test_dropout_with_a_generator_draws_a_fresh_mask_on_every_call():
    x = np.ones((8, 9))
    param = {"p": 0.5, "mode": "train", "rng": np.random.default_rng(16)}
    first, _ = dropout_forward(x, param)
    second, _ = dropout_forward(x, param)
    assert not np.array_equal(first, second)
    replay = np.random.default_rng(16)
    np.testing.assert_array_equal(first, (replay.random((8, 9)) < 0.5) / 0.5)


def test_dropout_keeps_float32():
    out, _ = dropout_forward(np.ones((4, 4), dtype=np.float32), {"p": 0.3, "mode": "train", "seed": 1})
    assert out.dtype == np.float32


@pytest.mark.parametrize("loss_fn", [svm_loss, softmax_loss], ids=["svm", "softmax"])
def test_losses_return_a_python_float_and_dx_of_the_scores_shape(loss_fn):
    x = np.random.default_rng(17).standard_normal((4, 3))
    loss, dx = loss_fn(x, np.array([0, 1, 2, 1]))
    assert type(loss) is float and dx.shape == x.shape


@pytest.mark.parametrize("loss_fn", [svm_loss, softmax_loss], ids=["svm", "softmax"])
@pytest.mark.parametrize("y, message", [
    (np.array([[0], [1], [2]]), r"y has shape \(3, 1\), expected \(3,\): one label per row of x"),
    (np.array([0, 1]), r"y has shape \(2,\), expected \(3,\)"),
    (np.array([0.0, 1.0, 2.0]), r"y has dtype float64; labels must be integers"),
    (np.array([0, 4, 1]), r"labels must be in \[0, 3\] for 4 classes, got values in \[0, 4\]"),
    (np.array([0, -1, 1]), r"labels must be in \[0, 3\] for 4 classes, got values in \[-1, 1\]"),
], ids=["column", "too_few", "float", "too_large", "negative"])
def test_losses_reject_bad_labels_saying_what_is_wrong(loss_fn, y, message):
    with pytest.raises(ValueError, match=rf"{loss_fn.__name__}: {message}"):
        loss_fn(np.zeros((3, 4)), y)
