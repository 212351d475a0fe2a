"""The course manifest: assignments, their notebooks, points, exercises and the library they ship.

One :class:`Assignment` per nbgrader assignment, in teaching order. Everything that needs to know "what
belongs to which assignment" reads it from here: ``nbgrader_config.py``, the release builder
(:mod:`autograder.release`), the grading pipeline and the tests.

Solutions in ``course_lib``
---------------------------
``course_lib`` holds the reference implementation of every exercise. A student release ships a copy of it
from which the solutions of that assignment **and of every later one** are removed (earlier assignments'
solutions ship: students of ``batchnorm`` get working affine layers). :attr:`Assignment.solutions` lists
what an assignment teaches, as

* ``"course_lib.layers:affine_forward"``: one top-level function, class or assignment of a module;
* ``"course_lib.layer_utils"``: a whole module.

A definition that several assignments teach (a class the students extend in later assignments) is
listed in each of them; it ships only after the last one. See ``docs/notebooks.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from course_lib.errors import OptionError

__all__ = [
    "Assignment",
    "ASSIGNMENTS",
    "CODE_STUB",
    "GRADING_ENV_VAR",
    "GRADING_ENV",
    "assignment_names",
    "get_assignment",
    "stripped_solutions",
    "nbgrader_settings",
    "grading_env",
]

#: What replaces every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region in a student release.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

#: Environment variable the notebooks read: ``"1"`` selects the grading-size data and epochs.
GRADING_ENV_VAR = "COURSE_GRADING"

#: Environment of a grading-size run (added to the current environment).
GRADING_ENV = MappingProxyType({GRADING_ENV_VAR: "1"})


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment.

    Attributes
    ----------
    name : str
        Assignment id: ``source/<name>/`` and ``release/<name>/``.
    notebook : str
        Notebook file name (without ``.ipynb``) inside the assignment folder.
    total_points : float
        Sum of the ``points`` of the notebook's autograded test cells (a test checks it); manually graded
        written answers come on top.
    exercises : tuple of str
        Names (functions, classes) that the notebook's solution cells define, one autograded test cell
        each; the grader proxies exactly these names into the student kernel.
    solutions : tuple of str
        What this assignment teaches in ``course_lib``: ``"module:name"`` or ``"module"`` (see the
        module docstring); stripped from this assignment's release and every earlier one.
    time_budget_s : float
        Wall-clock budget for executing the source notebook top to bottom at grading size
        (``COURSE_GRADING=1``) on the 2-core reference machine; a test asserts it.
    grading_sizes : mapping
        The data sizes the notebook uses at grading size (documentation for instructors; the notebook
        itself holds the numbers and a test checks they agree).
    """

    name: str
    notebook: str
    total_points: float
    exercises: tuple[str, ...]
    solutions: tuple[str, ...]
    time_budget_s: float
    grading_sizes: Mapping[str, int] = field(default_factory=dict)

    @property
    def source_notebook(self) -> Path:
        """Notebook path relative to the course directory, e.g. ``source/fc_nets/fc_nets.ipynb``."""
        return Path("source") / self.name / f"{self.notebook}.ipynb"

    @property
    def release_notebook(self) -> Path:
        """Released notebook path relative to the course directory."""
        return Path("release") / self.name / f"{self.notebook}.ipynb"


