"""Hidden checks of the ``batchnorm`` assignment (grader-side, never released), one per exercise.

Each ``check_<exercise>`` takes the student's objects (plain callables under nbgrader, where the test
cell runs in the kernel; :class:`autograder.kernel.handles.RemoteHandle` proxies under the grader) and only
calls them with data: numpy arrays, numbers, strings and dicts/lists/tuples of those. Whatever comes
back is validated here, and every verdict is computed in this process against the repository's
:mod:`course_lib` (:func:`autograder.checks.reference`) or numerical gradients. A failed check raises
``AssertionError`` whose message says what is wrong and how to fix it, never an expected value. Inputs
come from :func:`autograder.checks.make_rng` and differ from the notebook's visible checks.

Isolation (``docs/notebooks.md``): a backward pass receives the cache the notebook prescribes, built
here (batch normalization: ``(mode, x, x_hat, inv_std, gamma, eps)``; layer normalization:
``(x_hat, inv_std, gamma)``), never the student's forward output; the forward checks verify that the
forward pass returns exactly that cache. The network check (:func:`check_fully_connected_net`) compares the
student's net with the reference net, or with the reference architecture composed of the student's own layers
(:mod:`autograder.checks.networks`), and its training check (:mod:`autograder.checks.bn_experiment`) is waived
when the student's layers fail their own checks (their cells already lose those points).

References
----------
.. [BN] S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
   Internal Covariate Shift", ICML 2015 (Algorithm 1: biased minibatch variance, eps inside the
   square root; Algorithm 2: population statistics at inference).
.. [LN] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
"""

from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

import numpy as np

from autograder.checks import (
    call,
    make_rng,
    numerical_gradient_array,
    reference,
    relative_error,
    singleton_reshape,
    unpack,
)
from autograder.checks.bn_experiment import check_batchnorm_trains
from autograder.checks.networks import check_norm_net, child_seeds, failing_layers, finite_array, forward_pair

__all__ = [
    "GRAD_TOL",
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_batchnorm_backward_alt",
    "check_fully_connected_net",
    "check_batchnorm_trains",
    "check_layernorm_forward",
    "check_layernorm_backward",
]

#: Largest accepted relative error (norm-based) between an analytic and a numerical gradient.
#: Correct float64 code is at ~1e-9 here; every mistake in tests/test_checks.py is above 1e-3.
GRAD_TOL = 1e-5

_FWD_RTOL, _FWD_ATOL = 1e-4, 1e-6


def _ref():
    return reference("layers")


def _close(a, b, rtol: float = _FWD_RTOL, atol: float = _FWD_ATOL) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _first_match(value, candidates) -> str | None:
    """The message of the first ``(array, message)`` candidate that ``value`` matches."""
    for cand, message in candidates:
        if cand is not None and _close(value, cand):
            return message
    return None


