"""The ``drift`` check: ``release/<name>/`` is what a fresh build gives."""

from __future__ import annotations

from pathlib import Path

from autograder.release.build import check_release
from autograder.validate.structure import Problem

__all__ = [
    "drift_problems",
]


def drift_problems(name: str, course_dir: Path) -> list[Problem]:
    """Differences between ``release/<name>/`` and a fresh build (:func:`autograder.release.check_release`).

    """
    return [Problem(name, "drift", line.split(" ", 1)[0],
                    line.split(" ", 1)[1].split("; run ")[0] + f": run 'python -m autograder release {name}'")
            for line in check_release(Path(course_dir), [name])]
