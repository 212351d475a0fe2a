"""Command line: ``python -m autograder {grade,check,release} ...``.

A thin layer over :func:`autograder.batch.grade_assignment`, :func:`course_lib.check.check`
and :func:`autograder.release.release`. Bad input ends with one clear ``error:`` line and
exit code 2, never a traceback (``--debug`` shows it).

Exit codes: 0 success; 1 ``check``: some visible tests fail / ``grade``: some submissions
hit grader errors or could not be recorded in the gradebook (re-run to retry them); 2 bad
input; 3 internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
import traceback
from pathlib import Path

__all__ = ["main", "build_parser", "default_course_dir", "UsageError"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(ValueError):
    """Bad command-line input; the message says what to do."""


def default_course_dir() -> Path:
    """The course folder: the current folder if it has ``source/``, else this repository's root."""
    cwd = Path.cwd()
    if (cwd / "source").is_dir():
        return cwd
    return Path(__file__).resolve().parent.parent


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


_GRADE_EPILOG = """\
examples:
  python -m autograder grade fc_nets submitted/
      nbgrader layout: submitted/<student>/fc_nets/*.ipynb
  python -m autograder grade batchnorm canvas_export.zip --out grades/batchnorm --workers 4
      an LMS zip of <student>.ipynb files, 4 local worker processes
  python -m autograder grade dropout submissions/ --scheduler tcp://10.0.0.5:8786
      on a running Dask cluster (workers need this project installed and the course folder)
  python -m autograder grade fc_nets autograder/examples/fc_nets --workers 0
      the bundled example submissions, graded in this process

outputs (in --out, default <course>/grading-out/<assignment>):
  <student>/results.json   Gradescope autograder format
  <student>/feedback.html  the executed notebook with per-test results
  _mathjax/                MathJax, which feedback.html typesets its math with (offline):
                           hand a page out with this folder beside its own folder
  grades.csv               student, assignment, score, max_score, one column per test
and the scores in the course's nbgrader gradebook (unless --no-gradebook).
Re-running the same command only grades submissions that changed (or failed on the
grader's side); --force grades everything again.
"""

_CHECK_EPILOG = """\
examples:
  python -m autograder check fc_nets.ipynb
  python -m autograder check            (the only notebook in the current folder)

In a notebook cell:  from course_lib.check import check; check()
Save the notebook first: the saved file is what gets checked. Only the visible tests in
your notebook run here; the grader also runs hidden tests.
"""

