"""A whole release of each assignment, built aside and swapped in, and the drift check of ``release/``."""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from autograder.assignments import assignment_names, get_assignment
from autograder.release.errors import ReleaseError, SourceNotFoundError
from autograder.release.library import LIBRARY, StrippedLibrary, strip_library
from autograder.release.notebooks import generate_notebooks
from autograder.release.student_files import write_student_files
from autograder.validate.structure import require_valid

__all__ = [
    "build_release",
    "release",
    "check_release",
]


def _source_dir(name: str, course_dir: Path) -> Path:
    assignment = get_assignment(name, course_dir)
    notebook = course_dir / assignment.source_notebook
    if not notebook.is_file():
        raise SourceNotFoundError(f"cannot release {name!r}: {notebook} does not exist; write the source "
                                  f"notebook first (see docs/notebooks.md).")
    return notebook.parent


def build_release(name: str, course_dir: Path, out_dir: Path) -> StrippedLibrary:
    """Build the complete release of ``name`` into ``out_dir`` (which must not exist).

    Returns
    -------
    StrippedLibrary
        The report of the library step.
    """
    course_dir = Path(course_dir)
    generate_notebooks(name, _source_dir(name, course_dir), out_dir)
    if (out_dir / LIBRARY).exists():
        raise ReleaseError(f"source/{name}/ contains a {LIBRARY}/ folder; remove it: the release ships its own.")
    report = strip_library(course_dir / LIBRARY, name, out_dir / LIBRARY)
    write_student_files(name, out_dir, course_dir)
    for path in sorted(out_dir.rglob("*")):
        if path.is_file():
            path.chmod(0o644)
    return report


def _selected(assignments: Sequence[str] | None, course_dir: Path) -> list[str]:
    if assignments is None:
        return assignment_names(course_dir)
    for name in assignments:
        get_assignment(name, course_dir)
    return list(dict.fromkeys(assignments))


def release(assignments: list[str] | None, course_dir: Path) -> list[Path]:
    """Regenerate ``release/<name>/`` for each assignment.

    Each release is built in a temporary folder next to ``release/`` and swapped in only when complete,
    so a failure leaves the previous release in place.

    Parameters
    ----------
    assignments : list of str or None
        Assignment names; None releases every assignment of the course (folders of ``source/``).
    course_dir : Path
        The course directory (the repository root).

    Returns
    -------
    list of Path
        The ``release/<name>/`` folders written.

    Raises
    ------
    course_lib.errors.OptionError
        For an unknown assignment name.
    SourceNotFoundError
        When a named assignment has no source notebook.
    autograder.validate.ValidationError
        When the source notebook fails the structural checks of ``python -m autograder validate``
        (a :class:`ReleaseError`); nothing is written.
    ReleaseError
        When nbgrader or the library step fails.
    """
    course_dir = Path(course_dir).resolve()
    names = _selected(assignments, course_dir)
    release_root = course_dir / "release"
    release_root.mkdir(exist_ok=True)
    written = []

    for name in names:
        _source_dir(name, course_dir)
        require_valid(name, course_dir)  # refuses with the messages of `python -m autograder validate`
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=release_root))
        final = release_root / name
        old = staging / "previous"
        try:
            build_release(name, course_dir, staging / name)
            if final.exists():
                final.rename(old)
            try:
                (staging / name).rename(final)
            except OSError:
                if old.exists():
                    old.rename(final)  # put the previous release back
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(final)
    return written


def _tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")}


def check_release(course_dir: Path, assignments: Sequence[str] | None = None) -> list[str]:
    """Differences between the committed ``release/`` and a fresh build (empty when up to date).

    Parameters
    ----------
    course_dir : Path
    assignments : sequence of str, optional
        Default: every assignment with a source notebook.

    Returns
    -------
    list of str
        One line per difference, e.g. ``"release/fc_nets/fc_nets.ipynb differs"``.
    """
    course_dir = Path(course_dir).resolve()
    problems = []
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        for name in _selected(assignments, course_dir):
            fresh = Path(tmp) / name
            build_release(name, course_dir, fresh)
            committed = course_dir / "release" / name
            if not committed.is_dir():
                problems.append(f"release/{name}/ is missing; run `python -m autograder release {name}`")
                continue
            want, have = _tree_files(fresh), _tree_files(committed)
            problems += [f"release/{name}/{f} is missing" for f in sorted(want - have)]
            problems += [f"release/{name}/{f} should not be there" for f in sorted(have - want)]
            for f in sorted(want & have):
                if not filecmp.cmp(fresh / f, committed / f, shallow=False):
                    problems.append(f"release/{name}/{f} differs")
    return problems
