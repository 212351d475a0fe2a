"""batchnorm, written as in KTH DD2424 assignment 3: the BatchNormBackPass formula, loops where DD2424 loops.

Differs from the reference solution: the batch statistics are computed with explicit sums over the
examples, ``x_hat`` as ``diag(v + eps)^(-1/2) (x - mu)`` in row form; the backward pass is DD2424's
``BatchNormBackPass`` (``sigma1``, ``sigma2``, ``G1 - mean(G1) - D * c / n``), with ``dgamma``/``dbeta``
accumulated over the examples in a loop; the closed form works on the transposed (D, N) layout of
DD2424 and transposes back; layer normalization loops over the examples; the net keeps ``X`` as the
first entry of a list of layer inputs and reads the shapes of its parameters from ``self.params``.
"""

# %% given
import numpy as np

from course_lib.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


# %% batchnorm_forward
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"batchnorm_forward: unknown mode {mode!r}")
    eps = bn_param.get("eps", 1e-5)
    alpha = bn_param.get("momentum", 0.9)
    n, d = x.shape
    if mode == "train":
        mu = np.zeros(d)
        for i in range(n):
            mu += x[i]
        mu /= n
        v = np.zeros(d)
        for i in range(n):
            v += (x[i] - mu) ** 2
        v /= n
        bn_param["running_mean"] = alpha * bn_param.get("running_mean", np.zeros(d)) + (1 - alpha) * mu
        bn_param["running_var"] = alpha * bn_param.get("running_var", np.zeros(d)) + (1 - alpha) * v
    else:
        mu = bn_param.get("running_mean", np.zeros(d))
        v = bn_param.get("running_var", np.zeros(d))
    inv_std = (v + eps) ** -0.5
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    cache = (mode, x, x_hat, inv_std, gamma, eps)
    return out, cache


# %% batchnorm_backward
def batchnorm_backward(dout, cache):
    mode, x, x_hat, inv_std, gamma, eps = cache
    n = x.shape[0]
    dgamma = np.zeros_like(gamma, dtype=float)
    dbeta = np.zeros_like(gamma, dtype=float)
    for i in range(n):
        dgamma += dout[i] * x_hat[i]
        dbeta += dout[i]
    G = dout * gamma
    mu = x.mean(axis=0)
    v = ((x - mu) ** 2).mean(axis=0)
    sigma1 = (v + eps) ** -0.5
    sigma2 = (v + eps) ** -1.5
    G1 = G * sigma1
    G2 = G * sigma2
    D = x - mu
    c = np.sum(G2 * D, axis=0)
    dx = G1 - np.sum(G1, axis=0) / n - D * c / n
    return dx, dgamma, dbeta


# %% batchnorm_backward_alt
def batchnorm_backward_alt(dout, cache):
    mode, x, x_hat, inv_std, gamma, eps = cache
    # DD2424 layout: one column per example
    G = (dout * gamma).T
    S = x_hat.T
    n = G.shape[1]
    ones = np.ones((n, 1))
    dx = (inv_std[:, None] * (G - G @ ones / n - S * ((G * S) @ ones) / n)).T
    dgamma = (dout.T * S) @ ones[:, 0]
    dbeta = dout.T @ ones[:, 0]
    return dx, dgamma, dbeta


# %% layernorm_forward
def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    n, d = x.shape
    x_hat = np.empty_like(x, dtype=float)
    inv_std = np.empty((n, 1))
    for i in range(n):
        mu = x[i].sum() / d
        var = ((x[i] - mu) ** 2).sum() / d
        inv_std[i, 0] = 1.0 / np.sqrt(var + eps)
        x_hat[i] = (x[i] - mu) * inv_std[i, 0]
    out = gamma * x_hat + beta
    cache = (x_hat, inv_std, gamma)
    return out, cache


# %% layernorm_backward
def layernorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache
    n, d = dout.shape
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = np.empty_like(dout, dtype=float)
    for i in range(n):
        g = dout[i] * gamma
        dx[i] = inv_std[i, 0] * (g - g.mean() - x_hat[i] * np.dot(g, x_hat[i]) / d)
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
        m = [input_dim] + list(hidden_dims) + [num_classes]
        for layer in range(1, len(m)):
            self.params[f"W{layer}"] = weight_scale * np.random.standard_normal((m[layer - 1], m[layer]))
            self.params[f"b{layer}"] = np.zeros(m[layer])
            if normalization and layer < len(m) - 1:
                self.params[f"gamma{layer}"] = np.ones(m[layer])
                self.params[f"beta{layer}"] = np.zeros(m[layer])
        self.bn_params = [] if normalization is None else [{"mode": "train"} for _ in hidden_dims]
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        k = self.num_layers
        layer_inputs = [X.reshape(X.shape[0], -1)]
        caches = []
        for layer in range(1, k):
            s, c_aff = affine_forward(layer_inputs[-1], self.params[f"W{layer}"], self.params[f"b{layer}"])
            c_norm = None
            if self.normalization == "batchnorm":
                s, c_norm = batchnorm_forward(s, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                              self.bn_params[layer - 1])
            elif self.normalization == "layernorm":
                s, c_norm = layernorm_forward(s, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                              self.bn_params[layer - 1])
            h, c_relu = relu_forward(s)
            layer_inputs.append(h)
            caches.append((c_aff, c_norm, c_relu))
        scores, c_last = affine_forward(layer_inputs[-1], self.params[f"W{k}"], self.params[f"b{k}"])
        if y is None:
            return scores

        loss, G = softmax_loss(scores, y)
        J = loss + self.reg / 2 * sum(np.sum(self.params[f"W{layer}"] ** 2) for layer in range(1, k + 1))
        grads = {}
        G, dW, db = affine_backward(G, c_last)
        grads[f"W{k}"], grads[f"b{k}"] = dW + self.reg * self.params[f"W{k}"], db
        for layer in range(k - 1, 0, -1):
            c_aff, c_norm, c_relu = caches[layer - 1]
            G = relu_backward(G, c_relu)
            if self.normalization == "batchnorm":
                G, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_backward_alt(G, c_norm)
            elif self.normalization == "layernorm":
                G, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layernorm_backward(G, c_norm)
            G, dW, db = affine_backward(G, c_aff)
            grads[f"W{layer}"], grads[f"b{layer}"] = dW + self.reg * self.params[f"W{layer}"], db
        return J, grads