def _cache_entry(where: str, name: str, value, shapes) -> np.ndarray | None:
    """A cache entry as a float64 array of one of ``shapes``, or None when it is not an array of numbers of such
    a shape.

    A backward pass uses the cache's arrays by broadcasting, so only extra *leading* dimensions of size 1
    (``(1, D)`` for ``(D,)``, which broadcast the same way) are accepted, with a note; ``(D, 1)`` for ``(D,)`` or
    ``(N,)`` for ``(N, 1)`` would broadcast along the wrong axis in a backward pass written to the docstring.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape in shapes:
        return arr
    for shape in shapes:
        lead = arr.ndim - len(shape)
        if lead > 0 and arr.shape[lead:] == tuple(shape) and all(n == 1 for n in arr.shape[:lead]):
            return singleton_reshape(where, name, arr, shape)
    return None


# ---------------------------------------------------------------------------------------------
# Reference computations and typical mistakes (grader-side only)


def _standardize(x, axis, eps, ddof=0):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=ddof, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _bn_train_mistakes(x, gamma, beta, eps):
    """Outputs of common wrong training-mode forward passes, each with the hint it deserves."""
    mean, var, std = x.mean(0), x.var(0), x.std(0)
    return [
        (gamma * _standardize(x, 0, eps, ddof=1) + beta,
         "it uses the unbiased variance (dividing by N - 1); batch normalization standardizes with the "
         "biased minibatch variance, the mean of (x - mean)**2 over the N examples [Ioffe & Szegedy 2015, "
         "Algorithm 1]."),
        (gamma * _standardize(x, 1, eps) + beta,
         "it normalizes each example over its features (axis 1); batch normalization normalizes each "
         "feature over the minibatch (axis 0)."),
        (gamma * (x - mean) / (std + eps) + beta,
         "eps is added to the standard deviation; it belongs inside the square root: "
         "(x - mean) / sqrt(var + eps)."),
        (gamma * (x - mean) / std + beta, "eps is missing: divide by sqrt(var + eps)."),
        (gamma * (x - mean) / (var + eps) + beta,
         "it divides by the variance; divide by the standard deviation sqrt(var + eps)."),
        (beta * _standardize(x, 0, eps) + gamma, "gamma and beta are swapped: out = gamma * x_hat + beta."),
        (_standardize(x, 0, eps), "gamma and beta are not applied: out = gamma * x_hat + beta."),
    ]


def _reference_bn(x, gamma, beta, bn_param):
    """``course_lib``'s forward on copies; returns ``(out, bn_param_after)``."""
    param = copy.deepcopy(bn_param)
    out, _ = _ref().batchnorm_forward(np.array(x, dtype=np.float64), gamma, beta, param)
    return out, param


def _train_inputs(rng):
    """A minibatch whose features have very different means and scales (one tiny, so eps matters)."""
    n, d = 64, 6
    loc = rng.uniform(-8.0, 8.0, d)
    scale = rng.uniform(0.5, 6.0, d)
    scale[rng.integers(d)] = 0.02
    x = loc + scale * rng.standard_normal((n, d))
    gamma = rng.uniform(0.5, 3.0, d)
    beta = rng.uniform(-4.0, 4.0, d)
    return x, gamma, beta


def _running_stat(param: dict, key: str, d: int, name: str) -> np.ndarray:
    if not isinstance(param, dict) or key not in param or param[key] is None:
        raise AssertionError(f"after a training-mode call of {name}, bn_param has no {key!r}: store the updated "
                             f"running statistics in bn_param['running_mean'] and bn_param['running_var'].")
    return finite_array(name, f"bn_param[{key!r}] after a training-mode call", param[key], (d,))


# ---------------------------------------------------------------------------------------------
# batchnorm_forward


def _check_bn_cache(name: str, cache, mode: str, x, x_hat, inv_std, gamma, eps) -> None:
    """The forward pass's cache must be the prescribed ``(mode, x, x_hat, inv_std, gamma, eps)``."""
    layout = "(mode, x, x_hat, inv_std, gamma, eps)"
    if not isinstance(cache, (tuple, list)) or len(cache) != 6:
        found = f"{len(cache)} values" if isinstance(cache, (tuple, list)) else type(cache).__name__
        raise AssertionError(f"{name} should return the cache {layout} prescribed in its docstring (the backward "
                             f"passes receive exactly that), got {found}.")
    if not isinstance(cache[0], str) or cache[0] != mode:
        raise AssertionError(f"{name}: the first entry of the cache {layout} should be the mode, {mode!r} here.")
    d = x.shape[1]
    for i, (what, want, shapes) in enumerate((("x", x, [x.shape]), ("x_hat", x_hat, [x.shape]),
                                              ("inv_std", inv_std, [(d,), (1, d)]), ("gamma", gamma, [(d,)])),
                                             start=1):
        got = _cache_entry(name, f"entry {i} of the cache ({what})", cache[i], shapes)
        if got is None or not _close(got, np.reshape(want, got.shape)):
            raise AssertionError(f"{name}: entry {i} of the cache {layout} should be {what}"
                                 + (" = 1 / sqrt(var + eps), one value per feature" if what == "inv_std" else "")
                                 + (" (computed with the running averages in test mode)" if mode == "test"
                                    and what in ("x_hat", "inv_std") else "") + ".")
    try:
        ok = np.isclose(float(cache[5]), eps, rtol=1e-12)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise AssertionError(f"{name}: the last entry of the cache {layout} should be eps, the value used.")


