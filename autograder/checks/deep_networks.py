"""Hidden checks of the ``deep_networks`` assignment (grader-side, never released).

The assignment follows KTH DD2424 assignment 3 (../shared/seeds/002_0bc2014cc60d1050.txt): k-layer
networks with He initialization, the cyclical learning rate, deep nets with and without batch
normalization, a coarse-to-fine search of the regularization strength, sensitivity to the
initialization scale, and batch normalization before or after the ReLU. Same conventions as
:mod:`autograder.checks.batchnorm`: data in, data out, verdicts computed here, messages that explain
without revealing expected values.

References
----------
.. [He15] K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
   Performance on ImageNet Classification", ICCV 2015 (std sqrt(2 / fan_in) for ReLU layers).
.. [Smith17] L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017
   (the triangular policy).
"""

from __future__ import annotations

import numpy as np

from autograder.checks import as_array, as_float, call, reference
from autograder.checks.networks import check_norm_net, child_seeds, finite_array

__all__ = ["check_init_std", "check_fully_connected_net", "check_cyclical_lr", "check_sample_lambdas"]


# ---------------------------------------------------------------------------------------------
# Initialization


def check_init_std(init_std) -> None:
    """``init_std(weight_scale, fan_in)``: He and Xavier scales by fan-in, numbers unchanged, others rejected.

    ``'he'`` gives ``sqrt(2 / fan_in)`` [He15]_, ``'xavier'`` ``sqrt(1 / fan_in)``; a number is the
    standard deviation itself, whatever the fan-in; an unknown name raises ``ValueError``.
    """
    for fan_in in (1, 7, 50, 3072):
        for name, factor in (("he", 2.0), ("xavier", 1.0)):
            where = f"init_std({name!r}, fan_in={fan_in})"
            got = as_float(where, "the result", call(where, init_std, name, fan_in))
            want = float(np.sqrt(factor / fan_in))
            if not np.isclose(got, want, rtol=1e-9, atol=0):
                candidates = [
                    (np.sqrt(factor / fan_in) if name == "xavier" else np.sqrt(1.0 / fan_in),
                     "He initialization uses a variance of 2 / fan_in (the factor 2 compensates for the ReLU "
                     "zeroing half of the inputs)."),
                    (factor / fan_in, "that is the variance; return the standard deviation, its square root."),
                    (np.sqrt(factor) / fan_in, "divide by the square root of fan_in, not by fan_in."),
                ]
                hint = next((h for v, h in candidates if np.isclose(got, v, rtol=1e-9)),
                            "'he' is sqrt(2 / fan_in) and 'xavier' sqrt(1 / fan_in), with fan_in the number of "
                            "inputs of the layer.")
                raise AssertionError(f"{where} is wrong: {hint}")
    for value in (0.05, 1e-3, 2):
        where = f"init_std({value!r}, fan_in=50)"
        got = as_float(where, "the result", call(where, init_std, value, 50))
        if not np.isclose(got, float(value), rtol=1e-12, atol=0):
            raise AssertionError(f"{where} is wrong: a number is the standard deviation itself, for any fan_in.")
    where = "init_std('kaiming_typo', fan_in=50)"
    try:
        call(where, init_std, "kaiming_typo", 50)
    except AssertionError as exc:
        if isinstance(exc.__cause__, ValueError):
            return
        raise AssertionError(f"{where} should raise ValueError naming the allowed scales; it raised something else "
                             f"({exc}).") from None
    raise AssertionError(f"{where} should raise ValueError naming the allowed scales, not return a value.")


def _student_std(init_std, weight_scale, fan_in) -> list[float]:
    """``[init_std(weight_scale, fan_in)]`` from the student's function, or ``[]`` when it cannot say."""
    if init_std is None:
        return []
    try:
        return [float(np.asarray(call("init_std", init_std, weight_scale, fan_in), dtype=np.float64))]
    except (AssertionError, TypeError, ValueError):  # unfinished or odd init_std: no second opinion
        return []


