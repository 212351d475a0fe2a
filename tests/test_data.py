"""Tests of course_lib.data: CIFAR-10 loading, the synthetic stand-in, verification, download, CLI.

Expected pixel values come from reading the CIFAR-10 pickles independently with the plain
``pickle.load(f, encoding="latin1")`` of the dataset's own instructions
(https://www.cs.toronto.edu/~kriz/cifar.html, "Dataset layout"), and the cs231n split and
mean-subtraction rules from cs231n's ``data_utils.get_CIFAR10_data`` (cs231n/cs231n.github.io,
assignment 2 ``cs231n/data_utils.py``).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from course_lib import data as cd
from course_lib.errors import DataCorruptError, DataNotFoundError, OptionError

REPO = Path(__file__).resolve().parents[1]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
SUBSET_SHA256 = REPO.parent / "shared" / "data" / "cifar-10-subset.sha256"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def raw_batches(path: Path, names) -> tuple[np.ndarray, np.ndarray]:
    """Read batches with plain pickle (trusted test data): uint8 (N, 3072) rows and labels."""
    rows, labels = [], []
    for name in names:
        with open(path / name, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        rows.append(np.asarray(batch["data"]))
        labels.append(np.asarray(batch["labels"]))
    return np.concatenate(rows), np.concatenate(labels)


def write_cifar_dir(path: Path, per_batch: int = 20, protocol: int = 4, seed: int = 0) -> None:
    """Write a tiny directory in the CIFAR-10 python format (random pixels and labels)."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    for name in [*TRAIN_FILES, "test_batch"]:
        batch = {"batch_label": f"fake {name}", "labels": rng.integers(0, 10, per_batch).tolist(),
                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "filenames": [f"img_{k}.png" for k in range(per_batch)]}
        (path / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    meta = {"num_cases_per_batch": per_batch, "label_names": list(cd.CIFAR10_LABEL_NAMES), "num_vis": 3072}
    (path / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))


def make_tarball(archive: Path, members: dict[str, bytes | Path]) -> str:
    """Write a .tar.gz with the given members (bytes content or a directory to add); return its MD5."""
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in members.items():
            if isinstance(content, Path):
                tar.add(content, arcname=name)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return hashlib.md5(archive.read_bytes()).hexdigest()


