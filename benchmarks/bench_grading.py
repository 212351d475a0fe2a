"""Grading throughput: our grader against ``nbgrader autograde`` on the same batch, in the same run.

For every assignment with a source notebook and a release (or those named with ``--assignments``):

1. **Seconds per submission (ours).** The bundled ``solution`` example (``autograder/examples/<a>/``,
   generated on the fly with :mod:`autograder.examples.make_examples` when not bundled) is graded in this
   process with :func:`autograder.grade.pipeline.grade_submission`, ``--repeat`` times; the median is reported,
   with a per-step breakdown (kernel start, student cells, tests, feedback rendering...).
2. **Submissions per minute** on one batch of ``--batch`` students, a mix of the ``solution``, ``partial``
   and ``blank`` examples in turn, laid out as nbgrader's ``submitted/<student>/<assignment>/`` with the
   release's other files (``course_lib/``...) next to each notebook, as students hand them in:

   * ``ours@1``, ``ours@2``: ``python -m autograder grade <a> submitted/ --workers 1`` / ``--workers 2``
     (gradebook written, as by default), each in a fresh copy of the course;
   * ``nbgrader``: ``nbgrader autograde <a>`` (single process) in a throwaway nbgrader course (this
     repository's ``nbgrader_config.py``, ``source/`` and ``release/`` copied into a temporary folder,
     ``nbgrader generate_assignment`` run first, untimed); then ``nbgrader generate_feedback <a>``, timed
     separately, because our grader renders ``feedback.html`` as part of grading and ``autograde`` does not.

   Each figure is the batch size divided by the wall-clock time of the whole command (interpreter start,
   Dask cluster start and gradebook writes included). The scores of the three runs are compared student by
   student, so a fast run that graded nothing cannot go unnoticed.

Fairness: the two graders do different work for the same score. Ours starts a fresh sandboxed kernel per
submission (namespaces, chroot, rlimits), runs the hidden tests in the grader's own process against the
student's functions through RPC, and renders feedback.html; nbgrader runs the notebook with its test
cells in the student's own kernel (which the student's code can subvert) without isolation. Both kernels
get ``COURSE_GRADING=1`` (the notebooks' grading-size data). BLAS is single-threaded everywhere
(``OPENBLAS_NUM_THREADS=1`` and friends, unless already set): Dask's workers and our kernels always run
that way, and it is set here too for the in-process figure and for nbgrader's kernel.

Usage::

    python benchmarks/bench_grading.py                          # every released assignment, batch 50
    python benchmarks/bench_grading.py --assignments fc_nets --batch 50
    python benchmarks/bench_grading.py --quick                  # smoke test: batch 4, one repeat
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Before numpy is first imported (by _common): see the module docstring. setdefault keeps a caller's choice.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import _common  # noqa: E402  (after the BLAS set-up, like every import below it)
from _common import positive_int  # noqa: E402

import autograder  # noqa: E402
from autograder.assignments import GRADING_ENV, assignment_names, get_assignment  # noqa: E402
from autograder.examples.make_examples import build_examples  # noqa: E402
from autograder.grade import pipeline  # noqa: E402
from autograder.grade.fingerprint import GRADER_VERSION, grader_fingerprint, job_fingerprint  # noqa: E402
from autograder.grade.job import GradingJob, GradingOptions  # noqa: E402
from autograder.grade.submissions import copy_tree_files  # noqa: E402

__all__ = [
    "KINDS",
    "PhaseResult",
    "AssignmentResult",
    "runnable_assignments",
    "example_notebooks",
    "make_course",
    "fill_batch",
    "time_per_submission",
    "run_ours",
    "run_nbgrader",
    "bench_assignment",
    "report_lines",
    "build_parser",
    "main",
]

ROOT = _common.ROOT
#: The example submissions that make up the batch, in turn (the ``cheater`` example is left out).
KINDS = ("solution", "partial", "blank")
_STEP_NAMES = tuple(step.__name__ for step in pipeline.STEPS)


@dataclass
class PhaseResult:
    """One timed command over the batch.

    Attributes
    ----------
    seconds : float or None
        Wall-clock seconds of the command; None when it did not run.
    students : set of str
        Students with a result afterwards (a score, or a feedback page).
    scores : dict of str -> float
        Student -> score found afterwards (empty for the feedback phase).
    failures : dict of str -> list of str
        Student -> ``"grade_id: message"`` of each failed test (our grader's phases only), to explain a score
        that differs from nbgrader's.
    problem : str
        Why the phase failed or is incomplete (empty when fine).
    """

    seconds: float | None = None
    students: set[str] = field(default_factory=set)
    scores: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    problem: str = ""

    def per_minute(self, n: int) -> float | None:
        return 60.0 * n / self.seconds if self.seconds else None


@dataclass
class AssignmentResult:
    """Everything measured for one assignment."""

    name: str
    batch: dict[str, str]
    per_submission: list[float] = field(default_factory=list)
    solution_score: tuple[float, float, float] | None = None
    steps: dict[str, list[float]] = field(default_factory=dict)
    phases: dict[str, PhaseResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.per_submission) and all(not p.problem for p in self.phases.values())


# --------------------------------------------------------------------------- inputs

def runnable_assignments(names: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """Assignments that can be benchmarked, and why the others cannot (yet).

    Parameters
    ----------
    names : list of str, optional
        Default: every assignment of the course.

    Returns
    -------
    ready : list of str
        In the course's listing order: those with ``source/<a>/<nb>.ipynb`` and ``release/<a>/<nb>.ipynb``.
    skipped : dict of str -> str
        Name -> reason.
    """
    ready, skipped = [], {}
    for name in names or assignment_names():
        info = get_assignment(name)
        if not (ROOT / info.source_notebook).is_file():
            skipped[name] = f"no {info.source_notebook} yet"
        elif not (ROOT / info.release_notebook).is_file():
            skipped[name] = f"no {info.release_notebook} yet (python -m autograder release {name})"
        else:
            ready.append(name)
    return ready, skipped


def example_notebooks(assignment: str, scratch: Path) -> dict[str, Path]:
    """The ``solution``, ``partial`` and ``blank`` example notebooks of ``assignment``.

    The bundled ones (``autograder/examples/<a>/<kind>/<a>/<nb>.ipynb``) when all exist, else freshly
    generated from ``source/`` and ``release/`` into ``scratch`` by ``make_examples``.
    """
    nb_name = get_assignment(assignment).release_notebook.name
    bundled = {k: ROOT / "autograder" / "examples" / assignment / k / assignment / nb_name for k in KINDS}
    if all(p.is_file() for p in bundled.values()):
        return bundled
    written = build_examples(assignment, ROOT, scratch)
    # build_examples writes <scratch>/<assignment>/<kind>/<assignment>/<nb>.ipynb
    by_kind = {p.parents[1].name: p for p in written}
    return {k: by_kind[k] for k in KINDS}


def make_course(dest: Path, assignment: str) -> Path:
    """A throwaway nbgrader course: this repository's ``nbgrader_config.py``, ``source/<a>`` and ``release/<a>``."""
    dest.mkdir(parents=True)
    shutil.copyfile(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for top in ("source", "release"):
        shutil.copytree(ROOT / top / assignment, dest / top / assignment,
                        ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return dest


def fill_batch(submitted: Path, assignment: str, examples: dict[str, Path], n: int) -> dict[str, str]:
    """Write ``n`` students' submissions as ``submitted/<student>/<assignment>/``.

    Each gets one of the examples (in the order of :data:`KINDS`) and the release's other files, as
    handed out. Returns student -> example kind.
    """
    release = ROOT / get_assignment(assignment).release_notebook.parent
    batch = {}
    for i in range(n):
        student, kind = f"student{i + 1:03d}", KINDS[i % len(KINDS)]
        folder = submitted / student / assignment
        copy_tree_files(release, folder, skip_suffixes=(".ipynb",))
        shutil.copyfile(examples[kind], folder / examples[kind].name)
        batch[student] = kind
    return batch


def _env(**extra: str) -> dict[str, str]:
    """This environment with the repository first on PYTHONPATH (nbgrader_config.py imports autograder.assignments) and
    this interpreter's script folder first on PATH (nbgrader runs ``alembic`` by name; the venv need not be
    activated)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), *filter(None, [env.get("PATH")])])
    env.update(extra)
    return env


# --------------------------------------------------------------------------- measurements

@contextlib.contextmanager
def _timed_steps(times: dict[str, list[float]]):
    """Record the seconds of each pipeline step while grading (restores :data:`pipeline.STEPS` after)."""
    saved = pipeline.STEPS

    def timed(step):
        @functools.wraps(step)
        def run(state):
            start = time.perf_counter()
            try:
                step(state)
            finally:
                times.setdefault(step.__name__, []).append(time.perf_counter() - start)
        return run

    pipeline.STEPS = tuple(timed(step) for step in saved)
    try:
        yield
    finally:
        pipeline.STEPS = saved


def time_per_submission(assignment: str, notebook: Path, repeat: int, hide: tuple[str, ...] = ()
                        ) -> tuple[list[float], tuple[float, float, float], dict[str, list[float]]]:
    """Grade one submission ``repeat`` times in this process.

    Returns
    -------
    seconds : list of float
        Wall-clock seconds of each :func:`grade_submission` call.
    score : (float, float, float)
        Score of the last run, its autograded maximum and the points of manually graded cells.
    steps : dict of str -> list of float
        Seconds of each pipeline step, one value per run.
    """
    info = get_assignment(assignment)
    source = (ROOT / info.source_notebook).read_bytes()
    data = notebook.read_bytes()
    job = GradingJob(
        student="bench", assignment=assignment, origin=str(notebook), submission=data, problems=[],
        source_notebook=source, release_dir=str(ROOT / info.release_notebook.parent),
        notebook_name=info.release_notebook.name,
        fingerprint=job_fingerprint(data, source, grader_fingerprint()),
        options=GradingOptions(hide=(str(ROOT), *hide)))
    seconds, steps, result = [], {}, {}
    with _timed_steps(steps):
        for _ in range(repeat):
            start = time.perf_counter()
            result = pipeline.grade_submission(job)
            seconds.append(time.perf_counter() - start)
            if result["grader_error"] or result["fatal"]:
                raise RuntimeError(f"grading {notebook} failed: {result['fatal']}")
    auto = sum(t["points"] for t in result["tests"] if t["kind"] == "auto")
    return seconds, (result["score"], auto, result["max_score"] - auto), steps


def _run_command(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> tuple[PhaseResult, int]:
    """Run ``cmd`` with its output going to ``log``; returns (its wall-clock seconds, exit code)."""
    with open(log, "w") as out:
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode
        return PhaseResult(time.perf_counter() - start), code


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def run_ours(assignment: str, submitted: Path, course: Path, out: Path, workers: int | None, log: Path
             ) -> PhaseResult:
    """``python -m autograder grade`` on the batch with ``workers`` local workers (None: the default, no
    ``--workers``); scores from grades.csv."""
    cmd = [sys.executable, "-m", "autograder", "grade", assignment, str(submitted), "--course", str(course),
           "--out", str(out), *(["--workers", str(workers)] if workers is not None else []), "--no-progress"]
    res, code = _run_command(cmd, cwd=ROOT, env=_env(), log=log)
    grades = out / "grades.csv"
    if grades.is_file():
        with open(grades, newline="") as fh:
            res.scores = {row["student"]: float(row["score"]) for row in csv.DictReader(fh)}
        res.students = set(res.scores)
    for student in res.students:
        results = out / student / "results.json"
        if results.is_file():
            tests = json.loads(results.read_text(encoding="utf-8")).get("tests", [])
            res.failures[student] = [f"{t.get('name', '?')}: {str(t.get('output', ''))[:300]}" for t in tests
                                     if t.get("score") != t.get("max_score")]
    if code != 0:
        res.problem = f"exit code {code} (log {log}):\n{_tail(log)}"
    return res


def _nbgrader_scores(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student_id: float(s.score) for s in gb.assignment_submissions(assignment)}


def run_nbgrader(assignment: str, course: Path, logs: Path) -> tuple[PhaseResult, PhaseResult]:
    """``nbgrader autograde`` then ``nbgrader generate_feedback`` in ``course`` (submitted/ filled)."""
    env = _env(**GRADING_ENV)
    nbgrader = [sys.executable, "-m", "nbgrader"]
    auto, code = _run_command([*nbgrader, "autograde", assignment], cwd=course, env=env,
                              log=logs / "nbgrader-autograde.log")
    auto.scores = _nbgrader_scores(course, assignment)
    auto.students = set(auto.scores)
    if code != 0:
        auto.problem = f"exit code {code}:\n{_tail(logs / 'nbgrader-autograde.log')}"
    feedback, code = _run_command([*nbgrader, "generate_feedback", assignment], cwd=course, env=env,
                                  log=logs / "nbgrader-feedback.log")
    feedback.students = {p.parents[1].name for p in (course / "feedback").glob(f"*/{assignment}/*.html")}
    if code != 0:
        feedback.problem = f"exit code {code}:\n{_tail(logs / 'nbgrader-feedback.log')}"
    return auto, feedback


def _note(text: str) -> None:
    print(text, flush=True)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "load n/a"


def _wait_for_quiet(max_load: float | None, limit: float = 300.0) -> None:
    """Wait (at most ``limit`` seconds) until the 1-minute load average is below ``max_load``."""
    if max_load is None or not hasattr(os, "getloadavg"):
        return
    start = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - start < limit:
        time.sleep(5)
    waited = time.monotonic() - start
    if waited >= 5:
        _note(f"  waited {waited:.0f} s for the load to fall below {max_load:g} ({_load()})")


def bench_assignment(assignment: str, n: int, repeat: int, scratch: Path, max_load: float | None = None
                     ) -> AssignmentResult:
    """Measure one assignment (see the module docstring); progress goes to stdout.

    ``max_load``: before each timed phase, wait for the 1-minute load average to fall below it.
    """
    work = scratch / assignment
    examples = example_notebooks(assignment, work / "examples")
    nb_course = make_course(work / "nbgrader", assignment)
    submitted = nb_course / "submitted"
    res = AssignmentResult(assignment, fill_batch(submitted, assignment, examples, n))
    logs = work / "logs"
    logs.mkdir()

    _wait_for_quiet(max_load)
    _note(f"[{assignment}] per submission: grading the solution example {repeat}x in this process ({_load()})")
    res.per_submission, res.solution_score, res.steps = time_per_submission(
        assignment, examples["solution"], repeat, hide=(str(scratch),))
    _note(f"[{assignment}]   " + ", ".join(f"{s:.1f} s" for s in res.per_submission)
          + f"; score {_score(res.solution_score)}")

    _note(f"[{assignment}] setting up the nbgrader course (nbgrader generate_assignment, untimed)")
    _, code = _run_command(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
         "--CourseDirectory.release_directory=nbgrader-release"],
        cwd=nb_course, env=_env(), log=logs / "nbgrader-generate.log")
    if code != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{_tail(logs / 'nbgrader-generate.log')}")
    our_courses = {}
    for w in (1, 2):  # the same starting gradebook as nbgrader's (assignment and cells recorded)
        our_courses[w] = make_course(work / f"ours{w}", assignment)
        shutil.copyfile(nb_course / "gradebook.db", our_courses[w] / "gradebook.db")

    def ours(workers: int) -> None:
        _wait_for_quiet(max_load)
        _note(f"[{assignment}] ours@{workers}: python -m autograder grade --workers {workers} on {n} ({_load()})")
        res.phases[f"ours@{workers}"] = r = run_ours(assignment, submitted, our_courses[workers],
                                                     work / f"out{workers}", workers, logs / f"ours{workers}.log")
        _note(f"[{assignment}]   {r.seconds:.1f} s")

    # nbgrader between our two runs, so that a slow spell of a shared machine is less likely to hit one side only.
    ours(1)
    _wait_for_quiet(max_load)
    _note(f"[{assignment}] nbgrader autograde + generate_feedback on {n} ({_load()})")
    res.phases["nbgrader"], res.phases["nbgrader feedback"] = run_nbgrader(assignment, nb_course, logs)
    auto, feedback = res.phases["nbgrader"], res.phases["nbgrader feedback"]
    _note(f"[{assignment}]   {auto.seconds:.1f} s + {feedback.seconds:.1f} s")
    ours(2)

    for key, phase in res.phases.items():
        missing = sorted(set(res.batch) - phase.students)
        if missing and not phase.problem:
            phase.problem = f"no result for {len(missing)} of {n} students (e.g. {missing[0]})"
        if phase.problem:
            _note(f"[{assignment}] {key} FAILED: {phase.problem}")
    return res


# --------------------------------------------------------------------------- report

def _fmt(x: float | None, spec: str = ".1f") -> str | None:
    return None if x is None else format(x, spec)


def _agreement(res: AssignmentResult) -> str:
    ref = res.phases["nbgrader"].scores
    parts = []
    for key in ("ours@1", "ours@2"):
        mine = res.phases[key].scores
        same = sum(1 for s in res.batch if s in mine and s in ref and mine[s] == ref[s])
        parts.append(f"{key} {same}/{len(res.batch)}")
    return ", ".join(parts)


def _disagreements(res: AssignmentResult) -> list[str]:
    """One line per student whose score from one of our phases differs from nbgrader's, with our failed tests."""
    ref = res.phases["nbgrader"].scores
    lines = []
    for key in ("ours@1", "ours@2"):
        phase = res.phases[key]
        for student in sorted(s for s in res.batch if s in phase.scores and s in ref and phase.scores[s] != ref[s]):
            lines.append(f"  differs {res.name} {key} {student} ({res.batch[student]}): {phase.scores[student]:g} vs "
                         f"nbgrader {ref[student]:g}; failed: " + ("; ".join(phase.failures.get(student, [])) or "-"))
    return lines


def _score(score: tuple[float, float, float]) -> str:
    got, auto, manual = score
    return f"{got:g}/{auto:g}" + (f" (+{manual:g} manually graded points, pending)" if manual else "")


def report_lines(results: list[AssignmentResult], n: int) -> list[str]:
    """The result table, one ratio line per assignment, the score check and the step breakdown."""
    header = ["assignment", "s/submission ours", "ours@1 sub/min", "ours@2 sub/min", "nbgrader sub/min",
              "nbgrader+feedback sub/min", "ours@1/nbgrader", "ours@2/nbgrader"]
    rows, extra = [], []
    for r in results:
        rate = {k: p.per_minute(n) if not p.problem else None for k, p in r.phases.items()}
        nbf = r.phases["nbgrader feedback"]
        both = (r.phases["nbgrader"].seconds + nbf.seconds
                if not nbf.problem and rate["nbgrader"] is not None else None)
        rate["nbgrader+feedback"] = 60.0 * n / both if both else None
        rows.append([r.name, _fmt(statistics.median(r.per_submission), ".2f"), _fmt(rate["ours@1"]),
                     _fmt(rate["ours@2"]), _fmt(rate["nbgrader"]), _fmt(rate["nbgrader+feedback"]),
                     _common.ratio(rate["ours@1"], rate["nbgrader"]), _common.ratio(rate["ours@2"], rate["nbgrader"])])
        extra.append(f"ratio {r.name} throughput ours@1/nbgrader {_common.ratio(rate['ours@1'], rate['nbgrader'])}, "
                     f"ours@2/nbgrader {_common.ratio(rate['ours@2'], rate['nbgrader'])}, "
                     f"ours@2/(nbgrader autograde+generate_feedback) "
                     f"{_common.ratio(rate['ours@2'], rate['nbgrader+feedback'])} (>1: ours is faster)")
        mean = {k: statistics.fmean(p.scores.values()) if p.scores else None
                for k, p in r.phases.items() if k != "nbgrader feedback"}
        extra.append(f"scores {r.name}: solution example {_score(r.solution_score)}; "
                     f"batch mean " + ", ".join(f"{k} {_fmt(v, '.2f')}" for k, v in mean.items())
                     + f"; same score as nbgrader: {_agreement(r)}")
        extra += _disagreements(r)
    lines = _common.format_table(header, rows) + extra
    steps = [name for name in _STEP_NAMES if any(name in r.steps for r in results)]
    if steps:
        lines += ["", "Seconds per step, solution example graded in-process (median):"]
        lines += _common.format_table(
            ["assignment", *steps, "total"],
            [[r.name, *(_fmt(statistics.median(r.steps[s]), ".2f") if s in r.steps else None for s in steps),
              _fmt(statistics.median(r.per_submission), ".2f")] for r in results])
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench_grading.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="All figures of a run are measured side by side on the same batch. Set OPENBLAS_NUM_THREADS "
               "(default here: 1) to change the BLAS threads of the in-process run and of nbgrader's kernel.")
    parser.add_argument("--batch", type=positive_int, default=None, metavar="N",
                        help="students in the batch (default 50; 4 with --quick)")
    parser.add_argument("--assignments", nargs="+", metavar="NAME", choices=assignment_names(),
                        help="default: every assignment with a source notebook and a release")
    parser.add_argument("--repeat", type=positive_int, default=None, metavar="K",
                        help="in-process gradings of the solution example; the median is reported "
                             "(default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke test: batch 4, one repeat (a few minutes)")
    parser.add_argument("--max-load", type=float, default=None, metavar="L",
                        help="before each timed phase, wait (up to 5 min) until the 1-minute load average is "
                             "below L (a shared machine); default: do not wait")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses and logs (path printed)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run from the command line; returns the exit code (0 ok, 1 a phase failed, 2 nothing to run)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    n = args.batch or (4 if args.quick else 50)
    repeat = args.repeat or (1 if args.quick else 3)
    ready, skipped = runnable_assignments(args.assignments)
    for name, why in skipped.items():
        print(f"note: skipping {name}: {why}", file=sys.stderr)
    if not ready:
        parser.exit(2, f"{parser.prog}: error: no assignment to benchmark (see the notes above)\n")
    import distributed
    import nbgrader

    info = _common.machine_info()
    for key in ("cpu", "python", "numpy", "env", "load"):
        print(f"{key:>8}: {info[key]}")
    print(f"{'graders':>8}: nbgrader {nbgrader.__version__}, dask.distributed {distributed.__version__}, "
          f"autograder {autograder.__version__} (fingerprint format {GRADER_VERSION})")
    counts = {k: sum(1 for i in range(n) if KINDS[i % len(KINDS)] == k) for k in KINDS}
    print(f"== Grading throughput: batch of {n} ("
          + ", ".join(f"{c} {k}" for k, c in counts.items()) + f"), per-submission median of {repeat} ==",
          flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    results: list[AssignmentResult] = []
    failed: list[str] = []
    start = time.perf_counter()
    try:
        for name in ready:
            try:
                results.append(bench_assignment(name, n, repeat, scratch, args.max_load))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                failed.append(name)
                print(f"[{name}] FAILED, left out of the table: {exc}", flush=True)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n== Grading throughput (batch {n}, {time.perf_counter() - start:.0f} s in all; submissions/min: "
          "higher is faster) ==")
    for line in report_lines(results, n):
        print(line)
    return 0 if results and not failed and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
