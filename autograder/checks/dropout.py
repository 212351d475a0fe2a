"""Hidden checks of the ``dropout`` assignment (grader-side, never released).

Same conventions as :mod:`autograder.checks.batchnorm`: the student's functions are only called
with data, results are validated here, verdicts come from this process, and failure messages say
what is wrong without the expected values. The backward pass receives the prescribed cache
``(dropout_param, mask)`` built here (``mask`` the scaled mask, ``None`` in test mode); the forward
check verifies that the forward pass returns exactly that cache.

Convention checked (the course's and cs231n's since 2019): ``dropout_param['p']`` is the probability
of KEEPING a unit, and dropout is *inverted*: kept units are divided by ``p`` during training so that
the expected output equals the input and test time is the identity [DO]_.

References
----------
.. [DO] N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov, "Dropout: A Simple Way
   to Prevent Neural Networks from Overfitting", JMLR 15, 2014.
"""

from __future__ import annotations

import numpy as np

from autograder.checks import call, make_rng
from autograder.checks.networks import check_norm_net, child_seeds, finite_array, forward_pair

__all__ = ["KEEP_PROBS", "check_dropout_forward", "check_dropout_backward", "check_fully_connected_net"]

#: Keep probabilities of the hidden forward check (none is 0.5, where "keep" and "drop" look alike).
KEEP_PROBS = (0.3, 0.65, 0.85)


def _positive_inputs(rng, shape):
    """Inputs bounded away from zero, so that a zero output always means a dropped unit."""
    return rng.uniform(0.5, 4.5, shape)


def check_dropout_forward(dropout_forward, seed: int | None = None) -> None:
    """Inverted dropout forward pass, training and test mode.

    For each keep probability in :data:`KEEP_PROBS`, on a hidden 300 x 400 input with positive entries:

    * training mode zeroes a fraction ``1 - p`` of the units (within 0.01, about 7 standard deviations),
      independently for every element, and divides the kept ones by ``p`` exactly, so the mean of the
      output stays within 10 % of the input's (about 8 standard deviations);
    * two training calls without a ``seed`` draw different masks; two with the same ``seed`` give the
      same output (gradient checks rely on it);
    * the cache is ``(dropout_param, mask)`` with ``out == x * mask`` in training mode and ``mask`` None
      in test mode;
    * test mode returns the input unchanged.
    """
    name = "dropout_forward"
    rng = make_rng(child_seeds(seed, 1)[0])
    x = _positive_inputs(rng, (300, 400))
    for p in KEEP_PROBS:
        out, cache = forward_pair(name, dropout_forward, x.copy(), {"mode": "train", "p": p}, shape=x.shape)
        zero = out == 0
        if not zero.any():
            raise AssertionError(f"In training mode, {name} dropped no unit at all (keep probability p = {p}): "
                                 f"multiply x by a random mask that is 0 with probability 1 - p.")
        rows_alike = np.all(zero == zero[0:1], axis=1).mean()
        cols_alike = np.all(zero == zero[:, 0:1], axis=0).mean()
        if rows_alike > 0.5 or cols_alike > 0.5:
            raise AssertionError(f"The dropout mask of {name} repeats along the rows or columns of x: draw an "
                                 f"independent random value for every element (a mask of the shape of x).")
        frac_zero = float(zero.mean())
        if abs(frac_zero - (1 - p)) > 0.01:
            if abs(frac_zero - p) <= 0.01:
                hint = ("p is the probability of KEEPING a unit: keep it where rand < p (so a fraction p survives), "
                        "not drop it.")
            else:
                hint = "each unit should be kept with probability p and dropped with probability 1 - p."
            raise AssertionError(f"In training mode, {name} dropped the wrong fraction of units for a keep "
                                 f"probability p = {p}: {hint}")
        kept = ~zero
        ratio = out[kept] / x[kept]
        if not np.allclose(ratio, 1.0 / p, rtol=1e-6):
            if np.allclose(ratio, 1.0, rtol=1e-6):
                hint = ("kept units are not scaled. With inverted dropout divide them by p during training, so the "
                        "expected output equals the input and nothing changes at test time.")
            elif np.allclose(ratio, 1.0 / (1.0 - p), rtol=1e-6):
                hint = "kept units are divided by 1 - p; divide by p, the keep probability."
            elif np.allclose(ratio, p, rtol=1e-6):
                hint = "kept units are multiplied by p; divide them by p instead."
            else:
                hint = "every kept unit should be x / p and every dropped unit 0."
            raise AssertionError(f"In training mode, the kept units of {name}'s output are wrong (p = {p}): {hint}")
        if abs(out.mean() / x.mean() - 1.0) > 0.1:
            raise AssertionError(f"In training mode, the mean of {name}'s output is not close to the mean of its "
                                 f"input (p = {p}); inverted dropout preserves the expected value of every unit.")

        _check_cache(name, cache, "train", x, out)
        again, _ = forward_pair(name, dropout_forward, x.copy(), {"mode": "train", "p": p}, shape=x.shape)
        if np.array_equal(again == 0, zero):
            raise AssertionError(f"Two training-mode calls of {name} without a 'seed' dropped exactly the same units: "
                                 f"draw a new random mask on every call (and only reseed when dropout_param has "
                                 f"a 'seed').")

        test_out, test_cache = forward_pair(name, dropout_forward, x.copy(), {"mode": "test", "p": p},
                                            shape=x.shape)
        if not np.allclose(test_out, x, rtol=1e-12, atol=0):
            if np.allclose(test_out, p * x, rtol=1e-9):
                hint = "it multiplies by p; with inverted dropout the scaling happens at training time only."
            elif (test_out == 0).any():
                hint = "it drops units; no unit is dropped at test time."
            else:
                hint = "test mode must return x unchanged."
            raise AssertionError(f"The test-mode output of {name} is wrong: {hint}")
        _check_cache(name, test_cache, "test", x, test_out)

    seeded = {"mode": "train", "p": KEEP_PROBS[1], "seed": 4242}
    a, _ = forward_pair(name, dropout_forward, x.copy(), dict(seeded), shape=x.shape)
    b, _ = forward_pair(name, dropout_forward, x.copy(), dict(seeded), shape=x.shape)
    if not np.array_equal(a, b):
        raise AssertionError(f"Two training-mode calls of {name} with the same dropout_param['seed'] gave different "
                             f"masks: when a seed is given, draw the mask from a generator seeded with it, e.g. "
                             f"np.random.seed(dropout_param['seed']) before drawing.")