def nearest_class_mean_accuracy(X_train, y_train, X_test, y_test) -> float:
    Xtr = X_train.reshape(len(X_train), -1).astype(np.float64)
    Xte = X_test.reshape(len(X_test), -1).astype(np.float64)
    means = np.stack([Xtr[y_train == c].mean(axis=0) for c in range(10)])
    dist = (Xte ** 2).sum(1)[:, None] - 2 * Xte @ means.T + (means ** 2).sum(1)[None, :]
    return float((dist.argmin(axis=1) == y_test).mean())


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """No COURSE_CIFAR10_DIR and an empty HOME, so no user copy or cache can be found."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(cd.CIFAR10_ENV_VAR, raising=False)
    monkeypatch.delenv(cd.SYNTHETIC_WARNING_ENV_VAR, raising=False)
    return home


@pytest.fixture
def fake_dir(tmp_path) -> Path:
    path = tmp_path / "cifar-10-batches-py"
    write_cifar_dir(path)
    return path


# ---------------------------------------------------------------------------------------------
# real CIFAR-10 subset
# ---------------------------------------------------------------------------------------------

@pytest.mark.cifar
def test_get_CIFAR10_data_real_subset_matches_raw_pickles(cifar10_dir):
    data = cd.get_CIFAR10_data(4000, 1000, 1000, cifar10_dir=cifar10_dir)
    assert list(data) == ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]
    for split, n in (("train", 4000), ("val", 1000), ("test", 1000)):
        assert data[f"X_{split}"].shape == (n, 3, 32, 32) and data[f"X_{split}"].dtype == np.float32
        assert data[f"y_{split}"].shape == (n,) and data[f"y_{split}"].dtype == np.int64
        assert data[f"y_{split}"].min() >= 0 and data[f"y_{split}"].max() <= 9
    assert set(np.unique(data["y_train"])) == set(range(10))

    rows, labels = raw_batches(cifar10_dir, TRAIN_FILES)
    test_rows, test_labels = raw_batches(cifar10_dir, ["test_batch"])
    images = rows.reshape(-1, 3, 32, 32).astype(np.float64)  # stored channel planes = (C, H, W)
    mean = images[:4000].mean(axis=0)
    # cs231n: train = first 4000, val = the next 1000, test = first 1000 of test_batch, mean of train removed
    np.testing.assert_array_equal(data["y_train"], labels[:4000])
    np.testing.assert_array_equal(data["y_val"], labels[4000:5000])
    np.testing.assert_array_equal(data["y_test"], test_labels[:1000])
    np.testing.assert_allclose(data["X_train"], images[:4000] - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_val"], images[4000:5000] - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_test"], test_rows[:1000].reshape(-1, 3, 32, 32) - mean, atol=1e-4)
    assert np.abs(data["X_train"].mean(axis=0, dtype=np.float64)).max() < 1e-4

    raw = cd.get_CIFAR10_data(4000, 1000, 1000, subtract_mean=False, cifar10_dir=cifar10_dir, dtype=np.float64)
    np.testing.assert_array_equal(raw["X_val"], images[4000:5000])  # exact pixel values, no rounding


@pytest.mark.cifar
def test_load_CIFAR10_real_subset_channels_last(cifar10_dir):
    Xtr, Ytr, Xte, Yte = cd.load_CIFAR10(cifar10_dir)
    rows, labels = raw_batches(cifar10_dir, TRAIN_FILES)
    test_rows, test_labels = raw_batches(cifar10_dir, ["test_batch"])
    assert Xtr.shape == (len(rows), 32, 32, 3) and Xtr.dtype == np.float64
    assert Xte.shape == (len(test_rows), 32, 32, 3)
    # pixel (row 5, column 7) of image 3: stored at offsets c*1024 + 5*32 + 7
    assert [Xtr[3, 5, 7, c] for c in range(3)] == [rows[3, c * 1024 + 5 * 32 + 7] for c in range(3)]
    np.testing.assert_array_equal(Xtr, rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Xte, test_rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Ytr, labels)
    np.testing.assert_array_equal(Yte, test_labels)
    X1, Y1 = cd.load_CIFAR_batch(cifar10_dir / "data_batch_2")
    np.testing.assert_array_equal(X1, Xtr[len(X1):2 * len(X1)])


@pytest.mark.cifar
def test_verify_subset_checksums_and_detect_tampering(cifar10_dir, tmp_path):
    if not SUBSET_SHA256.is_file():
        pytest.fail(f"checksum file {SUBSET_SHA256} is missing (CI provides ../shared/data)")
    shared = SUBSET_SHA256.parent / "cifar-10-batches-py"
    report = cd.verify_cifar10_dir(shared, SUBSET_SHA256)
    assert sorted(report["sha256_checked"]) == sorted([*TRAIN_FILES, "test_batch", "batches.meta"])
    assert (report["num_train"], report["num_test"]) == (5 * 1017, 1017)

    copy = tmp_path / "copy"
    shutil.copytree(shared, copy)
    for f in copy.iterdir():
        f.chmod(0o644)
    blob = bytearray((copy / "data_batch_3").read_bytes())
    blob[-100] ^= 0xFF  # one pixel byte: still a valid pickle, wrong checksum
    (copy / "data_batch_3").write_bytes(bytes(blob))
    assert cd.verify_cifar10_dir(copy)["num_train"] == 5 * 1017  # structurally still fine
    with pytest.raises(DataCorruptError, match=r"data_batch_3 has sha256 [0-9a-f]{64}"):
        cd.verify_cifar10_dir(copy, SUBSET_SHA256)


@pytest.mark.cifar
def test_environment_variable_source(cifar10_dir, isolated, monkeypatch):
    monkeypatch.setenv(cd.CIFAR10_ENV_VAR, str(cifar10_dir))
    assert cd.resolve_cifar10_dir() == (cifar10_dir, "environment")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cd.SyntheticDataWarning)
        via_env = cd.get_CIFAR10_data(300, 50, 40)
    explicit = cd.get_CIFAR10_data(300, 50, 40, cifar10_dir=cifar10_dir)
    for key in explicit:
        np.testing.assert_array_equal(via_env[key], explicit[key])


# ---------------------------------------------------------------------------------------------
# resolution order, sizes, options
# ---------------------------------------------------------------------------------------------

def test_resolution_order_argument_environment_cache(tmp_path, isolated, monkeypatch):
    cache = isolated / ".cache" / "course_lib" / "cifar-10-batches-py"
    write_cifar_dir(cache, seed=1)
    assert cd.resolve_cifar10_dir() == (cache, "cache")
    env_dir = tmp_path / "env"
    write_cifar_dir(env_dir, seed=2)
    monkeypatch.setenv(cd.CIFAR10_ENV_VAR, str(env_dir))
    assert cd.resolve_cifar10_dir() == (env_dir, "environment")
    arg_dir = tmp_path / "arg"
    write_cifar_dir(arg_dir, seed=3)
    assert cd.resolve_cifar10_dir(arg_dir) == (arg_dir, "argument")
    info = cd.cifar10_info()
    assert (info["kind"], info["num_train"], info["num_test"]) == ("environment", 100, 20)
    # an empty environment directory is skipped in favour of the cache, and the skip is reported
    monkeypatch.setenv(cd.CIFAR10_ENV_VAR, str(tmp_path / "empty"))
    assert cd.resolve_cifar10_dir() == (cache, "cache")
    assert "empty" in cd.cifar10_info()["skipped"][0]


def test_partly_filled_environment_directory_is_an_error_not_a_fallback(fake_dir, isolated, monkeypatch):
    (fake_dir / "test_batch").unlink()
    monkeypatch.setenv(cd.CIFAR10_ENV_VAR, str(fake_dir))
    with pytest.raises(DataNotFoundError, match=r"has no file test_batch") as err:
        cd.get_CIFAR10_data(10, 5, 5)
    assert cd.CIFAR10_ENV_VAR in str(err.value)


def test_sizes_that_do_not_fit_raise_and_fit_helper_scales_down(fake_dir):
    with pytest.raises(cd.SplitSizeError) as err:
        cd.get_CIFAR10_data(cifar10_dir=fake_dir)
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "holds 100 training and 20 test images" in message and "50000" in message
    assert "num_training=98, num_validation=2, num_test=20" in message and "fit_cifar10_sizes" in message

    sizes = cd.fit_cifar10_sizes(cifar10_dir=fake_dir)
    # proportional 49000:1000 split of the 100 available training images; test clipped to the 20 there are
    assert sizes == {"num_training": 98, "num_validation": 2, "num_test": 20}
    data = cd.get_CIFAR10_data(**sizes, cifar10_dir=fake_dir)
    assert (len(data["X_train"]), len(data["X_val"]), len(data["X_test"])) == (98, 2, 20)
    assert cd.fit_cifar10_sizes(60, 10, 5, cifar10_dir=fake_dir) == {"num_training": 60, "num_validation": 10,
                                                                        "num_test": 5}
    with pytest.raises(cd.SplitSizeError, match="num_test must be a non-negative integer"):
        cd.get_CIFAR10_data(10, 5, -1, cifar10_dir=fake_dir)


def test_bad_dtype_is_an_option_error(fake_dir):
    with pytest.raises(OptionError, match="int32"):
        cd.get_CIFAR10_data(10, 5, 5, cifar10_dir=fake_dir, dtype=np.int32)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_all_pickle_protocols_and_numpy1_names_load(tmp_path, protocol):
    path = tmp_path / f"p{protocol}"
    write_cifar_dir(path, per_batch=12, protocol=protocol, seed=protocol)
    expected_rows, expected_labels = raw_batches(path, TRAIN_FILES)
    data = cd.get_CIFAR10_data(50, 10, 12, subtract_mean=False, cifar10_dir=path)
    np.testing.assert_array_equal(data["X_train"], expected_rows[:50].reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(data["y_val"], expected_labels[50:60])
    if protocol == 2:  # rename to the module numpy 1 (and the original CIFAR-10 files) use
        blob = (path / "data_batch_1").read_bytes()
        renamed = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        assert renamed != blob
        (path / "data_batch_1").write_bytes(renamed)
        X, y = cd.load_CIFAR_batch(path / "data_batch_1")
        np.testing.assert_array_equal(X, expected_rows[:12].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


# ---------------------------------------------------------------------------------------------
# errors for missing, corrupt and malicious data
# ---------------------------------------------------------------------------------------------

def test_missing_directory_names_path_and_remedy(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError) as err:
        cd.get_CIFAR10_data(10, 5, 5, cifar10_dir=missing)
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert str(missing) in message and "does not exist" in message
    assert "python -m course_lib.data download" in message and cd.CIFAR10_URL in message


def test_missing_file_names_the_file(fake_dir):
    (fake_dir / "data_batch_3").unlink()
    with pytest.raises(DataNotFoundError, match=r"has no file data_batch_3") as err:
        cd.load_CIFAR10(fake_dir)
    assert str(fake_dir) in str(err.value) and "python -m course_lib.data download" in str(err.value)


def test_truncated_file_is_corrupt(fake_dir):
    blob = (fake_dir / "data_batch_2").read_bytes()
    (fake_dir / "data_batch_2").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataCorruptError) as err:
        cd.get_CIFAR10_data(90, 5, 5, cifar10_dir=fake_dir)
    assert str(fake_dir / "data_batch_2") in str(err.value) and "Replace it" in str(err.value)


def test_wrong_shape_and_labels_are_corrupt(fake_dir):
    batch = {"data": np.zeros((20, 100), dtype=np.uint8), "labels": [0] * 20}
    (fake_dir / "data_batch_1").write_bytes(pickle.dumps(batch))
    with pytest.raises(DataCorruptError, match=r"uint8 array of shape \(N, 3072\), got a uint8 array of shape \(20, 100\)"):
        cd.load_CIFAR_batch(fake_dir / "data_batch_1")
    batch = {"data": np.zeros((20, 3072), dtype=np.uint8), "labels": [10] * 20}
    (fake_dir / "data_batch_1").write_bytes(pickle.dumps(batch))
    with pytest.raises(DataCorruptError, match=r"labels must lie in 0..9, got 10..10"):
        cd.load_CIFAR_batch(fake_dir / "data_batch_1")
    # a batch whose size disagrees with batches.meta
    batch = {"data": np.zeros((7, 3072), dtype=np.uint8), "labels": [1] * 7}
    (fake_dir / "data_batch_1").write_bytes(pickle.dumps(batch))
    with pytest.raises(DataCorruptError, match="holds 7 images but batches.meta says num_cases_per_batch=20"):
        cd.get_CIFAR10_data(10, 5, 5, cifar10_dir=fake_dir)


class _Payload:
    """Unpickling this calls os.mkdir(target): a stand-in for arbitrary code in a malicious file."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return os.mkdir, (str(self.target),)