def _forward_train(batchnorm_forward, rng, name: str = "batchnorm_forward") -> None:
    """Training-mode forward: statistics of the output, gamma/beta, eps, running averages.

    Checks, on a hidden minibatch whose features have different means and scales:

    1. with gamma = 1, beta = 0 and ``{'mode': 'train'}``: each feature of the output has mean 0 and
       the standard deviation of a standardization with the biased variance and ``eps`` = 1e-5;
       the running averages start from zeros with the default momentum 0.9;
    2. with other gamma, beta, ``eps`` and ``momentum`` in ``bn_param`` and existing running
       averages: the output matches :func:`course_lib.layers.batchnorm_forward` and the running
       averages are ``momentum * old + (1 - momentum) * batch statistic``.
    """
    x, gamma, beta = _train_inputs(rng)
    n, d = x.shape
    ones, zeros = np.ones(d), np.zeros(d)

    # 1. Plain standardization, default eps and momentum.
    param: dict[str, Any] = {"mode": "train"}
    out, _ = forward_pair(name, batchnorm_forward, x.copy(), ones.copy(), zeros.copy(), param, shape=x.shape)
    want, want_param = _reference_bn(x, ones, zeros, {"mode": "train"})
    if not _close(out.mean(axis=0), zeros, atol=1e-6):
        hint = _first_match(out, _bn_train_mistakes(x, ones, zeros, 1e-5))
        raise AssertionError(
            f"With gamma = 1 and beta = 0, each feature (column) of the output of {name} in training mode should "
            f"have mean 0 over the minibatch, but it does not: "
            + (hint or "subtract each feature's minibatch mean (axis 0).")
        )
    if not _close(out, want):
        hint = _first_match(out, _bn_train_mistakes(x, ones, zeros, 1e-5))
        raise AssertionError(
            f"With gamma = 1 and beta = 0, the training-mode output of {name} is not the standardized input: "
            + (hint or "each feature should be divided by sqrt(var + eps), with var the biased minibatch variance "
                       "and eps = bn_param.get('eps', 1e-5).")
        )
    rm = _running_stat(param, "running_mean", d, name)
    rv = _running_stat(param, "running_var", d, name)
    mean, var = x.mean(axis=0), x.var(axis=0)
    if not _close(rm, want_param["running_mean"]) or not _close(rv, want_param["running_var"]):
        if _close(rm, mean) and _close(rv, var):
            hint = ("they equal this batch's statistics; when bn_param has no running averages yet, start them "
                    "at zeros and apply the update running = momentum * running + (1 - momentum) * batch_stat.")
        elif _close(rm, 0.9 * mean) or _close(rv, 0.9 * var):
            hint = "momentum is applied the wrong way round: the OLD running average is the one multiplied by momentum."
        elif _close(rm, 0.1 * mean) and _close(rv, 0.1 * x.var(axis=0, ddof=1)):
            hint = "running_var uses the unbiased variance; use the same biased variance as the normalization."
        elif _close(rm, 0.1 * mean) and _close(rv, 0.1 * x.std(axis=0)):
            hint = "running_var averages standard deviations; it should average variances."
        else:
            hint = ("start from zeros when bn_param has none and use running = momentum * running + (1 - momentum) * "
                    "batch_stat with momentum = bn_param.get('momentum', 0.9).")
        raise AssertionError(f"After one training-mode call of {name} on a fresh bn_param, the running averages "
                             f"are wrong: {hint}")

    # 2. Nontrivial gamma/beta, eps and momentum from bn_param, existing running averages.
    eps, momentum = 1e-3, 0.7
    r0 = rng.normal(size=d)
    v0 = rng.uniform(0.5, 2.0, d)
    param = {"mode": "train", "eps": eps, "momentum": momentum, "running_mean": r0.copy(), "running_var": v0.copy()}
    out, cache = forward_pair(name, batchnorm_forward, x.copy(), gamma.copy(), beta.copy(), param, shape=x.shape)
    want, want_param = _reference_bn(x, gamma, beta, {"mode": "train", "eps": eps, "momentum": momentum,
                                                      "running_mean": r0, "running_var": v0})
    if not _close(out, want):
        candidates = _bn_train_mistakes(x, gamma, beta, eps) + [
            (gamma * _standardize(x, 0, 1e-5) + beta, "it ignores bn_param['eps']; use bn_param.get('eps', 1e-5)."),
            (gamma * (x - r0) / np.sqrt(v0 + eps) + beta,
             "in training mode, normalize with the statistics of the current minibatch, not the running averages."),
        ]
        hint = _first_match(out, candidates)
        raise AssertionError(
            f"The training-mode output of {name} with nontrivial gamma, beta and eps is wrong: "
            + (hint or "out = gamma * (x - mean) / sqrt(var + eps) + beta, with the minibatch mean and biased "
                       "variance of each feature and eps = bn_param.get('eps', 1e-5).")
        )
    _check_bn_cache(name, cache, "train", x, _standardize(x, 0, eps), 1.0 / np.sqrt(x.var(axis=0) + eps), gamma,
                    eps)
    rm = _running_stat(param, "running_mean", d, name)
    rv = _running_stat(param, "running_var", d, name)
    if not _close(rm, want_param["running_mean"]) or not _close(rv, want_param["running_var"]):
        if _close(rm, r0) and _close(rv, v0):
            hint = "they were not updated at all; write the new values back into bn_param."
        elif _close(rm, (1 - momentum) * r0 + momentum * mean):
            hint = ("momentum is applied the wrong way round: "
                    "running = momentum * running + (1 - momentum) * batch_stat.")
        elif _close(rm, 0.9 * r0 + 0.1 * mean):
            hint = "it ignores bn_param['momentum']; use bn_param.get('momentum', 0.9)."
        elif _close(rm, 0.1 * mean) or _close(rm, (1 - momentum) * mean):
            hint = "it ignores the running averages already in bn_param; start from zeros only when there are none."
        elif _close(rm, want_param["running_mean"]) and _close(rv, momentum * v0 + (1 - momentum) * x.var(0, ddof=1)):
            hint = "running_var uses the unbiased variance; use the same biased variance as the normalization."
        else:
            hint = "running = momentum * running + (1 - momentum) * batch_stat, for the mean and the variance."
        raise AssertionError(f"The running averages after a training-mode call of {name} with existing running "
                             f"averages and momentum in bn_param are wrong: {hint}")


