"""``validate``: the checks in order, on each assignment."""

from __future__ import annotations

from pathlib import Path

from autograder.validate.drift import drift_problems
from autograder.validate.leaks import release_leaks
from autograder.validate.library import library_problems
from autograder.validate.solutions import solution_problems
from autograder.validate.structure import Problem, structural_problems

__all__ = [
    "CHECKS",
    "validate",
]


#: The checks :func:`validate` runs, in order (``run`` only when asked).
CHECKS = ("structure", "library", "leaks", "drift", "run")


def validate(names: list[str], course_dir: Path, *, checks: tuple[str, ...] = CHECKS[:-1]) -> list[Problem]:
    """Run ``checks`` (default: all but ``run``) on each assignment; the problems found, in order.

    The later checks of an assignment are skipped when its structure is broken (they would only repeat it).
    """
    runners = {"library": library_problems, "leaks": release_leaks, "drift": drift_problems,
               "run": solution_problems}
    out: list[Problem] = []
    for name in names:
        found = structural_problems(name, course_dir)
        out += found
        if found:
            continue
        for check in checks:
            if check != "structure":
                out += [p for p in runners[check](name, course_dir)
                        if not (check == "library" and any((q.where, q.message) == (p.where, p.message)
                                                           for q in out))]  # course-wide, said once
    return out
