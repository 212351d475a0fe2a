"""Hidden checks of the ``batchnorm`` assignment (grader-side, never released), one per exercise.

Each ``check_<exercise>`` takes the student's objects (plain callables under nbgrader, where the test
cell runs in the kernel; :class:`autograder.remote.RemoteHandle` proxies under the grader) and only
calls them with data: numpy arrays, numbers, strings and dicts/lists/tuples of those. Whatever comes
back is validated here, and every verdict is computed in this process against the repository's
:mod:`course_lib` (:func:`autograder.checks.reference`) or numerical gradients. A failed check raises
``AssertionError`` whose message says what is wrong and how to fix it, never an expected value. Inputs
come from :func:`autograder.checks.make_rng` and differ from the notebook's visible checks.

Isolation (``docs/notebooks.md``): a backward pass receives the cache the notebook prescribes, built
here (batch normalization: ``(mode, x, x_hat, inv_std, gamma, eps)``; layer normalization:
``(x_hat, inv_std, gamma)``), never the student's forward output; the forward checks verify that the
forward pass returns exactly that cache. The network check compares the student's net with the
reference net, or with the reference architecture composed of the student's own layers
(:func:`agrees_with_own_layers`), and its training check is waived when the student's layers fail their own
checks (their cells already lose those points).

References
----------
.. [BN] S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
   Internal Covariate Shift", ICML 2015 (Algorithm 1: biased minibatch variance, eps inside the
   square root; Algorithm 2: population statistics at inference).
.. [LN] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from autograder.checks import (
    as_array,
    as_float,
    assert_close_dict,
    call,
    make_rng,
    numerical_gradient_array,
    reference,
    relative_error,
    singleton_reshape,
    unpack,
)
from autograder.sandbox import KernelError

__all__ = [
    "GRAD_TOL",
    "LAYER_NAMES",
    "TRAIN_SETUP",
    "finite_array",
    "forward_pair",
    "child_seeds",
    "failing_layers",
    "own_layer_tables",
    "agrees_with_own_layers",
    "check_norm_net",
    "training_data",
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


# ---------------------------------------------------------------------------------------------
# Small tools (on top of autograder.checks), also used by the dropout and deep_networks checks


def finite_array(where: str, name: str, value, shape=None) -> np.ndarray:
    """:func:`autograder.checks.as_array`, and no NaN or infinity."""
    arr = as_array(where, name, value, shape)
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where}: {name} contains NaN or infinite values.")
    return arr


def forward_pair(where: str, fn, *args, shape=None):
    """Call a forward pass; return its output (checked array) and its cache (passed back as is)."""
    out, cache = unpack(where, call(where, fn, *args), ("out", "cache"))
    return finite_array(where, "out", out, shape), cache


def _ref():
    return reference("layers")


def child_seeds(seed: int | None, k: int) -> list[int]:
    """``k`` integer seeds drawn from ``make_rng(seed)`` (so one ``seed`` varies every input)."""
    return [int(v) for v in make_rng(seed).integers(0, 2**31 - 1, size=k)]


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
# Networks with normalization (and dropout): the student's FullyConnectedNet
#
# Isolation: the student's net necessarily calls the student's layers. A case passes when the net's
# outputs equal the reference net's, or -- the fallback, :func:`agrees_with_own_layers` -- the same
# architecture composed of the student's own layer functions (one network core for both,
# ``course_lib.fc_net.network_loss``, with the student's proxies in its layer table): a correct net on
# top of a wrong layer passes (that layer's own cell fails), a wrong net fails either way. The fallback
# never trusts a student function to be pure: see :func:`agrees_with_own_layers`.

_NET_TOL = 1e-7

#: Keyword names of the student functions a net check accepts (all optional).
LAYER_NAMES = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
               "layernorm_backward", "dropout_forward", "dropout_backward")


def failing_layers(student: Mapping[str, Callable | None], checks: Mapping[str, Callable]) -> set[str]:
    """Names of the student's functions (None skipped) that fail their own hidden check in ``checks``."""
    failing = set()
    for name, fn in student.items():
        if fn is None or name not in checks:
            continue
        try:
            checks[name](fn)
        except AssertionError:
            failing.add(name)
    return failing