_RELEASE_EPILOG = """\
examples:
  python -m autograder release            every assignment
  python -m autograder release fc_nets batchnorm
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m autograder``."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade notebook submissions safely, check your own notebook, or release assignments.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'python -m autograder COMMAND --help' for a command's options and examples.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser(
        "grade", help="grade a folder or zip of submissions", epilog=_GRADE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Grade every submission of ASSIGNMENT. Student code runs in isolated, resource-limited "
                    "kernels; tests come from the instructor's source notebook and run in the grader.")
    g.add_argument("assignment", metavar="ASSIGNMENT", help="assignment name, e.g. fc_nets")
    g.add_argument("submissions", metavar="SUBMISSIONS", type=Path,
                   help="folder (<student>/<assignment>/*.ipynb or <student>.ipynb files) or .zip")
    g.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: <course>/grading-out/<assignment>)")
    g.add_argument("--course", type=Path, metavar="DIR",
                   help="nbgrader course folder with source/ and release/ (default: the current folder "
                        "if it has source/, else this repository)")
    g.add_argument("--workers", type=_non_negative_int, default=min(os.cpu_count() or 1, 4), metavar="N",
                   help="local Dask worker processes (default: %(default)s; 0 grades in this process)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (replaces --workers)")
    g.add_argument("--timeout", type=_positive(float), default=300.0, metavar="SECONDS",
                   help="time limit of one student cell (default: %(default)s)")
    g.add_argument("--test-timeout", type=_positive(float), default=60.0, metavar="SECONDS",
                   help="time limit of one graded test cell (default: %(default)s)")
    g.add_argument("--submission-timeout", type=_positive(float), default=1800.0, metavar="SECONDS",
                   help="time limit of a whole submission, restarts included (default: %(default)s)")
    g.add_argument("--memory", type=_positive(int), default=4096, metavar="MB",
                   help="memory limit of a student kernel (default: %(default)s)")
    g.add_argument("--no-gradebook", action="store_true",
                   help="do not write the nbgrader gradebook (results.json, feedback and grades.csv only)")
    g.add_argument("--force", action="store_true", help="grade every submission again, even unchanged ones")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    c = sub.add_parser(
        "check", help="run the visible tests of your notebook and show which pass", epilog=_CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run your saved notebook top to bottom in a fresh kernel and print which test cells pass.")
    c.add_argument("notebook", metavar="NOTEBOOK", nargs="?", type=Path,
                   help="the notebook (default: the only .ipynb in the current folder)")
    c.add_argument("--timeout", type=_positive(float), default=600.0, metavar="SECONDS",
                   help="time limit of one cell (default: %(default)s)")

    r = sub.add_parser(
        "release", help="generate release/<assignment>/ from source/ (nbgrader)", epilog=_RELEASE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build the student versions of the assignments (solutions and hidden tests removed).")
    r.add_argument("assignments", metavar="ASSIGNMENT", nargs="*", help="names (default: all)")
    r.add_argument("--course", type=Path, metavar="DIR", help="course folder (default: as for grade)")
    return parser


def _course(args) -> Path:
    course = args.course if args.course is not None else default_course_dir()
    if not course.is_dir():
        raise UsageError(f"course folder {course} does not exist; pass --course DIR")
    return course.resolve()


def _cmd_grade(args) -> int:
    from autograder.batch import find_assignment, grade_assignment
    from autograder.pipeline import GradingOptions

    course = _course(args)
    find_assignment(course, args.assignment)  # an unknown name is reported first, with the known ones
    if not args.submissions.exists():
        raise UsageError(f"submissions not found: {args.submissions} does not exist; pass a folder of "
                         "submissions or a .zip")
    options = GradingOptions(cell_timeout=args.timeout, test_timeout=args.test_timeout,
                             submission_timeout=args.submission_timeout, memory_mb=args.memory)
    summary = grade_assignment(
        args.assignment, args.submissions, course_dir=course, out_dir=args.out,
        workers=args.workers, scheduler=args.scheduler, options=options,
        gradebook=not args.no_gradebook, force=args.force, progress=not args.no_progress)
    print("\n".join(summary.lines()))
    return EXIT_FAIL if summary.grader_errors or summary.gradebook_problems else EXIT_OK


def _cmd_check(args) -> int:
    from course_lib.check import check

    results = check(args.notebook, timeout=args.timeout)
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAIL


def _cmd_release(args) -> int:
    try:
        from autograder.release import release
    except ImportError as exc:
        raise UsageError(f"the release command is not available ({exc})") from exc
    course = _course(args)
    from autograder.batch import known_assignments

    known = known_assignments(course)
    unknown = [a for a in args.assignments if a not in known]
    if unknown:
        raise UsageError(f"unknown assignment(s) {', '.join(unknown)}; known assignments in "
                         f"{course / 'source'}: {', '.join(known) or 'none'}")
    paths = release(args.assignments or None, course)
    for p in paths:
        print(p)
    return EXIT_OK


def _expected_errors() -> tuple[type[BaseException], ...]:
    from autograder.batch import AssignmentNotFoundError, OutputLockedError
    from autograder.gradebook import GradebookError
    from autograder.parallel import ParallelError
    from autograder.pipeline import SourceNotebookError
    from autograder.submissions import SubmissionsError

    errors: list[type[BaseException]] = [UsageError, AssignmentNotFoundError, OutputLockedError,
                                         GradebookError, ParallelError, SourceNotebookError,
                                         SubmissionsError, FileNotFoundError]
    for module, name in (("course_lib.check", "CheckError"), ("course_lib.errors", "CourseLibError"),
                         ("autograder.release", "ReleaseError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"grade": _cmd_grade, "check": _cmd_check, "release": _cmd_release}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("\ninterrupted; everything finished so far is saved: run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        from autograder.batch import terminal_safe  # messages may name what a submission wrote

        if isinstance(exc, _expected_errors()):
            if args.debug:
                traceback.print_exc()
            print(f"error: {terminal_safe(exc)}", file=sys.stderr)
            return EXIT_USAGE
        if args.debug:
            traceback.print_exc()
        msg = terminal_safe(textwrap.shorten(f"{type(exc).__name__}: {exc}", 500))
        print(f"internal error: {msg}\n(re-run with 'python -m autograder --debug {args.command} ...' for the "
              "traceback)", file=sys.stderr)
        return EXIT_INTERNAL
