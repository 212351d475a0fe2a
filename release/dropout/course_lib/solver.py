"""Minibatch training loop, API-compatible with the cs231n assignment-2 ``Solver``.

A :class:`Solver` trains a classification model that follows the cs231n model
contract:

- ``model.params``: dict mapping parameter names to numpy arrays;
- ``model.loss(X)`` returns class scores of shape ``(N, C)``;
- ``model.loss(X, y)`` returns ``(loss, grads)`` with ``grads`` keyed like
  ``model.params``.

With the cs231n options alone (and no ``seed``) it draws from numpy's global
generator in exactly the order cs231n does, so seeded notebook results
reproduce.  On top of that it offers a private random generator (``seed``),
epoch-wise shuffling without replacement (``shuffle``, as in KTH DD2424),
learning-rate schedules (``lr_schedule``: step decay, the cyclical triangular
schedule of Smith (2017), or any callable), a per-iteration learning-rate
record (``lr_history``), periodic loss/accuracy evaluation (``eval_every``),
atomic checkpoints and a progress bar.

Example
-------
>>> solver = Solver(model, data, update_rule='adam',
...                 optim_config={'learning_rate': 1e-3},
...                 lr_decay=0.95, num_epochs=5, batch_size=200,
...                 print_every=100)
>>> solver.train()
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import os
import pickle
import sys
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from course_lib.errors import OptionError, ShapeError, SolverInputError, check_array

__all__ = [
    "Solver",
    "SolverInputError",
    "SCHEDULE_KINDS",
    "SCHEDULE_FORMULAS",
    "StepSchedule",
    "CyclicSchedule",
    "step_lr",
    "make_schedule",
]

#: Names accepted as ``lr_schedule`` kinds (as a string or a dict's ``'kind'``).
SCHEDULE_KINDS = ("step", "cyclic")

_SCHEDULE_KEYS = {
    "step": ("kind", "decay", "every_epochs"),
    "cyclic": ("kind", "eta_min", "eta_max", "n_s"),
}

_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")

# Keyword arguments of Solver and their defaults (cs231n's first, then the new ones).
_DEFAULTS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "seed": None,
    "shuffle": False,
    "lr_schedule": None,
    "step_epochs": None,
    "eval_every": None,
}


# ----------------------------------------------------------------------------
# Option checks
# ----------------------------------------------------------------------------

def _check_int(where: str, name: str, value, minimum: int, allow_none: bool = False):
    """Return ``value`` as an ``int >= minimum`` (or ``None`` if allowed), else raise OptionError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        also = " or None" if allow_none else ""
        raise OptionError(f"{where}: {name} must be an integer >= {minimum}{also}, got {value!r}.")
    return int(value)