def _forward_test(batchnorm_forward, rng, name: str = "batchnorm_forward") -> None:
    """Test-mode forward: normalization with the running averages found in ``bn_param``.

    The running averages are set directly (they differ from the batch's own statistics), so this
    check does not depend on the training-mode update. It requires that test mode

    * computes ``gamma * (x - running_mean) / sqrt(running_var + eps) + beta``;
    * leaves ``running_mean`` and ``running_var`` unchanged;
    * treats every example on its own (a batch of one gives the same row as in a larger batch).
    """
    x, gamma, beta = _train_inputs(rng)
    n, d = x.shape
    rm = x.mean(axis=0) + rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d)
    rv = x.var(axis=0) * rng.uniform(1.5, 3.0, d)
    for eps in (None, 1e-2):
        param = {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy()}
        if eps is not None:
            param["eps"] = eps
        e = 1e-5 if eps is None else eps
        out, cache = forward_pair(name, batchnorm_forward, x.copy(), gamma.copy(), beta.copy(), param, shape=x.shape)
        want = gamma * (x - rm) / np.sqrt(rv + e) + beta
        if not _close(out, want):
            candidates = [
                (gamma * _standardize(x, 0, e) + beta,
                 "it normalizes with the statistics of the test batch; test mode must use bn_param['running_mean'] "
                 "and bn_param['running_var'] [Ioffe & Szegedy 2015, Algorithm 2]."),
                (gamma * (x - rm) / np.sqrt(rv) + beta, "eps is missing: divide by sqrt(running_var + eps)."),
                (gamma * (x - rm) / (np.sqrt(rv) + e) + beta,
                 "eps is added to the standard deviation; it belongs inside the square root."),
                (gamma * (x - rm) / (rv + e) + beta,
                 "it divides by the variance; divide by the standard deviation sqrt(running_var + eps)."),
                (gamma * (x - rm) / np.sqrt(rv + 1e-5) + beta, "it ignores bn_param['eps']."),
                (x, "test mode returns its input unchanged; it must normalize with the running averages."),
            ]
            hint = _first_match(out, candidates)
            raise AssertionError(
                f"The test-mode output of {name} is wrong: "
                + (hint or "out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta, with the running "
                           "averages taken from bn_param.")
            )
        _check_bn_cache(name, cache, "test", x, (x - rm) / np.sqrt(rv + e), 1.0 / np.sqrt(rv + e), gamma, e)
        got_rm = param.get("running_mean") if isinstance(param, dict) else None
        got_rv = param.get("running_var") if isinstance(param, dict) else None
        if got_rm is None or got_rv is None or not _close(got_rm, rm, 0, 0) or not _close(got_rv, rv, 0, 0):
            raise AssertionError(f"{name} changed (or removed) bn_param['running_mean'] / bn_param['running_var'] "
                                 f"in test mode; only training mode updates the running averages.")
    # One example at a time gives the same rows (no batch statistics at test time).
    param = {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy()}
    one, _ = forward_pair(name, batchnorm_forward, x[3:4].copy(), gamma.copy(), beta.copy(), param, shape=(1, d))
    if not _close(one, gamma * (x[3:4] - rm) / np.sqrt(rv + 1e-5) + beta):
        raise AssertionError(f"In test mode, {name} gives a different result for an example when it is alone in "
                             f"its batch: at test time each example must be normalized on its own, with the "
                             f"running averages only.")