def own_layer_tables(student: Mapping[str, Callable | None],
                     checks: Mapping[str, Callable] = MappingProxyType({})) -> list[dict]:
    """Layer tables for the fallback: ``course_lib.fc_net.LAYERS`` with the student's layers put in.

    A student function named ``<entry>`` or ``<entry>_alt`` replaces the table's ``<entry>``; when two
    replace one entry (the graph and the closed-form batch-normalization backward, either of which the
    net may call) each gives a table. A function that has a check in ``checks`` is put in only when it
    *fails* that check: where it passes, the reference stands in for it, so a correct layer never gets
    to compute part of the yardstick (fc_nets gives checks, since there the student's layers would
    compute the loss and every gradient). Empty when no student layer is left, i.e. no second opinion.
    """
    reference_layers = reference("fc_net").LAYERS
    left = {k: v for k, v in student.items() if v is not None}
    passing = {k for k in left if k in checks} - failing_layers(left, checks)
    left = {k: v for k, v in left.items() if k not in passing}
    options: dict[str, list] = {}
    for name, fn in left.items():
        entry = name.removesuffix("_alt")
        if entry not in reference_layers:
            raise TypeError(f"own_layer_tables: {name!r} is not a layer of course_lib.fc_net.LAYERS")
        options.setdefault(entry, []).append(fn)
    tables = [dict(reference_layers)] if options else []
    for entry, fns in options.items():
        tables = [{**t, entry: fn} for t in tables for fn in fns]
    return tables


def agrees_with_own_layers(run_net: Callable[[], list], compose: Callable[[Mapping], list],
                           tables: Sequence[Mapping], mismatch: Callable[[int, object, object], str | None]) -> bool:
    """Whether the student's net computes the reference architecture composed of the student's layers.

    ``run_net()`` gives the net's outputs (a list, one per step) on inputs that no student code has seen
    yet; ``compose(table)`` gives :func:`course_lib.fc_net.network_loss`'s outputs for the same steps
    with a table of :func:`own_layer_tables`; ``mismatch(step, got, want)`` is None when they agree.

    The student's functions run in one kernel and may keep state, so the order is fixed: for every
    table the composition runs (1) *before* the net ever sees these inputs, so a layer cannot replay the
    net's outputs; then (2) the net; then (3) the composition again. The net passes iff, for some
    table, (3) equals (1) -- the layers did not change their behaviour after the net ran -- and the net's
    outputs equal them. In the batchnorm and dropout nets the loss and the gradients of the
    composition are computed here by reference layers from what the student's normalization/dropout
    layers return, so they never exist in the kernel before the net runs: the net can only match by
    computing them. In fc_nets only layers that fail their own check are put in (:func:`own_layer_tables`);
    what is left open there: a net that reads back what its ``softmax_loss`` and ``affine_backward``
    recorded during (1), when both fail their checks here (docs/notebooks.md). A composition that
    raises (an unfinished layer) gives no second opinion.
    """
    pre = {}
    for k, table in enumerate(tables):
        try:
            pre[k] = compose(table)
        except KernelError:
            raise
        except Exception:  # noqa: BLE001 - the student's layers are unfinished or broken: no second opinion
            continue
    if not pre:
        return False
    got = run_net()
    for k, want in pre.items():
        try:
            post = compose(tables[k])
        except KernelError:
            raise
        except Exception:  # noqa: BLE001 - as above
            continue
        if all(_agree(mismatch, step, post, want) and _agree(mismatch, step, got, want) for step in range(len(want))):
            return True
    return False


def _agree(mismatch, step: int, got: list, want: list) -> bool:
    try:
        return len(got) == len(want) and mismatch(step, got[step], want[step]) is None
    except Exception:  # noqa: BLE001 - outputs of the student's layers that cannot even be compared
        return False


