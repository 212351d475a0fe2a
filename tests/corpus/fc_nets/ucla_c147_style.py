"""fc_nets, written as in UCLA C147 HW4 (the cs231n-derived ``nndl`` code): ``np.reshape``/``@``, functional updates.

Differs from the reference solution: the ReLU mask multiplies (``x * (x > 0)``); softmax_loss through
``scipy``-free log-sum-exp with a one-hot matrix; the net keeps its caches in two lists and adds the L2
term in one sum; the update rules never touch ``config``'s arrays in place (copies); Adam's ``t`` from
``config.get('t', 0) + 1``; Nesterov written with the look-ahead velocity difference.
"""

# %% given
import numpy as np


# %% affine_forward
def affine_forward(x, w, b):
    x_rows = np.reshape(x, (x.shape[0], np.prod(x.shape[1:])))
    out = x_rows @ w + b.reshape(1, -1)
    cache = (x, w, b)
    return out, cache


# %% affine_backward
def affine_backward(dout, cache):
    x, w, b = cache
    x_rows = np.reshape(x, (x.shape[0], -1))
    dw = x_rows.T @ dout
    db = dout.sum(axis=0)
    dx = np.reshape(dout @ w.T, x.shape)
    return dx, dw, db


# %% relu_forward
def relu_forward(x):
    out = x * (x > 0)
    cache = x
    return out, cache


# %% relu_backward
def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


# %% softmax_loss
def softmax_loss(x, y):
    n, c = x.shape
    m = x.max(axis=1, keepdims=True)
    log_z = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    log_p = x - log_z
    one_hot = np.zeros((n, c))
    one_hot[np.arange(n), y] = 1.0
    loss = -(one_hot * log_p).sum() / n
    dx = (np.exp(log_p) - one_hot) / n
    return loss, dx


# %% FullyConnectedNet
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32):
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        sizes = [input_dim] + hidden_dims + [num_classes]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params["W" + str(i)] = np.random.normal(0.0, weight_scale, size=(fan_in, fan_out))
            self.params["b" + str(i)] = np.zeros(fan_out)
        # Cast all parameters to the requested dtype.
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        affine_caches, relu_caches = [], []
        h = X
        for i in range(1, self.num_layers):
            z, fc = affine_forward(h, self.params["W" + str(i)], self.params["b" + str(i)])
            h, rc = relu_forward(z)
            affine_caches.append(fc)
            relu_caches.append(rc)
        scores, fc = affine_forward(h, self.params["W" + str(self.num_layers)], self.params["b" + str(self.num_layers)])
        affine_caches.append(fc)
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        weights = [self.params["W" + str(i)] for i in range(1, self.num_layers + 1)]
        loss = data_loss + 0.5 * self.reg * sum(np.sum(W**2) for W in weights)
        grads = {}
        dh = dscores
        for i in range(self.num_layers, 0, -1):
            if i < self.num_layers:
                dh = relu_backward(dh, relu_caches[i - 1])
            dh, dW, db = affine_backward(dh, affine_caches[i - 1])
            grads["W" + str(i)] = dW + self.reg * self.params["W" + str(i)]
            grads["b" + str(i)] = db
        return loss, grads


# %% overfit_settings
def overfit_settings():
    return {"three_layer": {"weight_scale": 2e-2, "learning_rate": 5e-3},
            "five_layer": {"weight_scale": 6e-2, "learning_rate": 1e-2}}


# %% sgd_momentum
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    velocity = config.get("velocity")
    if velocity is None:
        velocity = np.zeros(w.shape)
    velocity = config["momentum"] * velocity - config["learning_rate"] * dw
    next_w = w + velocity
    config["velocity"] = velocity
    return next_w, config


# %% sgd_nesterov_momentum
def sgd_nesterov_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    old_v = config.get("velocity")
    if old_v is None:
        old_v = np.zeros(w.shape)
    new_v = config["momentum"] * old_v - config["learning_rate"] * dw
    next_w = w + new_v + config["momentum"] * (new_v - old_v)
    config["velocity"] = new_v
    return next_w, config


# %% rmsprop
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache")
    if cache is None:
        cache = np.zeros(w.shape)
    decay = config["decay_rate"]
    cache = decay * cache + (1 - decay) * np.square(dw)
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


# %% adam
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config.get("t", 0) + 1
    m = beta1 * config.get("m", np.zeros(w.shape)) + (1 - beta1) * dw
    v = beta2 * config.get("v", np.zeros(w.shape)) + (1 - beta2) * np.square(dw)
    m_unbiased = m / (1 - beta1**t)
    v_unbiased = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_unbiased / (np.sqrt(v_unbiased) + config["epsilon"])
    config.update(m=m, v=v, t=t)
    return next_w, config
