"""Composite layers ("sandwiches") built from :mod:`course_lib.layers`.

Each composite forward returns ``(out, cache)`` where ``cache`` combines the
caches of its parts; the backward unpacks it and runs the parts in reverse.
"""

from __future__ import annotations

from course_lib.errors import check_choice
from course_lib.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
)

__all__ = [
    "affine_relu_forward",
    "affine_relu_backward",
    "NORMALIZATIONS",
    "NORM_POSITIONS",
]

#: Normalization layers by name: (forward, backward).
NORMALIZATIONS = {
}

#: Where the normalization sits relative to the ReLU.
NORM_POSITIONS = ("before", "after")


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
