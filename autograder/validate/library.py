"""The ``library`` check: ``course_lib``'s solution markers, and library answers to the notebook's exercises."""

from __future__ import annotations

import tempfile
from pathlib import Path

from autograder.assignments import assignment_names, get_assignment
from autograder.grade.cell import defined_names
from autograder.release.errors import ReleaseError
from autograder.release.library import (
    BEGIN_MARKER,
    END_MARKER,
    LIBRARY,
    library_regions,
    strip_library,
)
from autograder.validate.structure import Problem

__all__ = [
    "library_modules",
    "library_problems",
]


def library_modules(course_dir: Path) -> dict[str, str]:
    """Text of every module of the course's ``course_lib``, by path relative to the course directory."""
    root = Path(course_dir) / LIBRARY
    return {p.relative_to(course_dir).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts}


def library_problems(name: str, course_dir: Path) -> list[Problem]:
    """Problems of ``course_lib``'s solution markers, and library answers to ``name``'s exercises.

    * every ``# BEGIN SOLUTION`` has its ``# END SOLUTION`` and names only assignments of the course;
    * the library the release of ``name`` ships (:func:`autograder.release.strip_library`) defines none of
      the names the notebook's solution cells define: a student who imports it would get the points.
    """
    course_dir = Path(course_dir)
    known = set(assignment_names(course_dir))
    out: list[Problem] = []
    for rel, text in library_modules(course_dir).items():
        try:
            regions = library_regions(text, rel)
        except ReleaseError as exc:
            out.append(Problem(name, "library", rel, str(exc).split(": ", 1)[1]))
            continue
        for region in regions:
            for tag in sorted(region.tags - known):
                out.append(Problem(name, "library", f"{rel}:{region.start}",
                                   f"'{BEGIN_MARKER}' names {tag!r}, which is not an assignment of the course "
                                   f"(known: {', '.join(sorted(known))}): fix the name"))
    if out:
        return out
    exercises = set(get_assignment(name, course_dir).exercises)
    with tempfile.TemporaryDirectory(prefix="validate-library-") as tmp:
        try:
            report = strip_library(course_dir / LIBRARY, name, Path(tmp) / LIBRARY)
        except ReleaseError as exc:
            return [Problem(name, "library", LIBRARY, str(exc))]
        for module in report.shipped:
            path = Path(tmp, *module.split(".")).with_suffix(".py")
            if not path.is_file():
                path = Path(tmp, *module.split("."), "__init__.py")
            # what it defines, as a solution cell defines an exercise (a re-export is omitted with the module)
            defined = defined_names(path.read_text(encoding="utf-8"))
            for answer in sorted(defined & exercises):
                rel = path.relative_to(tmp).as_posix()
                out.append(Problem(
                    name, "library", rel,
                    f"the release ships {module}.{answer}, and {answer!r} is an exercise of this notebook: a "
                    f"student who imports it gets the points. Put its definition between '{BEGIN_MARKER} "
                    f"{name}' and '{END_MARKER}' lines in {rel} (or add {name} to the marker that is there)"))
    return out
