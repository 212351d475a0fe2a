"""Hidden checks of the ``fc_nets`` assignment, one function per exercise.

Every check takes the student's object(s) as arguments (proxies under the grader, the functions
themselves under plain nbgrader), builds its own seeded inputs and compares with ``course_lib`` or
with numerical gradients. See :mod:`autograder.checks` for the conventions.

Isolation: a check exercises one exercise only, so that a submission with exactly one wrong function
loses exactly that function's points.

* Backward passes get the cache the notebook prescribes (``(x, w, b)`` for the affine layer, ``x`` for
  the ReLU), built here, never one from the student's forward pass.
* :func:`check_fully_connected_net` compares the student's net with the reference net given the same
  parameters. The student's net necessarily calls the student's layers, so a case also passes when the
  net agrees with the reference *architecture* composed of the student's own failing layer functions,
  in an order that state kept by them cannot fool: a correct net on top of a wrong layer passes (the
  layer's own cell fails), a wrong net fails either way.
* :func:`check_overfit_settings` trains the reference net with the student's hyperparameters.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from autograder.checks import (
    as_array,
    as_float,
    assert_close,
    assert_close_dict,
    call,
    make_rng,
    numerical_gradient,
    numerical_gradient_array,
    reference,
    relative_error,
    unpack,
)
from autograder.checks.networks import agrees_with_own_layers, own_layer_tables

__all__ = [
    "check_affine_forward",
    "check_affine_backward",
    "check_relu_forward",
    "check_relu_backward",
    "check_softmax_loss",
    "check_fully_connected_net",
    "check_overfit_settings",
    "check_sgd_momentum",
    "check_sgd_nesterov_momentum",
    "check_rmsprop",
    "check_adam",
    "OVERFIT_ARCHITECTURES",
    "OVERFIT_DATA_SEED",
]

_FORWARD_TOL = 1e-9
_GRAD_TOL = 1e-7
_NET_TOL = 1e-7
_RULE_TOL = 1e-8


# ---------------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------------

def check_affine_forward(affine_forward: Callable, seed: int | None = None) -> None:
    """``affine_forward(x, w, b)`` on inputs of 2 to 4 dimensions, against the reference."""
    ref = reference("layers")
    rng = make_rng(seed)
    for shape, m in (((3, 4, 5), 6), ((1, 7), 3), ((5, 2, 3, 2), 4)):
        x = rng.normal(size=shape)
        w = rng.normal(size=(int(np.prod(shape[1:])), m))
        b = rng.normal(size=m)
        where = f"affine_forward(x of shape {shape}, w, b)"
        out, _cache = unpack(where, call(where, affine_forward, x, w, b), ("out", "cache"))
        want, _ = ref.affine_forward(x, w, b)
        assert_close(where, "out", out, want, _FORWARD_TOL,
                     "Flatten each example to a row of D values, multiply by w, add b.")


def check_affine_backward(affine_backward: Callable, seed: int | None = None) -> None:
    """``affine_backward(dout, (x, w, b))`` against numerical gradients of the reference forward."""
    ref = reference("layers")
    rng = make_rng(seed)
    for shape, m in (((4, 3, 2), 5), ((2, 6), 3)):
        x = rng.normal(size=shape)
        w = rng.normal(size=(int(np.prod(shape[1:])), m))
        b = rng.normal(size=m)
        dout = rng.normal(size=(shape[0], m))
        where = f"affine_backward(dout, cache) with x of shape {shape}"
        dx, dw, db = unpack(where, call(where, affine_backward, dout, (x, w, b)), ("dx", "dw", "db"))
        # mypy cannot type a lambda whose defaults bind loop variables (python/mypy#15459): ignored
        dx_num = numerical_gradient_array(lambda v, w=w, b=b: ref.affine_forward(v, w, b)[0], x.copy(), dout)  # type: ignore[misc]
        dw_num = numerical_gradient_array(lambda v, x=x, b=b: ref.affine_forward(x, v, b)[0], w.copy(), dout)  # type: ignore[misc]
        db_num = numerical_gradient_array(lambda v, x=x, w=w: ref.affine_forward(x, w, v)[0], b.copy(), dout)  # type: ignore[misc]
        assert_close(where, "dx", dx, dx_num, _GRAD_TOL,
                     "dx must have x's shape (N, d_1, ..., d_k): compute it as an (N, D) array and reshape.")
        assert_close(where, "dw", dw, dw_num, _GRAD_TOL,
                     "dw has w's shape (D, M); check which factor is transposed.")
        assert_close(where, "db", db, db_num, _GRAD_TOL, "db sums dout over the examples.")


def check_relu_forward(relu_forward: Callable, seed: int | None = None) -> None:
    """``relu_forward(x)`` on a 3-d input with negative, zero and positive entries."""
    ref = reference("layers")
    rng = make_rng(seed)
    x = rng.normal(size=(4, 3, 5))
    x[0, 0, :2] = 0.0
    where = "relu_forward(x of shape (4, 3, 5))"
    out, _cache = unpack(where, call(where, relu_forward, x), ("out", "cache"))
    want, _ = ref.relu_forward(x)
    assert_close(where, "out", out, want, _FORWARD_TOL, "Negative entries become 0, the others stay.")


def check_relu_backward(relu_backward: Callable, seed: int | None = None) -> None:
    """``relu_backward(dout, x)`` against numerical gradients of the reference ReLU."""
    ref = reference("layers")
    rng = make_rng(seed)
    x = rng.normal(size=(5, 2, 4))
    x += np.sign(x) * 0.05  # keep the inputs away from the kink, where a numerical gradient is meaningless
    dout = rng.normal(size=x.shape)
    where = "relu_backward(dout, cache) with x of shape (5, 2, 4)"
    dx = call(where, relu_backward, dout, x.copy())
    if isinstance(dx, (tuple, list)):
        raise AssertionError(f"{where} must return dx alone (one array), got {len(dx)} values.")
    dx_num = numerical_gradient_array(lambda v: ref.relu_forward(v)[0], x.copy(), dout)
    assert_close(where, "dx", dx, dx_num, _GRAD_TOL,
                 "The gradient flows only where the forward input was positive.")


def check_softmax_loss(softmax_loss: Callable, seed: int | None = None) -> None:
    """``softmax_loss(x, y)``: loss against the reference, dx against numerical gradients, large scores."""
    ref = reference("layers")
    rng = make_rng(seed)
    for n, c, scale in ((8, 5, 3.0), (1, 4, 1.0), (6, 10, 0.01)):
        x = scale * rng.normal(size=(n, c))
        y = rng.integers(0, c, size=n)
        where = f"softmax_loss(x of shape {(n, c)}, y)"
        loss, dx = unpack(where, call(where, softmax_loss, x, y), ("loss", "dx"))
        want, _ = ref.softmax_loss(x, y)
        got = as_float(where, "loss", loss)
        if not relative_error(np.array(got), np.array(want)) <= _FORWARD_TOL:
            raise AssertionError(f"{where}: loss is wrong (relative error "
                                 f"{relative_error(np.array(got), np.array(want)):.1e} > {_FORWARD_TOL:.0e}). "
                                 "It is the mean over the examples of -log(softmax probability of the label).")
        # mypy cannot type a lambda whose defaults bind loop variables (python/mypy#15459): ignored
        dx_num = numerical_gradient(lambda v, y=y: ref.softmax_loss(v, y)[0], x.copy())  # type: ignore[misc]
        assert_close(where, "dx", dx, dx_num, 1e-6,
                     "dx is (probabilities - one-hot labels) divided by the number of examples.")
    # Large scores: exp overflows unless each row's maximum is subtracted first.
    x = 800.0 + 50.0 * rng.normal(size=(5, 6))
    y = rng.integers(0, 6, size=5)
    where = "softmax_loss(x with scores around 800, y)"
    loss, dx = unpack(where, call(where, softmax_loss, x, y), ("loss", "dx"))
    want, want_dx = ref.softmax_loss(x, y)
    hint = "Subtract each row's maximum score before np.exp; it does not change the probabilities."
    got = as_float(where, "loss", loss)
    if not np.isfinite(got) or relative_error(np.array(got), np.array(want)) > _FORWARD_TOL:
        raise AssertionError(f"{where}: loss is wrong or not finite. {hint}")
    assert_close(where, "dx", dx, want_dx, 1e-9, hint)


# ---------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------

def _expected_keys(num_hidden: int) -> list[str]:
    n = num_hidden + 1
    return [f"W{i}" for i in range(1, n + 1)] + [f"b{i}" for i in range(1, n + 1)]


def _read_params(where: str, model: Any) -> dict[str, np.ndarray]:
    try:
        params = model.params
    except AttributeError as exc:
        raise AssertionError(f"{where}: the net has no attribute params; store the parameters in "
                             "self.params (a dict).") from exc
    if not isinstance(params, Mapping):
        raise AssertionError(f"{where}: self.params must be a dict, got {type(params).__name__}.")
    return {str(k): v for k, v in dict(params).items()}


#: How many standard deviations of a sample statistic a correct initialization may stray (a correct net fails
#: once in about 10**11 draws).
_INIT_SIGMAS = 7.0


def _init_tolerances(n: int) -> tuple[float, float]:
    """Tolerances of the weights' sample standard deviation (relative) and mean (in units of weight_scale) for
    ``n`` normal draws: at least 5% and 0.1, and at least :data:`_INIT_SIGMAS` standard deviations of the
    statistic (``1/sqrt(2n)`` relative for the standard deviation, ``1/sqrt(n)`` for the mean). The 150 x 10
    last layer needs the latter: with 0.1 for the mean (3.9 standard deviations) one correct net in ~10,000
    failed."""
    return max(0.05, _INIT_SIGMAS / np.sqrt(2.0 * n)), max(0.1, _INIT_SIGMAS / np.sqrt(n))


def _check_init(FullyConnectedNet: Callable) -> None:
    # Names and shapes, for several depths.
    for hidden, d, c in (([13, 9], 11, 4), ([6], 5, 3), ([4, 7, 3, 5], 8, 6)):
        where = f"FullyConnectedNet({hidden}, input_dim={d}, num_classes={c}, dtype='float64')"
        want, dims = _expected_keys(len(hidden)), [d, *hidden, c]  # before the student's code sees `hidden`
        model = call(where, FullyConnectedNet, list(hidden), input_dim=d, num_classes=c, weight_scale=0.1,
                     dtype="float64")
        params = _read_params(where, model)
        if sorted(params) != sorted(want):
            raise AssertionError(f"{where}: params has keys {sorted(params)}; with {len(dims) - 2} hidden "
                                 f"layers it must have exactly {want}.")
        for i in range(1, len(dims)):
            as_array(where, f"params['W{i}']", params[f"W{i}"], (dims[i - 1], dims[i]))
            b = as_array(where, f"params['b{i}']", params[f"b{i}"], (dims[i],))
            if np.any(b != 0):
                raise AssertionError(f"{where}: params['b{i}'] must start at zero.")
            for key in (f"W{i}", f"b{i}"):
                dtype = np.asarray(params[key]).dtype
                if dtype != np.float64:
                    raise AssertionError(f"{where}: params['{key}'] has dtype {dtype}; cast every parameter "
                                         "to the dtype argument.")
    # Scale of the initial weights: standard deviation weight_scale, mean 0.
    where = "FullyConnectedNet([200, 150], input_dim=300, num_classes=10, weight_scale=0.05)"
    model = call(where, FullyConnectedNet, [200, 150], input_dim=300, num_classes=10, weight_scale=0.05,
                 dtype="float64")
    params = _read_params(where, model)
    for key in ("W1", "W2", "W3"):
        w = as_array(where, f"params['{key}']", params.get(key))
        std_tol, mean_tol = _init_tolerances(w.size)
        if abs(w.std() / 0.05 - 1) > std_tol or abs(w.mean()) > mean_tol * 0.05:
            raise AssertionError(f"{where}: params['{key}'] should be drawn from a normal distribution with "
                                 "mean 0 and standard deviation weight_scale.")
    where = "FullyConnectedNet([5], input_dim=4, num_classes=3, dtype='float32')"
    model = call(where, FullyConnectedNet, [5], input_dim=4, num_classes=3, dtype="float32")
    for key, value in _read_params(where, model).items():
        if np.asarray(value).dtype != np.float32:
            raise AssertionError(f"{where}: params['{key}'] has dtype {np.asarray(value).dtype}; cast every "
                                 "parameter to the dtype argument.")


def _compare_outputs(where: str, got: Any, want: Any, y_given: bool) -> str | None:
    """None when the net's output matches ``want``; otherwise what is wrong (no expected values)."""
    try:
        if not y_given:
            assert_close(where, "the scores returned by loss(X)", got, want, _NET_TOL)
            return None
        loss, grads = unpack(where, got, ("loss", "grads"))
        want_loss, want_grads = want
        err = relative_error(np.array(as_float(where, "loss", loss)), np.array(want_loss))
        if not err <= _NET_TOL:
            return f"{where}: the loss is wrong (relative error {err:.1e} > {_NET_TOL:.0e})."
        assert_close_dict(where, "grads", grads, want_grads, _NET_TOL)
    except AssertionError as exc:
        return str(exc)
    return None