def _check_cache(name: str, cache, mode: str, x, out) -> None:
    """The cache must be the prescribed ``(dropout_param, mask)``."""
    layout = "(dropout_param, mask)"
    if not isinstance(cache, (tuple, list)) or len(cache) != 2:
        got = f"{len(cache)} values" if isinstance(cache, (tuple, list)) else type(cache).__name__
        raise AssertionError(f"{name} should return the cache {layout} prescribed in its docstring, got {got}.")
    param, mask = cache
    if not isinstance(param, dict) or param.get("mode") != mode:
        raise AssertionError(f"{name}: the first entry of the cache {layout} should be the dropout_param dict.")
    if mode == "test":
        if mask is not None:
            raise AssertionError(f"{name}: in test mode the cache should be (dropout_param, None): no mask.")
        return
    try:
        m = np.asarray(mask, dtype=np.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != x.shape or not np.allclose(x * m, out, rtol=1e-9, atol=0):
        raise AssertionError(f"{name}: the second entry of the cache {layout} should be the mask the input was "
                             f"multiplied by, scaling included (out == x * mask).")


def check_dropout_backward(dropout_backward, seed: int | None = None) -> None:
    """``dropout_backward(dout, cache)`` with the prescribed cache, built here.

    Training mode: ``cache = ({'mode': 'train', 'p': p}, mask)`` with a scaled mask of zeros and
    ``1 / p``; the gradient of ``x * mask`` is ``dout * mask``. Test mode: ``({'mode': 'test', 'p': p},
    None)`` and the gradient is ``dout``. Independent of the student's forward pass.
    """
    name = "dropout_backward"
    rng = make_rng(child_seeds(seed, 2)[1])
    dout = rng.standard_normal((12, 15))
    for p in (0.35, 0.8):
        mask = (rng.random(dout.shape) < p) / p
        where = f"{name}(dout, cache) in training mode with p = {p}"
        dx = finite_array(where, "dx", call(where, dropout_backward, dout.copy(),
                                            ({"mode": "train", "p": p}, mask.copy())), dout.shape)
        if not np.allclose(dx, dout * mask, rtol=1e-9, atol=1e-12):
            if np.allclose(dx, dout):
                hint = "dx equals dout: in training mode only the kept units pass gradient (multiply by the mask)."
            elif np.allclose(dx, dout * (mask != 0)):
                hint = "kept units must also be scaled by 1/p, as in the forward pass (the cached mask includes it)."
            elif np.allclose(dx, dout * mask / p):
                hint = "the cached mask already includes the 1/p scaling; do not divide by p again."
            else:
                hint = "the forward pass is out = x * mask, so dx = dout * mask with the cached mask."
            raise AssertionError(f"{where}: dx is wrong: {hint}")
    where = f"{name}(dout, cache) in test mode"
    dx = finite_array(where, "dx", call(where, dropout_backward, dout.copy(), ({"mode": "test", "p": 0.35}, None)),
                      dout.shape)
    if not np.allclose(dx, dout, rtol=1e-12, atol=0):
        raise AssertionError(f"{where}: dx should be dout unchanged, since the test-time forward pass is the "
                             f"identity.")


def check_fully_connected_net(FullyConnectedNet, *, dropout_forward=None, dropout_backward=None,
                              seed: int | None = None) -> None:
    """The student's ``FullyConnectedNet`` with dropout, without and with batch normalization.

    ``dropout_keep_ratio`` and a fixed ``dropout_seed`` (the same masks on every forward pass); given
    fixed parameters, ``loss(X, y)``, ``loss(X)`` (test mode: no dropout) and ``loss(X, y)`` again against
    the reference net, or the reference architecture composed of the student's dropout layers (see
    :func:`autograder.checks.networks.check_norm_net`). A net without dropout (``dropout_keep_ratio=1``)
    must still work.
    """
    layers = {"dropout_forward": dropout_forward, "dropout_backward": dropout_backward}
    check_norm_net(FullyConnectedNet, normalization=None, seed=seed)
    check_norm_net(FullyConnectedNet, normalization=None, dropout=(0.6, 123), seed=seed, **layers)
    check_norm_net(FullyConnectedNet, normalization="batchnorm", dropout=(0.75, 7), seed=seed, **layers)
