"""Grade many submissions in parallel on Dask.

Each task grades one student (:func:`autograder.grade.pipeline.grade_submission`, which starts
its own student kernel) and returns the result dict; the caller's process receives the
results as they complete and is the only one that writes files and the gradebook.

* Default: a ``distributed.LocalCluster`` with ``N`` single-threaded worker processes.
* ``scheduler="tcp://host:port"``: a ``Client`` on an existing scheduler. Workers there
  must have this project installed (the grader and its hidden checks), but need not see the
  course folder: a job carries the submission, the source notebook and the released files
  (:attr:`autograder.grade.job.GradingJob.release_files`).
* ``workers=0``: no Dask at all, grade in this process one by one.
* ``workers=None`` (the command line's default): :func:`choose_workers` picks by the number of
  submissions to grade and the usable CPUs -- in this process for a small batch, where starting a
  cluster costs more than a second worker gains (fc_nets, a batch of four: 8.5 s in-process, 9.8 s on two
  Dask workers; of 16, the smallest batch that gets two: 17.4 s and 15.7 s; ``benchmarks/bench_workers.py``).
* Local workers run with :data:`LOCAL_CLUSTER_CONFIG` (no malloc trimming, no stack sampler).

A worker that dies (killed, out of memory) loses its running task; the scheduler
reschedules it on another worker (Dask's ``allowed-failures``), and each task also has
``retries=2`` for exceptions. A task that still fails becomes a failed result for that
student (all tests 0, marked as a grader error so a re-run grades it again): nothing is
lost. At most a window of tasks is in flight, so submissions are read lazily.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from autograder.errors import AutograderError
from autograder.grade.job import GradingJob
from autograder.grade.pipeline import error_result, grade_submission

__all__ = ["ParallelError", "WorkerChoice", "MIN_JOBS_PER_WORKER", "MAX_AUTO_WORKERS", "LOCAL_CLUSTER_CONFIG",
           "usable_cpus", "choose_workers", "run_jobs"]

#: With ``workers=None``, each local Dask worker must get at least this many submissions; below two such
#: shares the batch is graded in this process. Starting a cluster (worker processes that import the grader
#: and compete for the same cores) costs about as much as grading a few submissions.
MIN_JOBS_PER_WORKER = 8

#: With ``workers=None``, at most this many local workers (one per usable CPU otherwise).
MAX_AUTO_WORKERS = 4

#: Dask settings of the local cluster (its worker processes get them from their nanny), for a workload of many
#: small numpy allocations and socket round trips with the student kernel:
#:
#: * no ``MALLOC_TRIM_THRESHOLD_=65536`` in the workers' environment (``None`` unsets Dask's default): glibc then
#:   hands every freed block over 64 KiB back to the system, and the checks' arrays are mapped and unmapped
#:   on each allocation (a solution of fc_nets graded 1.3-1.4x slower in a worker than in-process); Dask's one
#:   BLAS thread per worker stays;
#: * no statistical profiler, which samples the grading thread's stack every 10 ms (5-10% of the time).
LOCAL_CLUSTER_CONFIG: dict[str, object] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


class ParallelError(AutograderError, RuntimeError):
    """The Dask cluster could not be started or reached."""


@dataclass(frozen=True)
class WorkerChoice:
    """How many local workers grade a batch, and why.

    Attributes
    ----------
    workers : int
        Local Dask worker processes; 0 grades in this process.
    reason : str
        Why, for the summary (e.g. ``"auto: 4 submissions to grade, fewer than 2 x 8"``).
    """

    workers: int
    reason: str

    def describe(self) -> str:
        """One line for the summary: ``Workers: in-process (auto: ...).``"""
        how = "in-process" if self.workers == 0 else f"{self.workers} local Dask worker(s)"
        return f"Workers: {how} ({self.reason})."


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def choose_workers(workers: int | None, n_jobs: int, cpus: int | None = None) -> WorkerChoice:
    """The number of local workers for ``n_jobs`` submissions: ``workers`` as given, or chosen when None.

    Chosen: one worker per :data:`MIN_JOBS_PER_WORKER` submissions, at most one per usable CPU and at most
    :data:`MAX_AUTO_WORKERS`; fewer than two is in-process (one Dask worker only adds its start-up to
    in-process grading). So a small batch is never slower than in-process, and a large one on a
    multi-core machine gets one worker per core.

    Parameters
    ----------
    workers : int or None
        The user's ``--workers`` (kept, >= 0), or None to choose.
    n_jobs : int
        Submissions to grade (up-to-date ones excluded).
    cpus : int, optional
        Usable CPUs (default :func:`usable_cpus`).

    Returns
    -------
    WorkerChoice
    """
    if workers is not None:
        if workers < 0:
            raise ValueError(f"workers={workers}: the number of local workers must be 0 (in-process) or more")
        return WorkerChoice(workers, "as requested")
    cpus = usable_cpus() if cpus is None else cpus
    chosen = min(cpus, MAX_AUTO_WORKERS, n_jobs // MIN_JOBS_PER_WORKER)
    if chosen < 2:
        limit = (f"{n_jobs} submission(s) to grade, fewer than 2 x {MIN_JOBS_PER_WORKER}"
                 if n_jobs < 2 * MIN_JOBS_PER_WORKER else "1 usable CPU")
        return WorkerChoice(0, f"auto: {limit}")
    return WorkerChoice(chosen, f"auto: {n_jobs} submissions to grade, {cpus} usable CPUs")


def _serial(jobs: Iterable[GradingJob], grade: Callable[[GradingJob], dict]) -> Iterator[dict]:
    for job in jobs:
        try:
            yield grade(job)
        except Exception as exc:  # noqa: BLE001 - grade_submission never raises; a custom grade might
            yield error_result(job, f"grading failed ({type(exc).__name__}: {exc})")


def _client(workers: int, scheduler: str | None):
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise ParallelError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address "
                "(tcp://HOST:PORT) and that 'dask scheduler' is running") from exc
    try:
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
    except Exception as exc:
        raise ParallelError(f"could not start {workers} local Dask worker(s): {exc}") from exc
    try:
        return Client(cluster), cluster
    except Exception:
        cluster.close()
        raise


def run_jobs(jobs: Iterable[GradingJob], *, workers: int = 2, scheduler: str | None = None,
             grade: Callable[[GradingJob], dict] = grade_submission,
             window: int | None = None) -> Iterator[dict]:
    """Grade ``jobs`` and yield each result dict as soon as it is ready (any order).

    Parameters
    ----------
    jobs : iterable of GradingJob
        Consumed lazily (at most ``window`` in flight).
    workers : int
        Local worker processes; 0 grades in this process without Dask. Ignored with
        ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    grade : callable
        The per-job function (importable on the workers).
    window : int, optional
        Tasks in flight; default ``max(4, 3 * workers)`` (or 3x the cluster's threads).

    Yields
    ------
    dict
        Result dicts (see :func:`autograder.grade.result.build_result`).

    Raises
    ------
    ParallelError
        The cluster could not be started or reached.
    """
    if not scheduler and workers <= 0:
        yield from _serial(jobs, grade)
        return
    from distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        if window is None:
            threads = sum(client.nthreads().values()) or workers or 1
            window = max(4, 3 * threads)
        it = iter(jobs)
        pending: dict[str, GradingJob] = {}
        done = as_completed()

        def submit_next() -> bool:
            job = next(it, None)
            if job is None:
                return False
            key = f"grade-{job.student}-{uuid.uuid4().hex[:8]}"
            fut = client.submit(grade, job, key=key, retries=2, pure=False)
            pending[fut.key] = job
            done.add(fut)
            return True

        for _ in range(window):
            if not submit_next():
                break
        for fut in done:
            job = pending.pop(fut.key)
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker after repeated worker deaths, etc.
                result = error_result(job, f"grading failed on the Dask cluster "
                                           f"({type(exc).__name__}: {exc})")
            fut.release()
            submit_next()
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