def _random_params(rng: np.random.Generator, dims: list[int]) -> dict[str, np.ndarray]:
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = rng.normal(size=(dims[i - 1], dims[i])) / np.sqrt(dims[i - 1])
        params[f"b{i}"] = 0.1 * rng.normal(size=dims[i])
    return params


def _net_case(rng: np.random.Generator, dims: list[int], in_shape: tuple[int, ...]) -> dict:
    """Random parameters, a batch and labels for one case of :func:`check_fully_connected_net`."""
    params = _random_params(rng, dims)
    return {"params": params, "X": rng.normal(size=(6, *in_shape)), "y": rng.integers(0, dims[-1], size=6)}


def _compose_steps(layers: Mapping[str, Callable], case: dict, reg: float) -> list:
    """``course_lib.fc_net.network_loss`` with the table ``layers``: ``[scores, (loss, grads)]``, on copies."""
    network_loss = reference("fc_net").network_loss
    return [network_loss({k: v.copy() for k, v in case["params"].items()}, case["X"].copy(),
                         None if y is None else y.copy(), layers=layers, reg=reg) for y in (None, case["y"])]


def _run_net_steps(where: str, model: Any, case: dict) -> list:
    """The student's net on ``case``: its params set, then ``loss(X)`` and ``loss(X, y)``."""
    try:
        model.params = {k: v.copy() for k, v in case["params"].items()}
    except AttributeError as exc:
        raise AssertionError(f"{where}: cannot set params; keep the parameters in self.params.") from exc
    return [call(f"{where}.loss(X)", model.loss, case["X"].copy()),
            call(f"{where}.loss(X, y)", model.loss, case["X"].copy(), case["y"].copy())]


