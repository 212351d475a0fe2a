"""batchnorm, written as in cs231n assignment 2 (2017-2019): a staged graph backward, ``keepdims=True`` statistics.

Differs from the reference solution: every per-feature statistic is computed with ``keepdims=True``, so
the running averages, ``inv_std`` in the cache and ``dgamma``/``dbeta`` come back with shape (1, D)
(the values are right; the docstring asks for (D,)); the backward pass walks a staged computational
graph one node at a time (the "step" solutions of cs231n's batchnorm notebook); layer normalization
reuses the batch-normalization code on the transposed input (the hint of cs231n's notebook), with
``inv_std`` as an (N, 1) column; the net uses the graph backward, so the gradients of the biases in front
of each batch-normalization layer are rounding noise around 0.
"""

# %% given
import numpy as np

from course_lib.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


# %% batchnorm_forward
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        sample_mean = np.mean(x, axis=0, keepdims=True)
        xmu = x - sample_mean
        sample_var = np.mean(xmu**2, axis=0, keepdims=True)
        ivar = 1.0 / np.sqrt(sample_var + eps)
        x_hat = xmu * ivar
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == "test":
        ivar = 1.0 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * ivar
    else:
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')
    out = gamma * x_hat + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    cache = (mode, x, x_hat, ivar, gamma, eps)
    return out, cache


# %% batchnorm_backward
def batchnorm_backward(dout, cache):
    mode, x, x_hat, inv_std, gamma, eps = cache
    N = x.shape[0]
    # forward graph again: mu, xmu, sq, var, sqrtvar, ivar, xhat, gammax, out
    mu = 1.0 / N * np.sum(x, axis=0, keepdims=True)
    xmu = x - mu
    sq = xmu**2
    var = 1.0 / N * np.sum(sq, axis=0, keepdims=True)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    # backward, node by node
    dbeta = np.sum(dout, axis=0, keepdims=True)
    dgammax = dout
    dgamma = np.sum(dgammax * xhat, axis=0, keepdims=True)
    dxhat = dgammax * gamma
    divar = np.sum(dxhat * xmu, axis=0, keepdims=True)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (sqrtvar**2) * divar
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    dsq = 1.0 / N * np.ones((N, x.shape[1])) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0, keepdims=True)
    dx2 = 1.0 / N * np.ones((N, x.shape[1])) * dmu
    dx = dx1 + dx2
    return dx, dgamma, dbeta


# %% batchnorm_backward_alt
def batchnorm_backward_alt(dout, cache):
    mode, x, x_hat, inv_std, gamma, eps = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (x_hat * dout).sum(axis=0, keepdims=True)
    dx_hat = dout * gamma
    dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0, keepdims=True)
                        - x_hat * (dx_hat * x_hat).sum(axis=0, keepdims=True))
    return dx, dgamma, dbeta


# %% layernorm_forward
def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xt = x.T  # (D, N): the statistics of each example are now per column, as in batch normalization
    mu = xt.mean(axis=0, keepdims=True)
    var = ((xt - mu) ** 2).mean(axis=0, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    x_hat = ((xt - mu) * inv).T
    out = gamma * x_hat + beta
    cache = (x_hat, inv.T, gamma)
    return out, cache


# %% layernorm_backward
def layernorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache
    D = dout.shape[1]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
    dxhat_t = (dout * gamma).T
    xhat_t = x_hat.T
    dx_t = inv_std.T / D * (D * dxhat_t - dxhat_t.sum(axis=0) - xhat_t * (dxhat_t * xhat_t).sum(axis=0))
    dx = dx_t.T
    return dx, dgamma, dbeta


# %% FullyConnectedNet
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, normalization=None, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32):
        self.normalization = normalization
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + list(hidden_dims)
        for i in range(len(hidden_dims)):
            self.params["W" + str(i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params["b" + str(i + 1)] = np.zeros(dims[i + 1])
            if self.normalization in ("batchnorm", "layernorm"):
                self.params["gamma" + str(i + 1)] = np.ones(dims[i + 1])
                self.params["beta" + str(i + 1)] = np.zeros(dims[i + 1])
        self.params["W" + str(self.num_layers)] = weight_scale * np.random.randn(dims[-1], num_classes)
        self.params["b" + str(self.num_layers)] = np.zeros(num_classes)
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
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        cache = {}
        out = X
        for i in range(1, self.num_layers):
            out, cache["fc" + str(i)] = affine_forward(out, self.params["W" + str(i)], self.params["b" + str(i)])
            if self.normalization == "batchnorm":
                out, cache["norm" + str(i)] = batchnorm_forward(
                    out, self.params["gamma" + str(i)], self.params["beta" + str(i)], self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, cache["norm" + str(i)] = layernorm_forward(
                    out, self.params["gamma" + str(i)], self.params["beta" + str(i)], self.bn_params[i - 1])
            out, cache["relu" + str(i)] = relu_forward(out)
        L = self.num_layers
        scores, cache["fc" + str(L)] = affine_forward(out, self.params["W" + str(L)], self.params["b" + str(L)])
        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        loss, dout = softmax_loss(scores, y)
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params["W" + str(i)] ** 2)
        dout, grads["W" + str(L)], grads["b" + str(L)] = affine_backward(dout, cache["fc" + str(L)])
        grads["W" + str(L)] += self.reg * self.params["W" + str(L)]
        for i in reversed(range(1, L)):
            dout = relu_backward(dout, cache["relu" + str(i)])
            if self.normalization == "batchnorm":
                dout, grads["gamma" + str(i)], grads["beta" + str(i)] = batchnorm_backward(dout, cache["norm" + str(i)])
            elif self.normalization == "layernorm":
                dout, grads["gamma" + str(i)], grads["beta" + str(i)] = layernorm_backward(dout, cache["norm" + str(i)])
            dout, grads["W" + str(i)], grads["b" + str(i)] = affine_backward(dout, cache["fc" + str(i)])
            grads["W" + str(i)] += self.reg * self.params["W" + str(i)]
        return loss, grads
