"""deep_networks, written as in KTH DD2424 assignment 3: the cyclical rate from the assignment's formulas, graph batchnorm.

Differs from the reference solution: ``init_std`` with an if/elif chain; the cyclical rate with DD2424's
two formulas per half cycle and the cycle index ``l = floor(t / (2 n_s))``; the exponents of the
random search drawn as ``l_min + (l_max - l_min) * rng.random(n)``; the net applies batch normalization
before or after the ReLU with the given graph ``batchnorm_backward`` (so the bias gradients in front of
a batch-normalization layer are rounding noise around 0), keeping the scores ``s``, the normalized
``s_hat`` and the activations in lists as DD2424 does.
"""

# %% given
import numpy as np

from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
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
    if weight_scale == "he":
        return float(np.sqrt(2.0 / fan_in))
    elif weight_scale == "xavier":
        return float(1.0 / np.sqrt(fan_in))
    elif isinstance(weight_scale, str):
        raise ValueError(f"weight_scale must be 'he', 'xavier' or a number, got {weight_scale!r}")
    return float(weight_scale)


# %% FullyConnectedNet
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
        m = [input_dim, *hidden_dims, num_classes]
        for layer in range(1, self.num_layers + 1):
            sigma = init_std(weight_scale, m[layer - 1])
            self.params[f"W{layer}"] = sigma * np.random.randn(m[layer - 1], m[layer])
            self.params[f"b{layer}"] = np.zeros(m[layer])
            if normalization is not None and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(m[layer])
                self.params[f"beta{layer}"] = np.zeros(m[layer])
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization is not None else []
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if dropout_seed is not None:
                self.dropout_param["seed"] = dropout_seed
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def _norm(self, s, layer):
        fwd = batchnorm_forward if self.normalization == "batchnorm" else layernorm_forward
        return fwd(s, self.params[f"gamma{layer}"], self.params[f"beta{layer}"], self.bn_params[layer - 1])

    def _norm_back(self, g, cache):
        back = batchnorm_backward if self.normalization == "batchnorm" else layernorm_backward
        return back(g, cache)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        k = self.num_layers
        norm_at = self.norm_position if self.normalization is not None else None
        s_list, s_hat, h_list, drops = [], [], [X], []
        for layer in range(1, k):
            s, c_aff = affine_forward(h_list[-1], self.params[f"W{layer}"], self.params[f"b{layer}"])
            c_norm = None
            if norm_at == "before":
                s, c_norm = self._norm(s, layer)
            h, c_relu = relu_forward(s)
            if norm_at == "after":
                h, c_norm = self._norm(h, layer)
            if self.use_dropout:
                h, c_drop = dropout_forward(h, self.dropout_param)
                drops.append(c_drop)
            s_list.append(c_aff)
            s_hat.append((c_norm, c_relu))
            h_list.append(h)
        scores, c_last = affine_forward(h_list[-1], self.params[f"W{k}"], self.params[f"b{k}"])
        if y is None:
            return scores

        loss, G = softmax_loss(scores, y)
        grads = {}
        G, grads[f"W{k}"], grads[f"b{k}"] = affine_backward(G, c_last)
        for layer in range(k - 1, 0, -1):
            c_norm, c_relu = s_hat[layer - 1]
            if self.use_dropout:
                G = dropout_backward(G, drops[layer - 1])
            if norm_at == "after":
                G, grads[f"gamma{layer}"], grads[f"beta{layer}"] = self._norm_back(G, c_norm)
            G = relu_backward(G, c_relu)
            if norm_at == "before":
                G, grads[f"gamma{layer}"], grads[f"beta{layer}"] = self._norm_back(G, c_norm)
            G, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(G, s_list[layer - 1])
        for layer in range(1, k + 1):
            W = self.params[f"W{layer}"]
            loss += self.reg / 2 * np.sum(W**2)
            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * W
        return loss, grads


# %% cyclical_lr
def cyclical_lr(t, eta_min, eta_max, n_s):
    l_cycle = np.floor(t / (2 * n_s))
    if 2 * l_cycle * n_s <= t <= (2 * l_cycle + 1) * n_s:
        return float(eta_min + (t - 2 * l_cycle * n_s) / n_s * (eta_max - eta_min))
    return float(eta_max - (t - (2 * l_cycle + 1) * n_s) / n_s * (eta_max - eta_min))


# %% sample_lambdas
def sample_lambdas(l_min, l_max, n, seed):
    rng = np.random.default_rng(seed)
    exponents = l_min + (l_max - l_min) * rng.random(n)
    return 10.0**exponents
