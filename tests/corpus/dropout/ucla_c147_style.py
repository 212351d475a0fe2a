"""dropout, written as in UCLA C147 HW4: a private ``RandomState`` for the mask, copies and in-place products.

Differs from the reference solution: the mask comes from ``np.random.RandomState(seed)`` when seeded
and from ``np.random.random_sample`` otherwise, compared with ``p`` in the opposite order
(``p > u``) and scaled by multiplying with ``1 / p``; the output is a copy scaled in place; the
backward pass is ``np.where`` on the mask; the net stores the caches of every hidden layer in a tuple
per layer and calls the given closed-form ``batchnorm_backward_alt``.
"""

# %% given
import numpy as np

from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


# %% dropout_forward
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"unknown mode {mode}")
    mask = None
    if mode == "train":
        if dropout_param.get("seed") is not None:
            u = np.random.RandomState(dropout_param["seed"]).random_sample(x.shape)
        else:
            u = np.random.random_sample(x.shape)
        mask = (p > u) * (1.0 / p)
        out = x.copy()
        out *= mask
    else:
        out = x.copy()
    cache = (dropout_param, mask)
    return out, cache


# %% dropout_backward
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "test":
        return dout
    dx = np.where(mask > 0, dout * mask, 0.0)
    return dx


# %% FullyConnectedNet
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, dropout_seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        sizes = [input_dim, *hidden_dims, num_classes]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)
            self.params[f"b{i}"] = np.zeros(fan_out)
        for i, width in enumerate(hidden_dims, start=1):
            if normalization is not None:
                self.params[f"gamma{i}"] = np.ones(width)
                self.params[f"beta{i}"] = np.zeros(width)
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization is not None else []
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if dropout_seed is not None:
                self.dropout_param["seed"] = dropout_seed
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        norm_fwd = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}.get(self.normalization)
        norm_bwd = {"batchnorm": batchnorm_backward_alt, "layernorm": layernorm_backward}.get(self.normalization)
        h = X
        layers = []
        for i in range(1, self.num_layers):
            z, c_fc = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            c_norm = None
            if norm_fwd is not None:
                z, c_norm = norm_fwd(z, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1])
            h, c_relu = relu_forward(z)
            c_drop = None
            if self.use_dropout:
                h, c_drop = dropout_forward(h, self.dropout_param)
            layers.append((c_fc, c_norm, c_relu, c_drop))
        L = self.num_layers
        scores, c_out = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        reg_loss = 0.5 * self.reg * sum(np.sum(self.params[f"W{i}"] ** 2) for i in range(1, L + 1))
        loss = data_loss + reg_loss
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, c_out)
        for i in reversed(range(1, L)):
            c_fc, c_norm, c_relu, c_drop = layers[i - 1]
            if c_drop is not None:
                dh = dropout_backward(dh, c_drop)
            dz = relu_backward(dh, c_relu)
            if norm_bwd is not None:
                dz, grads[f"gamma{i}"], grads[f"beta{i}"] = norm_bwd(dz, c_norm)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dz, c_fc)
        for i in range(1, L + 1):
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        return loss, grads
