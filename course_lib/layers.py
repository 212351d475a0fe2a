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
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
    "svm_loss",
    "softmax_loss",
    "MODES",
]

#: The modes accepted by ``bn_param['mode']`` and ``dropout_param['mode']``.
MODES = ("train", "test")


# ---------------------------------------------------------------------------
# Affine
# ---------------------------------------------------------------------------

# BEGIN SOLUTION fc_nets
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
# END SOLUTION


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------

# BEGIN SOLUTION fc_nets
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
# END SOLUTION


# ---------------------------------------------------------------------------
# Normalization (shared core of batch and layer normalization)
# ---------------------------------------------------------------------------

# BEGIN SOLUTION fc_nets batchnorm
def _standardize(x, axis, eps):
    """Standardize ``x`` along ``axis`` with the biased variance.

    Returns
    -------
    xhat : ndarray, shape of x
    mean, var : ndarray
        Statistics along ``axis`` (kept dims).
    inv_std : ndarray
        ``1 / sqrt(var + eps)`` (kept dims).
    """
    mean = x.mean(axis=axis, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=axis, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    # xhat = xc * inv_std, written over xc (same dtype: inv_std is computed from xc).
    xc *= inv_std
    return xc, mean, var, inv_std


def _standardize_backward(dxhat, xhat, inv_std, axis):
    """Closed-form gradient through ``xhat = (x - mean) / sqrt(var + eps)``.

    With m values per statistic: ``dx = inv_std * (dxhat - mean(dxhat) -
    xhat * mean(dxhat * xhat))``, means taken along ``axis``.
    """
    mean_dxhat = dxhat.mean(axis=axis, keepdims=True)
    mean_dxhat_xhat = np.mean(dxhat * xhat, axis=axis, keepdims=True)
    return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)
# END SOLUTION


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


# BEGIN SOLUTION fc_nets batchnorm
def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization [BN]_ over the minibatch axis.

    In ``'train'`` mode each feature is standardized with the minibatch mean and
    biased variance, then scaled by ``gamma`` and shifted by ``beta``; the
    running statistics are updated in ``bn_param``::

        running_mean = momentum * running_mean + (1 - momentum) * batch_mean
        running_var  = momentum * running_var  + (1 - momentum) * batch_var

    In ``'test'`` mode the running statistics are used instead.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)
        Scale and shift.
    bn_param : dict
        ``mode`` ('train' or 'test', required); ``eps`` (1e-5); ``momentum``
        (0.9); ``running_mean``, ``running_var`` (shape (D,), zeros at first;
        written back here).

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple
        What :func:`batchnorm_backward` and :func:`batchnorm_backward_alt` need.
    """
    _check_norm_inputs("batchnorm_forward", x, gamma, beta)
    if "mode" not in bn_param:
        raise ValueError("batchnorm_forward: bn_param has no 'mode'; set bn_param['mode'] to 'train' or 'test'.")
    mode = bn_param["mode"]
    check_choice("batchnorm_forward", "mode", mode, MODES)
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean")
    running_var = bn_param.get("running_var")
    if running_mean is None:
        running_mean = np.zeros(d, dtype=x.dtype)
    if running_var is None:
        running_var = np.zeros(d, dtype=x.dtype)

    if mode == "train":
        xhat, mean, var, inv_std = _standardize(x, 0, eps)
        # (1, D) -> (D,): statistics per feature.
        mean, var = mean.reshape(d), var.reshape(d)
        running_mean = momentum * running_mean + (1.0 - momentum) * mean
        running_var = momentum * running_var + (1.0 - momentum) * var
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        xhat = (x - running_mean) * inv_std
    out = _into_first(np.add, gamma * xhat, beta)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    cache = (mode, x, xhat, inv_std, gamma, eps)
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization, node by node through the graph.

    The forward computation is split into elementary steps (mean, centering,
    variance, square root, reciprocal, scaling, shift) and the chain rule is
    applied to each in reverse order. :func:`batchnorm_backward_alt` computes the
    same gradients in closed form.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    mode, x, xhat, inv_std, gamma, eps = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    if mode == "test":
        return dxhat * inv_std, dgamma, dbeta
    # Recompute the graph's intermediate nodes from x.
    mu = x.sum(axis=0) / n                      # node 1: mean
    xc = x - mu                                  # node 2: centered
    sq = xc**2                                   # node 3: squares
    var = sq.sum(axis=0) / n                     # node 4: variance
    std = np.sqrt(var + eps)                     # node 5: standard deviation
    istd = 1.0 / std                             # node 6: reciprocal
    # xhat = xc * istd                           # node 7
    dxc = dxhat * istd                           # through node 7, xc branch
    distd = np.sum(dxhat * xc, axis=0)           # through node 7, istd branch
    dstd = -distd / std**2                       # node 6
    dvar = 0.5 * dstd / std                      # node 5
    dsq = np.ones_like(x) * dvar / n             # node 4
    dxc = dxc + 2.0 * xc * dsq                   # node 3
    dmu = -dxc.sum(axis=0)                       # node 2, mu branch
    dx = dxc + np.ones_like(x) * dmu / n         # node 2 (x branch) + node 1
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization in closed form.

    With ``xhat`` the standardized input and ``g = dout * gamma``::

        dx = inv_std * (g - mean(g, axis=0) - xhat * mean(g * xhat, axis=0))

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple
        From :func:`batchnorm_forward` (the same cache as
        :func:`batchnorm_backward`).

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    mode, x, xhat, inv_std, gamma, eps = cache
    if mode == "test":
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(dout * xhat, axis=0)
        return dout * gamma * inv_std, dgamma, dbeta
    n = dout.shape[0]
    prod = dout * xhat
    dgamma = prod.sum(axis=0)
    dbeta = dout.sum(axis=0)
    # With g = dout * gamma: mean(g) = gamma * dbeta / n and mean(g * xhat) = gamma * dgamma / n, so
    # dx = gamma * inv_std * (dout - dbeta / n - xhat * dgamma / n), computed in prod's buffer.
    dx = np.multiply(xhat, dgamma / n, out=prod)
    dx += dbeta / n
    np.subtract(dout, dx, out=dx)
    return _into_first(np.multiply, dx, gamma * inv_std), dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization [LN]_: standardize each example over its features.

    The statistics are per example, so training and test behave the same and
    no running averages are kept.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)
    ln_param : dict
        ``eps`` (1e-5). A ``mode`` key, if present, must be 'train' or 'test'
        and does not change the result.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple
    """
    _check_norm_inputs("layernorm_forward", x, gamma, beta)
    if "mode" in ln_param:
        check_choice("layernorm_forward", "mode", ln_param["mode"], MODES)
    eps = ln_param.get("eps", 1e-5)
    xhat, _, _, inv_std = _standardize(x, 1, eps)
    return gamma * xhat + beta, (xhat, inv_std, gamma)