def _mismatch(where: str, got, want, with_labels: bool) -> str | None:
    """None when the net's output equals ``want``; else what is wrong (relative errors, no values).

    Gradients are compared as one set (:func:`autograder.checks.assert_close_dict`): a gradient that is
    zero in exact arithmetic (a bias in front of batch normalization) passes as rounding noise.
    """
    try:
        if not with_labels:
            arr = finite_array(where, "the scores returned by loss(X)", got, np.shape(want))
            err = relative_error(arr, want)
            return None if err <= _NET_TOL else f"{where}: the scores are wrong (relative error {err:.1e})."
        loss, grads = unpack(where, got, ("loss", "grads"))
        want_loss, want_grads = want
        err = relative_error(np.array(as_float(where, "the loss", loss)), np.array(want_loss))
        if not err <= _NET_TOL:
            return f"{where}: the loss is wrong (relative error {err:.1e})."
        assert_close_dict(where, "grads", grads, want_grads, _NET_TOL)
    except AssertionError as exc:
        return str(exc)
    return None


def _read_dict(where: str, model, attr: str) -> dict:
    try:
        value = getattr(model, attr)
    except AttributeError:
        raise AssertionError(f"{where}: the net has no attribute {attr}.") from None
    if not isinstance(value, dict):
        raise AssertionError(f"{where}: self.{attr} must be a dict, got {type(value).__name__}.")
    return {str(k): v for k, v in dict(value).items()}


def _norm_param_list(where: str, model, n_hidden: int) -> None:
    try:
        value = model.bn_params
    except AttributeError:
        raise AssertionError(f"{where}: the net has no attribute bn_params: keep one param dict per normalization "
                             f"layer in self.bn_params (a list).") from None
    if not isinstance(value, (list, tuple)) or len(value) != n_hidden:
        raise AssertionError(f"{where}: self.bn_params must be a list with one dict per hidden layer "
                             f"({n_hidden} here).")


def _net_options(normalization, position, dropout, with_position: bool) -> dict:
    """Constructor keywords of the course's FullyConnectedNet for one configuration."""
    options = {"normalization": normalization} if normalization is not None else {}
    if with_position:
        options["norm_position"] = position
    if dropout is not None:
        options.update(dropout_keep_ratio=dropout[0], dropout_seed=dropout[1])
    return options


def _check_norm_init(FullyConnectedNet, options: dict) -> None:
    normalization = options["normalization"]
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
    for hidden, d, c in (([9, 7], 6, 4), ([5, 4, 6], 3, 5)):
        where = f"FullyConnectedNet({hidden}, input_dim={d}, num_classes={c}, {shown})"
        model = call(where, FullyConnectedNet, list(hidden), input_dim=d, num_classes=c, weight_scale=0.1,
                     dtype="float64", **options)
        params = _read_dict(where, model, "params")
        n = len(hidden) + 1
        want = sorted([f"W{i}" for i in range(1, n + 1)] + [f"b{i}" for i in range(1, n + 1)]
                      + [f"gamma{i}" for i in range(1, n)] + [f"beta{i}" for i in range(1, n)])
        if sorted(params) != want:
            raise AssertionError(f"{where}: params has keys {sorted(params)}; it must have {want}: a gamma and a "
                                 f"beta for every hidden layer, none for the output layer.")
        for i, width in enumerate(hidden, start=1):
            g = finite_array(where, f"params['gamma{i}']", params[f"gamma{i}"], (width,))
            b = finite_array(where, f"params['beta{i}']", params[f"beta{i}"], (width,))
            if np.any(g != 1) or np.any(b != 0):
                raise AssertionError(f"{where}: gamma{i} must start at ones and beta{i} at zeros (the {normalization} "
                                     f"layer starts as a plain standardization).")
        _norm_param_list(where, model, len(hidden))


#: The three calls of every net case: ``loss(X, y)``, ``loss(X)``, ``loss(X, y)`` (with labels or not).
_NET_STEPS = (True, False, True)


