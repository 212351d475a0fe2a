"""Tests of course_lib.solver.

Reference behaviour: the cs231n assignment-2 ``Solver`` (cs231n/solver.py in the
course's assignment2 starter code), whose printed format and random draws are
replayed below; the cyclical schedule is the triangular policy of Smith (2017),
"Cyclical Learning Rates for Training Neural Networks", WACV, in the form used by
KTH DD2424 (see ../shared/seeds/002_0bc2014cc60d1050.txt, "cyclical learning rates",
n_s = 5 * 45,000 / n_batch).
"""

from __future__ import annotations

import math
import os
import pickle
import warnings

import numpy as np
import pytest

from course_lib.errors import OptionError, ShapeError
from course_lib.solver import (
    SCHEDULE_KINDS,
    CyclicSchedule,
    Solver,
    SolverInputError,
    StepSchedule,
    _atomic_pickle,
    cyclical_lr,
    make_schedule,
    step_lr,
)

# ---------------------------------------------------------------------------
# Tiny models, data and update rules
# ---------------------------------------------------------------------------


class SoftmaxModel:
    """Linear softmax classifier following the cs231n model contract."""

    def __init__(self, D, C, reg=0.0, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W": 1e-3 * rng.standard_normal((D, C)), "b": np.zeros(C)}
        self.reg = reg
        self.train_calls = 0  # state a training-mode forward changes (like BN running stats)

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        scores = X @ W + b
        if y is None:
            return scores
        self.train_calls += 1
        N = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(N), y].mean() + 0.5 * self.reg * np.sum(W * W)
        dscores = np.exp(log_probs)
        dscores[np.arange(N), y] -= 1
        dscores /= N
        return loss, {"W": X.T @ dscores + self.reg * W, "b": dscores.sum(axis=0)}


class RecordingModel:
    """Records the sample indices it sees; X[:, 0] holds each sample's index."""

    def __init__(self):
        self.params = {"w": np.zeros(1)}
        self.train_batches = []
        self.predict_batches = []
        self.dtypes = set()

    def loss(self, X, y=None):
        self.dtypes.add(X.dtype)
        idx = X[:, 0].astype(int)
        if y is None:
            self.predict_batches.append(idx)
            return np.zeros((X.shape[0], 2))
        self.train_batches.append(idx)
        return 0.0, {"w": np.zeros(1)}


