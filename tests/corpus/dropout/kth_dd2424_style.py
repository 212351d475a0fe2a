"""dropout, written in the style of KTH DD2424 (numpy Generator API, column-major thinking, loops over layers).

Differs from the reference solution: the mask is drawn from ``np.random.default_rng(seed)`` (a fresh
unseeded Generator when there is no seed), so its masks differ from numpy's legacy generator while
following the docstring; the mask is boolean times ``1 / p`` in the input's dtype; the backward pass
copies ``dout`` and scales it in place; the net mixes the given graph ``batchnorm_backward`` with float32
casts only where the dtype asks for them, and unrolls the hidden layers into lists of caches.
"""

# %% given
import numpy as np

from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
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
        raise ValueError(f"dropout_forward: unknown mode {mode!r}")
    if mode == "test":
        return x, (dropout_param, None)
    rng = np.random.default_rng(dropout_param.get("seed"))
    keep = rng.random(x.shape) < p
    mask = keep.astype(x.dtype) / np.asarray(p, dtype=x.dtype)
    out = x * mask
    return out, (dropout_param, mask)


# %% dropout_backward
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    dx = np.array(dout, copy=True)
    if dropout_param["mode"] == "train":
        dx *= mask
    return dx


# %% FullyConnectedNet
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, dropout_seed=None):
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f"FullyConnectedNet: unknown normalization {normalization!r}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        m = [input_dim, *hidden_dims]
        k = self.num_layers
        for layer in range(1, k):
            self.params[f"W{layer}"] = weight_scale * np.random.randn(m[layer - 1], m[layer])
            self.params[f"b{layer}"] = np.zeros(m[layer])
            if normalization:
                self.params[f"gamma{layer}"] = np.ones(m[layer])
                self.params[f"beta{layer}"] = np.zeros(m[layer])
        self.params[f"W{k}"] = weight_scale * np.random.randn(m[-1], num_classes)
        self.params[f"b{k}"] = np.zeros(num_classes)
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization else []
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if dropout_seed is not None:
                self.dropout_param["seed"] = dropout_seed
        for name in list(self.params):
            self.params[name] = self.params[name].astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        k = self.num_layers
        aff, norm, relu, drop = [], [], [], []
        h = X
        for layer in range(1, k):
            s, c = affine_forward(h, self.params[f"W{layer}"], self.params[f"b{layer}"])
            aff.append(c)
            if self.normalization == "batchnorm":
                s, c = batchnorm_forward(s, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                         self.bn_params[layer - 1])
                norm.append(c)
            elif self.normalization == "layernorm":
                s, c = layernorm_forward(s, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                         self.bn_params[layer - 1])
                norm.append(c)
            h, c = relu_forward(s)
            relu.append(c)
            if self.use_dropout:
                h, c = dropout_forward(h, self.dropout_param)
                drop.append(c)
        scores, c_last = affine_forward(h, self.params[f"W{k}"], self.params[f"b{k}"])
        if y is None:
            return scores

        loss, G = softmax_loss(scores, y)
        grads = {}
        G, grads[f"W{k}"], grads[f"b{k}"] = affine_backward(G, c_last)
        for layer in range(k - 1, 0, -1):
            if self.use_dropout:
                G = dropout_backward(G, drop[layer - 1])
            G = relu_backward(G, relu[layer - 1])
            if self.normalization == "batchnorm":
                G, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_backward(G, norm[layer - 1])
            elif self.normalization == "layernorm":
                G, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layernorm_backward(G, norm[layer - 1])
            G, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(G, aff[layer - 1])
        for layer in range(1, k + 1):
            W = self.params[f"W{layer}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * W
        return loss, grads
