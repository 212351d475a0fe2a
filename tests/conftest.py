"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CIFAR10_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch", "batches.meta")


@pytest.fixture(scope="session")
def cifar10_dir() -> Path:
    """The real CIFAR-10 directory for ``@pytest.mark.cifar`` tests.

    ``$COURSE_CIFAR10_DIR`` if set, else ``<repo>/../shared/data/cifar-10-batches-py`` (the first
    1017 images of each batch, which CI always provides). Fails, never skips, when it is absent.
    """
    env = os.environ.get("COURSE_CIFAR10_DIR")
    path = Path(env).expanduser() if env else REPO.parent / "shared" / "data" / "cifar-10-batches-py"
    missing = [name for name in CIFAR10_FILES if not (path / name).is_file()]
    if missing:
        origin = "COURSE_CIFAR10_DIR" if env else "the default <repo>/../shared/data location"
        pytest.fail(f"Real CIFAR-10 data needed by @pytest.mark.cifar tests is missing: {path} (from {origin}) "
                    f"lacks {', '.join(missing)}. Provide ../shared/data/cifar-10-batches-py, or set "
                    f"COURSE_CIFAR10_DIR to a cifar-10-batches-py directory "
                    f"(`python -m course_lib.data download` fetches one).", pytrace=False)
    return path
