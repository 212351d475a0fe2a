"""Composite layers ("sandwiches") built from :mod:`course_lib.layers`.

Each composite forward returns ``(out, cache)`` where ``cache`` combines the
caches of its parts; the backward unpacks it and runs the parts in reverse.
"""

from __future__ import annotations

from course_lib.errors import check_choice
from course_lib.layers import (
    affine_backward,
    affine_forward,
    # BEGIN SOLUTION fc_nets batchnorm
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    # END SOLUTION
    relu_backward,
    relu_forward,
)

__all__ = [
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_norm_relu_forward",
    "affine_norm_relu_backward",
    "NORMALIZATIONS",
    "NORM_POSITIONS",
]

#: Normalization layers by name: (forward, backward).
NORMALIZATIONS = {
    # BEGIN SOLUTION fc_nets batchnorm
    "batchnorm": (batchnorm_forward, batchnorm_backward_alt),
    "layernorm": (layernorm_forward, layernorm_backward),
    # END SOLUTION
}

#: Where the normalization sits relative to the ReLU.
NORM_POSITIONS = ("before", "after")


# BEGIN SOLUTION fc_nets
def affine_relu_forward(x, w, b):
    """Affine layer followed by a ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(affine_cache, relu_cache)``.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache, need_dx=True):
    """Backward pass of :func:`affine_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple
    need_dx : bool, optional
        Passed to :func:`~course_lib.layers.affine_backward`.

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k), or None
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache, need_dx=need_dx)
# END SOLUTION


# BEGIN SOLUTION fc_nets batchnorm
def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, normalization="batchnorm", position="before"):
    """Affine, normalization and ReLU, with the normalization before or after the ReLU.

    ``position='before'`` is affine -> norm -> ReLU (as in [BN]_ and cs231n);
    ``position='after'`` is affine -> ReLU -> norm (one of the DD2424 variants).

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)
    gamma, beta : ndarray, shape (M,)
    norm_param : dict
        ``bn_param`` or ``ln_param`` of the normalization layer.
    normalization : {'batchnorm', 'layernorm'}
    position : {'before', 'after'}

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
    """
    check_choice("affine_norm_relu_forward", "normalization", normalization, NORMALIZATIONS)
    check_choice("affine_norm_relu_forward", "position", position, NORM_POSITIONS)
    norm_forward = NORMALIZATIONS[normalization][0]
    a, fc_cache = affine_forward(x, w, b)
    if position == "before":
        h, norm_cache = norm_forward(a, gamma, beta, norm_param)
        out, relu_cache = relu_forward(h)
    else:
        h, relu_cache = relu_forward(a)
        out, norm_cache = norm_forward(h, gamma, beta, norm_param)
    return out, (fc_cache, norm_cache, relu_cache, normalization, position)


def affine_norm_relu_backward(dout, cache, need_dx=True):
    """Backward pass of :func:`affine_norm_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple
    need_dx : bool, optional

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k), or None
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    dgamma, dbeta : ndarray, shape (M,)
    """
    fc_cache, norm_cache, relu_cache, normalization, position = cache
    norm_backward = NORMALIZATIONS[normalization][1]
    if position == "before":
        dh = relu_backward(dout, relu_cache)
        da, dgamma, dbeta = norm_backward(dh, norm_cache)
    else:
        dh, dgamma, dbeta = norm_backward(dout, norm_cache)
        da = relu_backward(dh, relu_cache)
    dx, dw, db = affine_backward(da, fc_cache, need_dx=need_dx)
    return dx, dw, db, dgamma, dbeta
# END SOLUTION