def check_fully_connected_net(FullyConnectedNet: Callable, *, affine_forward: Callable | None = None,
                              affine_backward: Callable | None = None, relu_forward: Callable | None = None,
                              relu_backward: Callable | None = None, softmax_loss: Callable | None = None,
                              seed: int | None = None) -> None:
    """The student's ``FullyConnectedNet``: initialization, then scores, loss and gradients given parameters.

    The reference is ``course_lib.fc_net.network_loss``, computed before any student code runs. A case
    the net gets wrong is judged again on fresh inputs against the same architecture with the student's
    layers (optional keywords) in its table -- only those that fail their own check, since here they
    would compute the loss and every gradient -- in the order of
    :func:`autograder.checks.networks.agrees_with_own_layers`, which no state kept by the student's
    functions can fool: a correct net on top of a wrong layer passes, a wrong net fails.
    """
    _check_init(FullyConnectedNet)
    rng = make_rng(seed)
    student = {"affine_forward": affine_forward, "affine_backward": affine_backward,
               "relu_forward": relu_forward, "relu_backward": relu_backward, "softmax_loss": softmax_loss}
    reference_layers = reference("fc_net").LAYERS
    tables = None  # the student's layer tables, built at the first disagreement
    cases = (([6], (5,), 3, 0.0), ([7, 4], (8,), 4, 0.35), ([5, 6, 4], (2, 3), 5, 0.1), ([3], (4,), 2, 1.7))
    for hidden, in_shape, c, reg in cases:
        d = int(np.prod(in_shape))
        dims = [d, *hidden, c]
        case = _net_case(rng, dims, in_shape)
        want = _compose_steps(reference_layers, case, reg)  # before any student code runs
        where = f"FullyConnectedNet({hidden}, input_dim={d}, num_classes={c}, reg={reg})"
        model = call(where, FullyConnectedNet, list(hidden), input_dim=d, num_classes=c, reg=reg, dtype="float64")
        got = _run_net_steps(where, model, case)

        def mismatch(step, got_k, want_k, where=where):
            what = f"{where}.loss(X)" if step == 0 else f"{where}.loss(X, y)"
            return _compare_outputs(what, got_k, want_k, step == 1)

        failed = next((k for k in (0, 1) if mismatch(k, got[k], want[k]) is not None), None)
        if failed is None:
            continue
        if tables is None:
            tables = own_layer_tables(student, _LAYER_CHECKS)
        fresh = _net_case(rng, dims, in_shape)
        if tables and agrees_with_own_layers(
                # mypy cannot type a lambda whose defaults bind loop variables (python/mypy#15459): ignored
                lambda where=where, model=model, fresh=fresh: _run_net_steps(where, model, fresh),  # type: ignore[misc]
                lambda table, fresh=fresh, reg=reg: _compose_steps(table, fresh, reg), tables, mismatch):  # type: ignore[misc]
            continue
        hint = (" Check the regularization: the loss adds 0.5 * reg * sum(W**2) for every W, and each "
                "W's gradient gets reg * W." if reg and failed == 1 else "")
        raise AssertionError(mismatch(failed, got[failed], want[failed]) + hint)


