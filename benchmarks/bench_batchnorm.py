"""Batch normalization forward+backward: graph backward vs closed form, with PyTorch as a reference.

Measures, per shape and dtype, milliseconds per call (median of repeats, timeit-style with
warmup) of

* ``batchnorm_forward`` (train mode),
* ``batchnorm_backward`` (backprop node by node through the graph; the baseline),
* ``batchnorm_backward_alt`` (closed form),
* forward+backward with each backward,
* PyTorch's ``torch.nn.functional.batch_norm`` forward + ``autograd.grad`` for x, weight, bias
  (reference; same input arrays, shared memory),

and prints the ratios graph/closed (target: closed-form backward >= 2x faster) and
numpy/torch for forward+closed backward. Before timing, the three gradients are checked to agree.

Usage::

    python benchmarks/bench_batchnorm.py            # full: (100, 500) and (4096, 1024), float64 and float32
    python benchmarks/bench_batchnorm.py --quick    # fewer, shorter repeats (smoke test)
"""

from __future__ import annotations

import argparse

import _common
import numpy as np

from course_lib.layers import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

__all__ = ["DEFAULT_SHAPES", "QUICK_SHAPES", "DTYPES", "TARGET_BWD_RATIO", "measure", "run", "report_lines", "main"]

DEFAULT_SHAPES = ((100, 500), (4096, 1024))
#: ``--quick`` swaps the large shape for a quarter-size one so a smoke run takes seconds.
QUICK_SHAPES = ((100, 500), (1024, 1024))
DTYPES = {"float64": np.float64, "float32": np.float32}
#: Acceptance target: closed-form backward at least this many times faster than the graph backward.
TARGET_BWD_RATIO = 2.0


def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n, d = shape
    x = (3.0 * rng.standard_normal(shape) + 1.5).astype(dtype)
    gamma = (1.0 + 0.1 * rng.standard_normal(d)).astype(dtype)
    beta = (0.1 * rng.standard_normal(d)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    return x, gamma, beta, dout


def _torch_fwd_bwd(torch, x, gamma, beta, dout):
    """A closure running PyTorch's batch_norm forward and backward on the same data, and its dx."""
    import torch.nn.functional as F

    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(gamma.copy()).requires_grad_(True)
    bt = torch.from_numpy(beta.copy()).requires_grad_(True)
    dt = torch.from_numpy(dout)
    running_mean = torch.zeros(x.shape[1], dtype=xt.dtype)
    running_var = torch.ones(x.shape[1], dtype=xt.dtype)

    def fwd_bwd():
        out = F.batch_norm(xt, running_mean, running_var, wt, bt, training=True, momentum=0.1, eps=1e-5)
        return torch.autograd.grad(out, (xt, wt, bt), dt)

    return fwd_bwd


def measure(shape, dtype_name, repeat, min_time, torch=None, warmup=2):
    """Time one shape and dtype (the implementations' repeats interleaved).

    Returns
    -------
    dict
        Milliseconds per call under ``fwd``, ``graph``, ``closed``, ``fwd_graph``, ``fwd_closed``,
        ``torch`` (None without torch), and ``max_rel_diff`` between the backward implementations.
    """
    dtype = DTYPES[dtype_name]
    x, gamma, beta, dout = _inputs(shape, dtype)
    bn_param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)

    dx_graph = batchnorm_backward(dout, cache)[0]
    dx_closed = batchnorm_backward_alt(dout, cache)[0]
    scale = float(np.abs(dx_closed).max())
    diffs = [float(np.abs(dx_graph - dx_closed).max()) / scale]
    torch_fn = None
    if torch is not None:
        torch_fn = _torch_fwd_bwd(torch, x, gamma, beta, dout)
        diffs.append(float(np.abs(torch_fn()[0].numpy() - dx_closed).max()) / scale)
    for name, dx in (("batchnorm_backward", dx_graph), ("batchnorm_backward_alt", dx_closed)):
        if dx.dtype != dtype:
            raise TypeError(f"{name} returned {dx.dtype} for {dtype_name} input; it must keep the dtype.")

    fns = {
        "fwd": lambda: batchnorm_forward(x, gamma, beta, bn_param),
        "graph": lambda: batchnorm_backward(dout, cache),
        "closed": lambda: batchnorm_backward_alt(dout, cache),
        "fwd_graph": lambda: batchnorm_backward(dout, batchnorm_forward(x, gamma, beta, bn_param)[1]),
        "fwd_closed": lambda: batchnorm_backward_alt(dout, batchnorm_forward(x, gamma, beta, bn_param)[1]),
    }
    if torch_fn is not None:
        fns["torch"] = torch_fn
    times = _common.time_interleaved(fns, repeat=repeat, min_time=min_time, warmup=warmup)
    result = {name: _common.median_ms(t) for name, t in times.items()}
    result.setdefault("torch", None)
    result["max_rel_diff"] = max(diffs)
    return result