ASSIGNMENTS: tuple[Assignment, ...] = (
    Assignment(
        name="fc_nets",
        notebook="fc_nets",
        total_points=30,
        exercises=(
            "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
            "FullyConnectedNet", "overfit_settings",
            "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam",
        ),
        solutions=(
            "course_lib.layers:affine_forward",
            "course_lib.layers:affine_backward",
            "course_lib.layers:relu_forward",
            "course_lib.layers:relu_backward",
            "course_lib.layers:softmax_loss",
            "course_lib.layer_utils:affine_relu_forward",
            "course_lib.layer_utils:affine_relu_backward",
            "course_lib.fc_net:FullyConnectedNet",
            "course_lib.fc_net:network_loss",
            "course_lib.optim:sgd_momentum",
            "course_lib.optim:sgd_nesterov_momentum",
            "course_lib.optim:rmsprop",
            "course_lib.optim:adam",
        ),
        time_budget_s=120,
        grading_sizes={"num_training": 1000, "num_validation": 200, "num_test": 200},
    ),
    Assignment(
        name="batchnorm",
        notebook="batchnorm",
        total_points=21,
        exercises=(
            "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
            "layernorm_forward", "layernorm_backward", "FullyConnectedNet",
        ),
        solutions=(
            "course_lib.layers:batchnorm_forward",
            "course_lib.layers:batchnorm_backward",
            "course_lib.layers:batchnorm_backward_alt",
            "course_lib.layers:layernorm_forward",
            "course_lib.layers:layernorm_backward",
            "course_lib.layers:_standardize",
            "course_lib.layers:_standardize_backward",
            "course_lib.layer_utils:affine_norm_relu_forward",
            "course_lib.layer_utils:affine_norm_relu_backward",
            "course_lib.fc_net:FullyConnectedNet",
            "course_lib.fc_net:network_loss",
        ),
        time_budget_s=120,
        grading_sizes={"num_training": 1000, "num_validation": 200, "num_test": 200},
    ),
    Assignment(
        name="dropout",
        notebook="dropout",
        total_points=9,
        exercises=("dropout_forward", "dropout_backward", "FullyConnectedNet"),
        solutions=(
            "course_lib.layers:dropout_forward",
            "course_lib.layers:dropout_backward",
            "course_lib.fc_net:FullyConnectedNet",
            "course_lib.fc_net:network_loss",
        ),
        time_budget_s=120,
        grading_sizes={"num_training": 500, "num_validation": 200, "num_test": 200},
    ),
    Assignment(
        name="deep_networks",
        notebook="deep_networks",
        total_points=13,
        exercises=("init_std", "FullyConnectedNet", "cyclical_lr", "sample_lambdas"),
        solutions=(
            "course_lib.fc_net:init_std",
            "course_lib.fc_net:WEIGHT_SCALES",
            "course_lib.fc_net:FullyConnectedNet",
            "course_lib.fc_net:network_loss",
            "course_lib.solver:cyclical_lr",
        ),
        time_budget_s=120,
        grading_sizes={"num_training": 1000, "num_validation": 500, "num_test": 500},
    ),
)


def assignment_names() -> list[str]:
    """Names of all assignments, in teaching order."""
    return [a.name for a in ASSIGNMENTS]


def get_assignment(name: str) -> Assignment:
    """The :class:`Assignment` called ``name``.

    Raises
    ------
    course_lib.errors.OptionError
        For an unknown name; the message lists the known ones.
    """
    for assignment in ASSIGNMENTS:
        if assignment.name == name:
            return assignment
    known = ", ".join(map(repr, assignment_names()))
    raise OptionError(f"unknown assignment {name!r}; the course has {known} (see autograder/assignments.py).")


def stripped_solutions(name: str) -> tuple[str, ...]:
    """Solutions removed from the release of ``name``: its own and every later assignment's.

    Returns
    -------
    tuple of str
        ``"module:name"`` / ``"module"`` entries, without duplicates, in manifest order.
    """
    start = assignment_names().index(get_assignment(name).name)
    seen: dict[str, None] = {}
    for assignment in ASSIGNMENTS[start:]:
        for entry in assignment.solutions:
            seen.setdefault(entry, None)
    return tuple(seen)


def nbgrader_settings(course_dir: str | os.PathLike) -> dict[str, dict[str, object]]:
    """The nbgrader configuration of the course directory, by configurable class.

    Used by ``nbgrader_config.py`` and by :func:`autograder.release.release`, so that plain nbgrader
    commands and the project's release command agree.
    """
    root = os.path.abspath(os.fspath(course_dir))
    return {
        "CourseDirectory": {
            "root": root,
            "source_directory": "source",
            "release_directory": "release",
            "db_url": "sqlite:///" + os.path.join(root, "gradebook.db"),
        },
        "ClearSolutions": {"code_stub": {"python": CODE_STUB}},
    }


def grading_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a grading-size run: ``base`` (default ``os.environ``) plus :data:`GRADING_ENV`."""
    env = dict(os.environ if base is None else base)
    env.update(GRADING_ENV)
    return env
