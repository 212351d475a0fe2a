"""Tests of course_lib.fc_net.FullyConnectedNet.

Expected values:
(a) published cs231n initial losses and gradient-check bounds (``tests.published``, which cites the
    notebooks), replayed in the notebooks' order of draws from numpy's global generator, and the
    bound of the UCLA ECE C147 HW4 notebook (../shared/seeds/001_15691f710f150164.txt) for the
    batchnorm net: "Our relative error for W1 is on the order of 1e-4";
(b) a PyTorch (float64) autograd model built from the same parameters;
(c) numerical gradients (float64).

A bound the notebooks state as an order of magnitude ("around e-6 or less", "on the order of e-5")
admits errors below ten times the stated figure (``ORDER``), as in tests/test_layers.py; bounds
stated as ranges ("between 1e-08~1e-10") are used as they are.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.errors import OptionError
from course_lib.fc_net import LAYERS, WEIGHT_SCALES, FullyConnectedNet, TwoLayerNet, init_std, network_loss
from course_lib.gradient_check import eval_numerical_gradient, rel_error
from tests import published as pub

ORDER = 10

# The published gradient-check network: N, D, H1, H2, C = 2, 15, 20, 30, 10.
N, D, H1, H2, C = 2, 15, 20, 30, 10

NORM_CONFIGS = [(None, "before"), ("batchnorm", "before"), ("batchnorm", "after"),
                ("layernorm", "before"), ("layernorm", "after")]


def _published_data():
    """cs231n: np.random.seed(231); X = randn(N, D); y = randint(C, size=(N,))."""
    np.random.seed(231)
    return np.random.randn(N, D), np.random.randint(C, size=(N,))


def _published_reg_loop(**kwargs):
    """The notebooks' ``for reg in [0, 3.14]`` models, built in that order from the global generator."""
    x, y = _published_data()
    models = {reg: FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                     dtype=np.float64, **kwargs) for reg in (0, 3.14)}
    return x, y, models


def _published_dropout_loop():
    """The Dropout notebook's ``for dropout_keep_ratio in [1, 0.75, 0.5]`` models (mask seed 123), each built
    and then run once (``model.loss(X, y)``) in the loop, as the notebook does: a seeded forward pass reseeds
    numpy's global generator, which the next model's weights are drawn from."""
    x, y = _published_data()
    models = {}
    for keep in (1, 0.75, 0.5):
        models[keep] = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2,
                                         dtype=np.float64, dropout_keep_ratio=keep, seed=123)
        models[keep].loss(x, y)
    return x, y, models


def _numerical_grads(model, x, y, names=None):
    """Analytic and numerical (h = 1e-5) gradients of the named parameters (default: all), by name."""
    _, grads = model.loss(x, y)
    return {name: (grads[name], eval_numerical_gradient(lambda _: model.loss(x, y)[0], model.params[name],
                                                        verbose=False, h=1e-5))
            for name in (names or sorted(grads))}


def _errors(pairs, names):
    return {name: rel_error(*pairs[name]) for name in names}


def _small_net(rng=0, **kwargs):
    kwargs = {"input_dim": 5, "num_classes": 4, "weight_scale": 0.5, "dtype": np.float64, "rng": rng, **kwargs}
    return FullyConnectedNet([6, 7], **kwargs)


def _small_data(seed=0, n=8):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)), rng.integers(4, size=n)