def _net_case(rng, hidden, in_shape, c, normalization) -> dict:
    """Random parameters, a batch and running averages for one case of :func:`check_norm_net`."""
    dims = [int(np.prod(in_shape)), *hidden, c]
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = rng.normal(size=(dims[i - 1], dims[i])) / np.sqrt(dims[i - 1])
        params[f"b{i}"] = 0.1 * rng.normal(size=dims[i])
        if normalization is not None and i < len(dims) - 1:
            params[f"gamma{i}"] = rng.uniform(0.5, 1.5, dims[i])
            params[f"beta{i}"] = 0.3 * rng.normal(size=dims[i])
    X = rng.normal(size=(8, *in_shape))
    y = rng.integers(0, c, size=8)
    running = [{"running_mean": rng.normal(size=h), "running_var": rng.uniform(0.5, 2.0, h)} for h in hidden]
    return {"params": params, "X": X, "y": y, "running": running}


def _compose_steps(layers: Mapping, case: dict, *, reg: float, normalization, position, dropout) -> list:
    """``network_loss`` with the layer table ``layers`` for every step of :data:`_NET_STEPS`, on copies."""
    network_loss = reference("fc_net").network_loss
    outputs = []
    for with_labels in _NET_STEPS:
        norm_params = ([{k: v.copy() for k, v in r.items()} for r in case["running"]] if normalization == "batchnorm"
                       else [{} for _ in case["running"]] if normalization else [])
        drop = None if dropout is None else {"p": dropout[0], "seed": dropout[1]}
        outputs.append(network_loss({k: v.copy() for k, v in case["params"].items()}, case["X"].copy(),
                                    case["y"].copy() if with_labels else None, layers=layers,
                                    normalization=normalization, norm_position=position, norm_params=norm_params,
                                    dropout_param=drop, reg=reg))
    return outputs


def _run_net_steps(where: str, model, case: dict, normalization) -> list:
    """The student's net on ``case``: its params set, then every step of :data:`_NET_STEPS`."""
    try:
        model.params = {k: v.copy() for k, v in case["params"].items()}
    except AttributeError:
        raise AssertionError(f"{where}: cannot set params; keep the parameters in self.params.") from None
    outputs = []
    for with_labels in _NET_STEPS:
        what = _step_label(where, with_labels, normalization)
        if normalization == "batchnorm":
            # A known state (running averages, and the opposite mode: the net must set the mode).
            model.bn_params = [{"mode": "test" if with_labels else "train", **{k: v.copy() for k, v in r.items()}}
                               for r in case["running"]]
        X = case["X"].copy()
        outputs.append(call(what, model.loss, X, case["y"].copy()) if with_labels else call(what, model.loss, X))
    return outputs


def _step_label(where: str, with_labels: bool, normalization) -> str:
    what = f"{where}.loss(X, y)" if with_labels else f"{where}.loss(X)"
    return what + (" after setting the running averages in bn_params" if normalization == "batchnorm" else "")


def _net_hint(with_labels: bool, reg: float, normalization, position, dropout) -> str:
    if with_labels and reg:
        return (" Check the regularization: 0.5 * reg * sum(W**2) over the weights only (not gammas "
                "or betas), and reg * W in each weight's gradient.")
    if not with_labels:
        return (" Without labels the net runs in test mode: set every bn_param's (and the dropout "
                "param's) 'mode' to 'test' before the forward pass.")
    parts = ["affine", "relu"]
    if normalization is not None:
        parts.insert(1 if position == "before" else 2, normalization)
    if dropout is not None:
        parts.append("dropout")
    hint = f" Each hidden layer is {' - '.join(parts)}"
    hint += (", with gamma{i}, beta{i} and bn_params[i-1]." if normalization else ".")
    if normalization is not None:
        hint += " In training mode, every bn_param's 'mode' must be 'train' (also after a test-mode call)."
    return hint


