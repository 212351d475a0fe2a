"""The course's assignments, read from their source notebooks.

An assignment is a folder ``source/<name>/`` holding one source notebook; the notebook is the single
source of truth for everything about it:

* **graded cells and points**: nbgrader's cell metadata (``total_points`` is their sum);
* **exercises**: the names its solution cells define;
* **what its release strips from course_lib**: not here but in ``course_lib`` itself, where each
  reference answer sits between ``# BEGIN SOLUTION <assignment> ...`` and ``# END SOLUTION`` lines naming
  the assignments whose releases must not ship it (:mod:`autograder.release`);
* **course facts** in the notebook's metadata under ``"autograder"`` (all optional):
  ``"order"`` (where the assignment is listed; teaching order, it changes nothing in any release),
  ``"time_budget_s"`` (seconds the source notebook may take at grading size on the 2-core reference
  machine; a test enforces it) and ``"grading_sizes"`` (the data sizes the notebook uses at grading size,
  for instructors; a test checks the notebook agrees).

Adding an assignment is adding a folder: nothing here or in another assignment changes
(docs/authoring.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from autograder.errors import AutograderError
from course_lib.errors import OptionError

__all__ = [
    "Assignment",
    "COURSE_DIR",
    "CODE_STUB",
    "GRADING_ENV_VAR",
    "GRADING_ENV",
    "DEFAULT_TIME_BUDGET_S",
    "METADATA_KEY",
    "AssignmentError",
    "assignment_names",
    "get_assignment",
    "nbgrader_settings",
]

#: The course directory this package belongs to (the repository root): the default of every ``course_dir``.
COURSE_DIR = Path(__file__).resolve().parent.parent

#: What replaces every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region in a student release.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

#: Environment variable the notebooks read: ``"1"`` selects the grading-size data and epochs.
GRADING_ENV_VAR = "COURSE_GRADING"

#: Environment of a grading-size run (added to the current environment).
GRADING_ENV = MappingProxyType({GRADING_ENV_VAR: "1"})

#: The notebook-metadata key of the course facts.
METADATA_KEY = "autograder"

#: ``time_budget_s`` of a notebook that does not state one.
DEFAULT_TIME_BUDGET_S = 120.0


class AssignmentError(AutograderError, OptionError):
    """An assignment folder or its notebook's course metadata is not usable; the message says how to fix it."""


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment, as its source notebook describes it.

    Reading one is cheap (the notebook's metadata); :attr:`total_points` and :attr:`exercises` parse the
    notebook's cells when asked.

    Attributes
    ----------
    name : str
        Assignment id: ``source/<name>/`` and ``release/<name>/``.
    notebook : str
        Notebook file name (without ``.ipynb``) inside the assignment folder.
    course_dir : Path
        The course directory.
    order : float
        Listing position (notebook metadata ``order``; unordered assignments come last, by name).
    time_budget_s : float
        Wall-clock budget for executing the source notebook at grading size (``COURSE_GRADING=1``).
    grading_sizes : mapping
        The data sizes the notebook uses at grading size.
    """

    name: str
    notebook: str
    course_dir: Path
    order: float = float("inf")
    time_budget_s: float = DEFAULT_TIME_BUDGET_S
    grading_sizes: Mapping[str, int] = field(default_factory=dict)

    @property
    def source_notebook(self) -> Path:
        """Notebook path relative to the course directory, e.g. ``source/fc_nets/fc_nets.ipynb``."""
        return Path("source") / self.name / f"{self.notebook}.ipynb"

    @property
    def release_notebook(self) -> Path:
        """Released notebook path relative to the course directory."""
        return Path("release") / self.name / f"{self.notebook}.ipynb"

    def _cells(self):
        import nbformat

        path = self.course_dir / self.source_notebook
        try:
            return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        except (OSError, ValueError) as exc:
            raise AssignmentError(f"{path}: {exc}") from exc

    @property
    def total_points(self) -> float:
        """Sum of the ``points`` of the notebook's autograded test cells (manually graded answers come on top).

        Raises
        ------
        autograder.grade.job.SourceNotebookError
            For a malformed graded cell (``python -m autograder validate`` names it).
        """
        from autograder.grade.source import parse_source_notebook

        return float(sum(g.points for g in parse_source_notebook(self._cells()) if g.kind == "auto"))

    @property
    def exercises(self) -> tuple[str, ...]:
        """Names (functions, classes, constants) that the notebook's solution cells define, sorted."""
        from autograder.grade.source import notebook_exercises

        return tuple(sorted(notebook_exercises(self._cells())))


def _course(course_dir: str | os.PathLike | None) -> Path:
    return COURSE_DIR if course_dir is None else Path(course_dir)


def _notebook_path(folder: Path) -> Path | None:
    """The one source notebook of an assignment folder (``<name>.ipynb`` first), or None."""
    preferred = folder / f"{folder.name}.ipynb"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    if len(found) > 1:
        raise AssignmentError(f"{folder} holds {len(found)} notebooks and none is named {preferred.name}: "
                              f"rename the assignment's notebook to {preferred.name}.")
    return found[0] if found else None


def _number(meta: Mapping, key: str, where: Path, default: float) -> float:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise AssignmentError(f"{where}: notebook metadata {METADATA_KEY}.{key} must be a number >= 0, got "
                              f"{value!r}; fix it in the notebook's metadata (JupyterLab: property inspector > "
                              "Advanced tools).")
    return float(value)


def _metadata(path: Path) -> Mapping:
    """The notebook's course metadata (``metadata.autograder``), read as plain JSON.

    An unreadable notebook has none: what is wrong with it is for ``python -m autograder validate`` (and
    ``release`` and ``grade``, which run its structural checks) to say.
    """
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(METADATA_KEY, {})
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(meta, Mapping):
        raise AssignmentError(f"{path}: notebook metadata {METADATA_KEY!r} must be an object, got {meta!r}.")
    return meta


def get_assignment(name: str, course_dir: str | os.PathLike | None = None) -> Assignment:
    """The assignment ``name`` of the course (default: this repository), from ``source/<name>/``.

    Raises
    ------
    AssignmentError
        When the folder has no notebook, or the notebook's course metadata is malformed; the message lists
        the known assignments or says what to fix.
    """
    course = _course(course_dir)
    folder = course / "source" / name
    ok_name = bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name
    path = _notebook_path(folder) if ok_name and folder.is_dir() else None
    if path is None:
        known = ", ".join(assignment_names(course)) or "none"
        raise AssignmentError(f"unknown assignment {name!r}: there is no notebook in {folder}. "
                              f"Known assignments in {course / 'source'}: {known}.")
    meta = _metadata(path)
    sizes = meta.get("grading_sizes", {})
    if not (isinstance(sizes, Mapping) and all(isinstance(k, str) and type(v) is int for k, v in sizes.items())):
        raise AssignmentError(f"{path}: notebook metadata {METADATA_KEY}.grading_sizes must map names to "
                              f"integers, got {sizes!r}.")
    return Assignment(
        name=name,
        notebook=path.stem,
        course_dir=course,
        order=_number(meta, "order", path, float("inf")),
        time_budget_s=_number(meta, "time_budget_s", path, DEFAULT_TIME_BUDGET_S),
        grading_sizes=MappingProxyType(dict(sizes)),
    )


def _listing(course: Path) -> list[tuple[float, str]]:
    """(order, name) of every assignment folder, read from the notebooks' metadata only."""
    out = []
    source = course / "source"
    for folder in sorted(source.iterdir()) if source.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        path = _notebook_path(folder)
        if path is None:
            continue
        try:
            order = _number(_metadata(path), "order", path, float("inf"))
        except AssignmentError:
            order = float("inf")  # get_assignment names the problem when the assignment is used
        out.append((order, folder.name))
    return sorted(out)


def assignment_names(course_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the course's assignments (folders of ``source/`` with a notebook), in listing order."""
    return [name for _, name in _listing(_course(course_dir))]



def nbgrader_settings(course_dir: str | os.PathLike) -> dict[str, dict[str, object]]:
    """The nbgrader configuration of the course directory, by configurable class.

    Used by ``nbgrader_config.py`` and by :func:`autograder.release.build.release`, so that plain nbgrader
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
