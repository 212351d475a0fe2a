"""Shared helpers of the benchmark scripts: import path, machine description, timing, tables.

Importing this module puts the repository root on ``sys.path`` so the scripts run as
``python benchmarks/<script>.py`` from any directory without installing the package.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402  (after the path set-up, like every import below it)

__all__ = [
    "ROOT",
    "import_torch",
    "set_threads",
    "machine_info",
    "print_machine_info",
    "time_interleaved",
    "median_ms",
    "format_table",
    "ratio",
    "positive_int",
]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def import_torch():
    """Return the ``torch`` module, or None (with a note on stderr) when it is not installed."""
    try:
        import torch
    except ImportError as exc:  # the benchmark still runs its numpy-only parts
        print(f"note: PyTorch is not importable ({exc}); its reference columns are skipped. "
              "Install it with `pip install 'deepnet-course[bench]'` (torch==2.13.0, CPU).", file=sys.stderr)
        return None
    return torch


def _openblas_lib():
    """numpy's loaded OpenBLAS as ``(ctypes library, symbol prefix, symbol suffix)``, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"),
                               ("openblas", "")):
            if hasattr(lib, f"{prefix}_get_config{suffix}") and hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                return lib, prefix, suffix
    return None


def _openblas():
    """numpy's loaded OpenBLAS as ``(config string, threads)``, or None when numpy uses another BLAS."""
    found = _openblas_lib()
    if found is None:
        return None
    lib, prefix, suffix = found
    get_config = getattr(lib, f"{prefix}_get_config{suffix}")
    get_threads = getattr(lib, f"{prefix}_get_num_threads{suffix}")
    get_config.restype = ctypes.c_char_p
    get_threads.restype = ctypes.c_int
    return get_config().decode(errors="replace").strip(), int(get_threads())


def set_threads(n, torch=None):
    """Use ``n`` threads in numpy's OpenBLAS (when it is the BLAS; else a note) and in PyTorch."""
    found = _openblas_lib()
    if found is not None:
        lib, prefix, suffix = found
        setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
        if setter is not None:
            setter(ctypes.c_int(n))
    else:
        print(f"note: numpy's BLAS is not OpenBLAS; its thread count is left as is (asked for {n}).",
              file=sys.stderr)
    if torch is not None:
        torch.set_num_threads(n)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(torch=None):
    """What the figures depend on: CPU, library versions, BLAS, thread counts.

    Parameters
    ----------
    torch : module or None
        The imported ``torch``, to describe it too.

    Returns
    -------
    dict of str -> str
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical CPUs ({usable} usable)",
        "python": f"{platform.python_version()} on {platform.platform()}",
    }
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    openblas = _openblas()
    if openblas is not None:
        info["numpy"] = f"{np.__version__}, BLAS {openblas[0]}, {openblas[1]} BLAS threads"
    else:
        info["numpy"] = f"{np.__version__}, BLAS {blas.get('name', '?')} {blas.get('version', '')}".rstrip()
    if torch is not None:
        mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        info["torch"] = (f"{torch.__version__}, {mkl}, {torch.get_num_threads()} intra-op threads, "
                         f"{torch.get_num_interop_threads()} inter-op threads")
    else:
        info["torch"] = "not installed"
    info["env"] = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in THREAD_VARS)
    if hasattr(os, "getloadavg"):
        # Other processes compete for the CPUs: figures from a loaded machine are not comparable.
        info["load"] = "{:.2f} {:.2f} {:.2f} (1, 5, 15-minute load averages at start)".format(*os.getloadavg())
    return info


def print_machine_info(torch=None):
    """Print :func:`machine_info` as ``key: value`` lines."""
    for key, value in machine_info(torch).items():
        print(f"{key:>7}: {value}")


def _calibrate(fn, target):
    """Calls per repeat: doubled until one repeat takes at least ``target`` seconds (like timeit's autorange)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= target:
            return number
        number *= 2


def time_interleaved(fns, repeat=7, min_time=0.2, warmup=2):
    """Seconds per call of each function, timeit-style, with the functions' repeats interleaved.

    Each function runs ``warmup`` times untimed, then gets its own number of calls per repeat
    (doubled until a repeat takes ``min_time / repeat`` seconds). The repeats then alternate
    between the functions (A B C A B C ...), so a slow spell of a shared machine hits all of
    them alike and the ratios between them stay fair.

    Parameters
    ----------
    fns : dict of str -> callable
        Functions taking no argument.

    Returns
    -------
    dict of str -> list of float
        Seconds per call, one value per repeat; take the median.
    """
    numbers = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        numbers[name] = _calibrate(fn, min_time / repeat)
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - start) / number)
    return times


def median_ms(times):
    """Median of a list of seconds, in milliseconds."""
    return 1e3 * statistics.median(times)


def ratio(numerator, denominator):
    """``numerator / denominator`` formatted as ``'1.23x'``, or ``'n/a'`` when either is missing."""
    if numerator is None or denominator is None or denominator == 0:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def format_table(header, rows):
    """Left-aligned first column, right-aligned others, as a list of lines."""
    cells = [list(map(str, header))] + [[("n/a" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for j, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value