def _check_he_init(FullyConnectedNet, init_std) -> None:
    """Every W of a ``weight_scale='he'`` net has mean 0 and std ``sqrt(2 / fan_in)``.

    Large layers (at least 20 000 weights each), so the sample standard deviation is within 1 % of the
    target with overwhelming probability; 5 % is allowed. The target may also be the student's own
    ``init_std('he', fan_in)`` (a mistake there costs that exercise's points only). A float
    ``weight_scale`` keeps its meaning (or the student's ``init_std`` of it).
    """
    dims = [400, 300, 120, 200, 100]
    hidden = dims[1:-1]
    where = f"FullyConnectedNet({hidden}, input_dim={dims[0]}, num_classes={dims[-1]}, weight_scale='he')"
    model = call(where, FullyConnectedNet, hidden, input_dim=dims[0], num_classes=dims[-1], weight_scale="he",
                 dtype="float64")
    params = _params(where, model)
    for i in range(1, len(dims)):
        w = as_array(where, f"params['W{i}']", params.get(f"W{i}"), (dims[i - 1], dims[i]))
        targets = [np.sqrt(2.0 / dims[i - 1])] + _student_std(init_std, "he", dims[i - 1])
        std, mean = float(w.std()), float(w.mean())
        if not any(abs(std / t - 1) <= 0.05 and abs(mean) <= 0.05 * t for t in targets if t > 0):
            fan_out_std = np.sqrt(2.0 / dims[i])
            if abs(std - fan_out_std) < 0.05 * fan_out_std:
                hint = ("it is scaled by the layer's number of outputs; He initialization uses fan_in, the number of "
                        "inputs.")
            elif abs(std - np.sqrt(1.0 / dims[i - 1])) < 0.05 * np.sqrt(1.0 / dims[i - 1]):
                hint = "its standard deviation is sqrt(1 / fan_in) (Xavier); He initialization uses sqrt(2 / fan_in)."
            else:
                hint = ("draw each W from a normal distribution with mean 0 and standard deviation "
                        "init_std(weight_scale, fan_in).")
            raise AssertionError(f"{where}: params['W{i}'] is not He-initialized: {hint}")
        b = as_array(where, f"params['b{i}']", params.get(f"b{i}"), (dims[i],))
        if np.any(b != 0):
            raise AssertionError(f"{where}: params['b{i}'] must start at zero.")
    where = "FullyConnectedNet([300], input_dim=200, num_classes=10, weight_scale=0.02)"
    model = call(where, FullyConnectedNet, [300], input_dim=200, num_classes=10, weight_scale=0.02,
                 dtype="float64")
    w = as_array(where, "params['W1']", _params(where, model).get("W1"), (200, 300))
    targets = [0.02] + _student_std(init_std, 0.02, 200)
    if not any(t > 0 and abs(float(w.std()) / t - 1) <= 0.05 for t in targets):
        raise AssertionError(f"{where}: with a number as weight_scale, the weights' standard deviation must be that "
                             f"number.")


def check_fully_connected_net(FullyConnectedNet, *, init_std=None, seed: int | None = None) -> None:
    """The student's ``FullyConnectedNet``: He initialization and batch normalization before or after the ReLU.

    1. ``weight_scale='he'`` (see :func:`_check_he_init`; the student's ``init_std`` is accepted as the
       target too) and numeric weight scales;
    2. ``normalization='batchnorm'`` with ``norm_position='before'`` (affine - batchnorm - relu) and
       ``'after'`` (affine - relu - batchnorm): given fixed parameters, training loss and gradients and
       test-mode scores against the reference (:func:`autograder.checks.networks.check_norm_net`).
    """
    _check_he_init(FullyConnectedNet, init_std)
    check_norm_net(FullyConnectedNet, normalization="batchnorm", positions=("before", "after"), with_position=True,
                   seed=seed)
    check_norm_net(FullyConnectedNet, normalization=None, seed=seed)


def _params(where: str, model) -> dict:
    try:
        params = model.params
    except AttributeError:
        raise AssertionError(f"{where}: the net has no attribute params.") from None
    if not isinstance(params, dict):
        raise AssertionError(f"{where}: self.params must be a dict, got {type(params).__name__}.")
    return params


# ---------------------------------------------------------------------------------------------
# Cyclical learning rate


def _triangle(t: np.ndarray, eta_min: float, eta_max: float, n_s: float) -> np.ndarray:
    """Reference rates for steps ``t`` (any integers, negative allowed for the diagnoses)."""
    ref = reference("solver")
    return np.array([ref.cyclical_lr(int(s), eta_min, eta_max, n_s) if s >= 0 else np.nan for s in t])


def _clr_hint(got: np.ndarray, t: np.ndarray, eta_min: float, eta_max: float, n_s: int) -> str:
    """What is wrong with the rates ``got`` at steps ``t`` (common mistakes first)."""
    scale = eta_max - eta_min

    def same(other, mask=None):
        m = np.isfinite(other) if mask is None else mask & np.isfinite(other)
        return bool(np.allclose(got[m], other[m], rtol=1e-9, atol=1e-12 * scale))

    want = _triangle(t, eta_min, eta_max, n_s)
    period = int(2 * n_s)
    if same(_triangle(t + 1, eta_min, eta_max, n_s)) or same(_triangle(t - 1, eta_min, eta_max, n_s)):
        return ("the schedule is shifted by one step. t counts update steps from 0, and the rate at t = 0 is "
                "eta_min (the first update uses eta_min).")
    if same(_triangle(t + n_s, eta_min, eta_max, n_s)):
        return "the cycle starts at eta_max and decreases first; it starts at eta_min and rises."
    if same(want, t < period) or same(want, t < period + 1):
        return ("the first cycle is right but the schedule does not repeat: with l = floor(t / (2 n_s)), use the "
                "position t - 2 l n_s inside the current cycle.")
    if same(eta_min + (t % n_s) / n_s * scale):
        return "the rate jumps back to eta_min after n_s steps; it must fall linearly for n_s steps first."
    if same(_triangle(2 * t, eta_min, eta_max, n_s)):
        return "one cycle is 2 * n_s steps: n_s steps up, then n_s steps down."
    if not np.isclose(got[0], eta_min, rtol=1e-9, atol=1e-12 * scale):
        return "the rate at t = 0 must be eta_min."
    return ("rising half: eta_min + (t - 2 l n_s) / n_s * (eta_max - eta_min); falling half: "
            "eta_max - (t - (2 l + 1) n_s) / n_s * (eta_max - eta_min), with l = floor(t / (2 n_s)).")


