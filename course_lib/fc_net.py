"""Fully connected networks of any depth.

Architecture, for L = len(hidden_dims) + 1 layers::

    {affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax

with the normalization optionally after the ReLU instead of before it.
Parameters are named as in cs231n: ``W1..WL``, ``b1..bL`` and, with
normalization, ``gamma1..gamma(L-1)``, ``beta1..beta(L-1)``.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from course_lib.errors import OptionError, check_choice
from course_lib.layer_utils import (
    NORM_POSITIONS,
    NORMALIZATIONS,
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)

# cs231n's fc_net star-imports its layers and layer utilities, so the notebooks' ``from ...fc_net import *``
# brings in the layer functions too: the same names are public here.
__all__ = [
    "FullyConnectedNet",
    "TwoLayerNet",
    "WEIGHT_SCALES",
    "init_std",
    "LAYERS",
    "network_loss",
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
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_norm_relu_forward",
    "affine_norm_relu_backward",
]

# BEGIN SOLUTION fc_nets batchnorm dropout deep_networks
#: Named initialization scales: the standard deviation for a layer with ``fan_in`` inputs.
WEIGHT_SCALES = {
    "he": lambda fan_in: np.sqrt(2.0 / fan_in),       # He et al., ICCV 2015
    "xavier": lambda fan_in: np.sqrt(1.0 / fan_in),   # Glorot & Bengio, AISTATS 2010 (fan-in form)
}


def init_std(weight_scale, fan_in):
    """Standard deviation of a layer's initial weights.

    Parameters
    ----------
    weight_scale : float or {'he', 'xavier'}
    fan_in : int

    Returns
    -------
    float
    """
    if isinstance(weight_scale, str):
        check_choice("FullyConnectedNet", "weight_scale", weight_scale, WEIGHT_SCALES)
        return float(WEIGHT_SCALES[weight_scale](fan_in))
    return float(weight_scale)
# END SOLUTION


#: The layer table of the reference network (:func:`network_loss`): name -> function with cs231n's
#: signature. ``<norm>_forward(x, gamma, beta, norm_param)``, ``<norm>_backward(dout, cache) -> (dx,
#: dgamma, dbeta)`` for each normalization of :data:`course_lib.layer_utils.NORMALIZATIONS` (batch
#: normalization's backward is the closed form).
LAYERS = MappingProxyType({
    "affine_forward": affine_forward,
    "affine_backward": affine_backward,
    "relu_forward": relu_forward,
    "relu_backward": relu_backward,
    "softmax_loss": softmax_loss,
    "dropout_forward": dropout_forward,
    "dropout_backward": dropout_backward,
    "batchnorm_forward": batchnorm_forward,
    "batchnorm_backward": batchnorm_backward_alt,
    "layernorm_forward": layernorm_forward,
    "layernorm_backward": layernorm_backward,
})


# BEGIN SOLUTION fc_nets batchnorm dropout deep_networks
def network_loss(params, X, y=None, *, layers=LAYERS, normalization=None, norm_position="before",
                 norm_params=(), dropout_param=None, reg=0.0, mode=None):
    """Scores, or loss and gradients, of the fully connected network, every layer looked up in ``layers``.

    ``{affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax``, the normalization before or
    after the ReLU. This is the one implementation of the architecture: :meth:`FullyConnectedNet.loss`
    calls it with :data:`LAYERS`, and the autograder calls it with some layers replaced by a student's
    (``{**LAYERS, "relu_forward": student_relu_forward}``), in the spirit of scikit-learn's
    ``neural_network``, whose forward pass looks its activations up in a table.

    Parameters
    ----------
    params : mapping of str -> ndarray
        ``W1..WL``, ``b1..bL`` and, with normalization, ``gamma1..gamma(L-1)``, ``beta1..beta(L-1)``;
        L is the number of consecutive ``W<i>`` keys. Read only.
    X : ndarray, shape (N, d_1, ..., d_k)
        Inputs, used as given (no dtype conversion).
    y : ndarray of int, shape (N,), optional
        Labels. Without them the scores are returned.
    layers : mapping of str -> callable
        ``affine_forward``, ``affine_backward``, ``relu_forward``, ``relu_backward``, ``softmax_loss``,
        and, when used, ``dropout_forward``, ``dropout_backward``, ``<normalization>_forward``,
        ``<normalization>_backward`` (see :data:`LAYERS`).
    normalization : {None, 'batchnorm', 'layernorm'}
    norm_position : {'before', 'after'}
        Normalization before or after the ReLU.
    norm_params : sequence of dict
        One param dict per hidden layer when normalizing; their ``'mode'`` is set here and batch
        normalization writes its running averages into them.
    dropout_param : dict, optional
        Dropout's param dict (keep probability ``'p'``, optional ``'seed'`` or ``'rng'``); None: no
        dropout. Its ``'mode'`` is set here.
    reg : float
        L2 strength: the loss adds ``0.5 * reg * sum(W**2)`` for every W, each W's gradient ``reg * W``.
    mode : {None, 'train', 'test'}
        None: ``'test'`` without labels, ``'train'`` with them. ``'train'`` without labels gives the
        training-mode scores (batch statistics, dropout masks).

    Returns
    -------
    scores : ndarray, shape (N, C)
        When y is None.
    loss : float, grads : dict of str -> ndarray
        When y is given; ``grads[k]`` has the shape of ``params[k]``.
    """
    check_choice("network_loss", "normalization", normalization, (None, *NORMALIZATIONS))
    check_choice("network_loss", "norm_position", norm_position, NORM_POSITIONS)
    check_choice("network_loss", "mode", mode, (None, "train", "test"))
    n_layers = 1
    while f"W{n_layers + 1}" in params:
        n_layers += 1
    mode = mode or ("test" if y is None else "train")
    for layer_param in [*norm_params, *([dropout_param] if dropout_param is not None else [])]:
        layer_param["mode"] = mode

    def normalize(h, i):
        return layers[f"{normalization}_forward"](h, params[f"gamma{i}"], params[f"beta{i}"], norm_params[i - 1])

    def affine_back(dout, cache, need_dx):  # the library's own skips dx where nothing consumes it
        backward = layers["affine_backward"]
        return backward(dout, cache, need_dx=need_dx) if backward is affine_backward else backward(dout, cache)

    caches, h = [], X
    for i in range(1, n_layers):
        h, fc_cache = layers["affine_forward"](h, params[f"W{i}"], params[f"b{i}"])
        norm_cache = drop_cache = None
        if normalization is not None and norm_position == "before":
            h, norm_cache = normalize(h, i)
        h, relu_cache = layers["relu_forward"](h)
        if normalization is not None and norm_position == "after":
            h, norm_cache = normalize(h, i)
        if dropout_param is not None:
            h, drop_cache = layers["dropout_forward"](h, dropout_param)
        caches.append((fc_cache, norm_cache, relu_cache, drop_cache))
    last = n_layers
    scores, last_cache = layers["affine_forward"](h, params[f"W{last}"], params[f"b{last}"])
    if y is None:
        return scores

    loss, dh = layers["softmax_loss"](scores, y)
    grads = {}
    dh, grads[f"W{last}"], grads[f"b{last}"] = affine_back(dh, last_cache, need_dx=last > 1)
    for i in range(last - 1, 0, -1):
        fc_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
        if dropout_param is not None:
            dh = layers["dropout_backward"](dh, drop_cache)
        if normalization is not None and norm_position == "after":
            dh, grads[f"gamma{i}"], grads[f"beta{i}"] = layers[f"{normalization}_backward"](dh, norm_cache)
        dh = layers["relu_backward"](dh, relu_cache)
        if normalization is not None and norm_position == "before":
            dh, grads[f"gamma{i}"], grads[f"beta{i}"] = layers[f"{normalization}_backward"](dh, norm_cache)
        dh, grads[f"W{i}"], grads[f"b{i}"] = affine_back(dh, fc_cache, need_dx=i > 1)

    if reg:
        for i in range(1, last + 1):
            w = params[f"W{i}"]
            loss += 0.5 * reg * float(np.sum(w * w))
            grads[f"W{i}"] = grads[f"W{i}"] + reg * w
    return loss, grads


class FullyConnectedNet:
    """A fully connected network with ReLUs, optional normalization and dropout.

    Parameters
    ----------
    hidden_dims : list of int
        Sizes of the hidden layers.
    input_dim : int
        Number of input features D (inputs of shape (N, d_1, ..., d_k) are flattened).
    num_classes : int
        Number of classes C.
    dropout_keep_ratio : float
        Probability of keeping a unit, in (0, 1]; 1 means no dropout.
    normalization : {None, 'batchnorm', 'layernorm'}
    reg : float
        L2 strength; the loss adds ``0.5 * reg * sum(W**2)`` over the weights (not biases, gammas, betas).
    weight_scale : float or {'he', 'xavier'}
        Standard deviation of the initial weights, or a named scheme scaled by each layer's fan-in.
    dtype : numpy dtype
        np.float32 for speed, np.float64 for gradient checks.
    seed : int or None
        Dropout mask seed, as in cs231n: every forward pass draws the same masks (for gradient checks).
        As in cs231n, each dropout layer calls ``np.random.seed(seed)`` and draws its mask from numpy's
        global generator (see :func:`course_lib.layers.dropout_forward`). Without dropout it has no effect.
    rng : int or np.random.Generator, optional
        Whole-net reproducibility: weights, and dropout masks unless ``seed`` fixes them, come from a
        private generator made from it (a fresh mask on every forward pass). With None, weights are
        ``weight_scale * randn`` from numpy's global generator, layer by layer in order (as cs231n
        does, so its published seeded losses reproduce).
    dropout_seed : int, optional
        Same as ``seed`` (the name the course notebooks use); give one of the two.
    norm_position : {'before', 'after'}
        Normalization before the ReLU (as in [BN]) or after it.
    use_batchnorm : bool, optional
        Older spelling of ``normalization='batchnorm'`` used by the seed notebooks.
    dropout : float, optional
        Older spelling of ``dropout_keep_ratio`` (probability of keeping a unit).

    Attributes
    ----------
    params : dict of str -> ndarray
    bn_params : list of dict
        One param dict per normalization layer (mode and running statistics).
    dropout_param : dict
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None,
                 dropout_seed=None, norm_position="before", use_batchnorm=None, dropout=None, rng=None):
        if use_batchnorm is not None:
            if normalization not in (None, "batchnorm") and use_batchnorm:
                raise OptionError("FullyConnectedNet: use_batchnorm=True conflicts with "
                                  f"normalization={normalization!r}; pass only normalization.")
            normalization = "batchnorm" if use_batchnorm else normalization
        if dropout is not None:
            dropout_keep_ratio = dropout
        if seed is not None and dropout_seed is not None and seed != dropout_seed:
            raise OptionError(f"FullyConnectedNet: seed={seed!r} and dropout_seed={dropout_seed!r} both set the "
                              "dropout mask seed; pass only one (rng= makes the whole net reproducible).")
        mask_seed = dropout_seed if seed is None else seed
        if mask_seed is not None and (isinstance(mask_seed, bool) or not isinstance(mask_seed, (int, np.integer))):
            raise ValueError(f"FullyConnectedNet: the dropout mask seed must be an integer, got {mask_seed!r}; "
                             "to draw everything from a np.random.Generator pass it as rng=.")
        check_choice("FullyConnectedNet", "normalization", normalization, (None, *NORMALIZATIONS))
        check_choice("FullyConnectedNet", "norm_position", norm_position, NORM_POSITIONS)
        if not 0.0 < dropout_keep_ratio <= 1.0:
            raise ValueError(f"FullyConnectedNet: dropout_keep_ratio={dropout_keep_ratio!r} is the probability "
                             "of keeping a unit and must be in (0, 1]; 1 disables dropout.")
        hidden_dims = list(hidden_dims)
        if any(int(h) != h or h <= 0 for h in hidden_dims) or int(input_dim) <= 0 or int(num_classes) <= 0:
            raise ValueError(f"FullyConnectedNet: layer sizes must be positive integers, got hidden_dims="
                             f"{hidden_dims}, input_dim={input_dim}, num_classes={num_classes}.")

        self.normalization = normalization
        self.norm_position = norm_position
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = float(reg)
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = np.dtype(dtype)
        self.params = {}

        rng = None if rng is None else np.random.default_rng(rng)
        dims = [int(input_dim)] + [int(h) for h in hidden_dims] + [int(num_classes)]
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            std = init_std(weight_scale, fan_in)
            draw = np.random.randn(fan_in, fan_out) if rng is None else rng.standard_normal((fan_in, fan_out))
            self.params[f"W{i}"] = std * draw
            self.params[f"b{i}"] = np.zeros(fan_out)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out)
                self.params[f"beta{i}"] = np.zeros(fan_out)
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if mask_seed is not None:
                self.dropout_param["seed"] = int(mask_seed)
            elif rng is not None:
                self.dropout_param["rng"] = rng
        self.bn_params = []
        if normalization is not None:
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Parameters
        ----------
        X : ndarray, shape (N, d_1, ..., d_k)
            Inputs, D = d_1 * ... * d_k = input_dim. Converted to ``self.dtype`` (no copy when it already is).
        y : ndarray of int, shape (N,), optional
            Labels. Without them the net runs in test mode and returns scores.

        Returns
        -------
        scores : ndarray, shape (N, C)
            When y is None.
        loss : float, grads : dict of str -> ndarray
            When y is given; ``grads[k]`` has the shape of ``params[k]``.
        """
        X = np.asarray(X).astype(self.dtype, copy=False)
        return network_loss(self.params, X, y, normalization=self.normalization, norm_position=self.norm_position,
                            norm_params=self.bn_params, dropout_param=self.dropout_param if self.use_dropout else None,
                            reg=self.reg)
# END SOLUTION


class TwoLayerNet(FullyConnectedNet):
    """cs231n's two-layer net: affine - relu - affine - softmax, a :class:`FullyConnectedNet` with one hidden layer.

    Parameters
    ----------
    input_dim : int
        Number of input features D.
    hidden_dim : int
        Size H of the hidden layer.
    num_classes : int
        Number of classes C.
    weight_scale : float or {'he', 'xavier'}
        Standard deviation of the initial weights (biases start at zero).
    reg : float
        L2 strength; the loss adds ``0.5 * reg * sum(W**2)`` over W1 and W2.
    dtype : numpy dtype
        float64 by default, as cs231n's two-layer net.
    rng : int or np.random.Generator, optional
        As in :class:`FullyConnectedNet`; with None the weights are ``weight_scale * randn`` from numpy's
        global generator, W1 then W2.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,).
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float64, rng=None):
        super().__init__([hidden_dim], input_dim=input_dim, num_classes=num_classes, reg=reg,
                         weight_scale=weight_scale, dtype=dtype, rng=rng)