def check_batchnorm_forward(batchnorm_forward, seed: int | None = None) -> None:
    """``batchnorm_forward``: training mode, running averages, test mode and the cache.

    Training mode, on a hidden minibatch whose features have very different means and scales (one
    feature tiny, so that eps matters):

    1. with gamma = 1, beta = 0 and ``{'mode': 'train'}``: each feature of the output has mean 0 and is
       standardized with the biased minibatch variance and eps = 1e-5; the running averages start at
       zeros and use the default momentum 0.9;
    2. with other gamma, beta, ``eps`` and ``momentum`` in ``bn_param`` and existing running averages:
       the output matches the reference, the cache is ``(mode, x, x_hat, inv_std, gamma, eps)``, and
       the running averages are ``momentum * old + (1 - momentum) * batch statistic``.

    Test mode, with running averages set directly (so it does not depend on the training-mode
    update): ``gamma * (x - running_mean) / sqrt(running_var + eps) + beta``, running averages left
    unchanged, and an example alone in its batch gives the same row.
    """
    s_train, s_test = child_seeds(seed, 2)
    _forward_train(batchnorm_forward, make_rng(s_train))
    _forward_test(batchnorm_forward, make_rng(s_test))


# ---------------------------------------------------------------------------------------------
# batchnorm_backward / batchnorm_backward_alt / layernorm_backward (prescribed caches)


def _backward_inputs(rng, n=5, d=4):
    x = 4.0 * rng.standard_normal((n, d)) + rng.uniform(-9.0, 9.0, d)
    gamma = rng.standard_normal(d)
    beta = rng.standard_normal(d)
    dout = rng.standard_normal((n, d))
    return x, gamma, beta, dout


