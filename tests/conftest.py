"""Shared pytest fixtures."""

from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ExecutedNotebook:
    """A source notebook executed top to bottom at grading size (see :func:`executed_source`)."""

    notebook: object  # nbformat.NotebookNode, with outputs
    seconds: float


@pytest.fixture(scope="session")
def executed_source(tmp_path_factory):
    """``executed_source(name)``: the source notebook of assignment ``name`` executed once per test session.

    Run like the grader runs it: in a copy of ``source/<name>/``, with ``COURSE_GRADING=1`` (grading-size
    data), the repository on ``PYTHONPATH``, ``COURSE_CIFAR10_DIR`` unset (the bundled data) and one BLAS
    thread (on the shared 2-core machine a multi-threaded BLAS under load spins, and the time would
    depend on whatever else runs). Errors stay in the outputs (``allow_errors``) for the tests to report.
    """
    import copy
    import shutil
    import time

    import nbformat
    from nbclient import NotebookClient

    from autograder.assignments import GRADING_ENV, get_assignment

    done: dict[str, ExecutedNotebook] = {}

    def run(name: str) -> ExecutedNotebook:
        if name not in done:
            assignment = get_assignment(name)
            path = REPO / assignment.source_notebook
            if not path.is_file():
                pytest.fail(f"{assignment.source_notebook} does not exist yet (see docs/notebooks.md).", pytrace=False)
            nb = copy.deepcopy(nbformat.read(path, as_version=4))
            work = tmp_path_factory.mktemp(f"executed-{name}") / name
            shutil.copytree(path.parent, work)
            env = {k: v for k, v in os.environ.items() if k not in ("COURSE_CIFAR10_DIR", "PYTHONPATH")}
            env.update(GRADING_ENV)
            env["PYTHONPATH"] = str(REPO)
            env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
            client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": str(work)}})
            start = time.perf_counter()
            client.execute(env=env)
            done[name] = ExecutedNotebook(nb, time.perf_counter() - start)
        return done[name]

    return run


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium (rendering tests). Fails, never skips, when there is none."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed by the rendering tests (feedback.html, notebooks in JupyterLab): "
                "install it (Debian: apt-get install chromium; scripts/setup.sh test does it)", pytrace=False)


#: The ordinary user the isolation and remote-worker tests run things as (created if missing, removed after).
ORDINARY_USER = "agtestuser"


@pytest.fixture(scope="session")
def ordinary_user():
    """An ordinary user of this machine (``pwd`` entry), created for the tests (CI runs as root), removed after."""
    import pwd
    import subprocess

    created = False
    try:
        pwd.getpwnam(ORDINARY_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", ORDINARY_USER], check=True)
        created = True
    yield pwd.getpwnam(ORDINARY_USER)
    if created:
        subprocess.run(["userdel", ORDINARY_USER], check=False)
