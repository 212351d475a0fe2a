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

import numpy as np

from course_lib.errors import ShapeError, check_choice

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
    m *= b1
    m += (1.0 - b1) * dw
    v *= b2
    v += (1.0 - b2) * (dw * dw)
    m_hat_scale = 1.0 / (1.0 - b1**t)
    v_hat_scale = 1.0 / (1.0 - b2**t)
    return w - (lr * m_hat_scale) * m / (np.sqrt(v * v_hat_scale) + eps), config


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

    Raises
    ------
    course_lib.errors.OptionError
        For an unknown name; the message lists the known ones.
    """
    if callable(name_or_rule):
        return name_or_rule
    check_choice("Solver", "update_rule", name_or_rule, UPDATE_RULES)
    return UPDATE_RULES[name_or_rule]