def check_cyclical_lr(cyclical_lr) -> None:
    """``cyclical_lr(t, eta_min, eta_max, n_s)`` for the first two cycles and a half, three settings.

    The triangular policy [Smith17]_ as in DD2424: step ``t`` counts updates from 0, the rate is
    ``eta_min`` at ``t = 0``, rises linearly to ``eta_max`` at ``t = n_s``, falls back to ``eta_min`` at
    ``t = 2 n_s``, and repeats with period ``2 n_s``.
    """
    for eta_min, eta_max, n_s in ((2e-4, 3e-2, 37), (1e-5, 1e-1, 5), (0.0, 0.5, 1)):
        t = np.arange(0, 5 * n_s + 3)
        where = f"cyclical_lr(t, eta_min={eta_min}, eta_max={eta_max}, n_s={n_s})"
        got = np.array([as_float(f"cyclical_lr({s}, {eta_min}, {eta_max}, {n_s})", "the result",
                                 call(where, cyclical_lr, int(s), eta_min, eta_max, n_s)) for s in t])
        want = _triangle(t, eta_min, eta_max, n_s)
        close = np.isclose(got, want, rtol=1e-9, atol=1e-12 * (eta_max - eta_min))
        if close.all():
            continue
        bad = int(np.argmin(close))
        raise AssertionError(f"{where} is wrong (first at t = {bad}): {_clr_hint(got, t, eta_min, eta_max, n_s)}")


# ---------------------------------------------------------------------------------------------
# Coarse-to-fine search of the regularization strength


def check_sample_lambdas(sample_lambdas, seed: int | None = None) -> None:
    """``sample_lambdas(l_min, l_max, n, seed)``: ``10**l`` with ``l`` uniform on ``[l_min, l_max]``.

    As in DD2424's coarse-to-fine search, the exponent is sampled uniformly, so every decade gets the
    same share of the samples. Checked: shape, range, reproducibility for a seed, different values for
    another seed, and the distribution of the exponents (Kolmogorov-Smirnov distance to the uniform
    distribution below 0.04 for 5000 samples; a correct sampler is there with probability above
    1 - 1e-6, sampling lambda itself uniformly gives about 0.7).
    """
    name = "sample_lambdas"
    s1, s2 = (int(v) % 10_000 for v in child_seeds(seed, 2))
    for l_min, l_max, n in ((-5.0, -1.0, 5000), (-3.5, -2.0, 7)):
        where = f"{name}({l_min}, {l_max}, n={n}, seed={s1})"
        got = finite_array(where, "the result", call(where, sample_lambdas, l_min, l_max, n, s1), (n,))
        lo, hi = 10.0**l_min, 10.0**l_max
        if np.any(got < lo * (1 - 1e-12)) or np.any(got > hi * (1 + 1e-12)):
            inside = np.all((np.log10(np.abs(got) + 1e-300) >= l_min - 1e-9) & (got <= hi))
            hint = ("return lambda = 10**l, not the exponent l." if np.all((got >= l_min) & (got <= l_max))
                    else "all values must lie between 10**l_min and 10**l_max." if not inside else "")
            raise AssertionError(f"{where}: values fall outside [10**l_min, 10**l_max]: {hint}")
        again = finite_array(where, "the result", call(where, sample_lambdas, l_min, l_max, n, s1), (n,))
        if not np.array_equal(got, again):
            raise AssertionError(f"{where}: two calls with the same seed gave different values; draw them from "
                                 f"np.random.default_rng(seed), not from numpy's global generator.")
        other = finite_array(where, "the result", call(where, sample_lambdas, l_min, l_max, n, s2), (n,))
        if np.array_equal(got, other):
            raise AssertionError(f"{where}: another seed gave the same values; use the seed argument.")
        if n >= 1000:
            u = np.sort((np.log10(got) - l_min) / (l_max - l_min))
            k = np.arange(1, n + 1)
            ks = float(max(np.max(k / n - u), np.max(u - (k - 1) / n)))
            if ks > 0.04:
                raise AssertionError(f"{where}: the exponents log10(lambda) are not uniform on [l_min, l_max] "
                                     f"(Kolmogorov-Smirnov distance {ks:.2f}): sample l uniformly and return 10**l, "
                                     f"so that each decade gets the same share of the samples.")
