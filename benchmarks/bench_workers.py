"""The default ``--workers`` on a small batch: never slower than grading in one process.

``python -m autograder grade`` chooses its local workers per batch when ``--workers`` is not given
(:func:`autograder.grade.parallel.choose_workers`): a small batch is graded in this process, because starting
a Dask cluster costs more than a second worker gains (issue 13 measured 42 s with ``--workers 0`` and
65 s with two Dask workers on a batch of four). This script times, on one batch of ``--batch`` students
(default 4; the ``solution``, ``partial`` and ``blank`` examples in turn, laid out as in
``bench_grading.py``), the whole command

* ``default``: no ``--workers``;
* ``--workers 0``: in this process;
* ``--workers 2``: two local Dask workers (the former default on a 2-CPU machine), as context;

``--repeat`` times each, the three taking turns (default, 0, 2, default, ...) so that a slow spell of a
shared machine hits all alike, each run in a fresh copy of the course with a fresh output folder. It
reports the median wall-clock seconds, the load average at the start of every run, the ratio
default / ``--workers 0`` of the medians (target: <= 1, within the noise of a shared machine) and of
the fastest runs, the ``Workers:`` line
of the default run's summary, and checks that every run gave every student the same score.

Usage::

    python benchmarks/bench_workers.py                        # fc_nets, batch 4, 3 repeats
    python benchmarks/bench_workers.py --assignment dropout --batch 8
    python benchmarks/bench_workers.py --quick                # one repeat
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import _common
from _common import positive_int

from autograder.assignments import assignment_names

__all__ = ["CONFIGS", "TARGET_RATIO", "run", "report_lines", "build_parser", "main"]

#: Label -> ``--workers`` value (None: the flag left out, the default).
CONFIGS = {"default": None, "--workers 0": 0, "--workers 2": 2}
#: Acceptance target: the default at most as slow as ``--workers 0`` on a small batch.
TARGET_RATIO = 1.0


def _loads() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def run(assignment: str, n: int, repeat: int, scratch: Path) -> dict[str, dict]:
    """Grade the batch ``repeat`` times with each configuration of :data:`CONFIGS`, in turn.

    Returns
    -------
    dict of str -> dict
        Per configuration: ``seconds`` and ``loads`` (one per run), ``scores`` (student -> score, per
        run), ``problems`` (failed runs) and ``workers_line`` (the summary's ``Workers:`` line).
    """
    import bench_grading as bg  # here: importing it sets single-threaded BLAS in the environment

    examples = bg.example_notebooks(assignment, scratch / "examples")
    submitted = scratch / "submitted"
    bg.fill_batch(submitted, assignment, examples, n)
    results = {label: {"seconds": [], "loads": [], "scores": [], "problems": [], "workers_line": ""}
               for label in CONFIGS}
    for r in range(repeat):
        for label, workers in CONFIGS.items():
            tag = f"{r}-{label.strip('-').replace(' ', '')}"
            course = bg.make_course(scratch / f"course-{tag}", assignment)
            log = scratch / f"{tag}.log"
            load = _loads()
            phase = bg.run_ours(assignment, submitted, course, scratch / f"out-{tag}", workers, log)
            res = results[label]
            res["seconds"].append(phase.seconds)
            res["loads"].append(load)
            res["scores"].append(phase.scores)
            if phase.problem or len(phase.scores) != n:
                res["problems"].append(phase.problem or f"{len(phase.scores)} of {n} students scored")
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("Workers:")]
            res["workers_line"] = lines[-1] if lines else "(no Workers: line in the summary)"
            print(f"  run {r + 1}/{repeat} {label:<12} {phase.seconds:6.1f} s  (load {load})", flush=True)
            shutil.rmtree(course, ignore_errors=True)
    return results


def report_lines(results: dict[str, dict], n: int) -> list[str]:
    """The table, the ratio line, the default's choice and the score check."""
    rows = [[label, f"{statistics.median(r['seconds']):.1f}", f"{min(r['seconds']):.1f}",
             f"{max(r['seconds']):.1f}", ", ".join(r["loads"])] for label, r in results.items()]
    lines = _common.format_table([f"batch of {n}", "s (median)", "min", "max", "load 1/5/15 min at each start"],
                                 rows)
    default = statistics.median(results["default"]["seconds"])
    serial = statistics.median(results["--workers 0"]["seconds"])
    dask = statistics.median(results["--workers 2"]["seconds"])
    ratio = default / serial
    verdict = "meets" if ratio <= TARGET_RATIO else "above"
    fastest = min(results["default"]["seconds"]) / min(results["--workers 0"]["seconds"])
    lines.append(f"ratio workers default/--workers 0, batch {n}: {ratio:.2f}x ({verdict} target <= "
                 f"{TARGET_RATIO:.1f}x; of the fastest runs {fastest:.2f}x); "
                 f"--workers 2/--workers 0: {dask / serial:.2f}x (context)")
    lines.append(f"default's choice: {results['default']['workers_line']}")
    all_scores = [s for r in results.values() for s in r["scores"]]
    same = all(s == all_scores[0] for s in all_scores)
    lines.append(f"scores: {'the same in every run' if same else 'DIFFER between runs'} "
                 f"({len(all_scores)} runs of {n} students)")
    for label, r in results.items():
        lines.extend(f"{label} FAILED: {p}" for p in r["problems"])
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_workers.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="The configurations take turns on the same batch in the same run.")
    parser.add_argument("--assignment", choices=assignment_names(), default="fc_nets",
                        help="assignment to grade (default fc_nets)")
    parser.add_argument("--batch", type=positive_int, default=4, metavar="N", help="students (default 4)")
    parser.add_argument("--repeat", type=positive_int, default=None, metavar="K",
                        help="runs of each configuration, median reported (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke test: one run of each configuration")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses and logs (path printed)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run from the command line; returns 0, or 1 when a run failed or the scores differ."""
    args = build_parser().parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    import bench_grading as bg

    ready, skipped = bg.runnable_assignments([args.assignment])
    if not ready:
        build_parser().exit(2, f"bench_workers.py: error: cannot grade {args.assignment}: "
                               f"{skipped[args.assignment]}\n")
    info = _common.machine_info()
    for key in ("cpu", "python", "env", "load"):
        print(f"{key:>8}: {info[key]}")
    print(f"== Default workers vs --workers 0: {args.assignment}, batch of {args.batch}, {repeat} run(s) each ==",
          flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    try:
        results = run(args.assignment, args.batch, repeat, scratch)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    lines = report_lines(results, args.batch)
    print("\n".join(lines))
    return 1 if any("FAILED" in line or "DIFFER" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
