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
reported with the ratio numpy/torch (targets: <= 1.0x for ``[100] * 5``, <= 1.1x for ``[500] * 3``). The
mean training loss of each epoch is printed as a sanity check that the implementations train alike.

With ``--breakdown`` the script first times one minibatch step piece by piece, numpy and PyTorch side
by side (:func:`breakdown`): the forward and backward pass, the net's matrix products alone, the
optimizer step, and the optimizer step's memory traffic (the bytes Adam must at least move: read w, dw,
m, v and write m, v, next_w) against the machine's copy bandwidth measured in the same run.

Usage::

    python benchmarks/bench_epoch.py             # N=49000, 3 timed epochs each
    python benchmarks/bench_epoch.py --n 5000    # quicker
    python benchmarks/bench_epoch.py --hidden 500 500 500 --n 20000 --breakdown   # the wide net, and why
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import _common
import numpy as np
from _common import positive_int

from course_lib.fc_net import FullyConnectedNet
from course_lib.optim import adam

__all__ = ["TARGETS", "target_ratio", "make_data", "NumpyTrainer", "TorchTrainer", "run", "report_lines",
           "copy_bandwidth", "breakdown", "breakdown_lines", "main"]

#: Acceptance targets (issue 13) by hidden layer sizes: a float32 numpy epoch within this factor of the PyTorch
#: float32 epoch; the assignments' net ahead of PyTorch, the wide net within 10% of it. Other nets: no target.
TARGETS = {(100,) * 5: 1.0, (500,) * 3: 1.1}


def target_ratio(hidden_dims) -> float | None:
    """The numpy/torch target of the net with these hidden layer sizes (:data:`TARGETS`), or None."""
    return TARGETS.get(tuple(hidden_dims))


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


