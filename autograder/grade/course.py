"""Where an assignment's files are in a course folder: its source notebook and its release folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.assignments import get_assignment
from autograder.errors import AutograderError
from course_lib.errors import OptionError

__all__ = ["AssignmentNotFoundError", "AssignmentFiles", "known_assignments", "find_assignment"]


class AssignmentNotFoundError(AutograderError, LookupError):
    """The assignment has no source notebook in the course folder."""


@dataclass(frozen=True)
class AssignmentFiles:
    """Where an assignment's files are (its entry in the course manifest is :class:`autograder.assignments.Assignment`).

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


def known_assignments(course_dir: Path) -> list[str]:
    """Names of the assignments with a ``source/<name>/<name>.ipynb`` in ``course_dir``."""
    src = Path(course_dir) / "source"
    if not src.is_dir():
        return []
    return sorted(p.name for p in src.iterdir() if p.is_dir() and list(p.glob("*.ipynb")))


def find_assignment(course_dir: Path, name: str) -> AssignmentFiles:
    """Locate an assignment's source notebook and release folder.

    Raises
    ------
    AssignmentNotFoundError
        With the list of known assignments.
    """
    course_dir = Path(course_dir)
    nb = course_dir / "source" / name / f"{name}.ipynb"
    try:  # the course manifest may name the notebook differently from the assignment
        nb = course_dir / get_assignment(name).source_notebook
    except OptionError:  # not in the manifest: the nbgrader layout
        pass
    if not nb.is_file():
        known = known_assignments(course_dir)
        listing = ", ".join(known) if known else "none"
        raise AssignmentNotFoundError(
            f"unknown assignment {name!r}: there is no {nb}. Known assignments in "
            f"{course_dir / 'source'}: {listing}.")
    return AssignmentFiles(name, nb, course_dir / "release" / name)
