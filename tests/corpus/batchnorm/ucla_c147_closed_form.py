"""batchnorm, written as in UCLA C147 HW4: ``np.var``/``np.std`` statistics, closed-form backward passes.

Differs from the reference solution: the forward pass uses ``np.var`` and ``np.sqrt`` on its result and
updates the running averages in place in ``bn_param``; the graph backward is the compact three-line form
(still through mean and variance, with ``N * dxhat`` sums); the closed form is the one derived in the
UCLA notes, ``(1 / N) * gamma * inv_std * (N * dout - sum(dout) - x_hat * sum(dout * x_hat))``; layer
normalization computes its statistics with ``keepdims=True`` on axis 1 directly; the net composes each
hidden layer with a local helper and uses the student's ``batchnorm_backward``.
"""

# %% given
import numpy as np

from course_lib.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


# %% batchnorm_forward
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    bn_param.setdefault("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        inv_std = 1 / np.sqrt(var + eps)
        x_hat = (x - mu) / np.sqrt(var + eps)
        bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mu
        bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * var
    elif mode == "test":
        inv_std = 1 / np.sqrt(bn_param["running_var"] + eps)
        x_hat = (x - bn_param["running_mean"]) * inv_std
    else:
        raise ValueError(f"Invalid forward batchnorm mode {mode}")
    out = x_hat * gamma + beta
    cache = (mode, x, x_hat, inv_std, gamma, eps)
    return out, cache


# %% batchnorm_backward
def batchnorm_backward(dout, cache):
    mode, x, x_hat, inv_std, gamma, eps = cache
    N = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu), axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dxhat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / N + dmu / N
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    return dx, dgamma, dbeta


# %% batchnorm_backward_alt
def batchnorm_backward_alt(dout, cache):
    mode, x, x_hat, inv_std, gamma, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx = (1.0 / N) * gamma * inv_std * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


# %% layernorm_forward
def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = np.mean(x, axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    cache = (x_hat, inv_std, gamma)
    return out, cache


# %% layernorm_backward
def layernorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache
    D = dout.shape[1]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dxhat = dout * gamma
    dx = (1.0 / D) * inv_std * (D * dxhat - np.sum(dxhat, axis=1, keepdims=True)
                                - x_hat * np.sum(dxhat * x_hat, axis=1, keepdims=True))
    return dx, dgamma, dbeta


# %% FullyConnectedNet
def _affine_norm_relu_forward(x, w, b, gamma, beta, param, normalization):
    a, fc_cache = affine_forward(x, w, b)
    if normalization == "batchnorm":
        a, norm_cache = batchnorm_forward(a, gamma, beta, param)
    else:
        a, norm_cache = layernorm_forward(a, gamma, beta, param)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, norm_cache, relu_cache)


def _affine_norm_relu_backward(dout, cache, normalization):
    fc_cache, norm_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    if normalization == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward(da, norm_cache)
    else:
        da, dgamma, dbeta = layernorm_backward(da, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, normalization=None, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32):
        self.normalization = normalization
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        all_dims = [input_dim, *hidden_dims, num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = np.random.normal(scale=weight_scale, size=(all_dims[i], all_dims[i + 1]))
            self.params[f"b{i + 1}"] = np.zeros(all_dims[i + 1])
        if normalization is not None:
            for i, h in enumerate(hidden_dims):
                self.params[f"gamma{i + 1}"] = np.ones(h)
                self.params[f"beta{i + 1}"] = np.zeros(h)
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization is not None else []
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        h, caches = X, []
        for i in range(1, self.num_layers):
            W, b = self.params[f"W{i}"], self.params[f"b{i}"]
            if self.normalization is None:
                h, c = affine_forward(h, W, b)
                h, rc = relu_forward(h)
                caches.append((c, rc))
            else:
                h, c = _affine_norm_relu_forward(h, W, b, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                 self.bn_params[i - 1], self.normalization)
                caches.append(c)
        scores, last = affine_forward(h, self.params[f"W{self.num_layers}"], self.params[f"b{self.num_layers}"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{self.num_layers}"], grads[f"b{self.num_layers}"] = affine_backward(dscores, last)
        for i in range(self.num_layers - 1, 0, -1):
            if self.normalization is None:
                c, rc = caches[i - 1]
                dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(relu_backward(dh, rc), c)
            else:
                dh, grads[f"W{i}"], grads[f"b{i}"], grads[f"gamma{i}"], grads[f"beta{i}"] = \
                    _affine_norm_relu_backward(dh, caches[i - 1], self.normalization)
        for i in range(1, self.num_layers + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] += self.reg * W
        return loss, grads