def _dx_mistakes(x, gamma, dout, eps, axis):
    """dx of common wrong backward passes through a standardization along ``axis``."""
    xhat = _standardize(x, axis, eps)
    inv_std = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    g = dout * gamma
    n = x.shape[axis]
    mean_g = g.mean(axis=axis, keepdims=True)
    mean_gx = np.mean(g * xhat, axis=axis, keepdims=True)
    return [
        (inv_std * g,
         "dx only scales dout * gamma by 1/sqrt(var + eps); the mean and the variance depend on every x too, so "
         "their paths (and the sum over the examples that share them) must be added."),
        (inv_std * (g - mean_g),
         "dx is missing the path through the variance: var depends on x as well."),
        (inv_std * (g - xhat * mean_gx),
         "dx is missing the path through the mean: the mean depends on x (directly and through the variance)."),
        (inv_std * (g - mean_g - xhat * mean_gx * (n - 1) / n),
         "dx has a wrong factor in the variance path; var is the mean of (x - mean)**2 over N values."),
        (inv_std * (dout - dout.mean(axis=axis, keepdims=True)
                    - xhat * np.mean(dout * xhat, axis=axis, keepdims=True)),
         "dx forgets gamma: the gradient reaching x_hat is dout * gamma."),
    ]


_GRAD_HINTS = MappingProxyType({
    "dbeta": "dbeta is the sum of dout over the minibatch (axis 0).",
    "dgamma": "dgamma is the sum over the minibatch of dout * x_hat.",
    "dx": "derive dx through every path from x to the output (x_hat, the mean and the variance) and add them.",
})


def _check_norm_backward(backward, name: str, kind: str, seed: int | None) -> None:
    """Gradients of ``backward(dout, prescribed cache)`` against numerical gradients of the reference."""
    for (n, d), eps, s in zip(((5, 4), (3, 7)), (1e-5, 1e-3), child_seeds(seed, 2)):
        _check_norm_backward_case(backward, name, kind, make_rng(s), n, d, eps)


def _check_norm_backward_case(backward, name: str, kind: str, rng, n: int, d: int, eps: float) -> None:
    lay = _ref()
    axis = 0 if kind == "batchnorm" else 1
    forward = lay.batchnorm_forward if kind == "batchnorm" else lay.layernorm_forward
    x, gamma, beta, dout = _backward_inputs(rng, n, d)
    inv_std = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=axis, keepdims=True)) * inv_std
    if kind == "batchnorm":
        cache: tuple = ("train", x.copy(), x_hat, inv_std.reshape(d), gamma.copy(), eps)
    else:
        cache = (x_hat, inv_std, gamma.copy())
    where = f"{name}(dout, cache) for x of shape {x.shape}"
    result = unpack(where, call(where, backward, dout.copy(), cache), ("dx", "dgamma", "dbeta"))
    grads = [finite_array(where, k, v, shape) for k, v, shape in zip(("dx", "dgamma", "dbeta"), result,
                                                                      ((n, d), (d,), (d,)))]

    def out(xx, gg, bb):
        return forward(np.asarray(xx, dtype=np.float64), gg, bb, {"mode": "train", "eps": eps})[0]

    numeric = [numerical_gradient_array(lambda v: out(v, gamma, beta), x.copy(), dout),
               numerical_gradient_array(lambda v: out(x, v, beta), gamma.copy(), dout),
               numerical_gradient_array(lambda v: out(x, gamma, v), beta.copy(), dout)]
    wrong = []
    for key, got, num in zip(("dx", "dgamma", "dbeta"), grads, numeric):
        err = relative_error(got, num)
        if not err < GRAD_TOL:
            hint = _GRAD_HINTS[key]
            if key == "dx":
                hint = _first_match(got, _dx_mistakes(x, gamma, dout, eps, axis)) or hint
            wrong.append(f"  {key}: relative error {err:.1e} (should be below {GRAD_TOL:.0e}); {hint}")
    if wrong:
        what = "batch normalization" if kind == "batchnorm" else "layer normalization"
        raise AssertionError(f"{where} does not match the numerical gradient of {what}:\n" + "\n".join(wrong))


def check_batchnorm_backward(batchnorm_backward, seed: int | None = None) -> None:
    """``batchnorm_backward(dout, cache)`` on two hidden minibatches, against numerical gradients.

    The cache is the prescribed ``('train', x, x_hat, inv_std, gamma, eps)``, built here (so a mistake
    in the forward pass does not cost these points).
    """
    _check_norm_backward(batchnorm_backward, "batchnorm_backward", "batchnorm", seed)