def layernorm_backward(dout, cache):
    """Backward pass of :func:`layernorm_forward` (closed form, per example).

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    xhat, inv_std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = _standardize_backward(dout * gamma, xhat, inv_std, 1)
    return dx, dgamma, dbeta
# END SOLUTION


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------

# BEGIN SOLUTION fc_nets batchnorm dropout
def dropout_forward(x, dropout_param):
    """Inverted dropout [DO]_: keep each unit with probability ``p``, scale by 1/p.

    Because kept units are scaled by ``1/p`` at training time, the expected
    output equals the input and test time is the identity.

    Parameters
    ----------
    x : ndarray, any shape
    dropout_param : dict
        ``p``: probability of KEEPING a unit, in (0, 1] (required).
        ``mode``: 'train' or 'test' (required).
        ``seed``: optional int; the same seed gives the same mask on every call
        (as in cs231n, so gradient checks see a fixed function). Exactly as
        cs231n's ``dropout_forward`` does, it calls ``np.random.seed(seed)`` and
        draws the mask from numpy's *global* generator, which it therefore
        leaves reseeded and advanced: cs231n-compatible cells that draw from the
        global generator after a seeded forward pass (the Dropout notebook's
        nets built one after another) get cs231n's numbers. Use ``rng`` to
        leave the global generator alone.
        ``rng``: optional ``np.random.Generator``; a fresh mask from it on every
        call. With neither, masks come from numpy's global generator.

    Returns
    -------
    out : ndarray, shape and dtype of x
    cache : tuple
        ``(dropout_param, mask)``; mask is None in test mode.
    """
    check_array("dropout_forward", "x", x)
    for key in ("p", "mode"):
        if key not in dropout_param:
            raise ValueError(f"dropout_forward: dropout_param has no {key!r}; it needs 'p' (keep "
                             "probability) and 'mode' ('train' or 'test').")
    p, mode = dropout_param["p"], dropout_param["mode"]
    check_choice("dropout_forward", "mode", mode, MODES)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"dropout_forward: p={p!r} is the probability of keeping a unit and must be in "
                         "(0, 1]; p=1 disables dropout.")
    if mode == "test":
        return x, (dropout_param, None)
    if dropout_param.get("seed") is not None:
        np.random.seed(dropout_param["seed"])  # cs231n's order: reseed the global generator, then draw
        uniform = np.random.rand(*x.shape)
    elif dropout_param.get("rng") is not None:
        uniform = dropout_param["rng"].random(x.shape)
    else:
        uniform = np.random.rand(*x.shape)
    mask = (uniform < p).astype(x.dtype) * x.dtype.type(1.0 / p)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Backward pass of :func:`dropout_forward`.

    Parameters
    ----------
    dout : ndarray, shape of x
    cache : tuple

    Returns
    -------
    dx : ndarray, shape of x
    """
    dropout_param, mask = cache
    if dropout_param["mode"] == "test" or mask is None:
        return dout
    return dout * mask
# END SOLUTION


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


# BEGIN SOLUTION fc_nets
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
# END SOLUTION
