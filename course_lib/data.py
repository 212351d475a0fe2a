"""CIFAR-10 loading, download and an offline synthetic stand-in (cs231n ``data_utils`` compatible).

Notebook cells written for cs231n's ``data_utils`` run unchanged::

    from course_lib.data import get_CIFAR10_data
    data = get_CIFAR10_data()            # X_train (49000, 3, 32, 32) float32, mean subtracted
    for k, v in data.items():
        print(k, v.shape)

Where the images come from
--------------------------
CIFAR-10 is read in its standard python-pickle format (``data_batch_1`` ... ``data_batch_5``,
``test_batch``, ``batches.meta``; https://www.cs.toronto.edu/~kriz/cifar.html). When no directory is
passed, :func:`resolve_cifar10_dir` looks in this order and :func:`cifar10_info` (or
``python -m course_lib.data info``) reports the choice:

1. the ``cifar10_dir`` / ``root`` argument (must hold the data, otherwise an error);
2. the environment variable ``COURSE_CIFAR10_DIR``;
3. ``~/.cache/course_lib/cifar-10-batches-py``, where ``python -m course_lib.data download`` puts it;
4. the built-in synthetic stand-in described below, with a :class:`SyntheticDataWarning`.

A directory from 2. or 3. that holds none of the CIFAR-10 files is skipped (the warning says so); one
that holds only some of them is an error, because silently replacing a broken copy would hide it.

The warning tells a student how to get CIFAR-10 onto their own machine. Where that advice is wrong --
the autograder's sandboxed kernels, whose data the instructor decides -- the environment variable
``COURSE_SYNTHETIC_WARNING=off`` (:data:`SYNTHETIC_WARNING_ENV_VAR`) silences it; the data are the same.

Only the CIFAR-10 files are ever unpickled, and with a restricted unpickler that can build nothing but
dicts, lists, strings, bytes, numbers and numpy arrays: a file asking for anything else (a pickle can
otherwise run arbitrary code) raises :class:`~course_lib.errors.DataCorruptError` without running it.

Synthetic stand-in data
-----------------------
When no CIFAR-10 copy exists (offline laptops, sandboxed graders), :func:`get_CIFAR10_data` and
:func:`load_CIFAR10` fall back to :func:`synthetic_cifar10` with seed 0. It has CIFAR-10's format --
uint8 images of 32x32x3, labels 0..9, the CIFAR-10 class names, nominally 50000 training and 10000 test
images -- but **it is not CIFAR-10**:

* each image is a coloured gradient background with one ellipse "object" on it; the ellipse's colour,
  size, aspect ratio and oriented stripe texture (angle and frequency) depend on the class, and every
  image draws random colour jitter, position, size, stripe phase and pixel noise;
* classes are balanced exactly (100 of each class in every block of 1000 images);
* it is much easier than CIFAR-10 (a nearest-class-mean classifier on raw pixels gets about 50 % on
  it) and has no natural-image structure, so accuracies, learning curves and tuned hyperparameters do not
  transfer to CIFAR-10. Use it to check that code runs and learns, not to report results;
* it is generated on demand (about 0.1 s per 1000 images), not stored: image ``i`` depends only on the
  seed, the split and ``i``, so a smaller request returns a prefix of a larger one, like the first
  images of the real batches. It is deterministic for a given numpy version.

Memory
------
:func:`get_CIFAR10_data` allocates its output arrays once in the requested ``dtype`` and copies each
uint8 batch into them, reading only the batches it needs, so the full default call peaks near the
size of its result (about 0.6 GB in float32) instead of the textbook concatenation of float64
batches.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import pickle
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import numpy as np

from course_lib.errors import CourseLibError, DataCorruptError, DataNotFoundError, OptionError, SplitSizeError

__all__ = [
    "CIFAR10_URL",
    "CIFAR10_MD5",
    "CIFAR10_ENV_VAR",
    "SYNTHETIC_WARNING_ENV_VAR",
    "CIFAR10_LABEL_NAMES",
    "CIFAR10Source",
    "SplitSizeError",
    "SyntheticDataWarning",
    "default_cache_dir",
    "resolve_cifar10_dir",
    "load_CIFAR_batch",
    "load_CIFAR10",
    "get_CIFAR10_data",
    "fit_cifar10_sizes",
    "synthetic_cifar10",
    "cifar10_info",
    "verify_cifar10_dir",
    "download_cifar10",
    "main",
]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: Published MD5 of ``cifar-10-python.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ENV_VAR = "COURSE_CIFAR10_DIR"
#: ``off`` in this environment variable silences :class:`SyntheticDataWarning` (set by the autograder for
#: the kernels it grades in: the warning's advice is for a student's own machine).
SYNTHETIC_WARNING_ENV_VAR = "COURSE_SYNTHETIC_WARNING"
CIFAR10_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                       "dog", "frog", "horse", "ship", "truck")

_DIRNAME = "cifar-10-batches-py"
_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_FILE = "test_batch"
_META_FILE = "batches.meta"
_REQUIRED_FILES = (*_TRAIN_FILES, _TEST_FILE, _META_FILE)
_NUM_CLASSES = 10
_ROW = 3 * 32 * 32  # one image as stored: 1024 red, then 1024 green, then 1024 blue values

# The offline default: synthetic_cifar10 with this seed and CIFAR-10's nominal sizes.
_SYNTHETIC_SEED = 0
_SYNTHETIC_TRAIN = 50000
_SYNTHETIC_TEST = 10000
_SYNTHETIC_BLOCK = 1000  # images generated together; a multiple of the 10 classes


class CIFAR10Source(NamedTuple):
    """Where CIFAR-10 images come from, as returned by :func:`resolve_cifar10_dir`.

    Attributes
    ----------
    path : pathlib.Path or None
        The ``cifar-10-batches-py`` directory, or ``None`` for the synthetic stand-in.
    kind : str
        ``"argument"``, ``"environment"`` (``COURSE_CIFAR10_DIR``), ``"cache"``
        (``~/.cache/course_lib/cifar-10-batches-py``) or ``"synthetic"``.
    """

    path: Path | None
    kind: str


class SyntheticDataWarning(UserWarning):
    """No CIFAR-10 copy was found, so synthetic stand-in images are used instead."""


# --------------------------------------------------------------------------------------------
# Locating the data
# --------------------------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """Return ``~/.cache/course_lib``, the parent of the downloaded ``cifar-10-batches-py``.

    Returns
    -------
    pathlib.Path
        The directory :func:`download_cifar10` extracts into by default.
    """
    return Path.home() / ".cache" / "course_lib"


def _how_to_get(where: Path | None = None) -> str:
    """The remedy sentence appended to every "data not found" message."""
    cache = default_cache_dir() / _DIRNAME
    target = f"so that {where} holds" if where is not None else f"into {cache.parent} so that {cache} holds"
    return (
        f"Get CIFAR-10 with `python -m course_lib.data download` (it unpacks into {cache}, which is found "
        f"automatically), or download {CIFAR10_URL} and unpack it {target} "
        f"{', '.join(_REQUIRED_FILES)}; or set {CIFAR10_ENV_VAR} to a directory holding them."
    )


def _missing_files(path: Path) -> list[str]:
    """Names of the required CIFAR-10 files that are not regular files in ``path``."""
    return [name for name in _REQUIRED_FILES if not (path / name).is_file()]


def _check_complete(path: Path, origin: str) -> None:
    """Raise :class:`DataNotFoundError` unless ``path`` holds every CIFAR-10 file."""
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataNotFoundError(f"CIFAR-10 directory {path} ({origin}) {what}. {_how_to_get(path)}")
    missing = _missing_files(path)
    if missing:
        raise DataNotFoundError(
            f"CIFAR-10 directory {path} ({origin}) has no file {missing[0]}"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
            + f". {_how_to_get(path)}"
        )


def _resolve(cifar10_dir: str | os.PathLike | None) -> tuple[CIFAR10Source, list[str]]:
    """Resolve the data source; also return why fallback candidates were skipped."""
    if cifar10_dir is not None:
        path = Path(cifar10_dir).expanduser()
        _check_complete(path, "given as argument")
        return CIFAR10Source(path, "argument"), []
    skipped: list[str] = []
    env = os.environ.get(CIFAR10_ENV_VAR, "")
    candidates = [(Path(env).expanduser(), "environment", f"{CIFAR10_ENV_VAR}={env}")] if env else []
    cache = default_cache_dir() / _DIRNAME
    candidates.append((cache, "cache", "the download cache"))
    for path, kind, origin in candidates:
        if path.is_dir() and len(_missing_files(path)) < len(_REQUIRED_FILES):
            _check_complete(path, origin)  # partly there: an error, not a silent fallback
            return CIFAR10Source(path, kind), skipped
        state = "holds no CIFAR-10 files" if path.is_dir() else "does not exist"
        skipped.append(f"{path} ({origin}) {state}")
    return CIFAR10Source(None, "synthetic"), skipped


def resolve_cifar10_dir(cifar10_dir: str | os.PathLike | None = None) -> CIFAR10Source:
    """Find the CIFAR-10 directory that the loaders would use, without loading anything.

    Parameters
    ----------
    cifar10_dir : str or path-like, optional
        An explicit ``cifar-10-batches-py`` directory. It must hold all seven CIFAR-10 files.

    Returns
    -------
    CIFAR10Source
        ``(path, kind)``: the argument (``"argument"``), else ``$COURSE_CIFAR10_DIR``
        (``"environment"``), else ``~/.cache/course_lib/cifar-10-batches-py`` (``"cache"``), else
        ``(None, "synthetic")``. Candidates 2 and 3 are skipped when they hold no CIFAR-10 file.

    Raises
    ------
    DataNotFoundError
        If the explicit directory, or a candidate holding only some of the files, lacks a file.
    """
    return _resolve(cifar10_dir)[0]


# --------------------------------------------------------------------------------------------
# Reading the pickles safely
# --------------------------------------------------------------------------------------------

def _latin1_encode(text: object, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, restricted to latin-1."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed on a str with 'latin1', got {encoding!r}")
    return text.encode("latin1")


def _numpy_function(name: str, module: str) -> Callable:
    """Look up a numpy pickle helper in ``numpy._core`` (numpy 2) or ``numpy.core`` (numpy 1)."""
    import importlib

    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:  # numpy < 2
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


def _allowed_globals() -> dict[tuple[str, str], object]:
    """The only globals a CIFAR-10 pickle may name, mapped to the objects to use for them."""
    reconstruct = _numpy_function("_reconstruct", "multiarray")
    frombuffer = _numpy_function("_frombuffer", "numeric")
    allowed: dict[tuple[str, str], object] = {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,  # numpy 1 and the original files
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,  # numpy 2
        ("numpy.core.numeric", "_frombuffer"): frombuffer,  # pickle protocol 5
        ("numpy._core.numeric", "_frombuffer"): frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,  # bytes in protocol-2 pickles written by Python 3
    }
    for builtins_module in ("builtins", "__builtin__"):
        for kind in (dict, list, str, bytes):
            allowed[builtins_module, kind.__name__] = kind
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only build containers, strings, numbers and numpy arrays."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._allowed[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which a CIFAR-10 file never needs (only dicts, lists, "
                f"strings, bytes and numpy arrays are allowed); it was not called"
            ) from None


def _unpickle(path: Path) -> object:
    """Unpickle one CIFAR-10 file with :class:`_RestrictedUnpickler`."""
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except OSError as exc:
        raise DataNotFoundError(f"Cannot read CIFAR-10 file {path}: {exc}. {_how_to_get(path.parent)}") from exc
    except Exception as exc:  # any failure to parse the pickle means the file is not a CIFAR-10 batch
        raise DataCorruptError(
            f"CIFAR-10 file {path} is corrupt, unsafe or not a CIFAR-10 python pickle: {exc}. "
            f"Replace it with a fresh copy. {_how_to_get(path.parent)}"
        ) from exc


def _read_batch(path: Path, expected: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one data batch.

    Returns
    -------
    data : numpy.ndarray of uint8, shape (N, 3072)
        Rows as stored: 1024 red, 1024 green, 1024 blue values, each 32x32 in row-major order.
    labels : numpy.ndarray of int64, shape (N,)
        Class indices in ``0..9``.
    """
    batch = _unpickle(path)

    def bad(what: str) -> DataCorruptError:
        return DataCorruptError(
            f"CIFAR-10 file {path} is not a valid data batch: {what}. "
            f"Replace it with a fresh copy. {_how_to_get(path.parent)}"
        )

    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        keys = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise bad(f"expected a dict with keys 'data' and 'labels', got {keys}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise bad(f"'data' must be a uint8 array of shape (N, {_ROW}), got a {desc}")
    try:
        labels = np.asarray(batch["labels"])
    except Exception as exc:
        raise bad(f"'labels' is not a list of integers ({exc})") from exc
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise bad(f"'labels' must be {len(data)} integers, got {labels.dtype} values of shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise bad(f"labels must lie in 0..{_NUM_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    if expected is not None and len(data) != expected:
        raise bad(f"it holds {len(data)} images but batches.meta says num_cases_per_batch={expected}")
    return data, labels.astype(np.int64)


def _read_meta(path: Path) -> tuple[int, list[str]]:
    """Return ``(num_cases_per_batch, label_names)`` from ``batches.meta``."""
    meta = _unpickle(path)
    if not (isinstance(meta, dict) and isinstance(meta.get("num_cases_per_batch"), int)
            and meta["num_cases_per_batch"] >= 0 and isinstance(meta.get("label_names"), list)
            and len(meta["label_names"]) == _NUM_CLASSES):
        raise DataCorruptError(
            f"CIFAR-10 file {path} is not a valid batches.meta (expected a dict with an integer "
            f"'num_cases_per_batch' and {_NUM_CLASSES} 'label_names'). Replace it with a fresh copy. "
            f"{_how_to_get(path.parent)}"
        )
    return meta["num_cases_per_batch"], [str(name) for name in meta["label_names"]]


def load_CIFAR_batch(filename: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load one CIFAR-10 batch file (cs231n-compatible).

    Parameters
    ----------
    filename : str or path-like
        A ``data_batch_*`` or ``test_batch`` file.

    Returns
    -------
    X : numpy.ndarray of float64, shape (N, 32, 32, 3)
        Pixel values 0..255.
    Y : numpy.ndarray of int64, shape (N,)
        Labels 0..9.

    Raises
    ------
    DataNotFoundError, DataCorruptError
        If the file is missing or is not a valid batch (including any unsafe pickle).
    """
    path = Path(filename).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"CIFAR-10 batch file {path} does not exist. {_how_to_get(path.parent)}")
    data, labels = _read_batch(path)
    # (N, 3072) -> (N, 3, 32, 32) channel planes -> (N, 32, 32, 3) channels last
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64), labels


# --------------------------------------------------------------------------------------------
# The synthetic stand-in
# --------------------------------------------------------------------------------------------

# Per-class appearance: background and object RGB, object radii (fractions of the image) and the
# stripe angle (radians) and frequency (cycles per image) of the object's texture.
_SYN_BACKGROUND = np.array([[135, 170, 210], [120, 120, 125], [120, 150, 90], [140, 120, 100],
                            [110, 140, 80], [150, 130, 110], [90, 120, 70], [120, 140, 90],
                            [60, 100, 160], [150, 150, 150]], dtype=np.float32)
_SYN_OBJECT = np.array([[200, 200, 210], [190, 40, 40], [140, 100, 60], [210, 140, 70], [170, 130, 90],
                        [150, 110, 70], [80, 160, 60], [110, 70, 40], [220, 220, 220], [200, 180, 40]],
                       dtype=np.float32)
_SYN_RADII = np.array([[0.40, 0.12], [0.35, 0.20], [0.18, 0.18], [0.25, 0.28], [0.25, 0.30],
                       [0.28, 0.25], [0.20, 0.15], [0.35, 0.30], [0.42, 0.18], [0.38, 0.25]],
                      dtype=np.float32)
_SYN_ANGLE = (np.arange(_NUM_CLASSES) * np.pi / _NUM_CLASSES).astype(np.float32)
_SYN_FREQ = np.array([2, 5, 3, 4, 2, 3, 6, 2, 4, 5], dtype=np.float32)
_SYN_SPLITS = {"train": 0, "test": 1}


def _synthetic_block(seed: int, split: str, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate synthetic images ``block * 1000 ...`` of a split, stored like a CIFAR-10 batch.

    Returns
    -------
    data : numpy.ndarray of uint8, shape (1000, 3072)
    labels : numpy.ndarray of int64, shape (1000,)
    """
    rng = np.random.default_rng([seed, _SYN_SPLITS[split], block])
    n, f32 = _SYNTHETIC_BLOCK, np.float32
    labels = rng.permutation(np.repeat(np.arange(_NUM_CLASSES, dtype=np.int64), n // _NUM_CLASSES))
    coord = np.arange(32, dtype=f32) / 31 - 0.5
    yy, xx = coord[:, None], coord[None, :]  # (32, 1) rows, (1, 32) columns, in [-0.5, 0.5]

    def per_image(values: np.ndarray) -> np.ndarray:
        return values.astype(f32)[:, None, None]  # (n,) -> (n, 1, 1) to broadcast over pixels

    background = _SYN_BACKGROUND[labels] + 45 * rng.standard_normal((n, 3), dtype=f32)  # (n, 3)
    gradient = per_image(rng.uniform(-50, 50, n)) * yy  # (n, 32, 1) vertical shading
    centre_x, centre_y = (per_image(c) for c in 0.08 * rng.standard_normal((2, n)))
    scale = rng.uniform(0.75, 1.25, (2, n))
    radius_x = per_image(_SYN_RADII[labels, 0] * scale[0])
    radius_y = per_image(_SYN_RADII[labels, 1] * scale[1])
    inside = ((xx - centre_x) / radius_x) ** 2 + ((yy - centre_y) / radius_y) ** 2 <= 1  # (n, 32, 32)
    angle = per_image(_SYN_ANGLE[labels] + 0.15 * rng.standard_normal(n))
    phase = per_image(rng.uniform(0, 2 * np.pi, n))
    stripes = np.cos(2 * np.pi * per_image(_SYN_FREQ[labels]) * (xx * np.cos(angle) + yy * np.sin(angle))
                     + phase)  # (n, 32, 32)
    colour = _SYN_OBJECT[labels] + 45 * rng.standard_normal((n, 3), dtype=f32)  # (n, 3)

    # uniform pixel noise in [-43.5, 43.5) (standard deviation 25), (n, 3, 32, 32)
    image = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8).astype(f32)
    image *= f32(87 / 256)
    image -= f32(43.5)
    for c in range(3):
        image[:, c] += np.where(inside, colour[:, c, None, None] + 35 * stripes,
                                background[:, c, None, None] + gradient)
    np.clip(np.rint(image, out=image), 0, 255, out=image)
    return image.astype(np.uint8).reshape(n, _ROW), labels  # (n, 3, 32, 32) -> (n, 3072) as stored


def _check_count(where: str, name: str, value: object) -> int:
    """Return ``value`` as an int, or raise :class:`SplitSizeError` if it is not a count."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise SplitSizeError(f"{where}: {name} must be a non-negative integer, got {value!r}.")
    return int(value)


def synthetic_cifar10(num_train: int = 5000, num_test: int = 1000,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate the deterministic, learnable synthetic stand-in for CIFAR-10.

    See the module docstring for what the images look like and how they differ from CIFAR-10.
    Image ``i`` depends only on ``seed``, the split and ``i``: a smaller request returns a prefix of
    a larger one.

    Parameters
    ----------
    num_train, num_test : int
        Numbers of training and test images.
    seed : int
        Seed of the generator; the offline default of the loaders uses 0.

    Returns
    -------
    X_train : numpy.ndarray of uint8, shape (num_train, 32, 32, 3)
    y_train : numpy.ndarray of int64, shape (num_train,)
        Labels 0..9, 100 of each in every block of 1000 images.
    X_test : numpy.ndarray of uint8, shape (num_test, 32, 32, 3)
    y_test : numpy.ndarray of int64, shape (num_test,)
    """
    num_train = _check_count("synthetic_cifar10", "num_train", num_train)
    num_test = _check_count("synthetic_cifar10", "num_test", num_test)
    source = _synthetic_source(seed, num_train, num_test)
    out: list[np.ndarray] = []
    for chunks, n in ((source.train, num_train), (source.test, num_test)):
        X = np.empty((n, 32, 32, 3), dtype=np.uint8)
        y = np.empty(n, dtype=np.int64)
        _copy_rows(chunks, [(0, n, X, y)], _channels_last)
        out += [X, y]
    return out[0], out[1], out[2], out[3]


# --------------------------------------------------------------------------------------------
# Sources: a sequence of chunks of (uint8 rows, labels), read or generated only when needed
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Chunk:
    size: int
    load: Callable[[], tuple[np.ndarray, np.ndarray]]  # -> (uint8 (size, 3072), int64 (size,))


@dataclass(frozen=True)
class _Source:
    where: CIFAR10Source
    train: list[_Chunk]
    test: list[_Chunk]
    label_names: list[str]

    @property
    def num_train(self) -> int:
        return sum(chunk.size for chunk in self.train)

    @property
    def num_test(self) -> int:
        return sum(chunk.size for chunk in self.test)

    def describe(self) -> str:
        if self.where.path is None:
            return "the synthetic stand-in"
        return f"{self.where.path} ({self.where.kind})"


def _synthetic_source(seed: int, num_train: int = _SYNTHETIC_TRAIN,
                      num_test: int = _SYNTHETIC_TEST) -> _Source:
    def chunks(split: str, count: int) -> list[_Chunk]:
        blocks = -(-count // _SYNTHETIC_BLOCK)  # ceil
        return [_Chunk(_SYNTHETIC_BLOCK, partial(_synthetic_block, seed, split, b)) for b in range(blocks)]

    return _Source(CIFAR10Source(None, "synthetic"), chunks("train", num_train), chunks("test", num_test),
                   list(CIFAR10_LABEL_NAMES))


def _directory_source(where: CIFAR10Source) -> _Source:
    path = where.path
    assert path is not None, "callers pass a directory source (the synthetic one has no path)"
    per_batch, label_names = _read_meta(path / _META_FILE)

    def chunk(name: str) -> _Chunk:
        return _Chunk(per_batch, partial(_read_batch, path / name, per_batch))

    return _Source(where, [chunk(name) for name in _TRAIN_FILES], [chunk(_TEST_FILE)], label_names)


def _open_source(cifar10_dir: str | os.PathLike | None, stacklevel: int = 3) -> _Source:
    """Resolve the source; warn (once per call) when it is the synthetic stand-in."""
    where, skipped = _resolve(cifar10_dir)
    if where.path is not None:
        return _directory_source(where)
    if os.environ.get(SYNTHETIC_WARNING_ENV_VAR, "").strip().lower() == "off":
        return _synthetic_source(_SYNTHETIC_SEED)
    warnings.warn(
        "No CIFAR-10 found (" + "; ".join(skipped) + "). Using SYNTHETIC stand-in images "
        f"(course_lib.data.synthetic_cifar10, seed {_SYNTHETIC_SEED}) with CIFAR-10's shapes and "
        "dtypes: results on them say nothing about CIFAR-10. " + _how_to_get(),
        SyntheticDataWarning, stacklevel=stacklevel,
    )
    return _synthetic_source(_SYNTHETIC_SEED)


def _channels_first(rows: np.ndarray) -> np.ndarray:
    return rows.reshape(-1, 3, 32, 32)  # (n, 3072) -> (n, C, H, W)


def _channels_last(rows: np.ndarray) -> np.ndarray:
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (n, 3072) -> (n, C, H, W) -> (n, H, W, C)


def _copy_rows(chunks: Sequence[_Chunk], targets: list[tuple[int, int, np.ndarray, np.ndarray]],
               layout: Callable[[np.ndarray], np.ndarray]) -> None:
    """Copy images ``start:stop`` of the concatenated chunks into each target's ``(X, y)``.

    Chunks are loaded one at a time and only while some target still needs images; each uint8
    chunk is cast straight into the preallocated ``X`` (no full-size float64 temporary).
    """
    stop_all = max((stop for _, stop, _, _ in targets), default=0)
    offset = 0
    for chunk in chunks:
        if offset >= stop_all:
            break
        if any(start < offset + chunk.size and offset < stop for start, stop, _, _ in targets):
            data, labels = chunk.load()
            for start, stop, X, y in targets:
                lo, hi = max(start, offset), min(stop, offset + chunk.size)
                if lo < hi:
                    X[lo - start:hi - start] = layout(data[lo - offset:hi - offset])
                    y[lo - start:hi - start] = labels[lo - offset:hi - offset]
        offset += chunk.size


# --------------------------------------------------------------------------------------------
# The cs231n-compatible loaders
# --------------------------------------------------------------------------------------------

def _check_float_dtype(where: str, dtype: object) -> np.dtype:
    try:
        result = np.dtype(dtype)  # type: ignore[call-overload]  # any user value: a clear error below
    except TypeError as exc:
        raise OptionError(f"{where}: unknown dtype {dtype!r}; use np.float32 or np.float64.") from exc
    if result.kind != "f":
        raise OptionError(f"{where}: dtype must be a floating type, got {result}; use np.float32 or np.float64.")
    return result


def load_CIFAR10(root: str | os.PathLike | None = None,
                 dtype: object = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load all of CIFAR-10 (cs231n-compatible).

    Parameters
    ----------
    root : str or path-like, optional
        The ``cifar-10-batches-py`` directory. ``None`` resolves it as in :func:`resolve_cifar10_dir`,
        falling back to the synthetic stand-in with a :class:`SyntheticDataWarning`.
    dtype : numpy float dtype, default float64
        dtype of the images (cs231n returns float64).

    Returns
    -------
    Xtr : numpy.ndarray, shape (N_train, 32, 32, 3)
        Training images, pixel values 0..255, batches 1..5 in order.
    Ytr : numpy.ndarray of int64, shape (N_train,)
    Xte : numpy.ndarray, shape (N_test, 32, 32, 3)
    Yte : numpy.ndarray of int64, shape (N_test,)

    Raises
    ------
    DataNotFoundError, DataCorruptError
        If ``root`` (or a partly filled candidate directory) lacks a file or holds an invalid one.
    """
    dtype = _check_float_dtype("load_CIFAR10", dtype)
    source = _open_source(root)
    out: list[np.ndarray] = []
    for chunks, n in ((source.train, source.num_train), (source.test, source.num_test)):
        X = np.empty((n, 32, 32, 3), dtype=dtype)
        y = np.empty(n, dtype=np.int64)
        _copy_rows(chunks, [(0, n, X, y)], _channels_last)
        out += [X, y]
    return out[0], out[1], out[2], out[3]


def _size_error(source: _Source, num_training: int, num_validation: int, num_test: int) -> str | None:
    """Describe why the requested split sizes do not fit ``source``, or return None."""
    fit = _fit_sizes(source, num_training, num_validation, num_test)
    if fit == {"num_training": num_training, "num_validation": num_validation, "num_test": num_test}:
        return None
    args = ", ".join(f"{k}={v}" for k, v in fit.items())
    where = f"cifar10_dir={str(source.where.path)!r}" if source.where.kind == "argument" else ""
    return (
        f"get_CIFAR10_data: {source.describe()} holds {source.num_train} training and {source.num_test} "
        f"test images, but num_training + num_validation = {num_training} + {num_validation} = "
        f"{num_training + num_validation} training and num_test = {num_test} test images were requested. "
        f"Pass sizes that fit, e.g. get_CIFAR10_data({args}{', ' + where if where else ''}), or "
        f"get_CIFAR10_data(**fit_cifar10_sizes({where}){', ' + where if where else ''}) to scale the "
        f"defaults down. For all 60000 images "
        f"get the full dataset with `python -m course_lib.data download`."
    )


def get_CIFAR10_data(num_training: int = 49000, num_validation: int = 1000, num_test: int = 1000,
                     subtract_mean: bool = True, cifar10_dir: str | os.PathLike | None = None,
                     dtype: object = np.float32) -> dict[str, np.ndarray]:
    """Load CIFAR-10 split into train/validation/test, channels first (cs231n-compatible).

    Training images are the first ``num_training`` images of ``data_batch_1..5``, validation the
    ``num_validation`` images right after them, test the first ``num_test`` images of
    ``test_batch``. Arrays are preallocated in ``dtype`` and filled batch by batch.

    Parameters
    ----------
    num_training, num_validation, num_test : int
        Split sizes. They must fit the data (see :func:`fit_cifar10_sizes`).
    subtract_mean : bool, default True
        Subtract the mean training image (computed exactly, in float64) from every split.
    cifar10_dir : str or path-like, optional
        The ``cifar-10-batches-py`` directory; ``None`` resolves it as in :func:`resolve_cifar10_dir`,
        falling back to the synthetic stand-in with a :class:`SyntheticDataWarning`.
    dtype : numpy float dtype, default float32
        dtype of the image arrays (cs231n used float64; float32 halves the memory).

    Returns
    -------
    dict of numpy.ndarray
        ``X_train`` (num_training, 3, 32, 32), ``y_train`` (num_training,), ``X_val``
        (num_validation, 3, 32, 32), ``y_val`` (num_validation,), ``X_test`` (num_test, 3, 32, 32),
        ``y_test`` (num_test,), in this order; images in ``dtype``, labels int64 in 0..9.

    Raises
    ------
    SplitSizeError
        If the sizes exceed the images available; the message says how many exist and what to pass.
    DataNotFoundError, DataCorruptError
        If the directory, or one of its files, is missing or invalid.
    OptionError
        If ``dtype`` is not a floating dtype.
    """
    num_training = _check_count("get_CIFAR10_data", "num_training", num_training)
    num_validation = _check_count("get_CIFAR10_data", "num_validation", num_validation)
    num_test = _check_count("get_CIFAR10_data", "num_test", num_test)
    if subtract_mean and num_training == 0:
        raise SplitSizeError("get_CIFAR10_data: subtract_mean=True needs num_training >= 1 (the mean image "
                             "of zero images is undefined); pass num_training >= 1 or subtract_mean=False.")
    dtype = _check_float_dtype("get_CIFAR10_data", dtype)
    source = _open_source(cifar10_dir)
    problem = _size_error(source, num_training, num_validation, num_test)
    if problem:
        raise SplitSizeError(problem)

    data = {}
    for split, n in (("train", num_training), ("val", num_validation), ("test", num_test)):
        data[f"X_{split}"] = np.empty((n, 3, 32, 32), dtype=dtype)
        data[f"y_{split}"] = np.empty(n, dtype=np.int64)
    end = num_training + num_validation
    _copy_rows(source.train, [(0, num_training, data["X_train"], data["y_train"]),
                              (num_training, end, data["X_val"], data["y_val"])], _channels_first)
    _copy_rows(source.test, [(0, num_test, data["X_test"], data["y_test"])], _channels_first)
    if subtract_mean:
        # Pixels are integers 0..255 here, so a float64 sum is exact; subtract in place, no copies.
        mean_image = data["X_train"].mean(axis=0, dtype=np.float64)  # (3, 32, 32)
        for split in ("train", "val", "test"):
            data[f"X_{split}"] -= mean_image
    return data


def _fit_sizes(source: _Source, num_training: int, num_validation: int, num_test: int) -> dict[str, int]:
    requested = num_training + num_validation
    if requested > source.num_train:
        # keep the train:validation ratio, but at least one validation image if any was asked for
        num_validation = min(num_validation, max(1 if num_validation else 0,
                                                 num_validation * source.num_train // requested))
        num_training = source.num_train - num_validation
    return {"num_training": num_training, "num_validation": num_validation,
            "num_test": min(num_test, source.num_test)}


def fit_cifar10_sizes(num_training: int = 49000, num_validation: int = 1000, num_test: int = 1000,
                      cifar10_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Scale split sizes down to what the data holds, for ``get_CIFAR10_data(**sizes)``.

    Sizes that fit are returned unchanged. Otherwise training and validation are scaled down in
    proportion (keeping at least one validation image) to use every training image, and the test
    size is clipped to the test images available. Example: the 5085/1017-image subset turns the
    defaults into 4984/101/1000.

    Parameters
    ----------
    num_training, num_validation, num_test : int
        The sizes wanted; the defaults are :func:`get_CIFAR10_data`'s.
    cifar10_dir : str or path-like, optional
        Directory to size against; resolved as in :func:`resolve_cifar10_dir` (the synthetic
        stand-in counts 50000 training and 10000 test images; no warning is given here).

    Returns
    -------
    dict of int
        ``{"num_training": ..., "num_validation": ..., "num_test": ...}``.
    """
    sizes = [_check_count("fit_cifar10_sizes", name, value) for name, value in
             (("num_training", num_training), ("num_validation", num_validation), ("num_test", num_test))]
    where = resolve_cifar10_dir(cifar10_dir)
    source = _synthetic_source(_SYNTHETIC_SEED) if where.path is None else _directory_source(where)
    return _fit_sizes(source, *sizes)


# --------------------------------------------------------------------------------------------
# Inspection and verification
# --------------------------------------------------------------------------------------------

def cifar10_info(cifar10_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Describe the data the loaders would use, reading only ``batches.meta``.

    Parameters
    ----------
    cifar10_dir : str or path-like, optional
        As in :func:`resolve_cifar10_dir`.

    Returns
    -------
    dict
        ``path`` (str or None), ``kind`` (see :class:`CIFAR10Source`), ``num_train``, ``num_test``
        (int), ``label_names`` (list of str) and ``skipped`` (list of str: candidates passed over).
    """
    where, skipped = _resolve(cifar10_dir)
    source = _synthetic_source(_SYNTHETIC_SEED) if where.path is None else _directory_source(where)
    return {"path": None if where.path is None else str(where.path), "kind": where.kind,
            "num_train": source.num_train, "num_test": source.num_test,
            "label_names": source.label_names, "skipped": skipped}


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(partial(f.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_sha256_file(sha256_file: Path) -> dict[str, str]:
    """Parse ``sha256sum`` output: ``<hex>  <name>`` (or ``<hex> *<name>``) per line."""
    try:
        lines = sha256_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataNotFoundError(f"Cannot read checksum file {sha256_file}: {exc}.") from exc
    sums = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdefABCDEF" for c in parts[0]):
            raise DataCorruptError(f"Checksum file {sha256_file}, line {number}: expected '<sha256 hex>  "
                                   f"<file name>' as written by sha256sum, got {line!r}.")
        sums[PurePosixPath(parts[1].strip().lstrip("*")).name] = parts[0].lower()
    return sums


def verify_cifar10_dir(path: str | os.PathLike,
                       sha256_file: str | os.PathLike | None = None) -> dict[str, Any]:
    """Check that a directory holds a complete, readable CIFAR-10 copy; optionally check checksums.

    Every file is read with the restricted unpickler and validated (uint8 ``(N, 3072)`` data,
    labels in 0..9, batch sizes as in ``batches.meta``).

    Parameters
    ----------
    path : str or path-like
        A ``cifar-10-batches-py`` directory.
    sha256_file : str or path-like, optional
        A ``sha256sum``-style file listing every CIFAR-10 file of ``path``; checked first.

    Returns
    -------
    dict
        ``path`` (str), ``num_train``, ``num_test`` (int), ``label_names`` (list of str) and
        ``sha256_checked`` (list of the file names whose checksum matched; empty without a file).

    Raises
    ------
    DataNotFoundError
        If the directory or a file is missing.
    DataCorruptError
        If a checksum differs, the checksum file lacks a CIFAR-10 file, or a file is invalid.
    """
    path = Path(path).expanduser()
    _check_complete(path, "given to verify_cifar10_dir")
    checked = []
    if sha256_file is not None:
        sha256_file = Path(sha256_file).expanduser()
        sums = _read_sha256_file(sha256_file)
        unlisted = [name for name in _REQUIRED_FILES if name not in sums]
        if unlisted:
            raise DataCorruptError(f"Checksum file {sha256_file} has no checksum for {', '.join(unlisted)}; "
                                   f"it must list all of {', '.join(_REQUIRED_FILES)}.")
        for name in _REQUIRED_FILES:
            actual = _file_digest(path / name, "sha256")
            if actual != sums[name]:
                raise DataCorruptError(
                    f"CIFAR-10 file {path / name} has sha256 {actual}, but {sha256_file} says {sums[name]}: "
                    f"the file is damaged or a different version. {_how_to_get(path)}"
                )
            checked.append(name)
    source = _directory_source(CIFAR10Source(path, "argument"))
    for chunk in source.train + source.test:
        chunk.load()  # validates the batch, including its size against batches.meta
    return {"path": str(path), "num_train": source.num_train, "num_test": source.num_test,
            "label_names": source.label_names, "sha256_checked": checked}


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------

def _fetch(url: str, destination: Path, progress: bool) -> str:
    """Stream ``url`` into ``destination`` with a progress bar; return the MD5 of the bytes."""
    from tqdm.auto import tqdm

    digest = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as out:
        total = response.headers.get("Content-Length")
        with tqdm(total=int(total) if total and total.isdigit() else None, unit="B", unit_scale=True,
                  unit_divisor=1024, desc=PurePosixPath(urllib.parse.urlparse(url).path).name or "download",
                  disable=not progress) as bar:
            for block in iter(partial(response.read, 1 << 20), b""):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
    return digest.hexdigest()


def _safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar archive, refusing links, devices, absolute paths and ``..`` components."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts or member.name.startswith(("/", "\\")) \
                        or (name.parts and ":" in name.parts[0]):
                    raise DataCorruptError(f"Archive {archive} contains the unsafe path {member.name!r} "
                                           f"(absolute or with '..'); refusing to extract anything from it.")
                if not (member.isfile() or member.isdir()):
                    raise DataCorruptError(f"Archive {archive} contains {member.name!r}, which is a link or "
                                           f"special file; refusing to extract anything from it.")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: also normalizes modes
                tar.extractall(destination, members=members, filter="data")
            else:  # the checks above already exclude what the filter would refuse
                tar.extractall(destination, members=members)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataCorruptError(f"Archive {archive} cannot be extracted: {exc}.") from exc


def download_cifar10(dest: str | os.PathLike | None = None, url: str = CIFAR10_URL,
                     md5: str = CIFAR10_MD5, *, force: bool = False, progress: bool = True) -> Path:
    """Download, verify and unpack ``cifar-10-python.tar.gz``.

    The archive is streamed into a temporary directory inside ``dest``, its MD5 checked, extracted
    there (refusing absolute paths, ``..`` and links), checked for the seven CIFAR-10 files, and only
    then renamed to ``dest/cifar-10-batches-py``. On any failure nothing is left behind.

    Parameters
    ----------
    dest : str or path-like, optional
        Parent directory; default ``~/.cache/course_lib``, where the loaders look.
    url : str
        Where to fetch the archive (http, https or file URL).
    md5 : str
        Expected MD5 hex digest of the archive; the default is the published one of CIFAR-10.
    force : bool, default False
        Download even if ``dest/cifar-10-batches-py`` exists, replacing it on success.
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        The ``cifar-10-batches-py`` directory.

    Raises
    ------
    DataNotFoundError
        If the download fails (network, URL).
    DataCorruptError
        If the checksum differs, the archive is unsafe or unreadable, or it lacks CIFAR-10 files; or if
        an incomplete ``cifar-10-batches-py`` already exists and ``force`` is False.
    OptionError
        If ``url`` is not http, https or file.
    """
    dest = default_cache_dir() if dest is None else Path(dest).expanduser()
    target = dest / _DIRNAME
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise OptionError(f"download_cifar10: unknown URL scheme {scheme!r} in {url!r}; use 'https', 'http' "
                          f"or 'file'.")
    if target.exists() and not force:
        if target.is_dir() and not _missing_files(target):
            return target
        raise DataCorruptError(f"{target} already exists but is not a complete CIFAR-10 directory "
                               f"(missing: {', '.join(_missing_files(target))}); pass force=True (--force) "
                               f"to replace it, or remove it.")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataNotFoundError(f"Cannot create the download directory {dest}: {exc}. Pass another --dest.") from exc
    with tempfile.TemporaryDirectory(prefix=".cifar10-download-", dir=dest) as tmp:
        archive = Path(tmp) / "cifar-10-python.tar.gz"
        try:
            actual = _fetch(url, archive, progress)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError
            raise DataNotFoundError(
                f"Could not download {url}: {exc}. Check the network connection (and proxy settings), "
                f"or download the file by other means and unpack it into {dest}."
            ) from exc
        if actual != md5.lower():
            raise DataCorruptError(
                f"Downloaded {url} has MD5 {actual}, expected {md5}: the download is damaged or not "
                f"cifar-10-python.tar.gz. Nothing was kept; try again, or check the URL."
            )
        staging = Path(tmp) / "extracted"
        _safe_extract(archive, staging)
        extracted = staging / _DIRNAME
        missing = _missing_files(extracted)
        if missing:
            raise DataCorruptError(f"Archive from {url} does not contain {_DIRNAME}/{missing[0]}; it is not "
                                   f"cifar-10-python.tar.gz. Nothing was kept.")
        if target.exists():  # force=True: move the old copy aside, restore it if the swap fails
            old = Path(tmp) / "previous"
            os.replace(target, old)
            try:
                os.replace(extracted, target)
            except OSError:
                os.replace(old, target)
                raise
        else:
            os.replace(extracted, target)
    return target


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.data",
        description="Download CIFAR-10 or show which CIFAR-10 copy the course loaders would use.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{download,info}")
    download = commands.add_parser("download", help=f"download and unpack {CIFAR10_URL}",
                                   description="Download, verify (MD5) and unpack CIFAR-10.")
    download.add_argument("--dest", type=Path, default=None,
                          help=f"parent directory (default {default_cache_dir()}, where the loaders look)")
    download.add_argument("--url", default=CIFAR10_URL, help="archive URL (default: %(default)s)")
    download.add_argument("--md5", default=CIFAR10_MD5, help="expected MD5 of the archive (default: %(default)s)")
    download.add_argument("--force", action="store_true", help="replace an existing copy")
    download.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    info = commands.add_parser("info", help="show which data source would be used and its image counts",
                               description="Show which CIFAR-10 source the loaders would use.")
    info.add_argument("--dir", type=Path, default=None, help="check this cifar-10-batches-py directory instead")
    info.add_argument("--sha256", type=Path, default=None, metavar="FILE",
                      help="also verify every file (and these sha256sum checksums) of the directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line interface (``python -m course_lib.data {download,info}``).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 on a data error (message on stderr).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "download":
            path = download_cifar10(args.dest, args.url, args.md5, force=args.force,
                                    progress=not args.no_progress)
            print(f"CIFAR-10 is in {path}")
            return 0
        info = cifar10_info(args.dir)
        for note in info["skipped"]:
            print(f"skipped: {note}")
        print(f"source: {info['kind']}")
        print(f"path: {info['path'] if info['path'] else '(none: synthetic stand-in images, not CIFAR-10)'}")
        print(f"train images: {info['num_train']}")
        print(f"test images: {info['num_test']}")
        print(f"classes: {', '.join(info['label_names'])}")
        if args.sha256 is not None:
            if info["path"] is None:
                raise DataNotFoundError(f"--sha256 needs a CIFAR-10 directory, but none was found. {_how_to_get()}")
            verified = verify_cifar10_dir(info["path"], args.sha256)
            print(f"verified: {len(verified['sha256_checked'])} checksums match, all files readable")
        return 0
    except CourseLibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
