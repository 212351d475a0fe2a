"""First-order update rules.

Every rule has the signature ``rule(w, dw, config=None) -> (next_w, config)``:

* ``w``, ``dw``: the parameter and its gradient, same shape.
* ``config``: hyperparameters (defaults filled in with ``config.setdefault``)
  and the rule's state (velocity, moments...), which the rule updates and the
  caller passes back on the next step.

Rules are looked up by name in :data:`UPDATE_RULES`. State arrays are updated
in place once a rule owns them (no allocation per step); scalars stay Python
floats so float32 parameters stay float32.

References
----------
.. [Polyak64] B. T. Polyak, "Some methods of speeding up the convergence of
   iteration methods", 1964 (momentum).
.. [Nesterov83] Y. Nesterov, "A method for solving the convex programming problem
   with convergence rate O(1/k^2)", 1983; the form used here is from Bengio,
   Boulanger-Lewandowski, Pascanu, "Advances in optimizing recurrent networks", 2013.
.. [Hinton12] G. Hinton, Coursera "Neural Networks for Machine Learning", lecture 6e (RMSProp).
.. [Kingma15] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
"""

from __future__ import annotations

import math

import numpy as np

from course_lib.errors import OptionError, ShapeError

__all__ = [
    "sgd",
    "sgd_momentum",
    "sgd_nesterov_momentum",
    "rmsprop",
    "adam",
    "UPDATE_RULES",
    "get_update_rule",
]


def _start(where, w, dw, config):
    """Validate the common arguments and return the config dict to use."""
    if np.shape(w) != np.shape(dw):
        raise ShapeError(f"{where}: w has shape {np.shape(w)} but dw has shape {np.shape(dw)}; "
                         "the gradient must have the parameter's shape.")
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return config


def _state(config, key, w):
    """The state array ``config[key]``, created as zeros like ``w`` on first use."""
    state = config.get(key)
    if state is None:
        state = np.zeros_like(w)
        config[key] = state
    elif np.shape(state) != np.shape(w):
        raise ShapeError(f"config[{key!r}] has shape {np.shape(state)} but w has shape {np.shape(w)}; "
                         "use one config dict per parameter.")
    return state


#: Bytes of each array that :func:`adam` updates at a time: the slices of its five arrays stay in L2
#: cache between operations, which makes the update of a large parameter (the 3072 x 100 first layer of
#: a CIFAR net) faster than whole-array operations (see benchmarks/README.md).
_CHUNK_BYTES = 1 << 18


def _chunks(*arrays):
    """Matching slices of same-shape arrays, for elementwise work on one cache-sized slice at a time.

    Returns a list of tuples of views: of consecutive slices of the arrays' flattened data when they
    are larger than ``_CHUNK_BYTES`` and all C-contiguous (writes through the views land in the
    arrays), otherwise of the arrays whole.
    """
    step = _CHUNK_BYTES // max(a.itemsize for a in arrays)
    size = arrays[0].size
    if size <= step or not all(a.flags.c_contiguous for a in arrays):
        return [arrays]
    # (d_1, ..., d_k) -> (d_1 * ... * d_k,): a view, since each array is C-contiguous.
    flat = [a.reshape(-1) for a in arrays]
    return [tuple(a[start:start + step] for a in flat) for start in range(0, size, step)]


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``next_w = w - learning_rate * dw``.

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` (1e-2).

    Returns
    -------
    next_w : ndarray, shape of w
    config : dict
    """
    config = _start("sgd", w, dw, config)
    return w - float(config["learning_rate"]) * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum [Polyak64]_.

    ``v = momentum * v - learning_rate * dw``; ``next_w = w + v``.

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` (1e-2), ``momentum`` (0.9), state ``velocity``
        (zeros like w at first).

    Returns
    -------
    next_w : ndarray, shape of w
    config : dict
    """
    config = _start("sgd_momentum", w, dw, config)
    config.setdefault("momentum", 0.9)
    mu, lr = float(config["momentum"]), float(config["learning_rate"])
    v = _state(config, "velocity", w)
    v *= mu
    v -= lr * dw
    return w + v, config


def sgd_nesterov_momentum(w, dw, config=None):
    """SGD with Nesterov momentum [Nesterov83]_, in the "look-ahead" form.

    ``v' = momentum * v - learning_rate * dw``;
    ``next_w = w + v' + momentum * (v' - v)``.

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` (1e-2), ``momentum`` (0.9), state ``velocity``.

    Returns
    -------
    next_w : ndarray, shape of w
    config : dict
    """
    config = _start("sgd_nesterov_momentum", w, dw, config)
    config.setdefault("momentum", 0.9)
    mu, lr = float(config["momentum"]), float(config["learning_rate"])
    v = _state(config, "velocity", w)
    v_prev = v.copy()
    v *= mu
    v -= lr * dw
    # w + v' + mu * (v' - v) = w + (1 + mu) * v' - mu * v
    return w + (1.0 + mu) * v - mu * v_prev, config


def rmsprop(w, dw, config=None):
    """RMSProp [Hinton12]_: scale the step by a running RMS of the gradient.

    ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``;
    ``next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)``.

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` (1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8),
        state ``cache``.

    Returns
    -------
    next_w : ndarray, shape of w
    config : dict
    """
    config = _start("rmsprop", w, dw, config)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    rho, lr, eps = float(config["decay_rate"]), float(config["learning_rate"]), float(config["epsilon"])
    cache = _state(config, "cache", w)
    cache *= rho
    cache += (1.0 - rho) * (dw * dw)
    return w - lr * dw / (np.sqrt(cache) + eps), config


def adam(w, dw, config=None):
    """Adam [Kingma15]_ with bias correction; ``t`` is incremented before use.

    ``t += 1``; ``m = beta1 * m + (1 - beta1) * dw``;
    ``v = beta2 * v + (1 - beta2) * dw**2``;
    ``next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)``.

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999),
        ``epsilon`` (1e-8), state ``m``, ``v`` (zeros like w) and ``t`` (0).

    Returns
    -------
    next_w : ndarray, shape of w
    config : dict
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config = _start("adam", w, dw, config)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    b1, b2 = float(config["beta1"]), float(config["beta2"])
    lr, eps = float(config["learning_rate"]), float(config["epsilon"])
    m = _state(config, "m", w)
    v = _state(config, "v", w)
    config["t"] = t = config["t"] + 1
    m_hat_scale = 1.0 / (1.0 - b1**t)
    v_hat_scale = 1.0 / (1.0 - b2**t)
    if all(type(a) is np.ndarray for a in (w, dw, m, v)) and w.ndim:
        next_w = _adam_arrays(w, dw, m, v, b1, b2, lr * m_hat_scale, v_hat_scale, eps)
    else:
        # Scalars, lists, array subclasses: the formula as written (numpy's promotion rules apply).
        m *= b1
        m += (1.0 - b1) * dw
        v *= b2
        v += (1.0 - b2) * (dw * dw)
        next_w = w - (lr * m_hat_scale) * m / (np.sqrt(v * v_hat_scale) + eps)
    return next_w, config


