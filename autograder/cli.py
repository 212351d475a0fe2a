"""Command line: ``python -m autograder {grade,check,validate,release,gradescope,pdf} ...``.

A thin layer over :func:`autograder.grade.batch.grade_assignment`, :func:`course_lib.check.check`,
:func:`autograder.validate.checks.validate`, :func:`autograder.release.build.release`,
:func:`autograder.gradescope.build_bundle` and :func:`autograder.gradescope.notebook_pdf`. Bad input
ends with one clear ``error:`` line and exit code 2, never a traceback (``--debug`` shows it).

Exit codes: 0 success; 1 ``check``: some visible tests fail / ``validate``: problems found /
``grade``: some submissions hit grader errors or could not be recorded in the gradebook (re-run to
retry them); 2 bad input (``release`` and ``grade`` of a source notebook that fails validation's
structural checks); 3 internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
import traceback
from pathlib import Path

from autograder.errors import AutograderError
from course_lib import check as student_check
from course_lib.data import CIFAR10_ENV_VAR
from course_lib.errors import CourseLibError

__all__ = ["main", "build_parser", "default_course_dir", "UsageError"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(AutograderError, ValueError):
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
      on a running Dask cluster (workers need this project installed, not the course folder:
      each job carries the released files)
  python -m autograder grade fc_nets autograder/examples/fc_nets --workers 0
      the bundled example submissions, graded in this process

outputs (in --out, default <course>/grading-out/<assignment>):
  <student>/results.json   Gradescope autograder format
  <student>/feedback.html  the executed notebook with per-test results
  _mathjax/                MathJax, which feedback.html typesets its math with (offline):
                           hand a page out with this folder beside its own folder
  grades.csv               student, assignment, score and max_score (autograded points only),
                           manual_max (points graded by hand), one column per question (a
                           manually graded one stays empty until graded), isolation (how
                           each student's code was isolated)
and the scores in the course's nbgrader gradebook (unless --no-gradebook; the bundled
examples in autograder/examples/ go to a throwaway OUT/gradebook.db instead).
Student code runs isolated (the summary says how; results.json keeps it in extra_data.isolation):
namespaces as root, user namespaces as an ordinary user, a uid of its own as root in a container
without CAP_SYS_ADMIN. Where nothing isolates it, grading is refused unless --trusted-notebooks.
Data: the kernels read the course's CIFAR-10 (--cifar10-dir, default $COURSE_CIFAR10_DIR),
read-only, or else the synthetic stand-in; students' feedback carries no SyntheticDataWarning, and
no verdict depends on which data the grading machine has (checks that train use data the grader
fixes). In separate-uid mode the folder must be readable by others (chmod -R o+rX).
Canvas downloads (name[_LATE]_userid_fileid_file.ipynb) are filed under the name part, the
latest resubmission graded. A submission the grader itself could not grade (kernel cannot
start, broken check module, missing release) is a grader error: no score is written, the
exit code is 1, and re-running the same command grades it again. Otherwise re-running only
grades submissions that changed; --force grades everything again.
"""

_RELEASE_EPILOG = """\
examples:
  python -m autograder release            every assignment
  python -m autograder release fc_nets batchnorm
  python -m autograder release --check    compare release/ with a fresh build; exit 1 on differences

Each release ships course_lib without the regions between '# BEGIN SOLUTION <assignment> ...' and
'# END SOLUTION' lines that name the assignment (docs/authoring.md).
"""


_VALIDATE_EPILOG = """\
examples:
  python -m autograder validate                 every assignment of the course, after each edit
  python -m autograder validate dropout         one assignment
  python -m autograder validate dropout --run   also grade the source notebook's own solutions (a kernel)

checks, per assignment:
  structure  nbgrader metadata, unique grade ids, points, balanced solution/hidden markers, test cells
             that compile and use only their imports and the exercises (names solution cells define);
             release and grade refuse a notebook failing these, with the same messages
  library    course_lib's solution markers name assignments of the course, and the release's course_lib
             defines none of the notebook's exercises (a student could import the answer)
  leaks      no solution, hidden-test or stripped library line in release/<name>/
  drift      release/<name>/ is what 'python -m autograder release <name>' builds
  run        (--run) the source notebook, graded as a submission, passes every autograded test
exit codes: 0 no problem, 1 problems (one line each: where, what is wrong, what to do), 2 bad input.
"""