def _torch_loss_and_grads(params, x, y, reg, normalization, position, num_layers):
    """Loss and gradients of the same architecture in torch autograd (training-mode statistics)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.from_numpy(x.reshape(len(x), -1))
    for i in range(1, num_layers):
        h = F.linear(h, t[f"W{i}"].T, t[f"b{i}"])
        if normalization is None:
            h = F.relu(h)
            continue
        gamma, beta = t[f"gamma{i}"], t[f"beta{i}"]
        if normalization == "batchnorm":
            def norm(z, gamma=gamma, beta=beta):
                return F.batch_norm(z, None, None, gamma, beta, training=True, eps=1e-5)
        else:
            def norm(z, gamma=gamma, beta=beta):
                return F.layer_norm(z, (z.shape[1],), gamma, beta, eps=1e-5)
        h = F.relu(norm(h)) if position == "before" else norm(F.relu(h))
    scores = F.linear(h, t[f"W{num_layers}"].T, t[f"b{num_layers}"])
    loss = F.cross_entropy(scores, torch.from_numpy(y))
    loss = loss + 0.5 * reg * sum((t[f"W{i}"] ** 2).sum() for i in range(1, num_layers + 1))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def _randomize_gamma_beta(model, seed):
    """Non-trivial gammas and betas, so that their paths are exercised."""
    rng = np.random.default_rng(seed)
    for k in model.params:
        if k.startswith("gamma"):
            model.params[k] = rng.uniform(0.5, 1.5, model.params[k].shape)
        elif k.startswith("beta"):
            model.params[k] = rng.normal(0, 0.5, model.params[k].shape)


# ===========================================================================
# Published initial losses (cs231n, seed 231)
# ===========================================================================

@pytest.mark.parametrize("build, key, published", [
    (_published_reg_loop, 0, pub.FCN_INITIAL_LOSS),  # pub.SOURCE_FCN
    (_published_reg_loop, 3.14, pub.FCN_INITIAL_LOSS),
    (lambda: _published_reg_loop(normalization="batchnorm"), 0, pub.FCN_BATCHNORM_INITIAL_LOSS),  # SOURCE_FCN_BATCHNORM
    (lambda: _published_reg_loop(normalization="batchnorm"), 3.14, pub.FCN_BATCHNORM_INITIAL_LOSS),
    # pub.SOURCE_FCN_DROPOUT; cs231n's seed=123 argument fixed the dropout masks, as seed= does here.
    (_published_dropout_loop, 1, pub.FCN_DROPOUT_INITIAL_LOSS),
    (_published_dropout_loop, 0.75, pub.FCN_DROPOUT_INITIAL_LOSS),
    (_published_dropout_loop, 0.5, pub.FCN_DROPOUT_INITIAL_LOSS),
], ids=["reg0", "reg3.14", "batchnorm-reg0", "batchnorm-reg3.14", "keep1", "keep0.75", "keep0.5"])
def test_initial_loss_matches_published_value(build, key, published):
    x, y, models = build()
    loss, _ = models[key].loss(x, y)
    assert loss == pytest.approx(published[key], rel=1e-12)


# ===========================================================================
# Numerical gradient checks (float64)
# ===========================================================================

@pytest.mark.parametrize("reg", [0, 3.14])
def test_gradients_match_numerical_gradients_within_published_bounds(reg):
    # pub.FCN_INITIAL_LOSS: "Most of the errors should be on the order of e-7 or smaller. NOTE: It is fine
    # however to see an error for W2 on the order of e-5 for the check when reg = 0.0".
    x, y, models = _published_reg_loop()
    errors = _errors(_numerical_grads(models[reg], x, y), ["W1", "W2", "W3", "b1", "b2", "b3"])
    bounds = {name: ORDER * pub.FCN_INITIAL_LOSS["stated_bound"] for name in errors}
    if reg == 0:
        bounds["W2"] = ORDER * pub.FCN_INITIAL_LOSS["stated_bound_W2_reg0"]
    assert all(errors[k] < bounds[k] for k in errors), errors


@pytest.mark.parametrize("reg", [0, 3.14])
def test_batchnorm_net_gradients_match_numerical_gradients_within_published_bounds(reg):
    # W: seed 001 (UCLA), "Our relative error for W1 is on the order of 1e-4" (cs231n printed 1.10e-04,
    # above its own "1e-4~1e-10 for W"); b3, gammas, betas: pub.FCN_BATCHNORM_INITIAL_LOSS, "losses between
    # 1e-08~1e-10 for b, and losses between 1e-08~1e-09 for beta and gammas". b1 and b2 have zero gradient
    # (see the next test), where a relative error only measures rounding noise.
    x, y, models = _published_reg_loop(normalization="batchnorm")
    pairs = _numerical_grads(models[reg], x, y)
    bounds = {"W1": ORDER * 1e-4, "W2": ORDER * 1e-4, "W3": ORDER * 1e-4,
              "b3": pub.FCN_BATCHNORM_INITIAL_LOSS["stated_bound_b"],
              **{k: pub.FCN_BATCHNORM_INITIAL_LOSS["stated_bound_gamma_beta"]
                 for k in ("gamma1", "gamma2", "beta1", "beta2")}}
    errors = _errors(pairs, bounds)
    assert all(errors[k] < bounds[k] for k in errors), errors


def test_batchnorm_before_relu_gives_hidden_biases_zero_gradient():
    # The batch mean subtracts any bias added before it: analytically 0, numerically 0 up to rounding.
    x, y, models = _published_reg_loop(normalization="batchnorm")
    pairs = _numerical_grads(models[0], x, y, ["b1", "b2"])
    for name in pairs:
        analytic, numerical = pairs[name]
        assert np.abs(analytic).max() < 1e-12 and np.abs(numerical).max() < 1e-9, name


@pytest.mark.parametrize("keep", [0.75, 0.5])
def test_dropout_net_gradients_match_numerical_gradients_within_published_bound(keep):
    # pub.FCN_DROPOUT_INITIAL_LOSS: "Relative errors should be around e-6 or less"; fixed masks (seed 123).
    x, y, models = _published_dropout_loop()
    errors = _errors(_numerical_grads(models[keep], x, y), ["W1", "W2", "W3", "b1", "b2", "b3"])
    assert max(errors.values()) < ORDER * pub.FCN_DROPOUT_INITIAL_LOSS["stated_bound"], errors


@pytest.mark.parametrize("reg", [0, 3.14])
def test_layernorm_net_gradients_match_numerical_gradients(reg):
    # Not published (pub.FCN_LAYERNORM_INITIAL_LOSS is None); the nets' bound "around e-6 or less".
    x, y = _small_data(1, n=3)
    model = _small_net(rng=1, normalization="layernorm", reg=reg)
    _randomize_gamma_beta(model, 1)
    pairs = _numerical_grads(model, x, y)
    errors = _errors(pairs, pairs)
    assert max(errors.values()) < ORDER * 1e-6, errors


# ===========================================================================
# PyTorch autograd model built from the same parameters
# ===========================================================================

@pytest.mark.parametrize("normalization, position", NORM_CONFIGS)
@pytest.mark.parametrize("reg", [0, 3.14])
def test_loss_and_gradients_match_torch_autograd(normalization, position, reg):
    x, y = _small_data(2)
    model = _small_net(rng=2, normalization=normalization, norm_position=position, reg=reg)
    _randomize_gamma_beta(model, 2)
    loss, grads = model.loss(x, y)
    t_loss, t_grads = _torch_loss_and_grads(model.params, x, y, reg, normalization, position, 3)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    assert grads.keys() == t_grads.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], t_grads[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("position", ["before", "after"])
def test_batchnorm_test_mode_scores_match_torch_eval_with_the_running_statistics(position):
    x, y = _small_data(3)
    model = _small_net(rng=3, normalization="batchnorm", norm_position=position)
    _randomize_gamma_beta(model, 3)
    model.loss(x, y)  # one training pass fills the running statistics
    scores = model.loss(x[:3])
    p = {k: torch.from_numpy(v) for k, v in model.params.items()}
    h = torch.from_numpy(x[:3])
    for i in (1, 2):
        bn = model.bn_params[i - 1]
        def norm(z, i=i, bn=bn):
            return F.batch_norm(z, torch.from_numpy(bn["running_mean"]), torch.from_numpy(bn["running_var"]),
                                p[f"gamma{i}"], p[f"beta{i}"], training=False, eps=1e-5)
        h = F.linear(h, p[f"W{i}"].T, p[f"b{i}"])
        h = F.relu(norm(h)) if position == "before" else norm(F.relu(h))
    t_scores = F.linear(h, p["W3"].T, p["b3"]).numpy()
    np.testing.assert_allclose(scores, t_scores, rtol=1e-12, atol=1e-12)


# ===========================================================================
# Behaviour
# ===========================================================================

def test_params_are_named_and_shaped_as_in_cs231n():
    model = _small_net(normalization="batchnorm")
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (5, 6), "b1": (6,), "gamma1": (6,), "beta1": (6,),
                      "W2": (6, 7), "b2": (7,), "gamma2": (7,), "beta2": (7,),
                      "W3": (7, 4), "b3": (4,)}
    assert all(np.all(model.params[k] == 0) for k in ("b1", "b2", "b3", "beta1", "beta2"))
    assert all(np.all(model.params[k] == 1) for k in ("gamma1", "gamma2"))


def test_grads_have_the_keys_and_shapes_of_params():
    x, y = _small_data()
    model = _small_net(normalization="layernorm")
    _, grads = model.loss(x, y)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in model.params.items()}


def test_inputs_with_several_feature_axes_are_flattened():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((4, 3, 2, 2)), rng.integers(4, size=4)
    model = FullyConnectedNet([6], input_dim=12, num_classes=4, dtype=np.float64, rng=4)
    loss, _ = model.loss(x, y)
    flat_loss, _ = model.loss(x.reshape(4, 12), y)
    assert loss == flat_loss


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_float32_net_keeps_float32_params_scores_and_grads(normalization):
    x, y = _small_data(5)
    model = _small_net(rng=5, dtype=np.float32, normalization=normalization, dropout_keep_ratio=0.5)
    loss, grads = model.loss(x, y)
    scores = model.loss(x)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert scores.dtype == np.float32 and isinstance(loss, float)


def test_loss_without_labels_returns_scores_and_sets_test_mode():
    x, y = _small_data(6)
    model = _small_net(rng=6, normalization="batchnorm", dropout_keep_ratio=0.5)
    model.loss(x, y)
    assert [p["mode"] for p in model.bn_params] == ["train", "train"] and model.dropout_param["mode"] == "train"
    scores = model.loss(x)
    assert scores.shape == (8, 4)
    assert [p["mode"] for p in model.bn_params] == ["test", "test"] and model.dropout_param["mode"] == "test"
    np.testing.assert_array_equal(model.loss(x), scores)  # no dropout, fixed statistics


def test_training_pass_writes_running_statistics_into_bn_params():
    x, y = _small_data(7)
    model = _small_net(rng=7, normalization="batchnorm")
    model.loss(x, y)
    a1 = x @ model.params["W1"] + model.params["b1"]  # input of the first batchnorm
    np.testing.assert_allclose(model.bn_params[0]["running_mean"], 0.1 * a1.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.bn_params[0]["running_var"], 0.1 * a1.var(axis=0), rtol=1e-12)


def test_test_mode_pass_leaves_running_statistics_unchanged():
    x, y = _small_data(8)
    model = _small_net(rng=8, normalization="batchnorm")
    model.loss(x, y)
    before = [(p["running_mean"].copy(), p["running_var"].copy()) for p in model.bn_params]
    model.loss(x)
    for (mean, var), p in zip(before, model.bn_params):
        np.testing.assert_array_equal(p["running_mean"], mean)
        np.testing.assert_array_equal(p["running_var"], var)


def test_l2_term_is_half_reg_times_squared_weights_and_leaves_other_gradients_alone():
    x, y = _small_data(9)
    plain, regularized = (_small_net(rng=9, normalization="batchnorm", reg=r) for r in (0.0, 0.7))
    rng = np.random.default_rng(9)
    for k in ("b1", "b2", "b3", "gamma1", "gamma2", "beta1", "beta2"):  # non-zero, so a penalty on them would show
        plain.params[k] = regularized.params[k] = rng.uniform(0.5, 1.5, plain.params[k].shape)
    loss0, grads0 = plain.loss(x, y)
    loss1, grads1 = regularized.loss(x, y)
    weights = ("W1", "W2", "W3")
    penalty = 0.5 * 0.7 * sum(np.sum(plain.params[k] ** 2) for k in weights)
    assert loss1 - loss0 == pytest.approx(penalty, rel=1e-10)
    for k in grads0:
        expected = grads0[k] + 0.7 * plain.params[k] if k in weights else grads0[k]
        np.testing.assert_allclose(grads1[k], expected, rtol=1e-12, atol=1e-15, err_msg=k)


# --- initialization and randomness ---------------------------------------------------------------

def test_same_rng_seed_gives_the_same_params():
    a, b = _small_net(rng=10, normalization="batchnorm"), _small_net(rng=10, normalization="batchnorm")
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_different_rng_seeds_give_different_weights():
    a, b = _small_net(rng=11), _small_net(rng=12)
    assert not any(np.array_equal(a.params[k], b.params[k]) for k in ("W1", "W2", "W3"))


def test_a_generator_rng_gives_the_weights_of_its_integer_seed():
    a, b = _small_net(rng=13), _small_net(rng=np.random.default_rng(13))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def _global_state_unchanged(before):
    after = np.random.get_state()
    return all(np.array_equal(p, q) for p, q in zip(before[1:], after[1:]))


def test_net_with_rng_does_not_touch_the_global_generator_when_built_or_trained():
    x, y = _small_data(14)
    np.random.seed(2024)  # a state that seeding the global generator with the net's seed cannot reproduce
    before = np.random.get_state()
    model = _small_net(rng=14, dropout_keep_ratio=0.5, normalization="batchnorm")
    model.loss(x, y)
    assert _global_state_unchanged(before)


def test_net_without_rng_draws_weight_scale_times_randn_layer_by_layer_like_cs231n():
    # Gammas, betas and biases are constants and draw nothing (tests.published conventions).
    np.random.seed(15)
    model = FullyConnectedNet([6, 7], input_dim=5, num_classes=4, weight_scale=0.3, dtype=np.float64,
                              normalization="batchnorm")
    np.random.seed(15)
    for i, (fan_in, fan_out) in enumerate([(5, 6), (6, 7), (7, 4)], start=1):
        np.testing.assert_array_equal(model.params[f"W{i}"], 0.3 * np.random.randn(fan_in, fan_out))


@pytest.mark.parametrize("scheme, gain", [("he", 2.0), ("xavier", 1.0)])
def test_named_weight_scale_gives_std_sqrt_gain_over_fan_in(scheme, gain):
    model = FullyConnectedNet([300, 200], input_dim=1000, num_classes=50, weight_scale=scheme, rng=16)
    for i, fan_in in enumerate([1000, 300, 200], start=1):
        w = model.params[f"W{i}"].astype(np.float64)
        expected = np.sqrt(gain / fan_in)
        # The sample std of n normal draws has relative standard deviation ~ 1 / sqrt(2 n): allow 5 of them.
        assert abs(w.std() / expected - 1) < 5 / np.sqrt(2 * w.size), (i, w.std(), expected)
        assert abs(w.mean()) < 5 * expected / np.sqrt(w.size)


def test_init_std_of_a_number_is_the_number_and_of_a_name_scales_with_fan_in():
    assert init_std(0.05, 100) == 0.05
    assert init_std("he", 50) == pytest.approx(np.sqrt(2 / 50), rel=1e-15)
    assert set(WEIGHT_SCALES) == {"he", "xavier"}


def test_unknown_weight_scale_name_is_rejected_naming_it_and_the_known_ones():
    with pytest.raises(OptionError, match=r"unknown weight_scale 'kaiming'; use one of 'he', 'xavier'"):
        _small_net(weight_scale="kaiming")


# --- options ---------------------------------------------------------------------------------------

def test_use_batchnorm_true_is_normalization_batchnorm():
    x, y = _small_data(17)
    old, new = _small_net(rng=17, use_batchnorm=True), _small_net(rng=17, normalization="batchnorm")
    assert old.normalization == "batchnorm" and old.params.keys() == new.params.keys()
    loss_old, grads_old = old.loss(x, y)
    loss_new, grads_new = new.loss(x, y)
    assert loss_old == loss_new
    assert all(np.array_equal(grads_old[k], grads_new[k]) for k in grads_new)


def test_use_batchnorm_true_conflicts_with_layernorm():
    with pytest.raises(OptionError, match=r"use_batchnorm=True conflicts with normalization='layernorm'"):
        _small_net(use_batchnorm=True, normalization="layernorm")


def test_dropout_argument_is_the_keep_probability_like_dropout_keep_ratio():
    x, y = _small_data(18)
    old, new = _small_net(rng=18, dropout=0.6, dropout_seed=1), _small_net(rng=18, dropout_keep_ratio=0.6,
                                                                            dropout_seed=1)
    assert old.dropout_param["p"] == 0.6 and old.loss(x, y)[0] == new.loss(x, y)[0]


def test_unknown_normalization_is_rejected_naming_it_and_the_allowed_ones():
    with pytest.raises(OptionError, match=r"FullyConnectedNet: unknown normalization 'groupnorm'; "
                                          r"use one of None, 'batchnorm', 'layernorm'"):
        _small_net(normalization="groupnorm")


def test_unknown_norm_position_is_rejected_naming_it_and_the_allowed_ones():
    with pytest.raises(OptionError, match=r"FullyConnectedNet: unknown norm_position 'middle'; "
                                          r"use one of 'before', 'after'"):
        _small_net(normalization="batchnorm", norm_position="middle")


@pytest.mark.parametrize("keep", [0, -0.5, 1.5])
def test_dropout_keep_ratio_outside_0_1_is_rejected(keep):
    with pytest.raises(ValueError, match=rf"dropout_keep_ratio={keep!r} is the probability of keeping a unit "
                                         r"and must be in \(0, 1\]"):
        _small_net(dropout_keep_ratio=keep)


@pytest.mark.parametrize("hidden_dims", [[0], [6, -1], [2.5]])
def test_layer_sizes_must_be_positive_integers(hidden_dims):
    with pytest.raises(ValueError, match=r"layer sizes must be positive integers"):
        FullyConnectedNet(hidden_dims, input_dim=5, num_classes=4)


def test_keep_ratio_1_means_no_dropout_layer():
    model = _small_net(dropout_keep_ratio=1)
    assert model.use_dropout is False and model.dropout_param == {}


@pytest.mark.parametrize("rng", [None, 19])
def test_seed_fixes_the_masks_across_calls_like_cs231n(rng):
    # cs231n: seed goes into dropout_param and dropout_forward reseeds with it on every call.
    x, y = _small_data(19)
    model = _small_net(rng=rng, dropout_keep_ratio=0.5, seed=7)
    assert model.dropout_param["seed"] == 7
    assert model.loss(x, y)[0] == model.loss(x, y)[0]


def test_seed_does_not_change_the_weights_only_the_masks():
    np.random.seed(21)
    plain = FullyConnectedNet([6], input_dim=5, num_classes=4, dtype=np.float64)
    np.random.seed(21)
    seeded = FullyConnectedNet([6], input_dim=5, num_classes=4, dtype=np.float64, dropout_keep_ratio=0.5, seed=3)
    assert all(np.array_equal(plain.params[k], seeded.params[k]) for k in plain.params)


def test_dropout_seed_is_the_same_as_seed():
    x, y = _small_data(22)
    a, b = _small_net(rng=22, dropout_keep_ratio=0.5, seed=5), _small_net(rng=22, dropout_keep_ratio=0.5, dropout_seed=5)
    assert a.dropout_param == b.dropout_param and a.loss(x, y)[0] == b.loss(x, y)[0]


def test_seed_and_dropout_seed_that_disagree_are_rejected():
    with pytest.raises(OptionError, match=r"seed=1 and dropout_seed=2 both set the dropout mask seed"):
        _small_net(dropout_keep_ratio=0.5, seed=1, dropout_seed=2)


def test_a_generator_as_seed_is_rejected_pointing_to_rng():
    with pytest.raises(ValueError, match=r"dropout mask seed must be an integer.*pass it as rng="):
        _small_net(dropout_keep_ratio=0.5, seed=np.random.default_rng(0))


def test_rng_dropout_draws_new_masks_per_call_reproducibly():
    x, y = _small_data(20)
    a, b = (_small_net(rng=20, dropout_keep_ratio=0.5) for _ in range(2))
    losses_a = [a.loss(x, y)[0] for _ in range(3)]
    losses_b = [b.loss(x, y)[0] for _ in range(3)]
    assert losses_a == losses_b
    assert len(set(losses_a)) == 3


# --- TwoLayerNet (cs231n 2017-2020; published values in tests/test_cs231n_cells.py) -------------------

def test_two_layer_net_has_cs231n_defaults_params_and_draws():
    np.random.seed(23)
    model = TwoLayerNet()
    np.random.seed(23)
    w1, w2 = 1e-3 * np.random.randn(3 * 32 * 32, 100), 1e-3 * np.random.randn(100, 10)
    assert sorted(model.params) == ["W1", "W2", "b1", "b2"] and model.reg == 0.0
    np.testing.assert_array_equal(model.params["W1"], w1)
    np.testing.assert_array_equal(model.params["W2"], w2)
    assert model.params["W1"].dtype == np.float64 and not model.params["b1"].any() and not model.params["b2"].any()


def test_two_layer_net_is_the_one_hidden_layer_fully_connected_net():
    x, y = _small_data(24)
    two = TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=4, weight_scale=0.5, reg=0.3, rng=24)
    fc = FullyConnectedNet([6], input_dim=5, num_classes=4, weight_scale=0.5, reg=0.3, dtype=np.float64, rng=24)
    loss_two, grads_two = two.loss(x, y)
    loss_fc, grads_fc = fc.loss(x, y)
    assert loss_two == loss_fc and all(np.array_equal(grads_two[k], grads_fc[k]) for k in grads_fc)
    np.testing.assert_array_equal(two.loss(x), fc.loss(x))


# ===========================================================================
# The network core: network_loss over a table of layer functions
# ===========================================================================

def _spy_table(calls):
    """course_lib's LAYERS, each entry counting its calls in ``calls``."""
    def spy(name, fn):
        def wrapped(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return fn(*args, **kwargs)
        return wrapped
    return {name: spy(name, fn) for name, fn in LAYERS.items()}


@pytest.mark.parametrize("normalization, position", NORM_CONFIGS)
def test_network_loss_looks_every_layer_up_in_its_table_and_is_the_nets_loss(normalization, position):
    x, y = _small_data(31)
    model = _small_net(rng=31, normalization=normalization, norm_position=position, reg=0.2,
                       dropout_keep_ratio=0.6, dropout_seed=5)
    _randomize_gamma_beta(model, 31)
    want_loss, want_grads = model.loss(x, y)
    calls = {}
    norm_params = [{} for _ in range(2)] if normalization else []
    loss, grads = network_loss(model.params, x, y, layers=_spy_table(calls), normalization=normalization,
                               norm_position=position, norm_params=norm_params,
                               dropout_param={"p": 0.6, "seed": 5}, reg=0.2)
    # Same operations in the same order: the net's loss is this function (dx of the input layer aside).
    assert loss == want_loss and sorted(grads) == sorted(want_grads)
    for k in grads:
        np.testing.assert_array_equal(grads[k], want_grads[k])
    want_calls = {"affine_forward": 3, "affine_backward": 3, "relu_forward": 2, "relu_backward": 2,
                  "softmax_loss": 1, "dropout_forward": 2, "dropout_backward": 2}
    if normalization:
        want_calls.update({f"{normalization}_forward": 2, f"{normalization}_backward": 2})
    assert calls == want_calls
    assert all(p["mode"] == "train" for p in norm_params)


def test_network_loss_with_another_layer_in_its_table_computes_that_architecture():
    """A leaky ReLU put in the table: loss and gradients of the same net with F.leaky_relu in torch."""
    def leaky_forward(x):
        return np.where(x > 0, x, 0.1 * x), x

    def leaky_backward(dout, x):
        return np.where(x > 0, dout, 0.1 * dout)

    x, y = _small_data(32)
    params = _small_net(rng=32).params
    loss, grads = network_loss(params, x, y, layers={**LAYERS, "relu_forward": leaky_forward,
                                                     "relu_backward": leaky_backward}, reg=0.3)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.from_numpy(x)
    for i in (1, 2):
        h = F.leaky_relu(F.linear(h, t[f"W{i}"].T, t[f"b{i}"]), 0.1)
    t_loss = F.cross_entropy(F.linear(h, t["W3"].T, t["b3"]), torch.from_numpy(y))
    t_loss = t_loss + 0.15 * sum((t[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for k, v in t.items():
        assert rel_error(grads[k], v.grad.numpy()) < 1e-10, k


def test_network_loss_in_training_mode_without_labels_gives_batch_statistics_scores():
    x, _ = _small_data(33)
    model = _small_net(rng=33, normalization="batchnorm")
    _randomize_gamma_beta(model, 33)
    scores = network_loss(model.params, x, normalization="batchnorm", norm_params=[{}, {}], mode="train")
    t = {k: torch.from_numpy(v) for k, v in model.params.items()}
    h = torch.from_numpy(x)
    for i in (1, 2):
        h = F.relu(F.batch_norm(F.linear(h, t[f"W{i}"].T, t[f"b{i}"]), None, None, t[f"gamma{i}"], t[f"beta{i}"],
                                training=True, eps=1e-5))
    assert rel_error(scores, F.linear(h, t["W3"].T, t["b3"]).numpy()) < 1e-12
    # Without labels and without a mode, test mode: the running averages (zeros and ones at first) are used.
    assert rel_error(network_loss(model.params, x, normalization="batchnorm",
                                  norm_params=[{"running_mean": np.zeros(6), "running_var": np.ones(6)},
                                               {"running_mean": np.zeros(7), "running_var": np.ones(7)}]),
                     scores) > 1e-3


@pytest.mark.parametrize("option, value, allowed", [("normalization", "groupnorm", "batchnorm"),
                                                    ("norm_position", "middle", "before"),
                                                    ("mode", "eval", "train")])
def test_network_loss_rejects_an_unknown_option_naming_it_and_the_allowed_ones(option, value, allowed):
    x, y = _small_data(34)
    with pytest.raises(OptionError, match=rf"network_loss: unknown {option} '{value}'.*{allowed}"):
        network_loss(_small_net().params, x, y, **{option: value})