#: The hidden check of each layer the net check may be given.
_LAYER_CHECKS = MappingProxyType({
    "affine_forward": check_affine_forward, "affine_backward": check_affine_backward,
    "relu_forward": check_relu_forward, "relu_backward": check_relu_backward, "softmax_loss": check_softmax_loss,
})


# ---------------------------------------------------------------------------------------------------
# Overfitting a small set
# ---------------------------------------------------------------------------------------------------

#: The nets of the overfitting exercise: name -> hidden layer sizes.
OVERFIT_ARCHITECTURES = MappingProxyType({"three_layer": (100, 100), "five_layer": (100, 100, 100, 100)})
_OVERFIT_RUNS = 3


#: Seed of the synthetic images the overfitting check trains on (the loaders' offline default).
OVERFIT_DATA_SEED = 0


def _overfit_data() -> dict[str, np.ndarray]:
    """The 50 training (and 10 validation) images of the overfitting check, fixed by the grader.

    Always the synthetic stand-in (:func:`course_lib.data.synthetic_cifar10`, seed :data:`OVERFIT_DATA_SEED`),
    never whatever CIFAR-10 copy the grading machine has, so that a verdict cannot depend on the machine;
    laid out as ``get_CIFAR10_data`` returns it (channels first, float32, centred on the 50 training images'
    mean): the first 50 images a student's notebook loads offline.
    """
    X, y, _, _ = reference("data").synthetic_cifar10(num_train=60, num_test=0, seed=OVERFIT_DATA_SEED)
    images = X.transpose(0, 3, 1, 2).astype(np.float32)  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    images -= images[:50].mean(axis=0, dtype=np.float64)
    return {"X_train": images[:50], "y_train": y[:50], "X_val": images[50:], "y_val": y[50:]}


