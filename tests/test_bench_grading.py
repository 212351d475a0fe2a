"""Smoke test of benchmarks/bench_grading.py: the quick run grades with ours and nbgrader and prints the table.

Nothing here asserts on a time or a throughput (see CONTRIBUTING.md); the subprocess timeout only guards
against a hang. What is asserted: the run ends with exit 0, prints the table row with a number in every
column, and the two graders agree on every student's score (nbgrader's scores, computed in the same run,
are the reference).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
NUMBER = r"\d+\.\d+"


@pytest.fixture(scope="module")
def bench():
    """The benchmark module, imported without leaving its BLAS settings in this process's environment."""
    saved = dict(os.environ)
    sys.path.insert(0, str(BENCH))
    try:
        module = importlib.import_module("bench_grading")
    finally:
        sys.path.remove(str(BENCH))
        os.environ.clear()
        os.environ.update(saved)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """Output of ``bench_grading.py --quick --assignments fc_nets``, run from outside the repository."""
    proc = subprocess.run([sys.executable, str(BENCH / "bench_grading.py"), "--quick", "--assignments", "fc_nets"],
                          cwd=tmp_path_factory.mktemp("bench"), capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"bench_grading.py --quick exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow  # a few minutes: it grades the batch three times, once with nbgrader
@pytest.mark.timeout(1600)
def test_quick_run_prints_the_table_and_the_graders_agree(quick_run):
    assert re.search(r"^assignment\s+s/submission ours\s+ours@1 sub/min\s+ours@2 sub/min\s+nbgrader sub/min\s+"
                     r"nbgrader\+feedback sub/min\s+ours@1/nbgrader\s+ours@2/nbgrader$", quick_run, re.M), quick_run
    row = rf"^fc_nets\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x\s+{NUMBER}x$"
    assert re.search(row, quick_run, re.M), f"no complete fc_nets row in:\n{quick_run}"
    assert re.search(rf"^ratio fc_nets throughput ours@1/nbgrader {NUMBER}x, ours@2/nbgrader {NUMBER}x, "
                     rf"ours@2/\(nbgrader autograde\+generate_feedback\) {NUMBER}x", quick_run, re.M), quick_run
    # The batch of 4 is solution, partial, blank, solution: both graders must give each the same score,
    # and the solution example full marks (fc_nets has 30 autograded points, autograder/assignments.py, and
    # two written questions of 2 points each, graded by hand).
    scores = re.search(r"^scores fc_nets: solution example 30/30 \(\+4 manually graded points, pending\); "
                       r".*same score as nbgrader: ours@1 4/4, ours@2 4/4$",
                       quick_run, re.M)
    assert scores, f"the graders disagree or the solution example lost points:\n{quick_run}"
    assert re.search(r"^Seconds per step, solution example graded in-process", quick_run, re.M)
    from autograder.grade.pipeline import STEPS

    row = rf"^fc_nets(\s+{NUMBER}){{{len(STEPS) + 1}}}$"  # every step, then the total
    assert re.search(row, quick_run, re.M), "the per-step row should have every step"


def test_help_lists_the_options():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_grading.py"), "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for option in ("--batch", "--assignments", "--quick", "--repeat"):
        assert option in proc.stdout


def test_unknown_assignment_is_a_usage_error():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_grading.py"), "--assignments", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "invalid choice: 'nope'" in proc.stderr and "fc_nets" in proc.stderr


def test_batch_cycles_through_the_examples_with_the_released_files(bench, tmp_path):
    examples = bench.example_notebooks("fc_nets", tmp_path / "examples")
    batch = bench.fill_batch(tmp_path / "submitted", "fc_nets", examples, 5)
    assert batch == {"student001": "solution", "student002": "partial", "student003": "blank",
                     "student004": "solution", "student005": "partial"}
    for student, kind in batch.items():
        folder = tmp_path / "submitted" / student / "fc_nets"
        assert (folder / "fc_nets.ipynb").read_bytes() == examples[kind].read_bytes()
        # what students hand in: the released library next to the notebook
        assert (folder / "course_lib" / "layers.py").read_bytes() == \
            (REPO / "release" / "fc_nets" / "course_lib" / "layers.py").read_bytes()
    nbformat.validate(nbformat.read(tmp_path / "submitted" / "student003" / "fc_nets" / "fc_nets.ipynb", 4))


def test_only_assignments_with_a_source_and_a_release_are_run(bench):
    ready, skipped = bench.runnable_assignments()
    assert "fc_nets" in ready
    for name in set(ready) | set(skipped):
        info = bench.get_assignment(name)
        has_both = (REPO / info.source_notebook).is_file() and (REPO / info.release_notebook).is_file()
        assert (name in ready) == has_both, name
        assert (name in skipped) == (not has_both), name
