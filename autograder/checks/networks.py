"""Network-checking toolkit of the hidden checks (grader-side, never released).

What the net checks of several assignments share: small checked calls (:func:`finite_array`,
:func:`forward_pair`, :func:`child_seeds`), and the check of the student's ``FullyConnectedNet`` against the
reference net (:func:`check_norm_net`: no normalization, batch or layer normalization, dropout), with its
fallback, the reference architecture composed of the student's own layers (:func:`own_layer_tables`,
:func:`agrees_with_own_layers`). Used by :mod:`autograder.checks.fc_nets`, :mod:`~autograder.checks.batchnorm`,
:mod:`~autograder.checks.dropout` and :mod:`~autograder.checks.deep_networks`; conventions as in
:mod:`autograder.checks.batchnorm` (data in, data out, verdicts computed here, messages without expected values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from autograder.checks import (
    as_array,
    as_float,
    assert_close_dict,
    call,
    make_rng,
    reference,
    relative_error,
    unpack,
)
from autograder.kernel.errors import KernelError

__all__ = [
    "LAYER_NAMES",
    "finite_array",
    "forward_pair",
    "child_seeds",
    "read_model_dict",
    "failing_layers",
    "own_layer_tables",
    "agrees_with_own_layers",
    "check_norm_net",
]


# ---------------------------------------------------------------------------------------------
# Small tools (on top of autograder.checks), also used by the dropout and deep_networks checks


def finite_array(where: str, name: str, value, shape=None) -> np.ndarray:
    """:func:`autograder.checks.as_array`, and no NaN or infinity."""
    arr = as_array(where, name, value, shape)
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where}: {name} contains NaN or infinite values.")
    return arr


def forward_pair(where: str, fn, *args, shape=None):
    """Call a forward pass; return its output (checked array) and its cache (passed back as is)."""
    out, cache = unpack(where, call(where, fn, *args), ("out", "cache"))
    return finite_array(where, "out", out, shape), cache


def child_seeds(seed: int | None, k: int) -> list[int]:
    """``k`` integer seeds drawn from ``make_rng(seed)`` (so one ``seed`` varies every input)."""
    return [int(v) for v in make_rng(seed).integers(0, 2**31 - 1, size=k)]



# ---------------------------------------------------------------------------------------------
# Networks with normalization (and dropout): the student's FullyConnectedNet
#
# Isolation: the student's net necessarily calls the student's layers. A case passes when the net's
# outputs equal the reference net's, or -- the fallback, :func:`agrees_with_own_layers` -- the same
# architecture composed of the student's own layer functions (one network core for both,
# ``course_lib.fc_net.network_loss``, with the student's proxies in its layer table): a correct net on
# top of a wrong layer passes (that layer's own cell fails), a wrong net fails either way. The fallback
# never trusts a student function to be pure: see :func:`agrees_with_own_layers`.

_NET_TOL = 1e-7

#: Keyword names of the student functions a net check accepts (all optional).
LAYER_NAMES = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
               "layernorm_backward", "dropout_forward", "dropout_backward")


def failing_layers(student: Mapping[str, Callable | None], checks: Mapping[str, Callable]) -> set[str]:
    """Names of the student's functions (None skipped) that fail their own hidden check in ``checks``."""
    failing = set()
    for name, fn in student.items():
        if fn is None or name not in checks:
            continue
        try:
            checks[name](fn)
        except AssertionError:
            failing.add(name)
    return failing


def own_layer_tables(student: Mapping[str, Callable | None],
                     checks: Mapping[str, Callable] = MappingProxyType({})) -> list[dict]:
    """Layer tables for the fallback: ``course_lib.fc_net.LAYERS`` with the student's layers put in.

    A student function named ``<entry>`` or ``<entry>_alt`` replaces the table's ``<entry>``; when two
    replace one entry (the graph and the closed-form batch-normalization backward, either of which the
    net may call) each gives a table. A function that has a check in ``checks`` is put in only when it
    *fails* that check: where it passes, the reference stands in for it, so a correct layer never gets
    to compute part of the yardstick (fc_nets gives checks, since there the student's layers would
    compute the loss and every gradient). Empty when no student layer is left, i.e. no second opinion.
    """
    reference_layers = reference("fc_net").LAYERS
    left = {k: v for k, v in student.items() if v is not None}
    passing = {k for k in left if k in checks} - failing_layers(left, checks)
    left = {k: v for k, v in left.items() if k not in passing}
    options: dict[str, list] = {}
    for name, fn in left.items():
        entry = name.removesuffix("_alt")
        if entry not in reference_layers:
            raise TypeError(f"own_layer_tables: {name!r} is not a layer of course_lib.fc_net.LAYERS")
        options.setdefault(entry, []).append(fn)
    tables = [dict(reference_layers)] if options else []
    for entry, fns in options.items():
        tables = [{**t, entry: fn} for t in tables for fn in fns]
    return tables


