"""One training epoch of a batch-normalized FullyConnectedNet with Adam: course_lib (numpy) vs PyTorch CPU.

The network is ``FullyConnectedNet([100] * 5, normalization='batchnorm')`` on CIFAR-shaped random data
(N x 3 x 32 x 32, 10 classes), minibatches of 100 drawn by a fresh permutation each epoch, and
``course_lib.optim.adam`` applied to every parameter after every minibatch. The loop is written out
here (shuffle, gather ``X[idx]``, ``model.loss``, update) so no Solver is involved.

The PyTorch baseline is the same net (``nn.Linear``, ``nn.BatchNorm1d``, ``nn.ReLU``, last ``nn.Linear``),
its weights copied from the numpy net's initial weights (so the same init scale), ``torch.optim.Adam``
with the same hyperparameters, ``F.cross_entropy``, float32, ``torch.set_num_threads(2)``; it sees the
same minibatches in the same order. A float64 numpy epoch is timed as context.

Each epoch is split into segments of consecutive minibatches that the implementations take turns on
(numpy32, torch, numpy64, numpy32, ...), with an untimed pause before each turn, so drift on a shared
machine hits all alike; an epoch's time is the sum of its segments. The median seconds per epoch is
reported with the ratio numpy/torch (target: <= 1.3x). The mean training loss of each epoch is printed
as a sanity check that the implementations train alike.

Usage::

    python benchmarks/bench_epoch.py             # N=49000, 3 timed epochs each
    python benchmarks/bench_epoch.py --n 5000    # quicker
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common
import numpy as np
from _common import positive_int

from course_lib.fc_net import FullyConnectedNet
from course_lib.optim import adam

__all__ = ["TARGET_RATIO", "make_data", "NumpyTrainer", "TorchTrainer", "run", "report_lines", "main"]

#: Acceptance target: a float32 numpy epoch within this factor of the PyTorch float32 epoch.
TARGET_RATIO = 1.3
INPUT_SHAPE = (3, 32, 32)
NUM_CLASSES = 10


def make_data(n, seed=0):
    """CIFAR-shaped float32 inputs, shape (n, 3, 32, 32), and int64 labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *INPUT_SHAPE), dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, size=n, dtype=np.int64)
    return X, y


def _batches(perm, batch_size):
    """Index arrays of the full minibatches of ``perm`` (a last incomplete one is dropped: BN needs N > 1)."""
    for start in range(0, len(perm) - batch_size + 1, batch_size):
        yield perm[start:start + batch_size]


class NumpyTrainer:
    """course_lib's FullyConnectedNet trained with course_lib.optim.adam, one config dict per parameter."""

    def __init__(self, X, y, hidden_dims, dtype, weight_scale, learning_rate, seed):
        # Convert the data once, not per minibatch (a no-op for float32).
        self.X = X.astype(dtype, copy=False)
        self.y = y
        self.model = FullyConnectedNet(hidden_dims, input_dim=int(np.prod(INPUT_SHAPE)), num_classes=NUM_CLASSES,
                                       normalization="batchnorm", weight_scale=weight_scale, dtype=dtype,
                                       rng=seed)
        self.configs = {name: {"learning_rate": learning_rate} for name in self.model.params}

    def train(self, batches):
        """One Adam step per index array in ``batches``; returns the sum of the minibatch losses."""
        model, params, configs, X, y = self.model, self.model.params, self.configs, self.X, self.y
        total = 0.0
        for idx in batches:
            loss, grads = model.loss(X[idx], y[idx])
            for name, w in params.items():
                params[name], configs[name] = adam(w, grads[name], configs[name])
            total += loss
        return total


class TorchTrainer:
    """The same net in PyTorch (float32), initialized from a NumpyTrainer's initial weights."""

    def __init__(self, torch, X, y, numpy_params, num_layers, learning_rate):
        import torch.nn as nn
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        # (N, 3, 32, 32) -> (N, 3072): a view sharing the numpy buffer.
        self.X = torch.from_numpy(X.reshape(X.shape[0], -1))
        self.y = torch.from_numpy(y)
        layers = []
        for i in range(1, num_layers + 1):
            w = numpy_params[f"W{i}"].astype(np.float32)
            linear = nn.Linear(*w.shape)
            with torch.no_grad():
                # course_lib's W is (fan_in, fan_out); nn.Linear's weight is (fan_out, fan_in).
                linear.weight.copy_(torch.from_numpy(w.T.copy()))
                linear.bias.copy_(torch.from_numpy(numpy_params[f"b{i}"].astype(np.float32)))
            layers.append(linear)
            if i < num_layers:
                # momentum 0.1 in PyTorch's convention is course_lib's momentum 0.9; eps 1e-5 in both.
                layers += [nn.BatchNorm1d(w.shape[1], eps=1e-5, momentum=0.1), nn.ReLU()]
        self.model = nn.Sequential(*layers).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)

    def train(self, batches):
        """One Adam step per index array in ``batches``; returns the sum of the minibatch losses."""
        torch, F, model, optimizer, X, y = self.torch, self.F, self.model, self.optimizer, self.X, self.y
        total = 0.0
        for idx in batches:
            idx = torch.from_numpy(idx)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total