def check_overfit_settings(overfit_settings: Callable) -> None:
    """Train the reference nets with the student's settings: 100 % training accuracy on 50 images.

    The images are fixed by the grader (:func:`_overfit_data`), whatever data the grading machine has.

    Each architecture is trained from :data:`_OVERFIT_RUNS` random initializations (20 epochs, batches of
    25, plain SGD); the settings pass when at least two of them reach 100 % training accuracy.
    """
    where = "overfit_settings()"
    settings = call(where, overfit_settings)
    if not isinstance(settings, Mapping) or sorted(settings) != sorted(OVERFIT_ARCHITECTURES):
        raise AssertionError(f"{where} must return a dict with the keys {sorted(OVERFIT_ARCHITECTURES)}.")
    ref_fc, ref_solver, ref_optim = reference("fc_net"), reference("solver"), reference("optim")
    data = _overfit_data()
    for arch, hidden in OVERFIT_ARCHITECTURES.items():
        entry = settings[arch]
        values = {}
        for key in ("weight_scale", "learning_rate"):
            value: Any = entry.get(key) if isinstance(entry, Mapping) else None  # the student's: anything
            try:
                values[key] = float(value)
            except (TypeError, ValueError):
                values[key] = float("nan")
            if not (np.isfinite(values[key]) and values[key] > 0):
                raise AssertionError(f"{where}['{arch}']['{key}'] must be a positive number.")
        reached = done = 0
        for run in range(_OVERFIT_RUNS):
            if reached >= 2 or reached + (_OVERFIT_RUNS - run) < 2:
                break  # decided
            model = ref_fc.FullyConnectedNet(hidden, weight_scale=values["weight_scale"], dtype=np.float32,
                                             rng=run)
            solver = ref_solver.Solver(model, data, update_rule=ref_optim.sgd,
                                       optim_config={"learning_rate": values["learning_rate"]},
                                       num_epochs=20, batch_size=25, verbose=False, seed=run)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                solver.train()
            reached += max(solver.train_acc_history) == 1.0
            done += 1
        if reached < 2:
            raise AssertionError(
                f"{where}['{arch}']: with these settings the {len(hidden) + 1}-layer net reached 100% training "
                f"accuracy in {reached} of {done} runs (2 of {_OVERFIT_RUNS} needed) on the grader's 50 images "
                f"(the synthetic stand-in, course_lib.data.synthetic_cifar10 with seed {OVERFIT_DATA_SEED}: what "
                "your notebook loads without CIFAR-10). Plot the loss: flat means the weights or the learning rate "
                "are too small, exploding means too large.")