def agrees_with_own_layers(run_net: Callable[[], list], compose: Callable[[Mapping], list],
                           tables: Sequence[Mapping], mismatch: Callable[[int, object, object], str | None]) -> bool:
    """Whether the student's net computes the reference architecture composed of the student's layers.

    ``run_net()`` gives the net's outputs (a list, one per step) on inputs that no student code has seen
    yet; ``compose(table)`` gives :func:`course_lib.fc_net.network_loss`'s outputs for the same steps
    with a table of :func:`own_layer_tables`; ``mismatch(step, got, want)`` is None when they agree.

    The student's functions run in one kernel and may keep state, so the order is fixed: for every
    table the composition runs (1) *before* the net ever sees these inputs, so a layer cannot replay the
    net's outputs; then (2) the net; then (3) the composition again. The net passes iff, for some
    table, (3) equals (1) -- the layers did not change their behaviour after the net ran -- and the net's
    outputs equal them. In the batchnorm and dropout nets the loss and the gradients of the
    composition are computed here by reference layers from what the student's normalization/dropout
    layers return, so they never exist in the kernel before the net runs: the net can only match by
    computing them. In fc_nets only layers that fail their own check are put in (:func:`own_layer_tables`);
    what is left open there: a net that reads back what its ``softmax_loss`` and ``affine_backward``
    recorded during (1), when both fail their checks here (docs/notebooks.md). A composition that
    raises (an unfinished layer) gives no second opinion.
    """
    pre = {}
    for k, table in enumerate(tables):
        try:
            pre[k] = compose(table)
        except KernelError:
            raise
        except Exception:  # noqa: BLE001 - the student's layers are unfinished or broken: no second opinion
            continue
    if not pre:
        return False
    got = run_net()
    for k, want in pre.items():
        try:
            post = compose(tables[k])
        except KernelError:
            raise
        except Exception:  # noqa: BLE001 - as above
            continue
        if all(_agree(mismatch, step, post, want) and _agree(mismatch, step, got, want) for step in range(len(want))):
            return True
    return False


def _agree(mismatch, step: int, got: list, want: list) -> bool:
    try:
        return len(got) == len(want) and mismatch(step, got[step], want[step]) is None
    except Exception:  # noqa: BLE001 - outputs of the student's layers that cannot even be compared
        return False


def _mismatch(where: str, got, want, with_labels: bool) -> str | None:
    """None when the net's output equals ``want``; else what is wrong (relative errors, no values).

    Gradients are compared as one set (:func:`autograder.checks.assert_close_dict`): a gradient that is
    zero in exact arithmetic (a bias in front of batch normalization) passes as rounding noise.
    """
    try:
        if not with_labels:
            arr = finite_array(where, "the scores returned by loss(X)", got, np.shape(want))
            err = relative_error(arr, want)
            return None if err <= _NET_TOL else f"{where}: the scores are wrong (relative error {err:.1e})."
        loss, grads = unpack(where, got, ("loss", "grads"))
        want_loss, want_grads = want
        err = relative_error(np.array(as_float(where, "the loss", loss)), np.array(want_loss))
        if not err <= _NET_TOL:
            return f"{where}: the loss is wrong (relative error {err:.1e})."
        assert_close_dict(where, "grads", grads, want_grads, _NET_TOL)
    except AssertionError as exc:
        return str(exc)
    return None


def read_model_dict(where: str, model, attr: str) -> dict:
    try:
        value = getattr(model, attr)
    except AttributeError:
        raise AssertionError(f"{where}: the net has no attribute {attr}.") from None
    if not isinstance(value, dict):
        raise AssertionError(f"{where}: self.{attr} must be a dict, got {type(value).__name__}.")
    return {str(k): v for k, v in dict(value).items()}


def _norm_param_list(where: str, model, n_hidden: int) -> None:
    try:
        value = model.bn_params
    except AttributeError:
        raise AssertionError(f"{where}: the net has no attribute bn_params: keep one param dict per normalization "
                             f"layer in self.bn_params (a list).") from None
    if not isinstance(value, (list, tuple)) or len(value) != n_hidden:
        raise AssertionError(f"{where}: self.bn_params must be a list with one dict per hidden layer "
                             f"({n_hidden} here).")


def _net_options(normalization, position, dropout, with_position: bool) -> dict:
    """Constructor keywords of the course's FullyConnectedNet for one configuration."""
    options = {"normalization": normalization} if normalization is not None else {}
    if with_position:
        options["norm_position"] = position
    if dropout is not None:
        options.update(dropout_keep_ratio=dropout[0], dropout_seed=dropout[1])
    return options