def run(n=49000, epochs=3, batch_size=100, hidden_dims=(100,) * 5, weight_scale=2e-2, learning_rate=1e-3,
        float64=True, torch=None, seed=0, warmup_batches=20, segments=10, pause=0.1, progress=True):
    """Time ``epochs`` epochs of each implementation, interleaved segment by segment.

    Each epoch's minibatches are split into ``segments`` consecutive runs; the implementations take
    turns on each run (numpy32, torch, numpy64, numpy32, ...), each after an untimed ``pause`` that
    lets the previous one's BLAS/OpenMP threads stop spinning. An implementation's epoch time is the
    sum of its segments' times, so every implementation still trains on full epochs, and a slow spell
    of a shared machine hits all of them alike.

    Returns
    -------
    dict of str -> dict
        Per implementation (``numpy float32``, ``torch float32``, ``numpy float64``): ``seconds`` (list,
        one per epoch) and ``loss`` (mean training loss per epoch).
    """
    if n < 2 * batch_size:
        raise ValueError(f"--n {n} is too small: it needs at least two minibatches of {batch_size}.")
    X, y = make_data(n, seed)
    trainers = {"numpy float32": NumpyTrainer(X, y, hidden_dims, np.float32, weight_scale, learning_rate, seed)}
    if torch is not None:
        trainers["torch float32"] = TorchTrainer(torch, X, y, trainers["numpy float32"].model.params,
                                                 len(hidden_dims) + 1, learning_rate)
    if float64:
        trainers["numpy float64"] = NumpyTrainer(X, y, hidden_dims, np.float64, weight_scale, learning_rate, seed)

    rng = np.random.default_rng(seed + 1)
    # Warm up (allocator, BLAS threads, optimizer state) on a few minibatches, untimed.
    warm = list(_batches(rng.permutation(n), batch_size))[:warmup_batches]
    for trainer in trainers.values():
        trainer.train(warm)

    results = {name: {"seconds": [], "loss": []} for name in trainers}
    for e in range(epochs):
        batches = list(_batches(rng.permutation(n), batch_size))
        bounds = np.linspace(0, len(batches), min(segments, len(batches)) + 1).round().astype(int)
        seconds = dict.fromkeys(trainers, 0.0)
        losses = dict.fromkeys(trainers, 0.0)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            for name, trainer in trainers.items():
                time.sleep(pause)
                start = time.perf_counter()
                losses[name] += trainer.train(batches[lo:hi])
                seconds[name] += time.perf_counter() - start
        for name in trainers:
            results[name]["seconds"].append(seconds[name])
            results[name]["loss"].append(losses[name] / len(batches))
            if progress:
                print(f"  epoch {e + 1}/{epochs} {name:<13} {seconds[name]:7.3f} s  "
                      f"mean loss {losses[name] / len(batches):.4f}", flush=True)
    return results


def report_lines(results, n):
    """The result table and the ratio line."""
    base = results.get("torch float32")
    base_s = statistics.median(base["seconds"]) if base else None
    rows = []
    for name, r in results.items():
        s = statistics.median(r["seconds"])
        rows.append([name, f"{s:.3f}", f"{min(r['seconds']):.3f}", f"{max(r['seconds']):.3f}",
                     _common.ratio(s, base_s), f"{r['loss'][-1]:.4f}"])
    lines = _common.format_table([f"epoch, N={n}", "s/epoch (median)", "min", "max", "vs torch",
                                  "last mean loss"], rows)
    np32 = statistics.median(results["numpy float32"]["seconds"])
    if base_s is not None:
        r = np32 / base_s
        verdict = "meets" if r <= TARGET_RATIO else "MISSES"
        lines.append(f"ratio epoch numpy/torch float32: {r:.2f}x ({verdict} target <= {TARGET_RATIO:.1f}x)")
    else:
        lines.append("ratio epoch numpy/torch float32: n/a (PyTorch not installed)")
    if "numpy float64" in results:
        np64 = statistics.median(results["numpy float64"]["seconds"])
        lines.append(f"ratio epoch numpy float64/float32: {np64 / np32:.2f}x (context)")
    return lines


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Ratios are measured side by side in the same run.")
    parser.add_argument("--n", type=positive_int, default=49000, help="training samples (default 49000)")
    parser.add_argument("--epochs", type=positive_int, default=3,
                        help="timed epochs per implementation (median reported; default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=100, help="minibatch size (default 100)")
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[100] * 5,
                        help="hidden layer sizes (default 100 100 100 100 100)")
    parser.add_argument("--weight-scale", type=float, default=2e-2, help="std of the initial weights (2e-2)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument("--threads", type=positive_int, default=2, help="numpy BLAS and PyTorch threads (default 2)")
    parser.add_argument("--no-float64", action="store_true", help="skip the float64 numpy context epoch")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    parser.add_argument("--segments", type=positive_int, default=10,
                        help="runs of minibatches per epoch that the implementations take turns on (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, init and shuffling")
    parser.add_argument("--quick", action="store_true",
                        help="N=1000, 2 epochs of 1 segment, 2 warm-up minibatches (smoke test, seconds)")
    return parser


def main(argv=None, torch=None, configured=False):
    """Run from the command line.

    With ``configured=True`` the caller (run_all.py) has already imported ``torch`` (or passes None),
    set the thread counts and printed the machine information.
    """
    args = build_parser().parse_args(argv)
    warmup_batches = 20
    if args.quick:
        args.n, args.epochs, warmup_batches, args.segments = min(args.n, 1000), 2, 2, 1
    if not configured:
        torch = None if args.no_torch else _common.import_torch()
        _common.set_threads(args.threads, torch)
        _common.print_machine_info(torch)
    print(f"== One epoch, FullyConnectedNet({args.hidden}, batchnorm), batch {args.batch_size}, Adam, "
          f"N={args.n}, {args.epochs} epochs each ==", flush=True)
    try:
        results = run(args.n, args.epochs, args.batch_size, tuple(args.hidden), args.weight_scale, args.lr,
                      not args.no_float64, None if args.no_torch else torch, args.seed, warmup_batches,
                      args.segments)
    except ValueError as exc:
        build_parser().error(str(exc))
    for line in report_lines(results, args.n):
        print(line)
    return results


if __name__ == "__main__":
    main()
