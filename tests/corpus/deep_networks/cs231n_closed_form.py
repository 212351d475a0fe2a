"""deep_networks, in the style of cs231n assignment 2 (2019-2022) extended to DD2424's exercises.

Differs from the reference solution: ``init_std`` from a dict with a ``KeyError`` turned into the
``ValueError`` the docstring asks for; the triangle of the cyclical rate as ``1 - |t / n_s - 2 l - 1|``;
``sample_lambdas`` as ``np.power(10, rng.uniform(l_min, l_max, size=n))``; the net stores a
``(kind, cache)`` list per layer and uses the given closed-form ``batchnorm_backward_alt`` (and the
given dropout layers), with the L2 term added from a list of the weights.
"""

# %% given
import numpy as np

from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
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
    if isinstance(weight_scale, str):
        try:
            gain = {"he": 2.0, "xavier": 1.0}[weight_scale.lower()]
        except KeyError:
            raise ValueError(f"init_std: unknown scheme {weight_scale!r}; use 'he', 'xavier' or a number") from None
        return (gain / fan_in) ** 0.5
    return weight_scale


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
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            std = init_std(weight_scale, dims[i])
            self.params["W" + str(i + 1)] = np.random.normal(0.0, std, size=(dims[i], dims[i + 1]))
            self.params["b" + str(i + 1)] = np.zeros(dims[i + 1])
        if normalization in ("batchnorm", "layernorm"):
            for i, d in enumerate(hidden_dims):
                self.params["gamma" + str(i + 1)] = np.ones(d)
                self.params["beta" + str(i + 1)] = np.zeros(d)
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
        fwd = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}
        bwd = {"batchnorm": batchnorm_backward_alt, "layernorm": layernorm_backward}
        trace = []
        out = X
        for i in range(1, self.num_layers):
            steps = []
            out, c = affine_forward(out, self.params["W" + str(i)], self.params["b" + str(i)])
            steps.append(("affine", c))
            order = ["norm", "relu"] if self.norm_position == "before" else ["relu", "norm"]
            for kind in order:
                if kind == "relu":
                    out, c = relu_forward(out)
                    steps.append(("relu", c))
                elif self.normalization is not None:
                    out, c = fwd[self.normalization](out, self.params["gamma" + str(i)], self.params["beta" + str(i)],
                                                     self.bn_params[i - 1])
                    steps.append(("norm", c))
            if self.use_dropout:
                out, c = dropout_forward(out, self.dropout_param)
                steps.append(("dropout", c))
            trace.append(steps)
        L = self.num_layers
        scores, c_out = affine_forward(out, self.params["W" + str(L)], self.params["b" + str(L)])
        if y is None:
            return scores

        loss, dout = softmax_loss(scores, y)
        weights = [self.params["W" + str(i)] for i in range(1, L + 1)]
        loss += 0.5 * self.reg * sum(float(np.sum(w * w)) for w in weights)
        grads = {}
        dout, grads["W" + str(L)], grads["b" + str(L)] = affine_backward(dout, c_out)
        grads["W" + str(L)] += self.reg * weights[L - 1]
        for i in range(L - 1, 0, -1):
            for kind, c in reversed(trace[i - 1]):
                if kind == "dropout":
                    dout = dropout_backward(dout, c)
                elif kind == "relu":
                    dout = relu_backward(dout, c)
                elif kind == "norm":
                    dout, grads["gamma" + str(i)], grads["beta" + str(i)] = bwd[self.normalization](dout, c)
                else:
                    dout, dw, db = affine_backward(dout, c)
                    grads["W" + str(i)] = dw + self.reg * weights[i - 1]
                    grads["b" + str(i)] = db
        return loss, grads


# %% cyclical_lr
def cyclical_lr(t, eta_min, eta_max, n_s):
    cycle = np.floor(1 + t / (2 * n_s))
    x = np.abs(t / n_s - 2 * cycle + 1)
    return eta_min + (eta_max - eta_min) * max(0.0, 1 - x)


# %% sample_lambdas
def sample_lambdas(l_min, l_max, n, seed):
    return np.power(10, np.random.default_rng(seed).uniform(l_min, l_max, size=n))