# ---------------------------------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------------------------------

def _check_rule(where: str, rule: Callable, ref_rule: Callable, configs: list[dict[str, Any]],
                state_keys: tuple[str, ...], defaults: dict[str, float], hints: Mapping[str, str],
                rng: np.random.Generator, diagnose: Callable[..., str | None] | None = None) -> None:
    """Run three steps of ``rule`` from each config, carrying the returned config, against the reference.

    ``diagnose(key, got, before, w, dw)``, when given, returns a hint from what the student's result
    shows (``before``: the reference's config before the step), or None for the static ``hints[key]``.
    """
    def hint(key: str, got: Any, before: dict[str, Any] | None, w: np.ndarray, dw: np.ndarray) -> str:
        found = diagnose(key, got, before, w, dw) if diagnose is not None else None
        return found or hints.get(key, "")

    for config in configs:
        w = rng.normal(size=(3, 7))
        ours, theirs = copy.deepcopy(config), copy.deepcopy(config)
        for step in range(1, 4):
            dw = rng.normal(size=w.shape)
            label = f"{where}, step {step} from config with keys {sorted(config)}"
            before = copy.deepcopy(ours)
            next_w, cfg = unpack(label, call(label, rule, w.copy(), dw.copy(), theirs), ("next_w", "config"))
            want_w, ours = ref_rule(w.copy(), dw.copy(), ours)
            if not isinstance(cfg, Mapping):
                raise AssertionError(f"{label}: the second return value must be the config dict.")
            for key in state_keys:
                if key not in cfg:
                    raise AssertionError(f"{label}: config['{key}'] is missing; store the rule's state in it.")
                assert_close(label, f"config['{key}']", cfg[key], ours[key], _RULE_TOL,
                             hint(key, cfg[key], before, w, dw))
            assert_close(label, "next_w", next_w, want_w, _RULE_TOL, hint("next_w", next_w, before, w, dw))
            w, theirs = want_w, dict(cfg)  # the next step starts from the reference's weights, not the student's
    # Defaults: config=None.
    label = f"{where}(w, dw) without a config"
    w, dw = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    next_w, cfg = unpack(label, call(label, rule, w.copy(), dw.copy()), ("next_w", "config"))
    if not isinstance(cfg, Mapping):
        raise AssertionError(f"{label}: the second return value must be the config dict.")
    for key, value in defaults.items():
        if key not in cfg or not np.isclose(as_float(label, f"config['{key}']", cfg[key]), value):
            raise AssertionError(f"{label}: config['{key}'] should default to {value} (use config.setdefault).")
    want_w, _ = ref_rule(w.copy(), dw.copy(), None)
    assert_close(label, "next_w", next_w, want_w, _RULE_TOL, hint("next_w", next_w, None, w, dw))


