"""Smoke test of benchmarks/: the quick run works end to end and prints every ratio.

Speed claims live in the benchmark scripts' output, never in tests: nothing here asserts on a time
or on a ratio's value (see CONTRIBUTING.md). The subprocess timeout only guards against a hang.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"

BN_CASES = ("100x500 float64", "100x500 float32", "1024x1024 float64", "1024x1024 float32")
NUMBER = r"(\d+\.\d+)x"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """Output of ``python benchmarks/run_all.py --quick`` run from outside the repository."""
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--quick"],
                          cwd=tmp_path_factory.mktemp("bench"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"run_all.py --quick exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_quick_run_prints_machine_info(quick_run):
    for key in ("cpu:", "numpy:", "torch:", "env:"):
        assert re.search(rf"^\s*{key} \S", quick_run, re.M), f"no {key!r} line in:\n{quick_run}"
    assert re.search(r"^\s*numpy: \d+\.\d+.*BLAS", quick_run, re.M), "numpy line should name the BLAS"
    assert re.search(r"^\s*torch: 2\.13\.0.*intra-op threads", quick_run, re.M), \
        "torch (a test dependency) should be found and described with its thread count"


@pytest.mark.parametrize("case", BN_CASES)
def test_quick_run_prints_bn_backward_ratio_graph_over_closed(quick_run, case):
    line = re.search(rf"^ratio BN backward graph/closed {case}: {NUMBER} .*$", quick_run, re.M)
    assert line, f"no graph/closed ratio line for {case} in:\n{quick_run}"
    # PyTorch is the named reference beside the baseline; its ratio is a number, not 'n/a'.
    assert re.search(rf"fwd\+bwd numpy\(closed\)/torch {NUMBER}", line.group(0)), line.group(0)


@pytest.mark.parametrize("case", BN_CASES)
def test_quick_run_checks_that_the_timed_bn_backwards_agree(quick_run, case):
    # The script compares graph, closed-form and PyTorch dx before timing them; float32 agrees to ~1e-6.
    line = re.search(rf"^ratio BN backward graph/closed {case}: .*max rel dx diff (\S+)$", quick_run, re.M)
    assert line, f"no gradient agreement figure for {case}"
    assert float(line.group(1)) < 1e-4, line.group(0)


def test_quick_run_prints_epoch_ratio_numpy_over_torch(quick_run):
    assert re.search(rf"^ratio epoch numpy/torch float32: {NUMBER} ", quick_run, re.M), quick_run
    assert re.search(rf"^ratio epoch numpy float64/float32: {NUMBER} \(context\)", quick_run, re.M), quick_run


def test_quick_run_prints_the_summary_table(quick_run):
    summary = quick_run.split("== Summary", 1)
    assert len(summary) == 2, f"no summary section in:\n{quick_run}"
    rows = summary[1]
    for label in [f"BN bwd {case}" for case in BN_CASES] + ["epoch float32", "epoch float64 (context)"]:
        assert re.search(rf"^{re.escape(label)}\s+.*{NUMBER}", rows, re.M), f"no summary row {label!r}:\n{rows}"


@pytest.mark.parametrize("script", ["run_all.py", "bench_batchnorm.py", "bench_epoch.py"])
def test_scripts_have_help(script):
    proc = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and "--quick" in proc.stdout


def test_epoch_script_rejects_too_few_samples_with_a_clear_message():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_epoch.py"), "--n", "150", "--no-torch",
                           "--no-float64"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--n 150 is too small" in proc.stderr and "two minibatches of 100" in proc.stderr
