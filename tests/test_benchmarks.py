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


@pytest.mark.parametrize("script", ["run_all.py", "bench_batchnorm.py", "bench_epoch.py", "bench_workers.py"])
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


def test_epoch_breakdown_prints_each_part_and_the_optimizers_memory_traffic():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_epoch.py"), "--quick", "--no-float64", "--breakdown",
                           "--hidden", "50", "50"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for part in ("fwd+bwd", "gemms", "adam step", "step (fwd+bwd+adam)"):
        assert re.search(rf"^{re.escape(part)}\s+\d+\.\d+\s+\d+\.\d+\s+{NUMBER}$", proc.stdout, re.M), proc.stdout
    # 3072*50 + 50*50 + 50*10 weights, 50 + 50 + 10 biases, 2 x (50 gammas + 50 betas): 7 * 4 bytes each.
    n_params = 3072 * 50 + 50 * 50 + 50 * 10 + 50 + 50 + 10 + 4 * 50
    line = re.search(r"^adam traffic: (\d+) parameters, >= (\d+\.\d) MB per step; copy bandwidth \d+\.\d GB/s",
                     proc.stdout, re.M)
    assert line and int(line.group(1)) == n_params and float(line.group(2)) == round(28 * n_params / 1e6, 1)
    assert re.search(rf"^ratio epoch numpy/torch float32: {NUMBER} ", proc.stdout, re.M), proc.stdout


def _workers_result(seconds, scores, line="Workers: in-process (auto: 4 submission(s) to grade, fewer than 2 x 8)."):
    return {"seconds": seconds, "loads": ["1.00/1.00/1.00"] * len(seconds), "scores": [scores] * len(seconds),
            "problems": [], "workers_line": line}


def test_workers_report_prints_the_ratio_default_over_in_process_and_the_choice():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_workers
    finally:
        sys.path.remove(str(BENCH))
    scores = {"student001": 30.0, "student002": 12.0}
    lines = bench_workers.report_lines({"default": _workers_result([40.0, 44.0, 42.0], scores),
                                        "--workers 0": _workers_result([41.0, 40.0, 44.0], scores),
                                        "--workers 2": _workers_result([60.0, 66.0, 70.0], scores)}, 4)
    text = "\n".join(lines)
    # medians 42 / 41 and 66 / 41; fastest 40 / 40
    assert "ratio workers default/--workers 0, batch 4: 1.02x (above target <= 1.0x; of the fastest runs 1.00x)" in text
    assert "--workers 2/--workers 0: 1.61x (context)" in text
    assert "default's choice: Workers: in-process (auto: 4 submission(s) to grade, fewer than 2 x 8)." in text
    assert "scores: the same in every run (9 runs of 4 students)" in text
    lines = bench_workers.report_lines({"default": _workers_result([40.0], scores),
                                        "--workers 0": _workers_result([41.0], {**scores, "student002": 0.0}),
                                        "--workers 2": _workers_result([60.0], scores)}, 4)
    assert "scores: DIFFER between runs (3 runs of 4 students)" in lines