def check_norm_net(FullyConnectedNet, *, normalization: str | None = "batchnorm", positions=("before",),
                   with_position: bool = False, dropout: tuple[float, int] | None = None, seed: int | None = None,
                   layer_checks: Mapping[str, Callable] = MappingProxyType({}), **student) -> None:
    """The student's ``FullyConnectedNet`` with normalization and/or dropout, against the reference.

    For every position in ``positions`` (passed as ``norm_position`` when ``with_position``): the initial
    parameters (gammas ones, betas zeros, one param dict per hidden layer in ``bn_params``); then, given
    random parameters, ``loss(X, y)`` (training mode) and, after setting the running averages in
    ``bn_params``, ``loss(X)`` (test mode) against the reference net, computed first by
    ``course_lib.fc_net.network_loss``. ``dropout`` is ``(dropout_keep_ratio, dropout_seed)``; with a fixed
    seed every forward pass draws the same masks. Each case calls ``loss(X, y)``, ``loss(X)`` and
    ``loss(X, y)`` again, so a net that leaves its layers in test mode fails.

    A case the net gets wrong is judged again on fresh inputs against the same architecture composed of
    the student's layers (keyword arguments, see :data:`LAYER_NAMES`; those with a check in
    ``layer_checks`` only when they fail it): :func:`agrees_with_own_layers`.
    """
    unknown = sorted(set(student) - set(LAYER_NAMES))
    if unknown:
        raise TypeError(f"check_norm_net: unknown layer keyword(s) {unknown}; use {LAYER_NAMES}")
    rng = make_rng(child_seeds(seed, 4)[3])
    reference_layers = reference("fc_net").LAYERS
    tables = None  # the student's layer tables, built at the first disagreement
    for position in positions:
        options = _net_options(normalization, position, dropout, with_position)
        if normalization is not None:
            _check_norm_init(FullyConnectedNet, options)
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
        setup = {"normalization": normalization, "position": position, "dropout": dropout}
        for hidden, in_shape, c, reg in (([7, 5], (6,), 4, 0.0), ([5, 6, 4], (2, 3), 3, 0.3)):
            case = _net_case(rng, hidden, in_shape, c, normalization)
            want = _compose_steps(reference_layers, case, reg=reg, **setup)  # before any student code runs
            d = int(np.prod(in_shape))
            where = f"FullyConnectedNet({hidden}, input_dim={d}, num_classes={c}, reg={reg}, {shown})"
            model = call(where, FullyConnectedNet, list(hidden), input_dim=d, num_classes=c, reg=reg, dtype="float64",
                         **options)
            got = _run_net_steps(where, model, case, normalization)

            def mismatch(step, got_k, want_k, where=where):
                return _mismatch(_step_label(where, _NET_STEPS[step], normalization), got_k, want_k, _NET_STEPS[step])

            failed = next((k for k in range(len(_NET_STEPS)) if mismatch(k, got[k], want[k]) is not None), None)
            if failed is None:
                continue
            if tables is None:
                tables = own_layer_tables(student, layer_checks)
            fresh = _net_case(rng, hidden, in_shape, c, normalization)
            if tables and agrees_with_own_layers(
                    # mypy cannot type a lambda whose defaults bind loop variables (python/mypy#15459): ignored
                    lambda where=where, model=model, fresh=fresh: _run_net_steps(where, model, fresh, normalization),  # type: ignore[misc]
                    lambda table, fresh=fresh, reg=reg, setup=setup: _compose_steps(table, fresh, reg=reg, **setup),  # type: ignore[misc]
                    tables, mismatch):
                continue
            raise AssertionError(mismatch(failed, got[failed], want[failed])
                                 + _net_hint(_NET_STEPS[failed], reg, normalization, position, dropout))


# ---------------------------------------------------------------------------------------------
# Batch normalization makes a deep net trainable


#: The training experiment of :func:`check_batchnorm_trains`: a deep narrow net with a bad init scale,
#: trained with plain SGD on minibatches drawn with replacement (as cs231n's Solver does).
#: Read-only (a student's function may edit what it receives; only copies are ever passed to it).
TRAIN_SETUP: Mapping[str, Any] = MappingProxyType({"hidden_dims": (40,) * 5, "weight_scale": 1e-2, "learning_rate": 0.1,
                                "batch_size": 50, "num_epochs": 10})