class _Eval:
    def __reduce__(self):
        return eval, ("__import__('os')",)


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_pickle_is_rejected_without_running_it(fake_dir, tmp_path, protocol):
    marker = tmp_path / "pwned"
    batch = {"data": np.zeros((20, 3072), dtype=np.uint8), "labels": [0] * 20, "x": _Payload(marker)}
    (fake_dir / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(DataCorruptError) as err:
        cd.get_CIFAR10_data(10, 5, 5, cifar10_dir=fake_dir)
    message = str(err.value)
    assert str(fake_dir / "data_batch_1") in message
    assert "mkdir" in message and "not called" in message
    assert not marker.exists()
    with pytest.raises(DataCorruptError):
        cd.verify_cifar10_dir(fake_dir)
    assert not marker.exists()
    # the same payload through a global the format never needs (builtins.eval) is refused too
    (fake_dir / "batches.meta").write_bytes(pickle.dumps(_Eval(), protocol=protocol))
    with pytest.raises(DataCorruptError, match=r"(__builtin__|builtins)\.eval"):
        cd.cifar10_info(fake_dir)


# ---------------------------------------------------------------------------------------------
# synthetic stand-in
# ---------------------------------------------------------------------------------------------

def test_synthetic_data_is_deterministic_balanced_and_class_dependent():
    Xtr, ytr, Xte, yte = cd.synthetic_cifar10(2000, 1000, seed=0)
    assert Xtr.shape == (2000, 32, 32, 3) and Xtr.dtype == np.uint8 and Xte.shape == (1000, 32, 32, 3)
    assert ytr.dtype == np.int64 and np.bincount(ytr).tolist() == [200] * 10
    again = cd.synthetic_cifar10(2000, 1000, seed=0)
    for a, b in zip((Xtr, ytr, Xte, yte), again):
        np.testing.assert_array_equal(a, b)
    other = cd.synthetic_cifar10(2000, 1000, seed=1)
    assert not np.array_equal(Xtr, other[0])
    prefix = cd.synthetic_cifar10(500, 30, seed=0)
    np.testing.assert_array_equal(prefix[0], Xtr[:500])
    np.testing.assert_array_equal(prefix[3], yte[:30])
    assert not np.array_equal(Xtr[:1000], Xte)  # the test split is drawn separately
    # learnable: nearest-class-mean on raw pixels far above the 10 % of guessing
    assert nearest_class_mean_accuracy(Xtr, ytr, Xte, yte) > 0.3
    assert nearest_class_mean_accuracy(Xtr, np.random.default_rng(0).permutation(ytr), Xte, yte) < 0.2


def test_offline_default_is_synthetic_and_labelled(tmp_path, isolated, monkeypatch):
    empty = tmp_path / "empty-env-dir"
    empty.mkdir()
    monkeypatch.setenv(cd.CIFAR10_ENV_VAR, str(empty))
    assert cd.resolve_cifar10_dir() == (None, "synthetic")
    with pytest.warns(cd.SyntheticDataWarning) as record:
        data = cd.get_CIFAR10_data(900, 100, 200)
    assert len(record) == 1
    message = str(record[0].message)
    assert "SYNTHETIC" in message and "python -m course_lib.data download" in message and str(empty) in message
    assert record[0].filename == __file__  # points at the caller's line
    assert data["X_train"].shape == (900, 3, 32, 32) and data["X_test"].shape == (200, 3, 32, 32)

    with pytest.warns(cd.SyntheticDataWarning):
        again = cd.get_CIFAR10_data(900, 100, 200)
    for key in data:
        np.testing.assert_array_equal(data[key], again[key])
    Xtr, ytr, Xte, yte = cd.synthetic_cifar10(1000, 200, seed=0)
    images = Xtr.transpose(0, 3, 1, 2).astype(np.float64)  # (N, H, W, C) -> (N, C, H, W)
    mean = images[:900].mean(axis=0)
    np.testing.assert_allclose(data["X_val"], images[900:] - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_test"], Xte.transpose(0, 3, 1, 2) - mean, atol=1e-4)
    np.testing.assert_array_equal(data["y_train"], ytr[:900])
    info = cd.cifar10_info()
    assert (info["kind"], info["path"], info["num_train"], info["num_test"]) == ("synthetic", None, 50000, 10000)


@pytest.mark.parametrize("value", ["off", "OFF "])
def test_synthetic_warning_off_silences_the_warning_only(isolated, monkeypatch, value):
    # The autograder sets it for graded kernels: the warning's advice is for a student's own machine.
    with pytest.warns(cd.SyntheticDataWarning):
        warned = cd.get_CIFAR10_data(90, 10, 20)
    monkeypatch.setenv(cd.SYNTHETIC_WARNING_ENV_VAR, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        silent = cd.get_CIFAR10_data(90, 10, 20)
    for key in warned:
        np.testing.assert_array_equal(warned[key], silent[key])
    monkeypatch.setenv(cd.SYNTHETIC_WARNING_ENV_VAR, "on")
    with pytest.warns(cd.SyntheticDataWarning):
        cd.get_CIFAR10_data(90, 10, 20)


# ---------------------------------------------------------------------------------------------
# download (no network: local files and a server on 127.0.0.1)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def good_tarball(tmp_path) -> tuple[Path, str]:
    source = tmp_path / "src" / "cifar-10-batches-py"
    write_cifar_dir(source, per_batch=8, seed=5)
    archive = tmp_path / "serve" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    md5 = make_tarball(archive, {"cifar-10-batches-py": source, "cifar-10-batches-py/readme.html": b"<html/>"})
    return archive, md5


@pytest.fixture
def http_url(good_tarball):
    archive, _ = good_tarball

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(archive.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
    server.shutdown()
    server.server_close()


def test_download_over_http_with_good_checksum(good_tarball, http_url, tmp_path):
    _, md5 = good_tarball
    dest = tmp_path / "dest"
    path = cd.download_cifar10(dest, url=http_url, md5=md5, progress=True)
    assert path == dest / "cifar-10-batches-py"
    assert sorted(p.name for p in dest.iterdir()) == ["cifar-10-batches-py"]  # no temporary files left
    Xtr, Ytr, Xte, Yte = cd.load_CIFAR10(path)
    assert Xtr.shape == (40, 32, 32, 3) and Xte.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(Ytr, raw_batches(tmp_path / "src" / "cifar-10-batches-py", TRAIN_FILES)[1])
    # already there: no second download (this URL would fail)
    assert cd.download_cifar10(dest, url=(tmp_path / "absent.tar.gz").as_uri(), md5=md5) == path


def test_download_with_bad_checksum_keeps_nothing(good_tarball, tmp_path):
    archive, md5 = good_tarball
    dest = tmp_path / "dest"
    with pytest.raises(DataCorruptError) as err:
        cd.download_cifar10(dest, url=archive.as_uri(), md5=cd.CIFAR10_MD5, progress=False)
    assert f"has MD5 {md5}, expected {cd.CIFAR10_MD5}" in str(err.value)
    assert list(dest.iterdir()) == []


def test_download_force_replaces_and_unreachable_url_is_not_found(good_tarball, tmp_path):
    archive, md5 = good_tarball
    dest = tmp_path / "dest"
    target = dest / "cifar-10-batches-py"
    write_cifar_dir(target, per_batch=3)
    assert cd.download_cifar10(dest, url=archive.as_uri(), md5=md5, force=True, progress=False) == target
    assert cd.cifar10_info(target)["num_train"] == 40
    with pytest.raises(DataNotFoundError, match="Could not download"):
        cd.download_cifar10(dest, url=(tmp_path / "absent.tar.gz").as_uri(), md5=md5, force=True, progress=False)
    assert cd.cifar10_info(target)["num_train"] == 40  # the existing copy survived the failure
    (target / "test_batch").unlink()
    with pytest.raises(DataCorruptError, match="not a complete CIFAR-10 directory"):
        cd.download_cifar10(dest, url=archive.as_uri(), md5=md5, progress=False)


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/tmp/evil.txt", "cifar-10-batches-py/../../evil.txt"])
def test_download_rejects_unsafe_archive_members(tmp_path, bad_name):
    source = tmp_path / "src"
    write_cifar_dir(source, per_batch=2)
    archive = tmp_path / "bad.tar.gz"
    md5 = make_tarball(archive, {"cifar-10-batches-py": source, bad_name: b"owned"})
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(DataCorruptError, match="unsafe path"):
        cd.download_cifar10(dest, url=archive.as_uri(), md5=md5, progress=False)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_download_rejects_links_and_archives_without_cifar(tmp_path):
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    with pytest.raises(DataCorruptError, match="link or special file"):
        cd.download_cifar10(tmp_path / "d1", url=archive.as_uri(), md5=md5, progress=False)
    other = tmp_path / "other.tar.gz"
    md5 = make_tarball(other, {"something/else.txt": b"x"})
    with pytest.raises(DataCorruptError, match="does not contain cifar-10-batches-py/data_batch_1"):
        cd.download_cifar10(tmp_path / "d2", url=other.as_uri(), md5=md5, progress=False)
    assert list((tmp_path / "d2").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------

def test_cli_in_process(good_tarball, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cd.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "download" in out and "info" in out
    archive, md5 = good_tarball
    dest = tmp_path / "dest"
    assert cd.main(["download", "--dest", str(dest), "--url", archive.as_uri(), "--md5", md5, "--no-progress"]) == 0
    assert str(dest / "cifar-10-batches-py") in capsys.readouterr().out
    assert cd.main(["info", "--dir", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: CIFAR-10 directory") and "Traceback" not in err


@pytest.mark.cifar
def test_cli_info_end_to_end(cifar10_dir, tmp_path):
    env = {**os.environ, cd.CIFAR10_ENV_VAR: str(cifar10_dir), "HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "course_lib.data", "info"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    expected = cd.cifar10_info(cifar10_dir)
    assert "source: environment" in result.stdout
    assert f"path: {cifar10_dir}" in result.stdout
    assert f"train images: {expected['num_train']}" in result.stdout
    assert f"test images: {expected['num_test']}" in result.stdout
