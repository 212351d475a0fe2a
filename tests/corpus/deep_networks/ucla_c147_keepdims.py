"""deep_networks, in the style of UCLA C147 HW4 with its own normalization layers (keepdims shapes) inside the net.

Differs from the reference solution: ``init_std`` through ``math.sqrt`` on a lookup (imported inside the function); the cyclical rate
by the position inside the cycle with ``t % (2 n_s)``; ``sample_lambdas`` with ``Generator.uniform``
and ``10 **``; the net writes its own batch normalization inline (statistics with ``keepdims=True``, the
running averages of shape (1, D) in ``bn_params``), computes ``dgamma``/``dbeta`` with ``keepdims=True``
and reshapes them to the parameters' shapes before returning them, and runs the given layers otherwise.
"""

# %% given
import numpy as np

from course_lib.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


# %% init_std
def init_std(weight_scale, fan_in):
    import math

    factors = {"he": 2, "xavier": 1}
    if type(weight_scale) is str:
        if weight_scale not in factors:
            raise ValueError("weight_scale should be 'he', 'xavier' or a float")
        return math.sqrt(factors[weight_scale] / fan_in)
    return float(weight_scale)


# %% FullyConnectedNet
def _bn_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    if bn_param["mode"] == "train":
        mu = x.mean(axis=0, keepdims=True)
        var = x.var(axis=0, keepdims=True)
        bn_param["running_mean"] = momentum * bn_param.get("running_mean", 0.0) + (1 - momentum) * mu
        bn_param["running_var"] = momentum * bn_param.get("running_var", 0.0) + (1 - momentum) * var
    else:
        mu, var = bn_param["running_mean"], bn_param["running_var"]
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv
    return gamma * xhat + beta, (xhat, inv, gamma)


def _bn_backward(dout, cache):
    xhat, inv, gamma = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * xhat).sum(axis=0, keepdims=True)
    dxhat = dout * gamma
    dx = inv / n * (n * dxhat - dxhat.sum(axis=0, keepdims=True) - xhat * (dxhat * xhat).sum(axis=0, keepdims=True))
    return dx, dgamma, dbeta


class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, dropout_seed=None,
                 norm_position="before"):
        self.normalization = normalization
        self.norm_position = norm_position
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        layer_dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = np.random.randn(layer_dims[i - 1], layer_dims[i]) * init_std(weight_scale,
                                                                                               layer_dims[i - 1])
            self.params[f"b{i}"] = np.zeros(layer_dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(layer_dims[i])
                self.params[f"beta{i}"] = np.zeros(layer_dims[i])
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization is not None else []
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if dropout_seed is not None:
                self.dropout_param["seed"] = dropout_seed
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def _norm(self, x, i):
        gamma, beta, param = self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1]
        if self.normalization == "batchnorm":
            return _bn_forward(x, gamma, beta, param)
        return layernorm_forward(x, gamma, beta, param)

    def _norm_back(self, d, cache, i):
        if self.normalization == "batchnorm":
            d, dgamma, dbeta = _bn_backward(d, cache)
        else:
            d, dgamma, dbeta = layernorm_backward(d, cache)
        return d, dgamma.reshape(self.params[f"gamma{i}"].shape), dbeta.reshape(self.params[f"beta{i}"].shape)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        before = self.normalization is not None and self.norm_position == "before"
        after = self.normalization is not None and self.norm_position == "after"
        h, caches = X, []
        for i in range(1, self.num_layers):
            a, fc = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            nc = dc = None
            if before:
                a, nc = self._norm(a, i)
            h, rc = relu_forward(a)
            if after:
                h, nc = self._norm(h, i)
            if self.use_dropout:
                h, dc = dropout_forward(h, self.dropout_param)
            caches.append((fc, nc, rc, dc))
        L = self.num_layers
        scores, last = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores

        loss, d = softmax_loss(scores, y)
        grads = {}
        d, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(d, last)
        for i in range(L - 1, 0, -1):
            fc, nc, rc, dc = caches[i - 1]
            if dc is not None:
                d = dropout_backward(d, dc)
            if after:
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = self._norm_back(d, nc, i)
            d = relu_backward(d, rc)
            if before:
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = self._norm_back(d, nc, i)
            d, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(d, fc)
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params[f"W{i}"] ** 2)
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        return loss, grads


# %% cyclical_lr
def cyclical_lr(t, eta_min, eta_max, n_s):
    pos = t % (2 * n_s)
    if pos < n_s:
        return eta_min + pos / n_s * (eta_max - eta_min)
    return eta_max - (pos - n_s) / n_s * (eta_max - eta_min)


# %% sample_lambdas
def sample_lambdas(l_min, l_max, n, seed):
    gen = np.random.default_rng(seed)
    return 10 ** gen.uniform(low=l_min, high=l_max, size=(n,))
