"""The batchnorm assignment's training experiment: batch normalization makes a deep net trainable.

:func:`check_batchnorm_trains` drives a plain SGD loop here, in the grader, on hidden synthetic data
(:func:`training_data`); the student's net only computes the loss and gradients of each minibatch, and the
trained parameters are evaluated with the reference forward pass (``course_lib.fc_net.network_loss``).
Part of :func:`autograder.checks.batchnorm.check_fully_connected_net` (grader-side, never released).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from autograder.checks import (
    as_array,
    call,
    make_rng,
    reference,
    unpack,
)
from autograder.checks.networks import child_seeds, read_model_dict

__all__ = ["TRAIN_SETUP", "training_data", "check_batchnorm_trains"]


# ---------------------------------------------------------------------------------------------
# Batch normalization makes a deep net trainable


#: The training experiment of :func:`check_batchnorm_trains`: a deep narrow net with a bad init scale,
#: trained with plain SGD on minibatches drawn with replacement (as cs231n's Solver does).
#: Read-only (a student's function may edit what it receives; only copies are ever passed to it).
TRAIN_SETUP: Mapping[str, Any] = MappingProxyType({"hidden_dims": (40,) * 5, "weight_scale": 1e-2, "learning_rate": 0.1,
                                "batch_size": 50, "num_epochs": 10})
_MIN_ACC, _MIN_GAP = 0.75, 0.4


def training_data(seed: int, n_train: int = 500, n_val: int = 200, dim: int = 20, classes: int = 5,
                  clusters: int = 3) -> dict[str, np.ndarray]:
    """Synthetic classification data: ``clusters`` Gaussian blobs per class, in ``dim`` dimensions.

    Easy for a trained net (the reference with batch normalization reaches 92-100 % validation
    accuracy), yet the 6-layer net of :data:`TRAIN_SETUP` without batch normalization stays at chance
    (about 20 %): its activations and gradients vanish through five layers of weights with standard
    deviation 0.01.
    """
    rng = make_rng(seed)
    centers = rng.normal(size=(classes * clusters, dim))

    def draw(n):
        k = rng.integers(0, classes * clusters, size=n)
        return centers[k] + 0.6 * rng.normal(size=(n, dim)), k % classes

    X_train, y_train = draw(n_train)
    X_val, y_val = draw(n_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def _initial_params(dims: list[int], weight_scale: float, seed: int, normalization: bool) -> dict:
    """Seeded initial parameters: W ~ weight_scale * N(0, 1), zero biases, unit gammas, zero betas."""
    rng = make_rng(seed)
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = weight_scale * rng.standard_normal((dims[i - 1], dims[i]))
        params[f"b{i}"] = np.zeros(dims[i])
        if normalization and i < len(dims) - 1:
            params[f"gamma{i}"] = np.ones(dims[i])
            params[f"beta{i}"] = np.zeros(dims[i])
    return params


def _batch_stat_accuracy(params: dict, X: np.ndarray, y: np.ndarray, normalization: bool) -> float:
    """Accuracy of the reference architecture; batch normalization uses the statistics of all of ``X``.

    Using the statistics of the evaluation set (not the net's running averages) judges the trained
    weights alone; the running averages have a check of their own.
    """
    n_hidden = sum(1 for k in params if k.startswith("W")) - 1
    with np.errstate(all="ignore"):
        scores = reference("fc_net").network_loss(params, X, normalization="batchnorm" if normalization else None,
                                                  norm_params=[{} for _ in range(n_hidden)] if normalization else (),
                                                  mode="train")
    if not np.all(np.isfinite(scores)):
        return 0.0
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _sgd(loss_fn, params: dict, data: dict, seed: int) -> tuple[dict, bool]:
    """Plain SGD on ``loss_fn(params, X, y) -> (loss, grads)``; returns the parameters and whether it diverged.

    The loop runs here (grader-side) and only the loss and its gradients come from ``loss_fn``, so the
    student's net cannot influence anything but its own gradients.
    """
    s = TRAIN_SETUP
    rng = make_rng(seed + 1)
    n = data["X_train"].shape[0]
    params = {k: v.copy() for k, v in params.items()}
    for _ in range(s["num_epochs"] * max(n // s["batch_size"], 1)):
        idx = rng.integers(0, n, size=s["batch_size"])
        loss, grads = loss_fn(params, data["X_train"][idx], data["y_train"][idx])
        if not np.isfinite(loss) or not all(np.all(np.isfinite(grads[k])) for k in params):
            return params, True
        for k in params:
            params[k] = params[k] - s["learning_rate"] * grads[k]
    return params, False


def _student_loss(where: str, model):
    """``loss_fn`` for :func:`_sgd` that sets the student's model's params and calls its ``loss``."""
    def loss_fn(params, X, y):
        model.params = {k: v.copy() for k, v in params.items()}
        loss, grads = unpack(f"{where}.loss(X, y)", call(f"{where}.loss(X, y)", model.loss, X, y), ("loss", "grads"))
        if not isinstance(grads, dict) or sorted(grads) != sorted(params):
            raise AssertionError(f"{where}.loss(X, y): grads must be a dict with the keys of params.")
        with np.errstate(all="ignore"):
            return (float(np.asarray(loss, dtype=np.float64)),
                    {k: as_array(where, f"grads['{k}']", grads[k], params[k].shape) for k in params})
    return loss_fn


def _reference_loss(dims: list[int]):
    fc = reference("fc_net")
    net = fc.FullyConnectedNet(dims[1:-1], input_dim=dims[0], num_classes=dims[-1], dtype=np.float64)

    def loss_fn(params, X, y):
        net.params = params
        with np.errstate(all="ignore"):
            return net.loss(X, y)
    return loss_fn


def check_batchnorm_trains(FullyConnectedNet, seed: int | None = None) -> None:
    """Batch normalization makes the deep narrow net of :data:`TRAIN_SETUP` train clearly better.

    For two seeds, the student's ``FullyConnectedNet(normalization='batchnorm')`` computes the loss and
    gradients (in the student's kernel) of a plain SGD run driven from here on hidden synthetic data
    (:func:`training_data`), from seeded initial parameters. The trained parameters are evaluated here
    with the reference forward pass: each run must reach a validation accuracy of at least 0.75, and
    the mean must beat the same net (reference code, same initialization, same minibatches) without
    batch normalization by at least 0.4. Measured with this code on 12 seeds (0 to 11): 0.92 to 1.0 with
    the reference batch normalization, 0.16 to 0.23 without; a batch normalization that does not
    normalize stays below 0.28, one that uses the running averages during training diverges
    (tests/test_checks.py).
    """
    s = TRAIN_SETUP
    accs, base, diverged = [], [], False
    for run_seed in child_seeds(seed, 7)[4:6]:
        data = training_data(run_seed)
        d, c = data["X_train"].shape[1], int(data["y_train"].max()) + 1
        dims = [d, *s["hidden_dims"], c]
        where = (f"FullyConnectedNet({list(s['hidden_dims'])}, input_dim={d}, num_classes={c}, "
                 f"normalization='batchnorm', dtype='float64')")
        model = call(where, FullyConnectedNet, list(s["hidden_dims"]), input_dim=d, num_classes=c,
                     weight_scale=s["weight_scale"], normalization="batchnorm", dtype="float64")
        missing = sorted(set(_initial_params(dims, 1.0, 0, True)) - set(read_model_dict(where, model, "params")))
        if missing:
            raise AssertionError(f"{where}: params has no {', '.join(map(repr, missing))}; a net with batch "
                                 f"normalization has W, b, gamma and beta for every hidden layer.")
        trained, bad = _sgd(_student_loss(where, model), _initial_params(dims, s["weight_scale"], run_seed, True),
                            data, run_seed)
        diverged |= bad
        accs.append(0.0 if bad else _batch_stat_accuracy(trained, data["X_val"], data["y_val"], True))
        ref_trained, ref_bad = _sgd(_reference_loss(dims), _initial_params(dims, s["weight_scale"], run_seed, False),
                                    data, run_seed)
        base.append(0.0 if ref_bad else _batch_stat_accuracy(ref_trained, data["X_val"], data["y_val"], False))
    if min(accs) < _MIN_ACC or np.mean(accs) - np.mean(base) < _MIN_GAP:
        shown = ", ".join(f"{a:.2f}" for a in accs)
        raise AssertionError(
            f"Trained with SGD (learning rate {s['learning_rate']}, {s['num_epochs']} epochs on hidden synthetic "
            f"data), your net with batch normalization, hidden layers {list(s['hidden_dims'])} and initial weights of "
            f"standard deviation {s['weight_scale']}, reached validation accuracies of {shown}"
            f"{' (training diverged: the loss or a gradient became NaN)' if diverged else ''}: not clearly better "
            f"than the same net without batch normalization. A working batch normalization keeps every layer's "
            f"inputs standardized during training, so this net trains despite its tiny initial weights. Check "
            f"that training mode normalizes with the minibatch statistics and that loss(X, y) runs every "
            f"normalization layer in training mode."
        )