_MIN_ACC, _MIN_GAP = 0.75, 0.4


def training_data(seed: int, n_train: int = 500, n_val: int = 200, dim: int = 20, classes: int = 5,
                  clusters: int = 3) -> dict[str, np.ndarray]:
    """Synthetic classification data: ``clusters`` Gaussian blobs per class, in ``dim`` dimensions.

    Easy for a trained net (the reference with batch normalization reaches 92-100 % validation
    accuracy), yet the 6-layer net of :data:`TRAIN_SETUP` without batch normalization stays at chance
    (about 20 %): its activations and gradients vanish through five layers of weights with standard
    deviation 0.01.
    """
    rng = make_rng(seed)
    centers = rng.normal(size=(classes * clusters, dim))

    def draw(n):
        k = rng.integers(0, classes * clusters, size=n)
        return centers[k] + 0.6 * rng.normal(size=(n, dim)), k % classes

    X_train, y_train = draw(n_train)
    X_val, y_val = draw(n_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def _initial_params(dims: list[int], weight_scale: float, seed: int, normalization: bool) -> dict:
    """Seeded initial parameters: W ~ weight_scale * N(0, 1), zero biases, unit gammas, zero betas."""
    rng = make_rng(seed)
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = weight_scale * rng.standard_normal((dims[i - 1], dims[i]))
        params[f"b{i}"] = np.zeros(dims[i])
        if normalization and i < len(dims) - 1:
            params[f"gamma{i}"] = np.ones(dims[i])
            params[f"beta{i}"] = np.zeros(dims[i])
    return params


def _batch_stat_accuracy(params: dict, X: np.ndarray, y: np.ndarray, normalization: bool) -> float:
    """Accuracy of the reference architecture; batch normalization uses the statistics of all of ``X``.

    Using the statistics of the evaluation set (not the net's running averages) judges the trained
    weights alone; the running averages have a check of their own.
    """
    n_hidden = sum(1 for k in params if k.startswith("W")) - 1
    with np.errstate(all="ignore"):
        scores = reference("fc_net").network_loss(params, X, normalization="batchnorm" if normalization else None,
                                                  norm_params=[{} for _ in range(n_hidden)] if normalization else (),
                                                  mode="train")
    if not np.all(np.isfinite(scores)):
        return 0.0
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _sgd(loss_fn, params: dict, data: dict, seed: int) -> tuple[dict, bool]:
    """Plain SGD on ``loss_fn(params, X, y) -> (loss, grads)``; returns the parameters and whether it diverged.

    The loop runs here (grader-side) and only the loss and its gradients come from ``loss_fn``, so the
    student's net cannot influence anything but its own gradients.
    """
    s = TRAIN_SETUP
    rng = make_rng(seed + 1)
    n = data["X_train"].shape[0]
    params = {k: v.copy() for k, v in params.items()}
    for _ in range(s["num_epochs"] * max(n // s["batch_size"], 1)):
        idx = rng.integers(0, n, size=s["batch_size"])
        loss, grads = loss_fn(params, data["X_train"][idx], data["y_train"][idx])
        if not np.isfinite(loss) or not all(np.all(np.isfinite(grads[k])) for k in params):
            return params, True
        for k in params:
            params[k] = params[k] - s["learning_rate"] * grads[k]
    return params, False


def _student_loss(where: str, model):
    """``loss_fn`` for :func:`_sgd` that sets the student's model's params and calls its ``loss``."""
    def loss_fn(params, X, y):
        model.params = {k: v.copy() for k, v in params.items()}
        loss, grads = unpack(f"{where}.loss(X, y)", call(f"{where}.loss(X, y)", model.loss, X, y), ("loss", "grads"))
        if not isinstance(grads, dict) or sorted(grads) != sorted(params):
            raise AssertionError(f"{where}.loss(X, y): grads must be a dict with the keys of params.")
        with np.errstate(all="ignore"):
            return (float(np.asarray(loss, dtype=np.float64)),
                    {k: as_array(where, f"grads['{k}']", grads[k], params[k].shape) for k in params})
    return loss_fn


def _reference_loss(dims: list[int]):
    fc = reference("fc_net")
    net = fc.FullyConnectedNet(dims[1:-1], input_dim=dims[0], num_classes=dims[-1], dtype=np.float64)

    def loss_fn(params, X, y):
        net.params = params
        with np.errstate(all="ignore"):
            return net.loss(X, y)
    return loss_fn


def check_batchnorm_trains(FullyConnectedNet, seed: int | None = None) -> None:
    """Batch normalization makes the deep narrow net of :data:`TRAIN_SETUP` train clearly better.

    For two seeds, the student's ``FullyConnectedNet(normalization='batchnorm')`` computes the loss and
    gradients (in the student's kernel) of a plain SGD run driven from here on hidden synthetic data
    (:func:`training_data`), from seeded initial parameters. The trained parameters are evaluated here
    with the reference forward pass: each run must reach a validation accuracy of at least 0.75, and
    the mean must beat the same net (reference code, same initialization, same minibatches) without
    batch normalization by at least 0.4. Measured with this code on 12 seeds (0 to 11): 0.92 to 1.0 with
    the reference batch normalization, 0.16 to 0.23 without; a batch normalization that does not
    normalize stays below 0.28, one that uses the running averages during training diverges
    (tests/test_checks.py).
    """
    s = TRAIN_SETUP
    accs, base, diverged = [], [], False
    for run_seed in child_seeds(seed, 7)[4:6]:
        data = training_data(run_seed)
        d, c = data["X_train"].shape[1], int(data["y_train"].max()) + 1
        dims = [d, *s["hidden_dims"], c]
        where = (f"FullyConnectedNet({list(s['hidden_dims'])}, input_dim={d}, num_classes={c}, "
                 f"normalization='batchnorm', dtype='float64')")
        model = call(where, FullyConnectedNet, list(s["hidden_dims"]), input_dim=d, num_classes=c,
                     weight_scale=s["weight_scale"], normalization="batchnorm", dtype="float64")
        missing = sorted(set(_initial_params(dims, 1.0, 0, True)) - set(_read_dict(where, model, "params")))
        if missing:
            raise AssertionError(f"{where}: params has no {', '.join(map(repr, missing))}; a net with batch "
                                 f"normalization has W, b, gamma and beta for every hidden layer.")
        trained, bad = _sgd(_student_loss(where, model), _initial_params(dims, s["weight_scale"], run_seed, True),
                            data, run_seed)
        diverged |= bad
        accs.append(0.0 if bad else _batch_stat_accuracy(trained, data["X_val"], data["y_val"], True))
        ref_trained, ref_bad = _sgd(_reference_loss(dims), _initial_params(dims, s["weight_scale"], run_seed, False),
                                    data, run_seed)
        base.append(0.0 if ref_bad else _batch_stat_accuracy(ref_trained, data["X_val"], data["y_val"], False))
    if min(accs) < _MIN_ACC or np.mean(accs) - np.mean(base) < _MIN_GAP:
        shown = ", ".join(f"{a:.2f}" for a in accs)
        raise AssertionError(
            f"Trained with SGD (learning rate {s['learning_rate']}, {s['num_epochs']} epochs on hidden synthetic "
            f"data), your net with batch normalization, hidden layers {list(s['hidden_dims'])} and initial weights of "
            f"standard deviation {s['weight_scale']}, reached validation accuracies of {shown}"
            f"{' (training diverged: the loss or a gradient became NaN)' if diverged else ''}: not clearly better "
            f"than the same net without batch normalization. A working batch normalization keeps every layer's "
            f"inputs standardized during training, so this net trains despite its tiny initial weights. Check "
            f"that training mode normalizes with the minibatch statistics and that loss(X, y) runs every "
            f"normalization layer in training mode."
        )


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
