"""The release's library step (autograder.release.library): solution regions of ``course_lib`` between
``# BEGIN SOLUTION <assignments>`` and ``# END SOLUTION`` lines, on a small package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.release.errors import ReleaseError
from autograder.release.library import strip_library


def _package(root: Path) -> Path:
    pkg = root / "course_lib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Package."""\n')
    (pkg / "rules.py").write_text(textwrap.dedent('''\
        """Rules."""

        __all__ = [
            "plain",
            "fancy",
            "RULES",
            "pick",
        ]


        def plain(x):
            return x


        # BEGIN SOLUTION first second
        # The fancy rule (solution).
        @staticmethod
        def fancy(x):
            return 2 * x  # secret-fancy
        # END SOLUTION


        #: Registry.
        RULES = {
            "plain": plain,  # kept
            # BEGIN SOLUTION first second
            "fancy": fancy,
            # END SOLUTION
        }


        def pick(name):
            from course_lib.extra import helper  # lazy: kept even when extra is omitted

            return RULES[name]
        '''))
    (pkg / "uses.py").write_text(textwrap.dedent('''\
        from course_lib.rules import fancy, plain

        DOUBLE = fancy


        def twice(x):
            return plain(plain(x))
        '''))
    (pkg / "only_def.py").write_text(textwrap.dedent('''\
        from course_lib.rules import (
            # BEGIN SOLUTION first second
            fancy,
            # END SOLUTION
            plain,
        )


        def uses_plain(x):
            return plain(x)
        '''))
    (pkg / "extra.py").write_text(textwrap.dedent('''\
        # BEGIN SOLUTION first
        def helper():
            return 1
        # END SOLUTION
        '''))
    (pkg / "data.txt").write_text("shipped as is\n")
    return pkg


def test_strip_library_removes_the_regions_naming_the_assignment_and_what_used_them(tmp_path):
    pkg = _package(tmp_path)
    out = tmp_path / "out" / "course_lib"
    report = strip_library(pkg, "first", out)
    rules = (out / "rules.py").read_text()
    assert "secret-fancy" not in rules and "def fancy" not in rules and "The fancy rule" not in rules
    assert '"fancy"' not in rules and "def plain" in rules and '"plain": plain' in rules
    assert "SOLUTION" not in rules  # marker lines never ship
    assert "from course_lib.extra import helper" in rules  # a lazy import stays
    assert report.omitted == {"course_lib.extra": "all its code is a solution of 'first'",
                              "course_lib.uses": "its code uses fancy, which this release does not ship"}
    assert report.removed == {"course_lib.rules": ["fancy"], "course_lib.only_def": ["fancy"]}
    assert not (out / "uses.py").exists() and not (out / "extra.py").exists()
    only = (out / "only_def.py").read_text()
    assert "from course_lib.rules import (\n    plain,\n)\n" in only and "fancy" not in only
    assert (out / "data.txt").read_text() == "shipped as is\n"
    result = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                             "import course_lib.rules as r, course_lib.only_def as o; "
                             "assert r.RULES == {'plain': r.plain} and r.__all__ == ['plain', 'RULES', 'pick']; "
                             "assert o.uses_plain(3) == 3", str(out.parent)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_strip_library_ships_regions_not_naming_the_assignment_without_their_markers(tmp_path):
    pkg = _package(tmp_path)
    out = tmp_path / "out" / "course_lib"
    report = strip_library(pkg, "third", out)
    assert report.omitted == {} and report.removed == {}
    for name in ("rules.py", "uses.py", "only_def.py", "extra.py"):
        source = (pkg / name).read_text()
        shipped = (out / name).read_text()
        assert shipped == "".join(line for line in source.splitlines(keepends=True) if "SOLUTION" not in line)
    # "second" strips fancy but not extra's helper
    report = strip_library(pkg, "second", tmp_path / "second" / "course_lib")
    assert sorted(report.omitted) == ["course_lib.uses"]
    assert report.removed == {"course_lib.rules": ["fancy"], "course_lib.only_def": ["fancy"]}


@pytest.mark.parametrize("text, message", [
    ("# BEGIN SOLUTION first\nx = 1\n", "is never closed"),
    ("x = 1\n# END SOLUTION\n", "without a '# BEGIN SOLUTION' above it"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "names no assignment"),
    ("x = 1  # BEGIN SOLUTION first\n", "must be alone on its line"),
])
def test_library_markers_that_cannot_be_read_are_refused(tmp_path, text, message):
    pkg = tmp_path / "course_lib"
    pkg.mkdir()
    (pkg / "m.py").write_text(text)
    with pytest.raises(ReleaseError, match=message) as info:
        strip_library(pkg, "first", tmp_path / "out")
    assert "course_lib/m.py:" in str(info.value)


def test_a_region_that_cuts_a_statement_is_refused(tmp_path):
    pkg = tmp_path / "course_lib"
    pkg.mkdir()
    (pkg / "m.py").write_text("def f(x):\n    # BEGIN SOLUTION first\n    return x\n    # END SOLUTION\n")
    with pytest.raises(ReleaseError, match="must hold whole statements"):
        strip_library(pkg, "first", tmp_path / "out")