_GRADESCOPE_EPILOG = """\
examples:
  python -m autograder gradescope fc_nets --out fc_nets-gradescope.zip
      upload the zip as the assignment's autograder (Gradescope: Configure Autograder, Zip file upload,
      an Ubuntu base image with the Python version printed here)
  python -m autograder gradescope fc_nets --out bundle-dir/
      the same files unpacked into a new folder, to inspect them

The bundle pins the exact versions of the grader's packages installed in this environment and
holds the hidden checks, the reference library, the source notebook and the release: keep it
private. Written answers and plots are graded by hand from a PDF of the notebook that students
upload to a second Gradescope assignment (python -m autograder pdf; see docs/gradescope.md).
"""

_PDF_EPILOG = """\
examples:
  python -m autograder pdf fc_nets.ipynb --out fc_nets.pdf

Run all cells and save the notebook first: the PDF shows the saved outputs (plots). Upload the PDF
to the course's manually graded Gradescope assignment.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m autograder``."""
    from autograder.grade.job import RUN_CELLS, GradingOptions
    from autograder.gradescope import DEFAULT_SUBMISSION_TIMEOUT

    # The grading limits' defaults are GradingOptions' own (one source); --help shows them.
    defaults = {f.name: f.default for f in dataclasses.fields(GradingOptions)}
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade notebook submissions safely, check your own notebook, validate and release "
                    "assignments, build Gradescope autograder bundles, or render a notebook to PDF for manual "
                    "grading.",
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
    g.add_argument("--workers", type=_non_negative_int, default=None, metavar="N",
                   help="local Dask worker processes; 0 grades in this process (default: chosen per batch, "
                        "in this process for a small one, else up to one worker per CPU; the summary says which)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (replaces --workers)")
    g.add_argument("--timeout", type=_positive(float), default=defaults["cell_timeout"], metavar="SECONDS",
                   help="time limit of one student cell (default: %(default)s)")
    g.add_argument("--test-timeout", type=_positive(float), default=defaults["test_timeout"], metavar="SECONDS",
                   help="time limit of one graded test cell (default: %(default)s)")
    g.add_argument("--submission-timeout", type=_positive(float), default=defaults["submission_timeout"],
                   metavar="SECONDS",
                   help="time limit of a whole submission, restarts included (default: %(default)s)")
    g.add_argument("--memory", type=_positive(int), default=defaults["memory_mb"], metavar="MB",
                   help="memory limit of a student kernel (default: %(default)s)")
    g.add_argument("--run-cells", choices=RUN_CELLS, default=defaults["run_cells"],
                   help="what of each notebook runs before the tests: 'definitions' (the solution cells, and of "
                        "the other cells what defines something: functions, classes, constants and the imports "
                        "they use; not training runs or plots, which no verdict reads, and whose saved outputs "
                        "feedback shows instead; a submission whose cell or test then fails other than by a "
                        "verdict on its code is graded again on every cell) or 'all' "
                        "(every cell, as nbgrader does) (default: %(default)s)")
    g.add_argument("--no-gradebook", action="store_true",
                   help="do not write the nbgrader gradebook (results.json, feedback and grades.csv only)")
    g.add_argument("--force", action="store_true", help="grade every submission again, even unchanged ones")
    g.add_argument("--trusted-notebooks", action="store_true",
                   help="the notebooks are trusted (e.g. your own): where student code cannot be isolated (an "
                        "ordinary user without user namespaces, macOS), run them with resource limits only "
                        "instead of refusing. Never for students' submissions")
    g.add_argument("--cifar10-dir", metavar="DIR", default=os.environ.get(CIFAR10_ENV_VAR) or None,
                   help="the course's cifar-10-batches-py: student kernels read it, read-only, as their "
                        f"{CIFAR10_ENV_VAR} (default: this environment's {CIFAR10_ENV_VAR}, now "
                        "%(default)s; '' or none: the synthetic stand-in). No verdict depends on it")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    # The same command as the students' `python -m course_lib.check`.
    c = sub.add_parser(
        "check", help="run the visible tests of your notebook and show which pass",
        epilog=student_check.epilog("python -m autograder check"),
        formatter_class=argparse.RawDescriptionHelpFormatter, description=student_check.DESCRIPTION)
    student_check.add_arguments(c)

    v = sub.add_parser(
        "validate", help="check assignments after an edit: structure, points, leaks, release drift",
        epilog=_VALIDATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check the source notebooks and releases of the course in seconds (no kernel unless --run).")
    v.add_argument("assignments", metavar="ASSIGNMENT", nargs="*", help="names (default: all)")
    v.add_argument("--course", type=Path, metavar="DIR", help="course folder (default: as for grade)")
    v.add_argument("--run", action="store_true",
                   help="also run the source notebook's solutions against its tests (starts a kernel; minutes)")

    r = sub.add_parser(
        "release", help="generate release/<assignment>/ from source/ (nbgrader)", epilog=_RELEASE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build the student versions of the assignments (solutions and hidden tests removed).")
    r.add_argument("assignments", metavar="ASSIGNMENT", nargs="*", help="names (default: all)")
    r.add_argument("--course", type=Path, metavar="DIR", help="course folder (default: as for grade)")
    r.add_argument("--check", action="store_true",
                   help="write nothing: compare the committed release/ with a fresh build, list the differences "
                        "and exit 1 when there are any")

    gs = sub.add_parser(
        "gradescope", help="build a Gradescope autograder bundle (zip) for an assignment",
        epilog=_GRADESCOPE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the autograder zip of ASSIGNMENT per Gradescope's specification: setup.sh (pinned "
                    "environment), run_autograder (grades /autograder/submission into "
                    "/autograder/results/results.json), and the grader with its hidden checks.")
    gs.add_argument("assignment", metavar="ASSIGNMENT", help="assignment name, e.g. fc_nets")
    gs.add_argument("--out", type=Path, metavar="DIR_OR_ZIP", required=True,
                    help="a .zip file to write, or a new folder for the unpacked files")
    gs.add_argument("--course", type=Path, metavar="DIR", help="course folder (default: as for grade)")
    gs.add_argument("--submission-timeout", type=_positive(float), default=DEFAULT_SUBMISSION_TIMEOUT,
                    metavar="SECONDS",
                    help="time limit of one submission in the container; keep it below the autograder timeout "
                         "set on Gradescope (default: %(default)s, under Gradescope's default of 10 minutes)")

    p = sub.add_parser(
        "pdf", help="render a notebook (written answers, plots) to PDF for manual grading", epilog=_PDF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Render a saved notebook to PDF with headless Chromium, to upload to the manually graded "
                    "Gradescope assignment.")
    p.add_argument("notebook", metavar="NOTEBOOK", type=Path, help="the saved .ipynb")
    p.add_argument("--out", type=Path, metavar="FILE", help="the PDF to write (default: NOTEBOOK with .pdf)")
    p.add_argument("--chromium", metavar="PATH", help="Chromium/Chrome executable (default: found on PATH)")
    return parser


def _course(args) -> Path:
    course = args.course if args.course is not None else default_course_dir()
    if not course.is_dir():
        raise UsageError(f"course folder {course} does not exist; pass --course DIR")
    return course.resolve()


def _cifar10_dir(given: str | None) -> str | None:
    """``--cifar10-dir`` checked: an absolute path to a directory holding CIFAR-10, or None (synthetic)."""
    from course_lib.data import resolve_cifar10_dir

    if not given:
        return None
    try:
        path = resolve_cifar10_dir(given).path
        assert path is not None, "an explicit directory is the source itself (or an error)"
        return str(path.resolve())
    except CourseLibError as exc:
        raise UsageError(f"--cifar10-dir {given} (default: ${CIFAR10_ENV_VAR}): {exc} Pass the "
                         "cifar-10-batches-py folder, or --cifar10-dir '' to grade with the synthetic "
                         "stand-in.") from exc


def _cmd_grade(args) -> int:
    from autograder.grade.batch import grade_assignment
    from autograder.grade.course import find_assignment
    from autograder.grade.job import GradingOptions

    course = _course(args)
    find_assignment(course, args.assignment)  # an unknown name is reported first, with the known ones
    if not args.submissions.exists():
        raise UsageError(f"submissions not found: {args.submissions} does not exist; pass a folder of "
                         "submissions or a .zip")
    options = GradingOptions(cell_timeout=args.timeout, test_timeout=args.test_timeout,
                             submission_timeout=args.submission_timeout, memory_mb=args.memory,
                             trusted_notebooks=args.trusted_notebooks, cifar10_dir=_cifar10_dir(args.cifar10_dir),
                             run_cells=args.run_cells)
    summary = grade_assignment(
        args.assignment, args.submissions, course_dir=course, out_dir=args.out,
        workers=args.workers, scheduler=args.scheduler, options=options,
        gradebook=not args.no_gradebook, force=args.force, progress=not args.no_progress)
    print("\n".join(summary.lines()))
    return EXIT_FAIL if summary.grader_errors or summary.gradebook_problems else EXIT_OK


def _cmd_check(args) -> int:
    results = student_check.check(args.notebook, timeout=args.timeout)
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAIL


def _known(course: Path, names: list[str]) -> list[str]:
    """``names`` (default: every assignment of the course); unknown ones are a :class:`UsageError`."""
    from autograder.assignments import assignment_names

    known = assignment_names(course)
    unknown = [a for a in names if a not in known]
    if unknown:
        raise UsageError(f"unknown assignment(s) {', '.join(unknown)}; known assignments in "
                         f"{course / 'source'}: {', '.join(known) or 'none'}")
    return list(dict.fromkeys(names)) or known


def _cmd_validate(args) -> int:
    from autograder.validate.checks import CHECKS, validate

    course = _course(args)
    names = _known(course, args.assignments)
    checks = CHECKS if args.run else CHECKS[:-1]
    problems = validate(names, course, checks=checks)
    for p in problems:
        print(p)
    bad = {p.assignment for p in problems}
    for name in names:
        if name not in bad:
            print(f"{name}: ok ({', '.join(checks)})")
    if problems:
        print(f"{len(problems)} problem(s) in {', '.join(sorted(bad))}.")
    return EXIT_FAIL if problems else EXIT_OK


def _cmd_release(args) -> int:
    from autograder.release.build import release

    course = _course(args)
    _known(course, args.assignments)
    if args.check:
        from autograder.release.build import check_release

        problems = check_release(course, args.assignments or None)
        for line in problems:
            print(line)
        print(f"{len(problems)} difference(s): run 'python -m autograder release' to rebuild" if problems
              else "release/ is up to date")
        return EXIT_FAIL if problems else EXIT_OK
    paths = release(args.assignments or None, course)
    for p in paths:
        print(p)
    return EXIT_OK


def _cmd_gradescope(args) -> int:
    from autograder.gradescope import build_bundle

    bundle = build_bundle(args.assignment, args.out, course_dir=_course(args),
                          submission_timeout=args.submission_timeout)
    print(f"{bundle.path} ({bundle.size_bytes / 1e6:.2f} MB, {len(bundle.files)} files, "
          f"{len(bundle.requirements)} pinned requirements for Python {sys.version_info.major}."
          f"{sys.version_info.minor})")
    return EXIT_OK


def _cmd_pdf(args) -> int:
    from autograder.gradescope import notebook_pdf

    out = args.out if args.out is not None else args.notebook.with_suffix(".pdf")
    print(notebook_pdf(args.notebook, out, chromium=args.chromium))
    return EXIT_OK


#: What ends with ``error: <message>`` and exit 2 (the messages say what to do); anything else is an internal error.
#: ``FileNotFoundError``: a path the user gave (a notebook, a course file) does not exist.
_EXPECTED_ERRORS = (AutograderError, CourseLibError, FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"grade": _cmd_grade, "check": _cmd_check, "validate": _cmd_validate, "release": _cmd_release,
               "gradescope": _cmd_gradescope, "pdf": _cmd_pdf}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("\ninterrupted; everything finished so far is saved: run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last resort: one line and exit 3, never a traceback
        from autograder.grade.batch import terminal_safe  # messages may name what a submission wrote

        if isinstance(exc, _EXPECTED_ERRORS):
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