def _check_real(where: str, name: str, value, positive: bool = False) -> float:
    """Return ``value`` as a finite Python float (``> 0`` if ``positive``), else raise OptionError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if not ok:
        what = "a finite number > 0" if positive else "a finite number"
        raise OptionError(f"{where}: {name} must be {what}, got {value!r}.")
    return float(value)


# ----------------------------------------------------------------------------
# Learning-rate schedules
# ----------------------------------------------------------------------------


#: Schedule formulas by kind. The release of the assignment that teaches a formula ships without its
#: entry (the student writes it), so schedules look formulas up here instead of naming them.
SCHEDULE_FORMULAS = {
}


def _check_cyclic(where: str, eta_min, eta_max, n_s) -> tuple[float, float, float]:
    eta_min = _check_real(where, "eta_min", eta_min)
    eta_max = _check_real(where, "eta_max", eta_max)
    n_s = _check_real(where, "n_s", n_s, positive=True)
    if not 0 <= eta_min <= eta_max:
        raise OptionError(
            f"{where}: need 0 <= eta_min <= eta_max, got eta_min={eta_min!r}, eta_max={eta_max!r}; "
            f"e.g. eta_min=1e-5, eta_max=1e-1 as in DD2424."
        )
    return eta_min, eta_max, n_s


def step_lr(epoch: int, learning_rate: float, decay: float, every_epochs: int = 1) -> float:
    """Step decay: ``learning_rate * decay ** (epoch // every_epochs)``.

    Parameters
    ----------
    epoch : int
        Number of completed epochs (0 during the first epoch).
    learning_rate : float
        Learning rate of the first epoch.
    decay : float
        Factor applied every ``every_epochs`` epochs.
    every_epochs : int, optional
        Epochs between two decays (default 1, cs231n's ``lr_decay`` behaviour).

    Returns
    -------
    float
    """
    return learning_rate * decay ** (epoch // every_epochs)


@dataclass(frozen=True)
class StepSchedule:
    """Step-decay schedule, a callable ``(iteration, epoch) -> learning rate``.

    Parameters
    ----------
    learning_rate : float
        Learning rate of the first epoch.
    decay : float
        Factor applied every ``every_epochs`` epochs (``> 0``).
    every_epochs : int
        Epochs between two decays (``>= 1``).
    """

    learning_rate: float
    decay: float
    every_epochs: int = 1

    def __post_init__(self):
        where = "StepSchedule"
        object.__setattr__(self, "learning_rate",
                           _check_real(where, "learning_rate", self.learning_rate, positive=True))
        object.__setattr__(self, "decay", _check_real(where, "decay", self.decay, positive=True))
        object.__setattr__(self, "every_epochs", _check_int(where, "every_epochs", self.every_epochs, 1))

    def __call__(self, iteration: int, epoch: int) -> float:
        return step_lr(epoch, self.learning_rate, self.decay, self.every_epochs)


@dataclass(frozen=True)
class CyclicSchedule:
    """Cyclical triangular schedule (see :func:`cyclical_lr`), a callable ``(iteration, epoch) -> lr``.

    Parameters
    ----------
    eta_min, eta_max : float
        Lowest and highest learning rate.
    n_s : float
        Half-cycle length in update steps.
    """

    eta_min: float
    eta_max: float
    n_s: float

    def __post_init__(self):
        if "cyclic" not in SCHEDULE_FORMULAS:
            raise OptionError(
                "lr_schedule: the 'cyclic' schedule is an exercise of this assignment and is not in the "
                "released library; pass your own function instead, e.g. "
                "lr_schedule=lambda it, epoch: cyclical_lr(it, eta_min, eta_max, n_s)."
            )
        eta_min, eta_max, n_s = _check_cyclic("CyclicSchedule", self.eta_min, self.eta_max, self.n_s)
        object.__setattr__(self, "eta_min", eta_min)
        object.__setattr__(self, "eta_max", eta_max)
        object.__setattr__(self, "n_s", n_s)

    def __call__(self, iteration: int, epoch: int) -> float:
        return SCHEDULE_FORMULAS["cyclic"](iteration, self.eta_min, self.eta_max, self.n_s)


def make_schedule(spec, learning_rate: float | None = None, lr_decay: float = 1.0,
                  step_epochs: int | None = None) -> Callable[[int, int], float] | None:
    """Turn an ``lr_schedule`` option into a callable ``f(iteration, epoch) -> lr`` (or ``None``).

    Parameters
    ----------
    spec : None, str, dict or callable
        ``None``: no schedule (cs231n: ``lr_decay`` applied after each epoch).
        ``'step'`` or ``{'kind': 'step', 'decay': 0.5, 'every_epochs': 2}``:
        step decay from ``learning_rate``; ``decay`` defaults to ``lr_decay`` and
        ``every_epochs`` to ``step_epochs`` (or 1).
        ``{'kind': 'cyclic', 'eta_min': 1e-5, 'eta_max': 1e-1, 'n_s': 500}``:
        cyclical triangular schedule, see :func:`cyclical_lr`.
        A callable ``f(iteration, epoch) -> lr`` is returned unchanged;
        ``iteration`` counts update steps from 0, ``epoch`` completed epochs.
    learning_rate : float, optional
        Base rate of the step schedule (the Solver passes ``optim_config['learning_rate']``).
    lr_decay : float
        The Solver's ``lr_decay``; only meaningful with no schedule or ``'step'``.
    step_epochs : int, optional
        The Solver's ``step_epochs``; only meaningful with ``'step'``.

    Returns
    -------
    callable or None
    """
    where = "lr_schedule"
    if step_epochs is not None:
        step_epochs = _check_int(where, "step_epochs", step_epochs, 1)
    lr_decay = _check_real(where, "lr_decay", lr_decay, positive=True)

    if isinstance(spec, str):
        spec = {"kind": spec}
    kind = spec.get("kind") if isinstance(spec, Mapping) else None

    if step_epochs is not None and kind != "step":
        raise OptionError(
            f"{where}: step_epochs={step_epochs} only applies to lr_schedule='step' "
            f"(got lr_schedule={spec!r}); remove it or use the step schedule."
        )
    if spec is None:
        return None
    if lr_decay != 1.0 and kind != "step":
        raise OptionError(
            f"{where}: lr_decay={lr_decay} would be ignored because lr_schedule={spec!r} sets the "
            f"learning rate before every step; remove lr_decay or use lr_schedule='step'."
        )
    if callable(spec):
        return spec
    if not isinstance(spec, Mapping):
        raise OptionError(
            f"{where}: expected None, one of {', '.join(map(repr, SCHEDULE_KINDS))}, a dict with a "
            f"'kind' key, or a callable f(iteration, epoch) -> lr; got {type(spec).__name__}."
        )
    if kind not in SCHEDULE_KINDS:
        raise OptionError(
            f"{where}: unknown kind {kind!r}; use one of {', '.join(map(repr, SCHEDULE_KINDS))}, "
            f"or pass a callable f(iteration, epoch) -> lr."
        )
    extra = [k for k in spec if k not in _SCHEDULE_KEYS[kind]]
    if extra:
        raise OptionError(
            f"{where}: unknown key(s) {', '.join(map(repr, extra))} for kind {kind!r}; "
            f"allowed keys are {', '.join(map(repr, _SCHEDULE_KEYS[kind]))}."
        )

    if kind == "cyclic":
        missing = [k for k in ("eta_min", "eta_max", "n_s") if k not in spec]
        if missing:
            raise OptionError(
                f"{where}: the 'cyclic' schedule needs {', '.join(map(repr, missing))}, e.g. "
                f"{{'kind': 'cyclic', 'eta_min': 1e-5, 'eta_max': 1e-1, 'n_s': 500}}."
            )
        return CyclicSchedule(spec["eta_min"], spec["eta_max"], spec["n_s"])

    # kind == "step"
    decay = spec.get("decay")
    if decay is None:
        decay = lr_decay
    elif lr_decay != 1.0:
        raise OptionError(f"{where}: decay given twice (lr_decay={lr_decay} and 'decay'={decay!r}); "
                          f"give it once.")
    every = spec.get("every_epochs")
    if every is None:
        every = 1 if step_epochs is None else step_epochs
    elif step_epochs is not None:
        raise OptionError(f"{where}: step length given twice (step_epochs={step_epochs} and "
                          f"'every_epochs'={every!r}); give it once.")
    if learning_rate is None:
        raise OptionError(
            f"{where}: the 'step' schedule needs a base learning rate; set "
            f"optim_config={{'learning_rate': ...}}."
        )
    return StepSchedule(learning_rate, decay, every)


# ----------------------------------------------------------------------------
# Input checks and checkpoint helpers
# ----------------------------------------------------------------------------

def _unpack_data(data) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the data dict and return ``X_train, y_train, X_val, y_val`` (not copied, not converted)."""
    wanted = ", ".join(map(repr, _DATA_KEYS))
    if not isinstance(data, Mapping):
        raise SolverInputError(f"Solver: data must be a dict with keys {wanted}, got {type(data).__name__}.")
    missing = [k for k in _DATA_KEYS if k not in data]
    if missing:
        raise SolverInputError(
            f"Solver: data is missing {', '.join(map(repr, missing))}; it must hold {wanted} "
            f"(other keys such as 'X_test' are ignored)."
        )
    out = []
    for split in ("train", "val"):
        X = check_array("Solver", f"data['X_{split}']", data[f"X_{split}"])
        y = check_array("Solver", f"data['y_{split}']", data[f"y_{split}"], ndim=1)
        if X.ndim == 0:
            raise ShapeError(f"Solver: data['X_{split}'] is a scalar; it must have one row per sample.")
        if y.dtype.kind not in "iu":
            raise ShapeError(
                f"Solver: data['y_{split}'] has dtype {y.dtype}; labels must be integers, "
                f"convert them with y.astype(np.int64)."
            )
        if X.shape[0] != y.shape[0]:
            raise ShapeError(
                f"Solver: data['X_{split}'] has {X.shape[0]} samples but data['y_{split}'] has "
                f"{y.shape[0]} labels; they must match one to one."
            )
        if X.shape[0] == 0:
            raise ShapeError(f"Solver: data['X_{split}'] has no samples.")
        out += [X, y]
    return tuple(out)


def _picklable_or_name(obj):
    """``obj`` if it pickles, else its qualified name (lambdas and local functions do not pickle)."""
    try:
        pickle.dumps(obj)
    except Exception:  # noqa: BLE001 - pickle raises PicklingError, AttributeError or TypeError
        return getattr(obj, "__qualname__", repr(obj))
    return obj


def _atomic_pickle(obj, path: str) -> None:
    """Pickle ``obj`` to ``path`` through a temporary file and ``os.replace``: no half-written file."""
    tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "xb") as f:
            pickle.dump(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------
# Solver
# ----------------------------------------------------------------------------

class Solver:
    """Train a classification model with minibatch gradient descent (cs231n-compatible).

    Parameters
    ----------
    model : object
        ``model.params`` (dict name -> ndarray) and ``model.loss(X, y=None)``:
        scores ``(N, C)`` when ``y`` is None, else ``(loss, grads)``.
    data : dict
        ``'X_train'`` ``(N_train, d_1, ..., d_k)``, ``'y_train'`` ``(N_train,)`` int,
        ``'X_val'`` ``(N_val, d_1, ..., d_k)``, ``'y_val'`` ``(N_val,)`` int.
        Used as given: never copied or converted (convert the dtype once, beforehand).
    update_rule : str or callable, default 'sgd'
        A name in ``course_lib.optim.UPDATE_RULES`` or a callable
        ``rule(w, dw, config) -> (next_w, config)``.
    optim_config : dict, optional
        Hyperparameters of the update rule; copied once per parameter.
    lr_decay : float, default 1.0
        Without ``lr_schedule``: each parameter's ``learning_rate`` is multiplied by it after
        each epoch. With ``lr_schedule='step'``: the step decay factor.
    batch_size : int, default 100
    num_epochs : int, default 10
    num_train_samples : int or None, default 1000
        Training samples (drawn with replacement) used to check training accuracy; None: all.
    num_val_samples : int or None, default None
        Validation samples used to check validation accuracy; None: all.
    checkpoint_name : str, optional
        If given, a pickle ``{checkpoint_name}_epoch_{epoch}.pkl`` is written (atomically)
        at every accuracy check, with cs231n's keys.
    print_every : int, default 10
        Print the training loss every ``print_every`` iterations (when verbose).
    verbose : bool, default True
        Print cs231n's progress lines to stdout and show a progress bar on stderr.
    seed : None, int or numpy.random.Generator
        None (cs231n): minibatches and accuracy subsamples are drawn from numpy's global
        generator in cs231n's order. Otherwise all of the Solver's sampling uses
        ``np.random.default_rng(seed)`` and the global generator is left alone
        (the model's own randomness, e.g. dropout, is the model's business).
    shuffle : bool, default False
        False (cs231n): each iteration draws ``batch_size`` indices with replacement.
        True (DD2424): each epoch is a random permutation split into
        ``ceil(N_train / batch_size)`` batches (the last one may be smaller), so every
        sample is visited exactly once per epoch.
    lr_schedule : None, str, dict or callable
        See :func:`make_schedule`: ``'step'``, ``{'kind': 'step', 'decay': .5, 'every_epochs': 2}``,
        ``{'kind': 'cyclic', 'eta_min': 1e-5, 'eta_max': 1e-1, 'n_s': 500}`` or
        ``f(iteration, epoch) -> lr``. The rate is written to every parameter's
        ``config['learning_rate']`` before each step.
    step_epochs : int, optional
        Epochs between decays of ``lr_schedule='step'`` (default 1).
    eval_every : int, optional
        Every ``eval_every`` iterations (and before the first one) record loss and accuracy on
        the training and validation data in ``eval_history``; see :meth:`evaluate`.

    Attributes
    ----------
    loss_history : list of float
        Minibatch loss of every iteration (non-finite values kept, with one warning).
    train_acc_history, val_acc_history : list of float
        Accuracies at iteration 0 and after each epoch (``num_epochs + 1`` values).
    lr_history : list of float
        Learning rate used at each iteration.
    eval_history : list of dict
        ``{'iteration', 'epoch', 'train_loss', 'train_acc', 'val_loss', 'val_acc'}`` records.
    best_val_acc : float
    best_params : dict
        Copy of the parameters with the best validation accuracy; put into ``model.params``
        at the end of :meth:`train`.
    epoch, iteration : int
        Completed epochs and update steps.
    """

    def __init__(self, model, data, **kwargs):
        if not isinstance(getattr(model, "params", None), Mapping) or not callable(getattr(model, "loss", None)):
            raise SolverInputError(
                "Solver: model must have a dict model.params and a method model.loss(X, y=None) "
                f"(the cs231n model contract); got {type(model).__name__}."
            )
        self.model = model
        self.X_train, self.y_train, self.X_val, self.y_val = _unpack_data(data)

        options = {name: kwargs.pop(name, default) for name, default in _DEFAULTS.items()}
        if kwargs:
            raise OptionError(
                f"Solver: unrecognized arguments {', '.join(map(repr, kwargs))}; "
                f"accepted keyword arguments are {', '.join(_DEFAULTS)}."
            )

        where = "Solver"
        optim_config = options["optim_config"]
        if optim_config is None:
            optim_config = {}
        if not isinstance(optim_config, Mapping):
            raise OptionError(f"{where}: optim_config must be a dict such as {{'learning_rate': 1e-3}}, "
                              f"got {type(optim_config).__name__}.")
        self.optim_config = dict(optim_config)
        self.lr_decay = _check_real(where, "lr_decay", options["lr_decay"], positive=True)
        self.batch_size = _check_int(where, "batch_size", options["batch_size"], 1)
        self.num_epochs = _check_int(where, "num_epochs", options["num_epochs"], 0)
        self.num_train_samples = _check_int(where, "num_train_samples", options["num_train_samples"], 1,
                                            allow_none=True)
        self.num_val_samples = _check_int(where, "num_val_samples", options["num_val_samples"], 1,
                                          allow_none=True)
        self.print_every = _check_int(where, "print_every", options["print_every"], 1)
        self.eval_every = _check_int(where, "eval_every", options["eval_every"], 1, allow_none=True)
        self.verbose = bool(options["verbose"])
        self.shuffle = bool(options["shuffle"])
        self.seed = options["seed"]
        self._rng = self._make_rng(self.seed)

        self.update_rule = self._resolve_update_rule(options["update_rule"])

        self.lr_schedule = options["lr_schedule"]
        self.step_epochs = options["step_epochs"]
        base_lr = self.optim_config.get("learning_rate")
        self._schedule = make_schedule(self.lr_schedule, learning_rate=base_lr, lr_decay=self.lr_decay,
                                       step_epochs=self.step_epochs)

        self.checkpoint_name = options["checkpoint_name"]
        if self.checkpoint_name is not None:
            self._check_checkpointable()

        self._reset()

    # -- construction helpers ------------------------------------------------

    @staticmethod
    def _make_rng(seed):
        if seed is None:
            return None
        if isinstance(seed, np.random.Generator):
            return seed
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise OptionError(
                f"Solver: seed must be None (cs231n: numpy's global generator), a non-negative int "
                f"or a np.random.Generator; got {seed!r}."
            )
        return np.random.default_rng(int(seed))

    @staticmethod
    def _resolve_update_rule(rule):
        # Imported when used: the release of an assignment that teaches update rules ships optim without them.
        from course_lib.optim import get_update_rule

        return get_update_rule(rule)

    def _check_checkpointable(self):
        name = self.checkpoint_name
        if not isinstance(name, (str, os.PathLike)):
            raise OptionError(f"Solver: checkpoint_name must be a str path prefix, got {type(name).__name__}.")
        self.checkpoint_name = name = os.fspath(name)
        directory = os.path.dirname(os.path.abspath(name))
        if not os.path.isdir(directory):
            raise OptionError(
                f"Solver: checkpoint_name {name!r}: directory {directory!r} does not exist; create it "
                f"or choose another checkpoint_name."
            )
        try:
            pickle.dumps(self.model)
        except Exception as exc:  # PicklingError, AttributeError or TypeError
            raise SolverInputError(
                f"Solver: checkpoint_name is set but the model cannot be pickled ({exc}); define the "
                f"model class at module level or set checkpoint_name=None."
            ) from exc
        # Lambdas and local functions do not pickle: checkpoints then store their names.
        self._checkpoint_rule = _picklable_or_name(self.update_rule)
        self._checkpoint_schedule = _picklable_or_name(self.lr_schedule)

    def _reset(self):
        """Set up the book-keeping variables for optimization; called by the constructor."""
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.lr_history = []
        self.eval_history = []
        self._warned_nonfinite = False
        self._perm = None
        self._perm_pos = 0

        # A copy of optim_config for each parameter.
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    # -- sampling --------------------------------------------------------------

    def _draw(self, n: int, k: int) -> np.ndarray:
        """``k`` indices in ``[0, n)`` with replacement (cs231n: ``np.random.choice(n, k)``)."""
        if self._rng is None:
            return np.random.choice(n, k)
        return self._rng.integers(0, n, size=k)

    def _batch_indices(self) -> np.ndarray:
        num_train = self.X_train.shape[0]
        if not self.shuffle:
            return self._draw(num_train, self.batch_size)
        if self._perm is None or self._perm_pos >= num_train:
            rng = np.random if self._rng is None else self._rng
            self._perm = rng.permutation(num_train)
            self._perm_pos = 0
        start = self._perm_pos
        self._perm_pos = start + self.batch_size
        return self._perm[start:self._perm_pos]

    def _subsample(self, X, y, num_samples):
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = self._draw(N, num_samples)
            X, y = X[mask], y[mask]
        return X, y

    # -- one update ------------------------------------------------------------

    def _step(self):
        """Make a single gradient update; called by :meth:`train`."""
        idx = self._batch_indices()
        X_batch = self.X_train[idx]
        y_batch = self.y_train[idx]
        configs = self.optim_configs

        if self._schedule is not None:
            lr = float(self._schedule(self.iteration, self.epoch))
            for config in configs.values():
                config["learning_rate"] = lr

        loss, grads = self.model.loss(X_batch, y_batch)
        loss = float(loss)
        self.loss_history.append(loss)
        if not math.isfinite(loss) and not self._warned_nonfinite:
            self._warned_nonfinite = True
            warnings.warn(
                f"Solver: the loss is {loss} at iteration {self.iteration + 1} (epoch {self.epoch}); "
                f"training continues as in cs231n, but the model has probably diverged: lower the "
                f"learning rate or check the loss and gradients. (Shown once per Solver.)",
                RuntimeWarning,
                stacklevel=3,
            )

        params = self.model.params
        rule = self.update_rule
        next_config = None
        for p, w in params.items():
            try:
                dw = grads[p]
            except KeyError:
                raise SolverInputError(
                    f"Solver: model.loss returned no gradient for parameter {p!r}; grads must have the "
                    f"keys of model.params ({', '.join(map(repr, params))})."
                ) from None
            next_w, next_config = rule(w, dw, configs[p])
            params[p] = next_w
            configs[p] = next_config
        self.iteration += 1

        if self._schedule is None:
            lr = next_config.get("learning_rate", math.nan) if isinstance(next_config, Mapping) else math.nan
        self.lr_history.append(float(lr))

    # -- evaluation --------------------------------------------------------------

    def _predict(self, X, batch_size: int) -> np.ndarray:
        batch_size = _check_int("Solver.check_accuracy", "batch_size", batch_size, 1)
        y_pred = []
        for start in range(0, X.shape[0], batch_size):
            scores = self.model.loss(X[start:start + batch_size])
            y_pred.append(np.argmax(scores, axis=1))
        return np.hstack(y_pred)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100) -> float:
        """Accuracy of the model on ``X, y``.

        Parameters
        ----------
        X : ndarray, shape (N, d_1, ..., d_k)
        y : ndarray, shape (N,)
        num_samples : int, optional
            If given and ``N > num_samples``, evaluate on ``num_samples`` samples drawn with
            replacement (cs231n: ``np.random.choice(N, num_samples)`` when ``seed`` is None).
        batch_size : int
            Predict in batches of this size to bound memory.

        Returns
        -------
        float
            Fraction of correctly classified samples.
        """
        if X.shape[0] == 0:
            raise ShapeError("Solver.check_accuracy: X has no samples.")
        X, y = self._subsample(X, y, num_samples)
        return float(np.mean(self._predict(X, batch_size) == y))

    def evaluate(self, X, y, num_samples=None, batch_size=100) -> tuple[float, float]:
        """Loss and accuracy of the model on ``X, y`` (one subsample shared by both).

        The loss is the training-mode ``model.loss(X, y)`` (including the regularization
        term and, e.g., dropout), averaged over batches weighted by their size: the same
        quantity as ``loss_history``. It is computed on a copy of the model that shares the
        parameter arrays, so running statistics (batch normalization) are not changed.
        The accuracy is computed as in :meth:`check_accuracy`.

        Parameters
        ----------
        X : ndarray, shape (N, d_1, ..., d_k)
        y : ndarray, shape (N,)
        num_samples : int, optional
            Subsample size as in :meth:`check_accuracy`.
        batch_size : int

        Returns
        -------
        loss, acc : float
        """
        if X.shape[0] == 0:
            raise ShapeError("Solver.evaluate: X has no samples.")
        X, y = self._subsample(X, y, num_samples)
        acc = float(np.mean(self._predict(X, batch_size) == y))
        # The copy shares the parameter arrays but not the running statistics/caches.
        probe = copy.deepcopy(self.model, memo={id(v): v for v in self.model.params.values()})
        total = 0.0
        for start in range(0, X.shape[0], batch_size):
            X_batch = X[start:start + batch_size]
            loss, _ = probe.loss(X_batch, y[start:start + batch_size])
            total += float(loss) * X_batch.shape[0]
        return total / X.shape[0], acc

    def _record_eval(self):
        train_loss, train_acc = self.evaluate(self.X_train, self.y_train, self.num_train_samples)
        val_loss, val_acc = self.evaluate(self.X_val, self.y_val, self.num_val_samples)
        self.eval_history.append({
            "iteration": self.iteration, "epoch": self.epoch,
            "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_acc": val_acc,
        })

    # -- checkpoints -----------------------------------------------------------

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self._checkpoint_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "iteration": self.iteration,
            "lr_schedule": self._checkpoint_schedule,
            "lr_history": self.lr_history,
            "eval_history": self.eval_history,
            "best_val_acc": self.best_val_acc,
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            tqdm.write(f'Saving checkpoint to "{filename}"', file=sys.stdout)
        _atomic_pickle(checkpoint, filename)

    # -- training loop ---------------------------------------------------------

    def _iterations_per_epoch(self) -> int:
        num_train = self.X_train.shape[0]
        if self.shuffle:
            return -(-num_train // self.batch_size)  # ceil: every sample once per epoch
        return max(num_train // self.batch_size, 1)

    def train(self):
        """Run the optimization; afterwards ``model.params`` holds the best parameters."""
        iterations_per_epoch = self._iterations_per_epoch()
        num_iterations = self.num_epochs * iterations_per_epoch
        self.iterations_per_epoch = iterations_per_epoch
        self.num_iterations = num_iterations
        verbose = self.verbose
        if self.eval_every is not None and self.iteration == 0:
            self._record_eval()

        with tqdm(total=num_iterations, desc="train", unit="it", file=sys.stderr,
                  disable=not verbose, dynamic_ncols=True) as bar:
            for t in range(num_iterations):
                self._step()
                bar.update()

                if verbose and t % self.print_every == 0:
                    bar.set_postfix_str(f"loss {self.loss_history[-1]:.4f}", refresh=False)
                    # cs231n's lines, verbatim: "(Iteration %d / %d) loss: %f"
                    tqdm.write(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}",
                               file=sys.stdout)

                # At the end of every epoch, increment the epoch counter and decay the learning rate.
                epoch_end = (t + 1) % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    if self._schedule is None:
                        for config in self.optim_configs.values():
                            if "learning_rate" in config:
                                config["learning_rate"] *= self.lr_decay

                # Check train and val accuracy on the first iteration, the last iteration,
                # and at the end of each epoch.
                if t == 0 or t == num_iterations - 1 or epoch_end:
                    train_acc = self.check_accuracy(self.X_train, self.y_train,
                                                    num_samples=self.num_train_samples)
                    val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                    self.train_acc_history.append(train_acc)
                    self.val_acc_history.append(val_acc)
                    self._save_checkpoint()
                    if verbose:
                        # cs231n: "(Epoch %d / %d) train acc: %f; val_acc: %f"
                        tqdm.write(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                                   f"val_acc: {val_acc:f}", file=sys.stdout)

                    # Keep track of the best model (the first check always counts, so that
                    # best_params is never empty after training).
                    if val_acc > self.best_val_acc or not self.best_params:
                        self.best_val_acc = val_acc
                        self.best_params = {k: v.copy() for k, v in self.model.params.items()}

                if self.eval_every is not None and self.iteration % self.eval_every == 0:
                    self._record_eval()

        # At the end of training swap (a copy of) the best params into the model, so that
        # further training cannot alter best_params.
        if self.best_params:
            self.model.params = {k: v.copy() for k, v in self.best_params.items()}