def _check_norm_init(FullyConnectedNet, options: dict) -> None:
    normalization = options["normalization"]
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
    for hidden, d, c in (([9, 7], 6, 4), ([5, 4, 6], 3, 5)):
        where = f"FullyConnectedNet({hidden}, input_dim={d}, num_classes={c}, {shown})"
        model = call(where, FullyConnectedNet, list(hidden), input_dim=d, num_classes=c, weight_scale=0.1,
                     dtype="float64", **options)
        params = read_model_dict(where, model, "params")
        n = len(hidden) + 1
        want = sorted([f"W{i}" for i in range(1, n + 1)] + [f"b{i}" for i in range(1, n + 1)]
                      + [f"gamma{i}" for i in range(1, n)] + [f"beta{i}" for i in range(1, n)])
        if sorted(params) != want:
            raise AssertionError(f"{where}: params has keys {sorted(params)}; it must have {want}: a gamma and a "
                                 f"beta for every hidden layer, none for the output layer.")
        for i, width in enumerate(hidden, start=1):
            g = finite_array(where, f"params['gamma{i}']", params[f"gamma{i}"], (width,))
            b = finite_array(where, f"params['beta{i}']", params[f"beta{i}"], (width,))
            if np.any(g != 1) or np.any(b != 0):
                raise AssertionError(f"{where}: gamma{i} must start at ones and beta{i} at zeros (the {normalization} "
                                     f"layer starts as a plain standardization).")
        _norm_param_list(where, model, len(hidden))


#: The three calls of every net case: ``loss(X, y)``, ``loss(X)``, ``loss(X, y)`` (with labels or not).
_NET_STEPS = (True, False, True)


def _net_case(rng, hidden, in_shape, c, normalization) -> dict:
    """Random parameters, a batch and running averages for one case of :func:`check_norm_net`."""
    dims = [int(np.prod(in_shape)), *hidden, c]
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = rng.normal(size=(dims[i - 1], dims[i])) / np.sqrt(dims[i - 1])
        params[f"b{i}"] = 0.1 * rng.normal(size=dims[i])
        if normalization is not None and i < len(dims) - 1:
            params[f"gamma{i}"] = rng.uniform(0.5, 1.5, dims[i])
            params[f"beta{i}"] = 0.3 * rng.normal(size=dims[i])
    X = rng.normal(size=(8, *in_shape))
    y = rng.integers(0, c, size=8)
    running = [{"running_mean": rng.normal(size=h), "running_var": rng.uniform(0.5, 2.0, h)} for h in hidden]
    return {"params": params, "X": X, "y": y, "running": running}


def _compose_steps(layers: Mapping, case: dict, *, reg: float, normalization, position, dropout) -> list:
    """``network_loss`` with the layer table ``layers`` for every step of :data:`_NET_STEPS`, on copies."""
    network_loss = reference("fc_net").network_loss
    outputs = []
    for with_labels in _NET_STEPS:
        norm_params = ([{k: v.copy() for k, v in r.items()} for r in case["running"]] if normalization == "batchnorm"
                       else [{} for _ in case["running"]] if normalization else [])
        drop = None if dropout is None else {"p": dropout[0], "seed": dropout[1]}
        outputs.append(network_loss({k: v.copy() for k, v in case["params"].items()}, case["X"].copy(),
                                    case["y"].copy() if with_labels else None, layers=layers,
                                    normalization=normalization, norm_position=position, norm_params=norm_params,
                                    dropout_param=drop, reg=reg))
    return outputs


def _run_net_steps(where: str, model, case: dict, normalization) -> list:
    """The student's net on ``case``: its params set, then every step of :data:`_NET_STEPS`."""
    try:
        model.params = {k: v.copy() for k, v in case["params"].items()}
    except AttributeError:
        raise AssertionError(f"{where}: cannot set params; keep the parameters in self.params.") from None
    outputs = []
    for with_labels in _NET_STEPS:
        what = _step_label(where, with_labels, normalization)
        if normalization == "batchnorm":
            # A known state (running averages, and the opposite mode: the net must set the mode).
            model.bn_params = [{"mode": "test" if with_labels else "train", **{k: v.copy() for k, v in r.items()}}
                               for r in case["running"]]
        X = case["X"].copy()
        outputs.append(call(what, model.loss, X, case["y"].copy()) if with_labels else call(what, model.loss, X))
    return outputs


def _step_label(where: str, with_labels: bool, normalization) -> str:
    what = f"{where}.loss(X, y)" if with_labels else f"{where}.loss(X)"
    return what + (" after setting the running averages in bn_params" if normalization == "batchnorm" else "")