def check_batchnorm_backward_alt(batchnorm_backward_alt, seed: int | None = None) -> None:
    """Same as :func:`check_batchnorm_backward` for the closed form (its speed is not graded)."""
    _check_norm_backward(batchnorm_backward_alt, "batchnorm_backward_alt", "batchnorm", seed)


def check_layernorm_backward(layernorm_backward, seed: int | None = None) -> None:
    """``layernorm_backward(dout, (x_hat, inv_std, gamma))`` against numerical gradients.

    ``inv_std`` has shape ``(N, 1)``: one value per example, kept as a column.
    """
    _check_norm_backward(layernorm_backward, "layernorm_backward", "layernorm", seed)


# ---------------------------------------------------------------------------------------------
# layernorm_forward


def _check_ln_cache(name: str, cache, x_hat, inv_std, gamma) -> None:
    """The forward pass's cache must be the prescribed ``(x_hat, inv_std, gamma)``."""
    layout = "(x_hat, inv_std, gamma)"
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        found = f"{len(cache)} values" if isinstance(cache, (tuple, list)) else type(cache).__name__
        raise AssertionError(f"{name} should return the cache {layout} prescribed in its docstring, got {found}.")
    for i, (what, want) in enumerate((("x_hat", x_hat), ("inv_std", inv_std), ("gamma", gamma))):
        got = _cache_entry(name, f"entry {i} of the cache ({what})", cache[i], [want.shape])
        if got is None or not _close(got, want):
            shape = " of shape (N, 1), 1 / sqrt(var + eps) of each example" if what == "inv_std" else ""
            raise AssertionError(f"{name}: entry {i} of the cache {layout} should be {what}{shape}.")


def check_layernorm_forward(layernorm_forward, seed: int | None = None) -> None:
    """Layer-normalization forward: per-example statistics, gamma/beta, eps, no mode dependence.

    On a hidden batch whose examples have very different means and scales:

    1. with gamma = 1, beta = 0 and ``ln_param = {}``: each example (row) of the output has mean 0 and
       the standard deviation of a standardization with the biased variance and eps = 1e-5;
    2. with other gamma, beta and ``eps`` in ``ln_param``: the output matches
       :func:`course_lib.layers.layernorm_forward`, in ``'train'`` and ``'test'`` mode alike;
    3. the cache is ``(x_hat, inv_std, gamma)`` with ``inv_std`` of shape ``(N, 1)``;
    4. an example alone in its batch gives the same row.
    """
    name = "layernorm_forward"
    rng = make_rng(child_seeds(seed, 3)[2])
    n, d = 7, 9
    x = rng.uniform(-6.0, 6.0, (n, 1)) + rng.uniform(0.5, 5.0, (n, 1)) * rng.standard_normal((n, d))
    x[2] = 0.01 * rng.standard_normal(d) + 3.0  # a nearly constant example: eps matters
    gamma = rng.uniform(0.5, 3.0, d)
    beta = rng.uniform(-4.0, 4.0, d)
    ones, zeros = np.ones(d), np.zeros(d)

    out, _ = forward_pair(name, layernorm_forward, x.copy(), ones.copy(), zeros.copy(), {}, shape=x.shape)
    want = _standardize(x, 1, 1e-5)
    mistakes = [
        (_standardize(x, 0, 1e-5),
         "it normalizes each feature over the batch (axis 0), which is batch normalization; layer normalization "
         "normalizes each example over its own features (axis 1) [Ba, Kiros & Hinton 2016]."),
        (_standardize(x, 1, 1e-5, ddof=1),
         "it uses the unbiased variance (dividing by D - 1); use the biased variance over the D features."),
        ((x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-5),
         "eps is added to the standard deviation; it belongs inside the square root."),
        ((x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True), "eps is missing: divide by sqrt(var + eps)."),
        (zeros * want + ones, "gamma and beta are swapped: out = gamma * x_hat + beta."),
    ]
    if not _close(out, want):
        hint = _first_match(out, mistakes)
        raise AssertionError(
            f"With gamma = 1 and beta = 0, the output of {name} is not each example standardized over its features: "
            + (hint or "subtract each example's mean over its features and divide by sqrt(var + eps) "
                       "(biased variance over the features, eps = ln_param.get('eps', 1e-5)).")
        )

    eps = 1e-3
    want = gamma * _standardize(x, 1, eps) + beta
    for mode in ("train", "test"):
        param = {"mode": mode, "eps": eps}
        got, cache = forward_pair(name, layernorm_forward, x.copy(), gamma.copy(), beta.copy(), param, shape=x.shape)
        if not _close(got, want):
            candidates = [
                (gamma * _standardize(x, 1, 1e-5) + beta, "it ignores ln_param['eps']; use ln_param.get('eps', 1e-5)."),
                (beta * _standardize(x, 1, eps) + gamma, "gamma and beta are swapped: out = gamma * x_hat + beta."),
                (_standardize(x, 1, eps), "gamma and beta are not applied: out = gamma * x_hat + beta."),
            ]
            hint = _first_match(got, candidates)
            where = "" if mode == "train" else (" in test mode (layer normalization keeps no running averages and "
                                                "behaves the same in both modes)")
            raise AssertionError(
                f"The output of {name} with nontrivial gamma, beta and eps is wrong{where}: "
                + (hint or "out = gamma * x_hat + beta, with x_hat each example standardized over its features.")
            )
    _check_ln_cache(name, cache, _standardize(x, 1, eps), 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps), gamma)
    one, _ = forward_pair(name, layernorm_forward, x[4:5].copy(), gamma.copy(), beta.copy(), {"eps": eps},
                          shape=(1, d))
    if not _close(one, want[4:5]):
        raise AssertionError(f"{name} gives a different result for an example alone in its batch: layer "
                             f"normalization must use each example's own statistics only.")