def run(shapes=DEFAULT_SHAPES, dtypes=tuple(DTYPES), repeat=7, min_time=0.5, torch=None, warmup=2):
    """Measure every shape and dtype; returns a list of ``(shape, dtype_name, result)``."""
    return [(tuple(shape), name, measure(shape, name, repeat, min_time, torch, warmup))
            for shape in shapes for name in dtypes]


def _ms(value):
    return None if value is None else f"{value:.3f}"


def report_lines(results):
    """The result table and one ratio line per shape and dtype."""
    header = ["shape, dtype", "fwd ms", "graph bwd", "closed bwd", "graph/closed",
              "fwd+graph", "fwd+closed", "graph/closed", "torch fwd+bwd", "numpy/torch"]
    rows, lines = [], []
    for shape, name, r in results:
        rows.append([f"{shape[0]}x{shape[1]} {name}", _ms(r["fwd"]), _ms(r["graph"]), _ms(r["closed"]),
                     _common.ratio(r["graph"], r["closed"]), _ms(r["fwd_graph"]), _ms(r["fwd_closed"]),
                     _common.ratio(r["fwd_graph"], r["fwd_closed"]), _ms(r["torch"]),
                     _common.ratio(r["fwd_closed"], r["torch"])])
    lines += _common.format_table(header, rows)
    lines.append("(ms per call, median; 'numpy/torch' is forward + closed-form backward vs PyTorch forward + "
                 "backward)")
    for shape, name, r in results:
        bwd = r["graph"] / r["closed"]
        verdict = "meets" if bwd >= TARGET_BWD_RATIO else "MISSES"
        lines.append(f"ratio BN backward graph/closed {shape[0]}x{shape[1]} {name}: {bwd:.2f}x "
                     f"({verdict} target >= {TARGET_BWD_RATIO:.1f}x); fwd+bwd graph/closed "
                     f"{_common.ratio(r['fwd_graph'], r['fwd_closed'])}; fwd+bwd numpy(closed)/torch "
                     f"{_common.ratio(r['fwd_closed'], r['torch'])}; max rel dx diff {r['max_rel_diff']:.1e}")
    return lines


def _shape(text):
    try:
        n, d = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r} must look like 4096x1024 (N x D)") from None
    if n < 2 or d < 1:
        raise argparse.ArgumentTypeError(f"shape {text!r} needs N >= 2 and D >= 1")
    return n, d


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Ratios are measured side by side in the same run.")
    parser.add_argument("--shapes", type=_shape, nargs="+", default=None, metavar="NxD",
                        help="input shapes (default: 100x500 4096x1024; with --quick 100x500 1024x1024)")
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=list(DTYPES),
                        help="dtypes (default: float64 float32)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats per measurement (median reported)")
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="seconds per measurement over all repeats; sets calls per repeat (default 0.5)")
    parser.add_argument("--threads", type=int, default=2, help="numpy BLAS and PyTorch threads (default 2)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--quick", action="store_true",
                        help="3 short repeats, 1 warm-up call, 1024x1024 instead of 4096x1024 (smoke test, seconds)")
    return parser


def main(argv=None, torch=None, configured=False):
    """Run from the command line.

    With ``configured=True`` the caller (run_all.py) has already imported ``torch`` (or passes None),
    set the thread counts and printed the machine information.
    """
    args = build_parser().parse_args(argv)
    if args.repeat < 1 or args.min_time <= 0 or args.threads < 1:
        build_parser().error("--repeat and --threads must be >= 1 and --min-time > 0")
    warmup = 2
    if args.quick:
        args.repeat, args.min_time, warmup = 3, 0.03, 1
    if args.shapes is None:
        args.shapes = list(QUICK_SHAPES if args.quick else DEFAULT_SHAPES)
    if not configured:
        torch = None if args.no_torch else _common.import_torch()
        _common.set_threads(args.threads, torch)
        _common.print_machine_info(torch)
    print(f"== BatchNorm forward+backward, train mode (repeat={args.repeat}, min_time={args.min_time}s) ==")
    results = run(args.shapes, args.dtypes, args.repeat, args.min_time, None if args.no_torch else torch, warmup)
    for line in report_lines(results):
        print(line)
    return results


if __name__ == "__main__":
    main()