def _net_hint(with_labels: bool, reg: float, normalization, position, dropout) -> str:
    if with_labels and reg:
        return (" Check the regularization: 0.5 * reg * sum(W**2) over the weights only (not gammas "
                "or betas), and reg * W in each weight's gradient.")
    if not with_labels:
        return (" Without labels the net runs in test mode: set every bn_param's (and the dropout "
                "param's) 'mode' to 'test' before the forward pass.")
    parts = ["affine", "relu"]
    if normalization is not None:
        parts.insert(1 if position == "before" else 2, normalization)
    if dropout is not None:
        parts.append("dropout")
    hint = f" Each hidden layer is {' - '.join(parts)}"
    hint += (", with gamma{i}, beta{i} and bn_params[i-1]." if normalization else ".")
    if normalization is not None:
        hint += " In training mode, every bn_param's 'mode' must be 'train' (also after a test-mode call)."
    return hint


def check_norm_net(FullyConnectedNet, *, normalization: str | None = "batchnorm", positions=("before",),
                   with_position: bool = False, dropout: tuple[float, int] | None = None, seed: int | None = None,
                   layer_checks: Mapping[str, Callable] = MappingProxyType({}), **student) -> None:
    """The student's ``FullyConnectedNet`` with normalization and/or dropout, against the reference.

    For every position in ``positions`` (passed as ``norm_position`` when ``with_position``): the initial
    parameters (gammas ones, betas zeros, one param dict per hidden layer in ``bn_params``); then, given
    random parameters, ``loss(X, y)`` (training mode) and, after setting the running averages in
    ``bn_params``, ``loss(X)`` (test mode) against the reference net, computed first by
    ``course_lib.fc_net.network_loss``. ``dropout`` is ``(dropout_keep_ratio, dropout_seed)``; with a fixed
    seed every forward pass draws the same masks. Each case calls ``loss(X, y)``, ``loss(X)`` and
    ``loss(X, y)`` again, so a net that leaves its layers in test mode fails.

    A case the net gets wrong is judged again on fresh inputs against the same architecture composed of
    the student's layers (keyword arguments, see :data:`LAYER_NAMES`; those with a check in
    ``layer_checks`` only when they fail it): :func:`agrees_with_own_layers`.
    """
    unknown = sorted(set(student) - set(LAYER_NAMES))
    if unknown:
        raise TypeError(f"check_norm_net: unknown layer keyword(s) {unknown}; use {LAYER_NAMES}")
    rng = make_rng(child_seeds(seed, 4)[3])
    reference_layers = reference("fc_net").LAYERS
    tables = None  # the student's layer tables, built at the first disagreement
    for position in positions:
        options = _net_options(normalization, position, dropout, with_position)
        if normalization is not None:
            _check_norm_init(FullyConnectedNet, options)
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
        setup = {"normalization": normalization, "position": position, "dropout": dropout}
        for hidden, in_shape, c, reg in (([7, 5], (6,), 4, 0.0), ([5, 6, 4], (2, 3), 3, 0.3)):
            case = _net_case(rng, hidden, in_shape, c, normalization)
            want = _compose_steps(reference_layers, case, reg=reg, **setup)  # before any student code runs
            d = int(np.prod(in_shape))
            where = f"FullyConnectedNet({hidden}, input_dim={d}, num_classes={c}, reg={reg}, {shown})"
            model = call(where, FullyConnectedNet, list(hidden), input_dim=d, num_classes=c, reg=reg, dtype="float64",
                         **options)
            got = _run_net_steps(where, model, case, normalization)

            def mismatch(step, got_k, want_k, where=where):
                return _mismatch(_step_label(where, _NET_STEPS[step], normalization), got_k, want_k, _NET_STEPS[step])

            failed = next((k for k in range(len(_NET_STEPS)) if mismatch(k, got[k], want[k]) is not None), None)
            if failed is None:
                continue
            if tables is None:
                tables = own_layer_tables(student, layer_checks)
            fresh = _net_case(rng, hidden, in_shape, c, normalization)
            if tables and agrees_with_own_layers(
                    # mypy cannot type a lambda whose defaults bind loop variables (python/mypy#15459): ignored
                    lambda where=where, model=model, fresh=fresh: _run_net_steps(where, model, fresh, normalization),  # type: ignore[misc]
                    lambda table, fresh=fresh, reg=reg, setup=setup: _compose_steps(table, fresh, reg=reg, **setup),  # type: ignore[misc]
                    tables, mismatch):
                continue
            raise AssertionError(mismatch(failed, got[failed], want[failed])
                                 + _net_hint(_NET_STEPS[failed], reg, normalization, position, dropout))

