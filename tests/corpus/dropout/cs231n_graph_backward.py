# ruff: noqa: UP031 - "%d" % i keys, as the cs231n starter code wrote them
"""dropout, written as in cs231n assignment 2 (2019-2022): ``np.random.seed`` for a seeded mask, graph batchnorm in the net.

Differs from the reference solution: the mask is ``(np.random.rand(*x.shape) < p) / p`` after
``np.random.seed(seed)`` when a seed is given (numpy's global generator, as cs231n's starter code does);
the backward pass multiplies by the cached mask; the net keeps one cache dict per layer and calls the
given ``batchnorm_backward`` (the computational-graph version), whose bias gradients in front of each
batch-normalization layer are rounding noise around 0.
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
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    out = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


# %% dropout_backward
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    dx = None
    if mode == "train":
        dx = dout * mask
    elif mode == "test":
        dx = dout
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
        dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(self.num_layers):
            self.params["W" + str(i + 1)] = np.random.normal(0, weight_scale, (dims[i], dims[i + 1]))
            self.params["b" + str(i + 1)] = np.zeros(dims[i + 1])
            if self.normalization is not None and i < self.num_layers - 1:
                self.params["gamma" + str(i + 1)] = np.ones(dims[i + 1])
                self.params["beta" + str(i + 1)] = np.zeros(dims[i + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if dropout_seed is not None:
                self.dropout_param["seed"] = dropout_seed
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for i in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for i in range(self.num_layers - 1)]
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        caches = []
        out = X
        for i in range(1, self.num_layers):
            cache = {}
            out, cache["fc"] = affine_forward(out, self.params["W%d" % i], self.params["b%d" % i])
            if self.normalization == "batchnorm":
                out, cache["bn"] = batchnorm_forward(out, self.params["gamma%d" % i], self.params["beta%d" % i],
                                                     self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, cache["ln"] = layernorm_forward(out, self.params["gamma%d" % i], self.params["beta%d" % i],
                                                     self.bn_params[i - 1])
            out, cache["relu"] = relu_forward(out)
            if self.use_dropout:
                out, cache["drop"] = dropout_forward(out, self.dropout_param)
            caches.append(cache)
        scores, fc_cache = affine_forward(out, self.params["W%d" % self.num_layers],
                                          self.params["b%d" % self.num_layers])
        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        loss, dscores = softmax_loss(scores, y)
        L = self.num_layers
        dout, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, fc_cache)
        for i in range(L - 1, 0, -1):
            cache = caches[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, cache["drop"])
            dout = relu_backward(dout, cache["relu"])
            if self.normalization == "batchnorm":
                dout, grads["gamma%d" % i], grads["beta%d" % i] = batchnorm_backward(dout, cache["bn"])
            elif self.normalization == "layernorm":
                dout, grads["gamma%d" % i], grads["beta%d" % i] = layernorm_backward(dout, cache["ln"])
            dout, grads["W%d" % i], grads["b%d" % i] = affine_backward(dout, cache["fc"])
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params["W%d" % i] ** 2)
            grads["W%d" % i] += self.reg * self.params["W%d" % i]
        return loss, grads
