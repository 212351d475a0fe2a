"""Numerical gradients and relative errors, for checking analytic backward passes.

Every function returns numbers; printing is optional. Use float64 inputs: with
float32, centered differences with h=1e-5 are dominated by rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
]


def rel_error(x, y):
    """Maximum elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``.

    Parameters
    ----------
    x, y : array_like, same shape

    Returns
    -------
    float
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}; compare arrays of one shape.")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _centered_pair(f, x, ix, h):
    """``(f(x + h e_ix), f(x - h e_ix))``, perturbing ``x`` in place and restoring it."""
    old = x[ix]
    x[ix] = old + h
    pos = f(x)
    x[ix] = old - h
    neg = f(x)
    x[ix] = old
    return pos, neg


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Centered-difference gradient of a scalar function ``f`` at ``x``.

    ``x`` is perturbed in place one entry at a time and restored.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray, any shape
    verbose : bool
        Print each entry's gradient (cs231n's default).
    h : float

    Returns
    -------
    grad : ndarray, shape of x
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        fxph, fxmh = _centered_pair(f, x, ix, h)
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Centered-difference gradient of ``sum(f(x) * df)``: the backward pass of an array function.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray``.
    x : ndarray, any shape
    df : ndarray, shape of f(x)
        Upstream gradient.
    h : float

    Returns
    -------
    grad : ndarray, shape of x
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        # Copy each output: f may return a view of a buffer it reuses.
        pos, neg = _centered_pair(lambda z: np.array(f(z), dtype=np.float64, copy=True), x, ix, h)
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True):
    """Compare an analytic gradient with centered differences at random entries.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray
    analytic_grad : ndarray, shape of x
    num_checks : int
    h : float
    seed : int or np.random.Generator, optional
        Which entries to check; None draws from numpy's global generator.
    verbose : bool
        Print one line per entry, as cs231n does.

    Returns
    -------
    errors : list of float
        The relative error at each checked entry.
    """
    rng = np.random if seed is None else np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        if seed is None:
            ix = tuple(int(rng.randint(m)) for m in x.shape)
        else:
            ix = tuple(int(rng.integers(m)) for m in x.shape)
        fxph, fxmh = _centered_pair(f, x, ix, h)
        numeric = (fxph - fxmh) / (2 * h)
        analytic = analytic_grad[ix]
        denom = abs(numeric) + abs(analytic)
        err = abs(numeric - analytic) / denom if denom > 0 else 0.0
        errors.append(float(err))
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {err:e}")
    return errors