def check_sgd_momentum(sgd_momentum: Callable, seed: int | None = None) -> None:
    """Three carried steps of ``sgd_momentum`` from two configs, plus the defaults."""
    rng = make_rng(seed)
    configs: list[dict[str, Any]]  # heterogeneous values: rates and state arrays
    configs = [{"learning_rate": 0.03, "momentum": 0.7, "velocity": rng.normal(size=(3, 7))},
               {"learning_rate": 0.2, "momentum": 0.95}]
    _check_rule("sgd_momentum", sgd_momentum, reference("optim").sgd_momentum, configs, ("velocity",),
                {"learning_rate": 1e-2, "momentum": 0.9},
                {"velocity": "The velocity decays by the momentum and moves against the gradient.",
                 "next_w": "The step is the new velocity."}, rng)


def check_sgd_nesterov_momentum(sgd_nesterov_momentum: Callable, seed: int | None = None) -> None:
    """Three carried steps of ``sgd_nesterov_momentum`` from two configs, plus the defaults."""
    rng = make_rng(seed)
    configs: list[dict[str, Any]]  # heterogeneous values: rates and state arrays
    configs = [{"learning_rate": 0.05, "momentum": 0.8, "velocity": rng.normal(size=(3, 7))},
               {"learning_rate": 0.1, "momentum": 0.5}]
    _check_rule("sgd_nesterov_momentum", sgd_nesterov_momentum, reference("optim").sgd_nesterov_momentum,
                configs, ("velocity",), {"learning_rate": 1e-2, "momentum": 0.9},
                {"velocity": "The velocity is updated exactly as with plain momentum.",
                 "next_w": "The step uses both the new and the previous velocity (the look-ahead form)."}, rng)


