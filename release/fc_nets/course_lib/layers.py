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
    "svm_loss",
    "MODES",
]

#: The modes accepted by ``bn_param['mode']`` and ``dropout_param['mode']``.
MODES = ("train", "test")


# ---------------------------------------------------------------------------
# Affine
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------


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
