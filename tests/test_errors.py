"""The exception bases: every error the grader raises on purpose is an AutograderError, every error of the
reference library a CourseLibError (autograder/errors.py, course_lib/errors.py), and the CLI catches the two."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import autograder
import course_lib
from autograder import cli
from autograder.errors import AutograderError
from autograder.kernel.errors import StudentError
from course_lib.errors import CourseLibError

# Modules that run alone, outside the package (copied into the student's sandbox): standard library and numpy only.
_STANDALONE = {"autograder.kernel.wire", "autograder.kernel.server"}


def _exception_classes(package) -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".examples" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Exception) and not issubclass(obj, Warning) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_autograder_exception_is_an_autograder_error():
    classes = [c for c in _exception_classes(autograder)
               if c.__module__ not in _STANDALONE and not c.__name__.startswith("_")]
    assert len(classes) >= 15, classes  # the walk found the package's exceptions
    outside = [f"{c.__module__}.{c.__qualname__}" for c in classes
               if not issubclass(c, AutograderError) and not issubclass(c, StudentError)]
    assert outside == []


def test_student_errors_are_not_grader_errors():
    # the student's exceptions, re-raised in the grader, must never be taken for a failure of the grader
    assert not issubclass(StudentError, AutograderError)


def test_every_course_lib_exception_is_a_course_lib_error():
    classes = _exception_classes(course_lib)
    assert len(classes) >= 7, classes
    assert [c.__qualname__ for c in classes if not issubclass(c, CourseLibError)] == []


def test_moved_course_lib_errors_are_importable_where_they_were():
    from course_lib import data, errors, solver

    assert solver.SolverInputError is errors.SolverInputError
    assert data.SplitSizeError is errors.SplitSizeError


@pytest.mark.parametrize("exc", [AutograderError("bad input: do this"), CourseLibError("bad input: do this")])
def test_cli_reports_an_expected_error_in_one_line(monkeypatch, capsys, exc):
    def fail(args):
        raise exc

    monkeypatch.setattr(cli, "_cmd_pdf", fail)
    assert cli.main(["pdf", "x.ipynb"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "error: bad input: do this\n"


def test_cli_reports_anything_else_as_an_internal_error(monkeypatch, capsys):
    def fail(args):
        raise KeyError("unexpected")

    monkeypatch.setattr(cli, "_cmd_pdf", fail)
    assert cli.main(["pdf", "x.ipynb"]) == cli.EXIT_INTERNAL
    assert capsys.readouterr().err.startswith("internal error: KeyError")
