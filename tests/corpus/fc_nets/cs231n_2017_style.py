# ruff: noqa: UP031 - "%d" % i keys, as the 2017 starter code wrote them
"""fc_nets, written as in cs231n assignment 2 (2017): ``.dot``, a dict of caches, in-place config updates.

Differs from the reference solution: x.reshape(N, -1).dot(w); ReLU backward on a copy with boolean
indexing; softmax from normalized probabilities (not log-softmax); per-layer caches in a dict; optimizer
state kept in ``config`` with ``setdefault`` and updated in place (``config['t'] += 1``, Adam's ``t`` 0 when
absent as the docstring says); Nesterov in the form ``w - mu * v_prev + (1 + mu) * v``.
"""

# %% given
import numpy as np


# %% affine_forward
def affine_forward(x, w, b):
    N = x.shape[0]
    out = x.reshape(N, -1).dot(w) + b
    cache = (x, w, b)
    return out, cache

# %% affine_backward
def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db

# %% relu_forward
def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache

# %% relu_backward
def relu_backward(dout, cache):
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx

# %% softmax_loss
def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    # log of the normalizer, so that a probability that underflows to 0 still gives a finite loss
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx

# %% FullyConnectedNet
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32):
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        layer_input_dim = input_dim
        for i, hd in enumerate(hidden_dims):
            self.params["W%d" % (i + 1)] = weight_scale * np.random.randn(layer_input_dim, hd)
            self.params["b%d" % (i + 1)] = weight_scale * np.zeros(hd)
            layer_input_dim = hd
        self.params["W%d" % self.num_layers] = weight_scale * np.random.randn(layer_input_dim, num_classes)
        self.params["b%d" % self.num_layers] = weight_scale * np.zeros(num_classes)
        # Cast all parameters to the requested dtype.
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        caches = {}
        layer_input = X
        for i in range(1, self.num_layers):
            a, caches["affine%d" % i] = affine_forward(layer_input, self.params["W%d" % i], self.params["b%d" % i])
            layer_input, caches["relu%d" % i] = relu_forward(a)
        L = self.num_layers
        scores, caches["affine%d" % L] = affine_forward(layer_input, self.params["W%d" % L], self.params["b%d" % L])
        if y is None:
            return scores

        grads = {}
        loss, dscores = softmax_loss(scores, y)
        reg_loss = 0.0
        for i in range(1, L + 1):
            reg_loss += 0.5 * self.reg * np.sum(self.params["W%d" % i] * self.params["W%d" % i])
        loss += reg_loss
        dout, dw, db = affine_backward(dscores, caches["affine%d" % L])
        grads["W%d" % L] = dw + self.reg * self.params["W%d" % L]
        grads["b%d" % L] = db
        for i in range(L - 1, 0, -1):
            da = relu_backward(dout, caches["relu%d" % i])
            dout, dw, db = affine_backward(da, caches["affine%d" % i])
            grads["W%d" % i] = dw + self.reg * self.params["W%d" % i]
            grads["b%d" % i] = db
        return loss, grads

# %% overfit_settings
def overfit_settings():
    return {"three_layer": {"weight_scale": 1e-2, "learning_rate": 1e-2},
            "five_layer": {"weight_scale": 5e-2, "learning_rate": 2e-2}}

# %% sgd_momentum
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config

# %% sgd_nesterov_momentum
def sgd_nesterov_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    next_w = w - mu * v_prev + (1 + mu) * v
    config["velocity"] = v
    return next_w, config

# %% rmsprop
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * (dw * dw)
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config

# %% adam
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * (dw**2)
    mb = config["m"] / (1 - config["beta1"] ** config["t"])
    vb = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * mb / (np.sqrt(vb) + config["epsilon"])
    return next_w, config