def check_rmsprop(rmsprop: Callable, seed: int | None = None) -> None:
    """Three carried steps of ``rmsprop`` from two configs, plus the defaults."""
    rng = make_rng(seed)
    configs: list[dict[str, Any]]  # heterogeneous values: rates and state arrays
    configs = [{"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-8,
                "cache": rng.uniform(0.5, 2.0, size=(3, 7))},
               {"learning_rate": 0.003, "decay_rate": 0.99}]
    _check_rule("rmsprop", rmsprop, reference("optim").rmsprop, configs, ("cache",),
                {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
                {"cache": "The cache is a decaying average of the squared gradient.",
                 "next_w": "Divide the step by the square root of the cache plus epsilon."}, rng)


def _adam_step(w: np.ndarray, dw: np.ndarray, before: dict[str, Any] | None, t: float) -> np.ndarray:
    """The reference Adam step from ``before`` (None: the defaults), with the bias correction at step ``t``."""
    cfg = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, **(before or {})}
    b1, b2 = cfg["beta1"], cfg["beta2"]
    m = b1 * np.asarray(cfg.get("m", 0.0)) + (1 - b1) * dw
    v = b2 * np.asarray(cfg.get("v", 0.0)) + (1 - b2) * dw**2
    return w - cfg["learning_rate"] * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + cfg["epsilon"])


def _adam_diagnosis(key: str, got: Any, before: dict[str, Any] | None, w: np.ndarray, dw: np.ndarray) -> str | None:
    """What a wrong ``config['t']`` or ``next_w`` of the student's Adam shows (None: nothing specific).

    Only a step counter observed to be off gets a hint about it: a t that starts at 1 where the config
    has none is told that (it does increment before use); one that did not move is told to increment.
    """
    if key not in ("t", "next_w"):
        return None
    fresh = before is None or "t" not in before
    t_want = (0 if before is None or "t" not in before else float(before["t"])) + 1
    start = ("config has no 't' before the first step, so t starts at 0 (the docstring: t is the number of "
             "steps taken, 0 when absent) and the first step uses t = 1")
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if key == "t":
        if arr.size != 1 or not np.isfinite(arr).all():
            return "config['t'] is the number of steps taken, a single number."
        got_t = float(arr.reshape(()))
        if fresh and got_t == t_want + 1:
            return f"t is one step ahead: {start}."
        if got_t == t_want - 1:
            return "t did not change: it counts the steps, so add 1 on every call (before using it)."
        return "t counts the steps taken: its value in config plus 1 after every call (0 when absent)."
    with np.errstate(all="ignore"):
        for t_used, text in ((t_want + 1, f"the bias correction uses a t one step ahead: {start}."),
                             (t_want - 1, "the bias correction uses t before it is incremented; add 1 to t first, "
                                          "so that the step numbered t is corrected with 1 - beta**t.")):
            alt = _adam_step(w, dw, before, t_used)
            if arr.shape == alt.shape and np.all(np.isfinite(alt)) and relative_error(arr, alt) <= _RULE_TOL:
                return text
    return ("Use the bias-corrected averages m / (1 - beta1**t) and v / (1 - beta2**t), with t the number of "
            "this step, and step by -learning_rate * m_hat / (sqrt(v_hat) + epsilon).")


def check_adam(adam: Callable, seed: int | None = None) -> None:
    """Three carried steps of ``adam`` from two configs (one resuming at t=7), plus the defaults.

    The docstring fixes one convention for the step counter: ``config['t']`` is the number of steps
    taken (0 when absent), incremented before the bias correction, so the first step uses t = 1. Any
    code with that meaning passes (``setdefault('t', 0)`` with ``config['t'] += 1``, ``t = config.get('t',
    0) + 1``, the bias correction folded into the step size, in place or on copies); hints on ``t`` are
    given from what the student's result shows (:func:`_adam_diagnosis`).
    """
    rng = make_rng(seed)
    configs: list[dict[str, Any]]  # heterogeneous values: rates and state arrays
    configs = [{"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-8,
                "m": 0.1 * rng.normal(size=(3, 7)), "v": rng.uniform(0.1, 0.5, size=(3, 7)), "t": 7},
               {"learning_rate": 0.005}]
    _check_rule("adam", adam, reference("optim").adam, configs, ("m", "v", "t"),
                {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
                {"m": "m is a decaying average of the gradient (weight 1 - beta1 on the new one).",
                 "v": "v is a decaying average of the squared gradient (weight 1 - beta2)."}, rng,
                diagnose=_adam_diagnosis)
