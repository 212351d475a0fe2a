"""Fingerprints: a hash of every input of a verdict, so that a re-run grades again exactly what changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from autograder.grade.job import (
    GradingOptions,
)

#: Bumped when the meaning of results changes; part of every result's fingerprint.
GRADER_VERSION = "1"


def grader_fingerprint() -> str:
    """Hash of the code behind every verdict and its version: each ``*.py`` of the ``autograder`` package
    (pipeline, kernel, hidden checks) and of ``course_lib``, the reference the hidden checks compare with.

    Changing a check helper, the pipeline or the reference library therefore re-grades everything on the
    next run.
    """
    import course_lib

    h = hashlib.sha256(f"autograder {GRADER_VERSION}\n".encode())
    for name, pkg in (("autograder", Path(__file__).resolve().parents[1]),
                      ("course_lib", Path(course_lib.__file__).resolve().parent)):
        for path in sorted(pkg.rglob("*.py")):
            rel = path.relative_to(pkg).as_posix()
            if rel.startswith("examples/"):
                continue
            h.update(f"{name}/{rel}".encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def job_fingerprint(submission: bytes | None, source_notebook: bytes, grader: str, *,
                    release_files: dict[str, bytes] | None = None, options: GradingOptions | None = None) -> str:
    """Hash of every input of a submission's verdict.

    The submission's bytes, the source notebook's (tests, points), the grader fingerprint
    (:func:`grader_fingerprint`), the released files the student's kernel gets, and the grading options
    (time and memory limits, data) except ``hide``, whose paths include each run's scratch folders.
    A student whose recorded fingerprint matches is not graded again on a re-run.
    """
    parts = [submission if submission is not None else b"<no notebook>", source_notebook, grader.encode()]
    for rel in sorted(release_files or {}):
        parts += [rel.encode(), (release_files or {})[rel]]
    if options is not None:
        settings = {k: v for k, v in asdict(options).items() if k != "hide"}
        parts.append(json.dumps(settings, sort_keys=True, default=str).encode())
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()
