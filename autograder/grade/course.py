"""Where an assignment's files are in a course folder: its source notebook and its release folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.assignments import AssignmentError, get_assignment
from autograder.errors import AutograderError

__all__ = ["AssignmentNotFoundError", "AssignmentFiles", "find_assignment"]


class AssignmentNotFoundError(AutograderError, LookupError):
    """The assignment has no source notebook in the course folder."""


@dataclass(frozen=True)
class AssignmentFiles:
    """Where an assignment's files are (what its notebook says about it is :class:`autograder.assignments.Assignment`).

    Attributes
    ----------
    name : str
    source_notebook : Path
        ``source/<name>/<name>.ipynb``.
    release_dir : Path
        ``release/<name>/`` (may not exist yet).
    """

    name: str
    source_notebook: Path
    release_dir: Path


def find_assignment(course_dir: Path, name: str) -> AssignmentFiles:
    """Locate an assignment's source notebook and release folder.

    Raises
    ------
    AssignmentNotFoundError
        With the list of known assignments.
    """
    course_dir = Path(course_dir)
    try:
        nb = course_dir / get_assignment(name, course_dir).source_notebook
    except AssignmentError as exc:
        raise AssignmentNotFoundError(str(exc)) from exc
    return AssignmentFiles(name, nb, course_dir / "release" / name)
