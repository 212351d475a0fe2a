"""Run every benchmark in one process and print a compact summary table of ratios vs their baselines.

* BatchNorm backward: graph (``batchnorm_backward``, baseline) vs closed form (``batchnorm_backward_alt``)
  at 100x500 and 4096x1024, float64 and float32; PyTorch's forward+backward as a named reference.
* One training epoch of ``FullyConnectedNet([100] * 5, normalization='batchnorm')``, batch 100, Adam:
  numpy float32 vs PyTorch CPU float32 (baseline); numpy float64 as context.

Usage::

    python benchmarks/run_all.py            # full size (a few minutes)
    python benchmarks/run_all.py --quick    # smoke run, under a minute
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common
import bench_batchnorm
import bench_epoch

__all__ = ["summary_lines", "main"]


def summary_lines(bn_results, epoch_results):
    """One row per ratio: what is compared, the two times, the ratio and the target verdict."""
    rows = []
    for shape, name, r in bn_results:
        label = f"BN bwd {shape[0]}x{shape[1]} {name}"
        bwd = r["graph"] / r["closed"]
        ok = "meets" if bwd >= bench_batchnorm.TARGET_BWD_RATIO else "MISSES"
        rows.append([label, "graph / closed", f"{r['graph']:.3f} ms", f"{r['closed']:.3f} ms", f"{bwd:.2f}x",
                     f">= {bench_batchnorm.TARGET_BWD_RATIO:.1f}x {ok}"])
        if r["torch"] is not None:
            rows.append([f"BN fwd+bwd {shape[0]}x{shape[1]} {name}", "numpy(closed) / torch",
                         f"{r['fwd_closed']:.3f} ms", f"{r['torch']:.3f} ms",
                         _common.ratio(r["fwd_closed"], r["torch"]), "reference"])
    np32 = statistics.median(epoch_results["numpy float32"]["seconds"])
    torch32 = epoch_results.get("torch float32")
    if torch32 is not None:
        t32 = statistics.median(torch32["seconds"])
        target = bench_epoch.target_ratio((100,) * 5)
        ok = "meets" if np32 / t32 <= target else "MISSES"
        rows.append(["epoch float32", "numpy / torch", f"{np32:.3f} s", f"{t32:.3f} s", f"{np32 / t32:.2f}x",
                     f"<= {target:.1f}x {ok}"])
    else:
        rows.append(["epoch float32", "numpy / torch", f"{np32:.3f} s", None, "n/a", "torch missing"])
    if "numpy float64" in epoch_results:
        np64 = statistics.median(epoch_results["numpy float64"]["seconds"])
        rows.append(["epoch float64 (context)", "numpy64 / numpy32", f"{np64:.3f} s", f"{np32:.3f} s",
                     f"{np64 / np32:.2f}x", "context"])
    return _common.format_table(["benchmark", "ratio", "numerator", "baseline", "ratio", "target"], rows)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Each script also runs alone; see their --help.")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: short BN repeats at 100x500 and 1024x1024, "
                             "epoch on N=1000 for 2 epochs (< 60 s)")
    positive = _common.positive_int
    parser.add_argument("--n", type=positive, default=None, help="epoch training samples (default 49000, quick 1000)")
    parser.add_argument("--epochs", type=positive, default=None, help="timed epochs per implementation (default 3)")
    parser.add_argument("--threads", type=positive, default=2, help="numpy BLAS and PyTorch threads (default 2)")
    parser.add_argument("--no-float64", action="store_true", help="skip the float64 numpy context epoch")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    torch = None if args.no_torch else _common.import_torch()
    _common.set_threads(args.threads, torch)
    _common.print_machine_info(torch)

    bn_argv = ["--quick"] if args.quick else []
    epoch_argv = (["--quick"] if args.quick else []) + ["--threads", str(args.threads)]
    if args.n is not None:
        epoch_argv += ["--n", str(args.n)]
    if args.epochs is not None:
        epoch_argv += ["--epochs", str(args.epochs)]
    for flag in ("no_float64", "no_torch"):
        if getattr(args, flag):
            epoch_argv.append("--" + flag.replace("_", "-"))
    if args.no_torch:
        bn_argv.append("--no-torch")
    print()
    bn_results = bench_batchnorm.main(bn_argv, torch=torch, configured=True)
    print()
    epoch_results = bench_epoch.main(epoch_argv, torch=torch, configured=True)
    print()
    print(f"== Summary (one run, {time.perf_counter() - start:.0f} s) ==")
    for line in summary_lines(bn_results, epoch_results):
        print(line)


if __name__ == "__main__":
    main()