def sgd(w, dw, config=None):
    """Vanilla SGD with the update-rule contract (module level, so it pickles)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def blobs(n_train=300, n_val=90, D=5, C=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centers = 3.0 * rng.standard_normal((C, D))

    def make(n):
        y = rng.integers(0, C, size=n)
        return (centers[y] + rng.standard_normal((n, D))).astype(dtype), y

    X_train, y_train = make(n_train)
    X_val, y_val = make(n_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def index_data(n_train, n_val, dtype=np.float64):
    """Data whose single feature is the sample index, for RecordingModel."""
    return {
        "X_train": np.arange(n_train, dtype=dtype)[:, None],
        "y_train": np.zeros(n_train, dtype=np.int64),
        "X_val": np.arange(n_val, dtype=dtype)[:, None],
        "y_val": np.zeros(n_val, dtype=np.int64),
    }


def quiet(**kwargs):
    kwargs.setdefault("update_rule", sgd)
    kwargs.setdefault("verbose", False)
    return kwargs


# ---------------------------------------------------------------------------
# Training behaviour
# ---------------------------------------------------------------------------


def test_training_decreases_loss_and_histories_have_cs231n_lengths():
    data = blobs()
    model = SoftmaxModel(5, 3)
    solver = Solver(model, data, **quiet(optim_config={"learning_rate": 0.5}, batch_size=50, num_epochs=4))
    solver.train()
    ipe = 300 // 50
    assert len(solver.loss_history) == 4 * ipe
    assert len(solver.lr_history) == 4 * ipe
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4 + 1
    assert solver.epoch == 4 and solver.iteration == 4 * ipe
    assert np.mean(solver.loss_history[-5:]) < 0.5 * np.mean(solver.loss_history[:5])
    assert solver.loss_history[0] == pytest.approx(math.log(3), abs=0.05)  # near-zero init
    assert solver.val_acc_history[-1] > 0.9


def sgd_in_place(w, dw, config):
    """SGD that updates w in place, as fast optimizers do."""
    w -= config["learning_rate"] * dw
    return w, config


@pytest.mark.parametrize("rule", [sgd, sgd_in_place])
def test_best_params_are_restored_not_the_last_ones(rule):
    data = blobs()
    model = SoftmaxModel(5, 3)

    # Learn for two epochs, then gradient *ascent* ruins the model.
    def schedule(iteration, epoch):
        return 0.5 if epoch < 2 else -5.0

    solver = Solver(model, data, **quiet(update_rule=rule, lr_schedule=schedule, batch_size=50, num_epochs=4))
    solver.train()
    assert solver.val_acc_history[-1] < max(solver.val_acc_history)
    assert solver.best_val_acc == max(solver.val_acc_history)
    for k, v in solver.best_params.items():
        np.testing.assert_array_equal(model.params[k], v)
        assert model.params[k] is not v  # further training cannot alter best_params
    # num_val_samples=None: the restored model reproduces the best validation accuracy.
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_zero_epochs_keeps_the_model():
    data = blobs()
    model = SoftmaxModel(5, 3)
    W0 = model.params["W"].copy()
    solver = Solver(model, data, **quiet(num_epochs=0))
    solver.train()
    assert solver.loss_history == [] and solver.train_acc_history == []
    np.testing.assert_array_equal(model.params["W"], W0)


def test_callable_update_rule_gets_a_config_copy_per_parameter():
    seen = {}

    def counting_sgd(w, dw, config):
        config["calls"] = config.get("calls", 0) + 1
        seen.setdefault(id(config), config)
        return w - config["learning_rate"] * dw, config

    optim_config = {"learning_rate": 0.1}
    model = SoftmaxModel(5, 3)
    solver = Solver(model, blobs(), **quiet(update_rule=counting_sgd, optim_config=optim_config,
                                            batch_size=100, num_epochs=2))
    solver.train()
    assert solver.update_rule is counting_sgd
    assert len(seen) == 2  # one config per parameter, kept across steps
    assert [c["calls"] for c in solver.optim_configs.values()] == [6, 6]
    assert optim_config == {"learning_rate": 0.1}  # the caller's dict is not modified


def test_data_is_not_converted():
    model = RecordingModel()
    Solver(model, index_data(40, 10, dtype=np.float32), **quiet(batch_size=10, num_epochs=1)).train()
    assert model.dtypes == {np.dtype(np.float32)}


def test_non_finite_loss_is_recorded_with_one_warning():
    class Diverging(SoftmaxModel):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            if y is not None and self.train_calls >= 3:
                return math.nan, out[1]
            return out

    solver = Solver(Diverging(5, 3), blobs(), **quiet(batch_size=50, num_epochs=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        solver.train()
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    assert "nan" in str(runtime[0].message) and "learning rate" in str(runtime[0].message)
    assert len(solver.loss_history) == 12
    assert not math.isnan(solver.loss_history[1]) and math.isnan(solver.loss_history[-1])


# ---------------------------------------------------------------------------
# Randomness
# ---------------------------------------------------------------------------


def test_unseeded_draws_replay_cs231n_order_on_global_generator():
    n_train, n_val, bs, epochs, n_tr_s, n_val_s = 250, 60, 50, 3, 100, 40
    model = RecordingModel()
    solver = Solver(model, index_data(n_train, n_val), **quiet(
        batch_size=bs, num_epochs=epochs, num_train_samples=n_tr_s, num_val_samples=n_val_s))
    np.random.seed(1234)
    solver.train()
    state_after_train = np.random.get_state()

    # Replay of cs231n Solver.train/_step/check_accuracy draws.
    np.random.seed(1234)
    ipe = max(n_train // bs, 1)
    T = epochs * ipe
    expected_train, expected_predict = [], []
    for t in range(T):
        expected_train.append(np.random.choice(n_train, bs))
        if t == 0 or t == T - 1 or (t + 1) % ipe == 0:
            expected_predict.append(np.random.choice(n_train, n_tr_s))
            expected_predict.append(np.random.choice(n_val, n_val_s))
    state_after_replay = np.random.get_state()

    assert len(model.train_batches) == T
    for got, want in zip(model.train_batches, expected_train):
        np.testing.assert_array_equal(got, want)
    assert len(model.predict_batches) == len(expected_predict)
    for got, want in zip(model.predict_batches, expected_predict):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(state_after_train[1], state_after_replay[1])
    assert state_after_train[2] == state_after_replay[2]


def _global_state():
    state = np.random.get_state()
    return state[1].copy(), state[2:]


def test_seeded_runs_are_identical_and_leave_global_generator_alone():
    def run(seed):
        model = RecordingModel()
        solver = Solver(model, index_data(250, 60), **quiet(
            batch_size=50, num_epochs=2, num_train_samples=100, num_val_samples=40, seed=seed))
        solver.train()
        return model

    np.random.seed(5)
    before = _global_state()
    a, b = run(3), run(3)
    c = run(np.random.default_rng(3))
    d = run(4)
    after = _global_state()
    np.testing.assert_array_equal(before[0], after[0])
    assert before[1] == after[1]
    for other in (b, c):
        for x, y in zip(a.train_batches + a.predict_batches, other.train_batches + other.predict_batches):
            np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a.train_batches, d.train_batches))


@pytest.mark.parametrize("seed", [None, 0])
def test_shuffle_visits_every_sample_once_per_epoch(seed):
    n_train, bs, epochs = 250, 100, 3
    model = RecordingModel()
    solver = Solver(model, index_data(n_train, 20), **quiet(batch_size=bs, num_epochs=epochs,
                                                             shuffle=True, seed=seed))
    np.random.seed(0)
    solver.train()
    ipe = math.ceil(n_train / bs)
    assert len(model.train_batches) == epochs * ipe == len(solver.loss_history)
    assert [len(b) for b in model.train_batches[:ipe]] == [100, 100, 50]
    orders = []
    for e in range(epochs):
        order = np.concatenate(model.train_batches[e * ipe:(e + 1) * ipe])
        np.testing.assert_array_equal(np.sort(order), np.arange(n_train))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled each epoch
    assert len(solver.train_acc_history) == epochs + 1


# ---------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------


def dd2424_cyclical_loop(T, eta_min, eta_max, n_s):
    """The DD2424 formula written out cycle by cycle, as a direct loop."""
    etas = {}
    l = 0
    while 2 * l * n_s <= T:
        for t in range(2 * l * n_s, (2 * l + 1) * n_s + 1):
            etas[t] = eta_min + (t - 2 * l * n_s) / n_s * (eta_max - eta_min)
        for t in range((2 * l + 1) * n_s, 2 * (l + 1) * n_s + 1):
            etas[t] = eta_max - (t - (2 * l + 1) * n_s) / n_s * (eta_max - eta_min)
        l += 1
    return [etas[t] for t in range(T)]


def test_cyclical_lr_key_points_and_loop_reference():
    eta_min, eta_max, n_s = 1e-5, 1e-1, 500
    mid = (eta_min + eta_max) / 2
    assert cyclical_lr(0, eta_min, eta_max, n_s) == pytest.approx(eta_min, rel=1e-12)
    assert cyclical_lr(n_s // 2, eta_min, eta_max, n_s) == pytest.approx(mid, rel=1e-12)
    assert cyclical_lr(n_s, eta_min, eta_max, n_s) == pytest.approx(eta_max, rel=1e-12)
    assert cyclical_lr(3 * n_s // 2, eta_min, eta_max, n_s) == pytest.approx(mid, rel=1e-12)
    assert cyclical_lr(2 * n_s, eta_min, eta_max, n_s) == pytest.approx(eta_min, rel=1e-12)
    assert isinstance(cyclical_lr(7, eta_min, eta_max, n_s), float)

    T = 3 * 2 * n_s + 123  # three cycles and a bit
    ours = [cyclical_lr(t, eta_min, eta_max, n_s) for t in range(T)]
    np.testing.assert_allclose(ours, dd2424_cyclical_loop(T, eta_min, eta_max, n_s), rtol=1e-12, atol=0)
    # DD2424's n_s = 5 * 45000 / n_batch is a float in Python.
    assert cyclical_lr(2250, 0.0, 1.0, 5 * 45000 / 100) == pytest.approx(1.0)


def test_solver_cyclic_schedule_sets_every_parameter_learning_rate():
    seen = []

    def recording_sgd(w, dw, config):
        seen.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config

    spec = {"kind": "cyclic", "eta_min": 1e-3, "eta_max": 1e-1, "n_s": 7}
    solver = Solver(SoftmaxModel(5, 3), blobs(), **quiet(update_rule=recording_sgd, lr_schedule=spec,
                                                         batch_size=50, num_epochs=5))
    solver.train()
    T = 5 * 6
    expected = dd2424_cyclical_loop(T, 1e-3, 1e-1, 7)
    np.testing.assert_allclose(solver.lr_history, expected, rtol=1e-12)
    np.testing.assert_allclose(seen, np.repeat(expected, 2), rtol=1e-12)  # W and b


def test_step_schedule():
    lr0, ipe, epochs = 0.1, 6, 5

    def run(**kw):
        solver = Solver(SoftmaxModel(5, 3), blobs(), **quiet(optim_config={"learning_rate": lr0},
                                                             batch_size=50, num_epochs=epochs, **kw))
        solver.train()
        return np.array(solver.lr_history)

    expected = [lr0 * 0.5 ** ((t // ipe) // 2) for t in range(epochs * ipe)]
    np.testing.assert_allclose(run(lr_schedule={"kind": "step", "decay": 0.5, "every_epochs": 2}), expected)
    np.testing.assert_allclose(run(lr_schedule="step", lr_decay=0.5, step_epochs=2), expected)
    # 'step' every epoch is cs231n's lr_decay; no schedule applies lr_decay after each epoch.
    cs231n = run(lr_decay=0.9)
    np.testing.assert_allclose(cs231n, [lr0 * 0.9 ** (t // ipe) for t in range(epochs * ipe)], rtol=1e-12)
    np.testing.assert_allclose(run(lr_schedule="step", lr_decay=0.9), cs231n, rtol=1e-12)
    assert step_lr(5, 1.0, 0.5, 2) == 0.25
    assert StepSchedule(1.0, 0.5, 2)(0, 5) == 0.25


def test_callable_schedule_gets_iteration_and_epoch():
    calls = []

    def schedule(iteration, epoch):
        calls.append((iteration, epoch))
        return 0.01

    solver = Solver(SoftmaxModel(5, 3), blobs(), **quiet(lr_schedule=schedule, batch_size=100, num_epochs=2))
    solver.train()
    assert calls == [(t, t // 3) for t in range(6)]
    assert solver.lr_history == [0.01] * 6


def test_make_schedule_forms():
    assert make_schedule(None) is None
    assert make_schedule("step", learning_rate=0.1, lr_decay=0.5) == StepSchedule(0.1, 0.5, 1)
    cyc = make_schedule({"kind": "cyclic", "eta_min": 0, "eta_max": 1, "n_s": 2})
    assert cyc == CyclicSchedule(0.0, 1.0, 2.0)
    assert [cyc(t, 0) for t in range(5)] == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert SCHEDULE_KINDS == ("step", "cyclic")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_unknown_kwarg_is_named():
    with pytest.raises(OptionError) as info:
        Solver(SoftmaxModel(5, 3), blobs(), update_rule=sgd, learnig_rate=1e-3, verbose=False)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "'learnig_rate'" in msg and "optim_config" in msg


@pytest.fixture
def fake_optim(monkeypatch):
    """A stand-in registry in course_lib.optim, so these tests do not depend on its update rules."""
    import course_lib.optim

    def fake_sgd(w, dw, config=None):
        return sgd(w, dw, config)

    def fake_adam(w, dw, config=None):
        return sgd(w, dw, config)

    rules = {"sgd": fake_sgd, "adam": fake_adam}
    monkeypatch.setattr(course_lib.optim, "UPDATE_RULES", rules)
    return rules


def test_update_rule_names_come_from_the_registry(fake_optim):
    assert Solver(SoftmaxModel(5, 3), blobs(), verbose=False).update_rule is fake_optim["sgd"]
    assert Solver(SoftmaxModel(5, 3), blobs(), update_rule="adam", verbose=False).update_rule is fake_optim["adam"]
    with pytest.raises(OptionError) as info:
        Solver(SoftmaxModel(5, 3), blobs(), update_rule="adamw", verbose=False)
    msg = str(info.value)
    assert "'adamw'" in msg and "'sgd'" in msg and "'adam'" in msg and "callable" in msg


@pytest.mark.parametrize("spec", ["cosine", {"kind": "cosine"}, {"eta_min": 1e-5}])
def test_unknown_schedule_kind(spec):
    with pytest.raises(OptionError) as info:
        Solver(SoftmaxModel(5, 3), blobs(), **quiet(lr_schedule=spec))
    msg = str(info.value)
    assert "'step'" in msg and "'cyclic'" in msg and "unknown kind" in msg


@pytest.mark.parametrize("kwargs, needle", [
    ({"lr_schedule": {"kind": "cyclic", "eta_min": 1e-5, "eta_max": 1e-1}}, "'n_s'"),
    ({"lr_schedule": {"kind": "cyclic", "eta_min": 1e-1, "eta_max": 1e-5, "n_s": 5}}, "eta_min <= eta_max"),
    ({"lr_schedule": {"kind": "cyclic", "eta_min": 0, "eta_max": 1, "n_s": 5, "nx": 1}}, "'nx'"),
    ({"lr_schedule": {"kind": "cyclic", "eta_min": 0, "eta_max": 1, "n_s": 5}, "lr_decay": 0.9}, "lr_decay"),
    ({"lr_schedule": "step"}, "optim_config"),
    ({"step_epochs": 2}, "step_epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 10.0}, "batch_size"),
    ({"num_epochs": -1}, "num_epochs"),
    ({"print_every": 0}, "print_every"),
    ({"lr_decay": 0}, "lr_decay"),
    ({"seed": "abc"}, "seed"),
    ({"update_rule": 3}, "update_rule"),
    ({"optim_config": [("learning_rate", 1)]}, "optim_config"),
])
def test_bad_options(kwargs, needle):
    with pytest.raises(OptionError, match=needle):
        Solver(SoftmaxModel(5, 3), blobs(), **quiet(**kwargs))


def test_bad_data():
    data = blobs()
    model = SoftmaxModel(5, 3)
    with pytest.raises(SolverInputError, match="'y_val'") as info:
        Solver(model, {k: v for k, v in data.items() if k != "y_val"}, **quiet())
    assert isinstance(info.value, ValueError)
    with pytest.raises(ShapeError, match="300 samples .* 299 labels"):
        Solver(model, {**data, "y_train": data["y_train"][:-1]}, **quiet())
    with pytest.raises(ShapeError, match="astype"):
        Solver(model, {**data, "y_val": data["y_val"].astype(float)}, **quiet())
    with pytest.raises(ShapeError, match="np.asarray"):
        Solver(model, {**data, "X_train": data["X_train"].tolist()}, **quiet())
    with pytest.raises(SolverInputError, match="model.params"):
        Solver(object(), data, **quiet())


def test_missing_gradient_is_explained():
    class NoBias(SoftmaxModel):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            if y is None:
                return out
            return out[0], {"W": out[1]["W"]}

    with pytest.raises(SolverInputError, match="no gradient for parameter 'b'"):
        Solver(NoBias(5, 3), blobs(), **quiet(num_epochs=1)).train()


# ---------------------------------------------------------------------------
# Evaluation, checkpoints, printing
# ---------------------------------------------------------------------------


def test_eval_history_records_loss_and_accuracy_without_touching_model_state():
    data = blobs()
    model = SoftmaxModel(5, 3, reg=0.1)
    initial_loss, _ = model.loss(data["X_train"], data["y_train"])
    initial_acc = np.mean(np.argmax(model.loss(data["X_val"]), axis=1) == data["y_val"])
    model.train_calls = 0
    solver = Solver(model, data, **quiet(optim_config={"learning_rate": 0.5}, batch_size=50, num_epochs=2,
                                         num_train_samples=None, eval_every=4))
    solver.train()
    assert [r["iteration"] for r in solver.eval_history] == [0, 4, 8, 12]
    assert [r["epoch"] for r in solver.eval_history] == [0, 0, 1, 2]
    first = solver.eval_history[0]
    assert first["train_loss"] == pytest.approx(initial_loss, rel=1e-12)  # includes the reg term
    assert first["val_acc"] == pytest.approx(initial_acc)
    assert solver.eval_history[-1]["val_loss"] < first["val_loss"]
    assert model.train_calls == 12  # evaluation ran on a copy of the model


def test_checkpoints_written_atomically_and_loadable(tmp_path):
    data = blobs()
    name = str(tmp_path / "ck")
    solver = Solver(SoftmaxModel(5, 3), data, **quiet(checkpoint_name=name, batch_size=100, num_epochs=2))
    solver.train()
    assert sorted(os.listdir(tmp_path)) == ["ck_epoch_0.pkl", "ck_epoch_1.pkl", "ck_epoch_2.pkl"]
    with open(f"{name}_epoch_2.pkl", "rb") as f:
        ck = pickle.load(f)
    assert ck["epoch"] == 2 and ck["update_rule"] is sgd and ck["batch_size"] == 100
    assert ck["loss_history"] == solver.loss_history
    assert ck["val_acc_history"] == solver.val_acc_history
    saved_acc = np.mean(np.argmax(ck["model"].loss(data["X_val"]), axis=1) == data["y_val"])
    assert saved_acc == solver.val_acc_history[-1]

    # A lambda rule does not pickle: its name is stored instead, training goes on.
    solver = Solver(SoftmaxModel(5, 3), data, **quiet(update_rule=lambda w, dw, c: sgd(w, dw, c),
                                                      checkpoint_name=str(tmp_path / "lam"), num_epochs=1))
    solver.train()
    with open(tmp_path / "lam_epoch_1.pkl", "rb") as f:
        assert pickle.load(f)["update_rule"].endswith("<lambda>")

    with pytest.raises(OptionError, match="does not exist"):
        Solver(SoftmaxModel(5, 3), data, **quiet(checkpoint_name=str(tmp_path / "nodir" / "ck")))


def test_atomic_pickle_leaves_no_half_file(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("nope")

    target = tmp_path / "x.pkl"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        _atomic_pickle({"a": np.zeros(1000), "b": Unpicklable()}, str(target))
    assert os.listdir(tmp_path) == ["x.pkl"] and target.read_bytes() == b"old"


def test_verbose_prints_cs231n_lines(capsys):
    data = blobs()
    solver = Solver(SoftmaxModel(5, 3), data, update_rule=sgd, batch_size=100, num_epochs=2, print_every=2)
    solver.train()
    out, err = capsys.readouterr()
    # Expected lines rebuilt with cs231n Solver.train's format strings and order.
    T, ipe, expected, k = 6, 3, [], 0
    for t in range(T):
        if t % 2 == 0:
            expected.append("(Iteration %d / %d) loss: %f" % (t + 1, T, solver.loss_history[t]))  # noqa: UP031
        if t == 0 or t == T - 1 or (t + 1) % ipe == 0:
            expected.append("(Epoch %d / %d) train acc: %f; val_acc: %f"  # noqa: UP031
                            % ((t + 1) // ipe, 2, solver.train_acc_history[k], solver.val_acc_history[k]))
            k += 1
    assert out.splitlines() == expected
    assert expected[0].startswith("(Iteration 1 / 6) loss: ")
    assert "6/6" in err  # the progress bar went to stderr


def test_quiet_prints_nothing(capsys):
    Solver(SoftmaxModel(5, 3), blobs(), **quiet(num_epochs=1)).train()
    assert capsys.readouterr() == ("", "")


def test_real_registry_rules_train():
    from course_lib.optim import UPDATE_RULES

    for name in ("sgd", "adam"):
        model = SoftmaxModel(5, 3)
        solver = Solver(model, blobs(), update_rule=name, optim_config={"learning_rate": 0.05},
                        batch_size=50, num_epochs=2, verbose=False, seed=0)
        assert solver.update_rule is UPDATE_RULES[name]
        solver.train()
        assert np.mean(solver.loss_history[-3:]) < np.mean(solver.loss_history[:3])