def _adam_arrays(w, dw, m, v, b1, b2, step_scale, v_hat_scale, eps):
    """Adam's update of arrays, slice by cache-sized slice: the formula's values (to rounding) and dtypes.

    ``m`` and ``v`` are updated in place; returns ``next_w``. The operations run in the dtypes numpy
    gives the formula, into scratch buffers instead of a new array per operation; the step is rearranged
    so that the bias correction of ``v`` costs no pass of its own (twelve elementwise passes instead of
    thirteen: 5-10% less time for the 2M float32 parameters of a [500]*3 net, side by side), with
    ``r = sqrt(v_hat_scale)``::

        step_scale * m / (sqrt(v_hat_scale * v) + eps) = m / ((sqrt(v) + eps / r) * (r / step_scale))
    """
    # The dtypes numpy gives the formula's intermediates: (1 - beta1) * dw; the step m / (sqrt(v) + eps);
    # and next_w = w - step.
    if w.dtype == dw.dtype == m.dtype == v.dtype and w.dtype.kind == "f":
        grad_dtype = step_dtype = out_dtype = w.dtype
    else:
        grad_dtype, step_dtype = np.result_type(dw, 1.0), np.result_type(m, v)
        out_dtype = np.result_type(w, step_dtype)
    next_w = np.empty(w.shape, dtype=out_dtype)
    r = math.sqrt(v_hat_scale)
    # learning_rate 0: den * inf = inf where den > 0, a zero step, as the formula gives.
    eps_r, inv_scale_r = eps / r, (r / step_scale if step_scale else math.inf)
    for w_, dw_, m_, v_, out in _chunks(w, dw, m, v, next_w):
        g = np.empty(out.shape, grad_dtype)
        den = g if v.dtype == grad_dtype else np.empty(out.shape, v.dtype)
        step = out if next_w.dtype == step_dtype else np.empty(out.shape, step_dtype)
        # m = beta1 * m + (1 - beta1) * dw
        np.multiply(dw_, 1.0 - b1, out=g)
        m_ *= b1
        m_ += g
        # v = beta2 * v + (1 - beta2) * (dw * dw)
        np.multiply(dw_, dw_, out=g)
        g *= 1.0 - b2
        v_ *= b2
        v_ += g
        # next_w = w - (lr * m_hat_scale) * m / (sqrt(v * v_hat_scale) + eps), rearranged (see above)
        np.sqrt(v_, out=den)
        den += eps_r
        den *= inv_scale_r
        np.divide(m_, den, out=step)
        np.subtract(w_, step, out=out)
    return next_w


#: Update rules by name, as :class:`~course_lib.solver.Solver` looks them up.
UPDATE_RULES = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "sgd_nesterov_momentum": sgd_nesterov_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def get_update_rule(name_or_rule):
    """Return the update rule for a name in :data:`UPDATE_RULES`, or a callable as is.

    :class:`~course_lib.solver.Solver` resolves its ``update_rule`` option here.

    Raises
    ------
    course_lib.errors.OptionError
        For an unknown name (the message lists the known ones) or a value that is neither a name nor
        a callable.
    """
    if callable(name_or_rule):
        return name_or_rule
    if not isinstance(name_or_rule, str):
        raise OptionError(
            f"Solver: update_rule must be the name of an update rule or a callable "
            f"rule(w, dw, config) -> (next_w, config); got {type(name_or_rule).__name__}."
        )
    if name_or_rule not in UPDATE_RULES:
        raise OptionError(
            f"Solver: unknown update_rule {name_or_rule!r}; use one of {', '.join(map(repr, UPDATE_RULES))}, "
            f"or pass a callable rule(w, dw, config) -> (next_w, config)."
        )
    return UPDATE_RULES[name_or_rule]