def copy_bandwidth(megabytes=256, repeat=5):
    """The machine's memory bandwidth as numpy sees it: bytes read plus written per second by ``np.copyto``
    between two halves of a ``megabytes`` buffer (far larger than any cache); the median of ``repeat``."""
    buf = np.ones((megabytes << 20) // 4, dtype=np.float32)
    half = buf.size // 2
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        np.copyto(buf[:half], buf[half:])
        seconds.append(time.perf_counter() - start)
    return 2 * half * buf.itemsize / statistics.median(seconds)


def _gemms(xp, params, hidden_dims, batch_size, input_dim, rng):
    """The matrix products of one minibatch step of the net, as a function of no argument.

    Forward ``h @ W`` per layer; backward ``h.T @ dout`` per layer and ``dout @ W.T`` for all but the
    first (the net skips the input's gradient). ``xp`` converts a numpy array (numpy: as is; torch:
    ``torch.from_numpy``).
    """
    dims = [input_dim, *hidden_dims, NUM_CLASSES]
    hs = [xp(rng.standard_normal((batch_size, d), dtype=np.float32)) for d in dims]
    ws = [xp(np.ascontiguousarray(params[f"W{i}"], dtype=np.float32)) for i in range(1, len(dims))]

    def gemms():
        for i, w in enumerate(ws):
            hs[i] @ w
            hs[i].T @ hs[i + 1]
            if i:
                hs[i + 1] @ w.T
    return gemms


def breakdown(trainers, batch_size, torch=None, seed=0, repeat=7, min_time=0.5):
    """Milliseconds per minibatch step, piece by piece, numpy float32 and PyTorch interleaved.

    Parameters
    ----------
    trainers : dict
        ``numpy float32`` (a :class:`NumpyTrainer`) and optionally ``torch float32`` (a :class:`TorchTrainer`).

    Returns
    -------
    dict
        ``times`` (name -> seconds per call, one per repeat; names ``<impl> fwd+bwd``, ``<impl> gemms``,
        ``<impl> adam step``), ``adam_bytes`` (bytes Adam must move per step), ``bandwidth`` (bytes/s,
        :func:`copy_bandwidth`), ``params`` (number of parameters).
    """
    rng = np.random.default_rng(seed)
    np_tr = trainers["numpy float32"]
    model, params, configs = np_tr.model, np_tr.model.params, np_tr.configs
    idx = rng.permutation(len(np_tr.y))[:batch_size]
    xb, yb = np_tr.X[idx], np_tr.y[idx]
    _, grads = model.loss(xb, yb)
    input_dim = int(np.prod(INPUT_SHAPE))
    hidden = [params[f"W{i}"].shape[1] for i in range(1, model.num_layers)]

    def np_adam():
        for name, w in params.items():
            params[name], configs[name] = adam(w, grads[name], configs[name])

    fns = {"numpy fwd+bwd": lambda: model.loss(xb, yb),
           "numpy gemms": _gemms(lambda a: a, params, hidden, batch_size, input_dim, rng),
           "numpy adam step": np_adam}
    if torch is not None and "torch float32" in trainers:
        t_tr = trainers["torch float32"]
        F, t_model, opt = t_tr.F, t_tr.model, t_tr.optimizer
        t_idx = torch.from_numpy(idx)
        txb, tyb = t_tr.X[t_idx], t_tr.y[t_idx]

        def torch_fwd_bwd():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(t_model(txb), tyb).backward()
        torch_fwd_bwd()
        fns.update({"torch fwd+bwd": torch_fwd_bwd,
                    "torch gemms": _gemms(torch.from_numpy, params, hidden, batch_size, input_dim, rng),
                    "torch adam step": opt.step})
    times = _common.time_interleaved(fns, repeat=repeat, min_time=min_time)
    n_params = sum(w.size for w in params.values())
    # Adam's least traffic per parameter: read w, dw, m, v; write m, v and next_w (float32: 4 bytes each).
    return {"times": times, "adam_bytes": 7 * 4 * n_params, "bandwidth": copy_bandwidth(), "params": n_params}


def breakdown_lines(result):
    """The breakdown table (ms per minibatch step) and the optimizer's memory traffic line."""
    times = result["times"]
    med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    rows = []
    for part in ("fwd+bwd", "gemms", "adam step"):
        a, b = med.get(f"numpy {part}"), med.get(f"torch {part}")
        rows.append([part, f"{a:.2f}", None if b is None else f"{b:.2f}", _common.ratio(a, b)])
    if "torch fwd+bwd" in med:
        a = med["numpy fwd+bwd"] + med["numpy adam step"]
        b = med["torch fwd+bwd"] + med["torch adam step"]
        rows.append(["step (fwd+bwd+adam)", f"{a:.2f}", f"{b:.2f}", _common.ratio(a, b)])
    lines = _common.format_table(["ms per minibatch step", "numpy", "torch", "numpy/torch"], rows)
    adam_s = med["numpy adam step"] / 1e3
    floor_s = result["adam_bytes"] / result["bandwidth"]
    lines.append(f"adam traffic: {result['params']} parameters, >= {result['adam_bytes'] / 1e6:.1f} MB per step; "
                 f"copy bandwidth {result['bandwidth'] / 1e9:.1f} GB/s -> floor {1e3 * floor_s:.2f} ms; "
                 f"numpy adam {1e3 * adam_s:.2f} ms = {floor_s / adam_s:.0%} of the bandwidth"
                 + (f"; torch adam {med['torch adam step']:.2f} ms" if "torch adam step" in med else ""))
    lines.append(f"load at the end of the breakdown: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return lines


def run(n=49000, epochs=3, batch_size=100, hidden_dims=(100,) * 5, weight_scale=2e-2, learning_rate=1e-3,
        float64=True, torch=None, seed=0, warmup_batches=20, segments=10, pause=0.1, progress=True,
        breakdown_first=False):
    """Time ``epochs`` epochs of each implementation, interleaved segment by segment.

    Each epoch's minibatches are split into ``segments`` consecutive runs; the implementations take
    turns on each run (numpy32, torch, numpy64, numpy32, ...), each after an untimed ``pause`` that
    lets the previous one's BLAS/OpenMP threads stop spinning. An implementation's epoch time is the
    sum of its segments' times, so every implementation still trains on full epochs, and a slow spell
    of a shared machine hits all of them alike.

    With ``breakdown_first``, :func:`breakdown` of fresh copies of the float32 nets is printed first.

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

    if breakdown_first:  # on a copy of the float32 nets: its many steps on one minibatch would skew their training
        apart = {"numpy float32": NumpyTrainer(X, y, hidden_dims, np.float32, weight_scale, learning_rate, seed)}
        if torch is not None:
            apart["torch float32"] = TorchTrainer(torch, X, y, apart["numpy float32"].model.params,
                                                  len(hidden_dims) + 1, learning_rate)
        for line in breakdown_lines(breakdown(apart, batch_size, torch, seed)):
            print(line, flush=True)
        del apart

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


def report_lines(results, n, hidden_dims=(100,) * 5):
    """The result table and the ratio line (with the target of the net, :func:`target_ratio`)."""
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
        target = target_ratio(hidden_dims)
        if target is None:
            lines.append(f"ratio epoch numpy/torch float32: {r:.2f}x (no target for this net)")
        else:
            verdict = "meets" if r <= target else "MISSES"
            lines.append(f"ratio epoch numpy/torch float32: {r:.2f}x ({verdict} target <= {target:.1f}x)")
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
    parser.add_argument("--breakdown", action="store_true",
                        help="first time one minibatch step piece by piece (fwd+bwd, matrix products, Adam and "
                             "its memory traffic vs the copy bandwidth), numpy and torch side by side")
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
                      args.segments, breakdown_first=args.breakdown)
    except ValueError as exc:
        build_parser().error(str(exc))
    for line in report_lines(results, args.n, args.hidden):
        print(line)
    return results


if __name__ == "__main__":
    main()
