"""Layers of a fully connected network: forward and backward passes side by side.

Every layer follows one contract (the cs231n one, so existing notebook cells run
unchanged):

* ``*_forward(inputs..., param) -> (out, cache)``
* ``*_backward(dout, cache) -> gradients`` (a single array, or a tuple in the
  order of the forward's array inputs).

Losses return ``(loss, dx)`` averaged over the minibatch.

References
----------
.. [BN] S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network
   Training by Reducing Internal Covariate Shift", ICML 2015.
.. [LN] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
.. [DO] N. Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks
   from Overfitting", JMLR 15, 2014.
"""

from __future__ import annotations

import numpy as np

from course_lib.errors import ShapeError, check_array, check_choice

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "svm_loss",
    "softmax_loss",
    "MODES",
]

#: The modes accepted by ``bn_param['mode']`` and ``dropout_param['mode']``.
MODES = ("train", "test")


# ---------------------------------------------------------------------------
# Affine
# ---------------------------------------------------------------------------

def affine_forward(x, w, b):
    """Fully connected layer: ``out = x.reshape(N, D) @ w + b``.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
        Minibatch of N inputs; each is flattened to D = d_1 * ... * d_k values.
    w : ndarray, shape (D, M)
        Weights.
    b : ndarray, shape (M,)
        Biases.

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(x, w, b)`` for :func:`affine_backward`.
    """
    check_array("affine_forward", "x", x)
    check_array("affine_forward", "w", w, ndim=2)
    n = x.shape[0] if x.ndim else 0
    # (N, d_1, ..., d_k) -> (N, D): one row per example.
    x2d = x.reshape(n, -1)
    if x2d.shape[1] != w.shape[0]:
        raise ShapeError(
            f"affine_forward: x has {x2d.shape[1]} features per example (shape {x.shape}) "
            f"but w has {w.shape[0]} rows (shape {w.shape}); w must be (D, M) with D = prod(x.shape[1:])."
        )
    if np.shape(b) != (w.shape[1],):
        raise ShapeError(f"affine_forward: b has shape {np.shape(b)}, expected ({w.shape[1]},) to match w.")
    out = x2d @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache, need_dx=True):
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Upstream gradient.
    cache : tuple
        ``(x, w, b)`` from the forward pass.
    need_dx : bool, optional
        When False, ``dx`` is returned as None; a network skips it for its
        input layer, where nothing consumes it.

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k), or None
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    x, w, b = cache
    # (N, d_1, ..., d_k) -> (N, D), as in the forward pass.
    x2d = x.reshape(x.shape[0], -1)
    dw = x2d.T @ dout
    db = dout.sum(axis=0)
    # (N, D) -> (N, d_1, ..., d_k): back to the input's shape.
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    return dx, dw, db


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------

def relu_forward(x):
    """Rectified linear unit, ``max(0, x)`` elementwise.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, same shape as x
    cache : ndarray
        ``x``.
    """
    check_array("relu_forward", "x", x)
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of :func:`relu_forward`.

    Parameters
    ----------
    dout : ndarray, same shape as x
    cache : ndarray
        ``x`` from the forward pass.

    Returns
    -------
    dx : ndarray, same shape as x
        ``dout`` where ``x > 0``, else 0.
    """
    x = cache
    return dout * (x > 0)


# ---------------------------------------------------------------------------
# Normalization (shared core of batch and layer normalization)
# ---------------------------------------------------------------------------


def _into_first(ufunc, a, b):
    """``ufunc(a, b)``, written over ``a`` (a temporary of the caller) when that keeps the dtype numpy gives."""
    if getattr(b, "dtype", None) == a.dtype:
        return ufunc(a, b, out=a)
    return ufunc(a, b)


def _check_norm_inputs(where, x, gamma, beta):
    check_array(where, "x", x, ndim=2)
    d = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        if np.shape(value) != (d,):
            raise ShapeError(
                f"{where}: {name} has shape {np.shape(value)}, expected ({d},): one value per "
                f"feature of x (shape {x.shape})."
            )


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

def _check_scores_labels(where, x, y):
    check_array(where, "x", x, ndim=2)
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise ShapeError(f"{where}: y has shape {y.shape}, expected ({x.shape[0]},): one label per row of x.")
    if y.dtype.kind not in "iu":
        raise ShapeError(f"{where}: y has dtype {y.dtype}; labels must be integers (use y.astype(int)).")
    if y.size and (y.min() < 0 or y.max() >= x.shape[1]):
        raise ValueError(f"{where}: labels must be in [0, {x.shape[1] - 1}] for {x.shape[1]} classes, "
                         f"got values in [{y.min()}, {y.max()}].")
    return y


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the minibatch.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores.
    y : ndarray of int, shape (N,)
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)
    """
    y = _check_scores_labels("svm_loss", x, y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0
    loss = margins.sum() / n
    positive = (margins > 0).astype(x.dtype)
    positive[rows, y] -= positive.sum(axis=1)
    return float(loss), positive / n


def softmax_loss(x, y):
    """Softmax cross-entropy loss, averaged over the minibatch.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores.
    y : ndarray of int, shape (N,)
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)
    """
    y = _check_scores_labels("softmax_loss", x, y)
    n = x.shape[0]
    rows = np.arange(n)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / n
    dx = np.exp(log_probs)
    dx[rows, y] -= 1.0
    dx /= n
    return float(loss), dx
