"""Tests of course_lib.layer_utils: the affine-ReLU and affine-norm-ReLU composite layers.

Expected values: the published cs231n affine_relu gradient check (``tests.published``), PyTorch
(float64) compositions of ``linear``, ``batch_norm``/``layer_norm`` and ``relu``, and numerical
gradients (float64). A bound the notebooks state as an order of magnitude ("around e-10 or less")
admits errors below ten times the stated figure (``ORDER``), as in tests/test_layers.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.errors import OptionError
from course_lib.gradient_check import eval_numerical_gradient_array, rel_error
from course_lib.layer_utils import (
    NORM_POSITIONS,
    NORMALIZATIONS,
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from tests import published as pub

ORDER = 10

COMBINATIONS = [(n, p) for n in ("batchnorm", "layernorm") for p in ("before", "after")]


def _leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _inputs(seed):
    """x (6, 2, 3), w (6, 5), b, gamma, beta (5,), dout (6, 5)."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((6, 2, 3)), rng.standard_normal((6, 5))
    b, gamma, beta = rng.standard_normal(5), rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
    return x, w, b, gamma, beta, rng.standard_normal((6, 5))


def _torch_affine_norm_relu(x, w, b, gamma, beta, normalization, position):
    """affine -> norm -> relu (before) or affine -> relu -> norm (after), eps 1e-5, training statistics."""
    a = F.linear(x.reshape(x.shape[0], -1), w.T, b)
    if normalization == "batchnorm":
        def norm(z):
            return F.batch_norm(z, None, None, gamma, beta, training=True, eps=1e-5)
    else:
        def norm(z):
            return F.layer_norm(z, (z.shape[1],), gamma, beta, eps=1e-5)
    return F.relu(norm(a)) if position == "before" else norm(F.relu(a))


# ---------------------------------------------------------------------------
# affine_relu
# ---------------------------------------------------------------------------

def test_affine_relu_passes_published_gradient_check():
    # pub.SOURCE_LAYERS, LAYER_GRADCHECK["affine_relu"]: seed 231, x (2, 3, 4), w (12, 10), b (10,);
    # "Relative error should be around e-10 or less" (the seed document
    # ../shared/seeds/001_15691f710f150164.txt states "less than 1e-9" for the same check).
    np.random.seed(231)
    x, w, b = np.random.randn(2, 3, 4), np.random.randn(12, 10), np.random.randn(10)
    dout = np.random.randn(2, 10)
    _, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: affine_relu_forward(v, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: affine_relu_forward(x, v, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: affine_relu_forward(x, w, v)[0], b, dout)
    errors = [rel_error(dx_num, dx), rel_error(dw_num, dw), rel_error(db_num, db)]
    assert max(errors) < ORDER * pub.LAYER_GRADCHECK["affine_relu"]["stated_bound"], errors


def test_affine_relu_output_and_gradients_match_torch():
    x, w, b, _, _, dout = _inputs(0)
    out, cache = affine_relu_forward(x, w, b)
    grads = affine_relu_backward(dout, cache)
    tx, tw, tb = _leaf(x), _leaf(w), _leaf(b)
    tout = F.relu(F.linear(tx.reshape(6, -1), tw.T, tb))
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, (tx, tw, tb)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# affine_norm_relu
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("normalization, position", COMBINATIONS)
def test_affine_norm_relu_gradients_match_numerical_gradients(normalization, position):
    x, w, b, gamma, beta, dout = _inputs(2)

    def forward(x_, w_, b_, gamma_, beta_):
        return affine_norm_relu_forward(x_, w_, b_, gamma_, beta_, {"mode": "train"}, normalization, position)[0]

    _, cache = affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, normalization, position)
    relu_input = cache[2]
    # Precondition: no ReLU input within reach of the finite-difference step (h = 1e-5) of its kink.
    assert np.abs(relu_input).min() > 1e-3
    analytic = affine_norm_relu_backward(dout, cache)
    args = [x, w, b, gamma, beta]
    for i, name in enumerate(["x", "w", "b", "gamma", "beta"]):
        def f(v, i=i):
            return forward(*args[:i], v, *args[i + 1:])
        numerical = eval_numerical_gradient_array(f, args[i].copy(), dout)
        # Centered differences carry rounding noise of about eps * |f| / h ~ 1e-10 here, so entries that
        # are themselves tiny (cancellations, e.g. a dx entry of 1.3e-7 with layernorm after the ReLU, or
        # the bias under batchnorm before the ReLU, whose gradient is 0) cannot be checked to the 1e-8
        # relative bound of the layer checks: compare elementwise, 1e-8 relative above a 1e-9 floor.
        np.testing.assert_allclose(analytic[i], numerical, rtol=1e-8, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("normalization, position", COMBINATIONS)
def test_affine_norm_relu_output_and_gradients_match_torch(normalization, position):
    x, w, b, gamma, beta, dout = _inputs(3)
    out, cache = affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, normalization, position)
    grads = affine_norm_relu_backward(dout, cache)
    leaves = [_leaf(a) for a in (x, w, b, gamma, beta)]
    tout = _torch_affine_norm_relu(*leaves, normalization, position)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name, g, t in zip(["x", "w", "b", "gamma", "beta"], grads, leaves):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_batchnorm_before_relu_gives_the_affine_bias_zero_gradient():
    # The batch mean subtracts any bias added before it.
    x, w, b, gamma, beta, dout = _inputs(4)
    _, cache = affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, "batchnorm", "before")
    _, _, db, _, _ = affine_norm_relu_backward(dout, cache)
    assert np.abs(db).max() < 1e-12


def test_affine_norm_relu_writes_batchnorm_running_statistics_into_norm_param():
    x, w, b, gamma, beta, _ = _inputs(5)
    bn_param = {"mode": "train", "momentum": 0.5}
    affine_norm_relu_forward(x, w, b, gamma, beta, bn_param, "batchnorm", "before")
    a = x.reshape(6, -1) @ w + b
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * a.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * a.var(axis=0), rtol=1e-12)


@pytest.mark.parametrize("normalization, position", [(None, None), *COMBINATIONS])
def test_backward_without_dx_returns_none_and_the_same_parameter_gradients(normalization, position):
    x, w, b, gamma, beta, dout = _inputs(6)
    if normalization is None:
        _, cache = affine_relu_forward(x, w, b)
        backward = affine_relu_backward
    else:
        _, cache = affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, normalization, position)
        backward = affine_norm_relu_backward
    partial, full = backward(dout, cache, need_dx=False), backward(dout, cache)
    assert partial[0] is None and full[0].shape == x.shape
    for p, f in zip(partial[1:], full[1:], strict=True):
        np.testing.assert_array_equal(p, f)


def test_affine_norm_relu_rejects_an_unknown_normalization_naming_it_and_the_allowed_ones():
    x, w, b, gamma, beta, _ = _inputs(7)
    with pytest.raises(OptionError, match=r"affine_norm_relu_forward: unknown normalization 'groupnorm'; "
                                          r"use one of 'batchnorm', 'layernorm'"):
        affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, "groupnorm", "before")


def test_affine_norm_relu_rejects_an_unknown_position_naming_it_and_the_allowed_ones():
    x, w, b, gamma, beta, _ = _inputs(8)
    with pytest.raises(OptionError, match=r"affine_norm_relu_forward: unknown position 'middle'; "
                                          r"use one of 'before', 'after'"):
        affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, "batchnorm", "middle")


def test_normalizations_and_positions_are_the_documented_ones():
    assert set(NORMALIZATIONS) == {"batchnorm", "layernorm"}
    assert NORM_POSITIONS == ("before", "after")