# ---------------------------------------------------------------------------------------------
# The batchnorm assignment's network


#: The hidden check of each normalization layer the net check may be given.
_NORM_CHECKS = MappingProxyType({
    "batchnorm_forward": check_batchnorm_forward, "batchnorm_backward": check_batchnorm_backward,
    "batchnorm_backward_alt": check_batchnorm_backward_alt, "layernorm_forward": check_layernorm_forward,
    "layernorm_backward": check_layernorm_backward,
})


def check_fully_connected_net(FullyConnectedNet, *, batchnorm_forward=None, batchnorm_backward=None,
                              batchnorm_backward_alt=None, layernorm_forward=None, layernorm_backward=None,
                              seed: int | None = None) -> None:
    """The student's ``FullyConnectedNet`` with ``normalization=None``, ``'batchnorm'`` and ``'layernorm'``.

    1. Given fixed parameters, scores, loss and gradients against the reference (or the reference
       architecture composed of the student's layers, passed as keywords): see :func:`check_norm_net`.
       The layer-normalization case runs once ``layernorm_forward`` and ``layernorm_backward`` pass
       their own checks (the extension is graded in their cells until then).
    2. Training: :func:`check_batchnorm_trains`. A failure there is waived when one of the student's
       batch-normalization layers given as keywords fails its own check: that layer's cell already loses
       its points.
    """
    layers = {"batchnorm_forward": batchnorm_forward, "batchnorm_backward": batchnorm_backward,
              "batchnorm_backward_alt": batchnorm_backward_alt}
    check_norm_net(FullyConnectedNet, normalization=None, seed=seed)
    check_norm_net(FullyConnectedNet, normalization="batchnorm", seed=seed, **layers)
    ln_layers = {"layernorm_forward": layernorm_forward, "layernorm_backward": layernorm_backward}
    if None not in ln_layers.values() and not failing_layers(ln_layers, _NORM_CHECKS):
        check_norm_net(FullyConnectedNet, normalization="layernorm", seed=seed, **ln_layers)
    try:
        check_batchnorm_trains(FullyConnectedNet, seed=seed)
    except AssertionError:
        if not failing_layers(layers, _NORM_CHECKS):
            raise
