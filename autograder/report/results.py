"""Per-student results.json (Gradescope's format), grades.csv, and atomic file writes.

results.json follows Gradescope's documented autograder output format
(https://gradescope-autograders.readthedocs.io/en/latest/specs/); the JSON Schema in
``autograder/gradescope_results.schema.json`` encodes it. The grader's own
bookkeeping (fingerprint for resuming, grade_id of each test, the isolation the student's code
ran under) lives in the ``extra_data`` fields the format provides for that.

Autograded and manually graded points are kept apart everywhere: results.json's top-level ``score`` is the
autograded score; a manually graded test keeps its ``max_score`` but has no ``score`` and no ``status``
(Gradescope's format knows only ``passed``/``failed``) until graded, its output and ``extra_data.status``
say it is pending. grades.csv's ``score`` and ``max_score`` are autograded points only, ``manual_max`` the
points graded by hand, and each manually graded question's column stays empty until graded.
grades.csv ends with an ``isolation`` column: the isolation mode of each student's kernel (``namespaces``,
``user namespaces``, ``separate uid``, ``rlimits only``; see :mod:`autograder.kernel`), the part before the
colon of results.json's ``extra_data.isolation``.

Every file is written atomically (temporary file in the same folder, then ``os.replace``),
so a crash leaves either the old or the new file, never half of one. results.json is the
last file written for a student: its presence with a matching fingerprint means the
student is done.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

__all__ = [
    "SCHEMA_PATH",
    "atomic_write",
    "gradescope_results",
    "load_schema",
    "validate_results",
    "read_results",
    "grades_row",
    "write_grades_csv",
    "GRADES_FIXED_COLUMNS",
    "GRADES_ISOLATION_COLUMN",
    "isolation_mode",
    "max_points",
]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "gradescope_results.schema.json"
#: ``score`` and ``max_score`` count autograded points only; ``manual_max`` the points graded by hand.
GRADES_FIXED_COLUMNS = ("student", "assignment", "score", "max_score", "manual_max")
#: Last column of grades.csv: how the student's code was isolated (see :func:`isolation_mode`).
GRADES_ISOLATION_COLUMN = "isolation"


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically (tmp file in the same folder + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; outputs are meant to be read by others
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The JSON Schema of Gradescope's results.json."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_results(doc: Mapping) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid Gradescope results.json."""
    import jsonschema

    jsonschema.validate(doc, load_schema(), cls=jsonschema.Draft202012Validator)


def _num(x: float) -> float | int:
    x = float(x)
    return int(x) if x.is_integer() else round(x, 4)


def gradescope_results(result: Mapping) -> dict:
    """Gradescope's results.json for one graded submission.

    Parameters
    ----------
    result : mapping
        A result dict from :func:`autograder.grade.pipeline.grade_submission`.

    Returns
    -------
    dict
        With top-level score (none for a grader error, see below), execution_time, output,
        visibility, stdout_visibility, extra_data (student, assignment, fingerprint, grader_error,
        problems, isolation: how the student's kernel was isolated, "" when no kernel ran) and one test per
        graded cell (name, number, score, max_score, status, output, visibility,
        extra_data with grade_id, kind and status). A manually graded cell keeps its max_score but has
        neither score nor status (the format knows only passed/failed, and it is not graded yet): its
        output and ``extra_data.status`` say it is pending manual grading. The top-level score and
        output count autograded points only and name the manually graded ones apart.

        A grader error (``result["grader_error"]``: the grader failed, not the submission)
        has no score at all, neither top-level nor per test: the document is then *not* a
        valid Gradescope result on purpose (Gradescope reports "autograder failed" instead
        of a zero), and grades.csv and the gradebook get no score either.
    """
    failed = bool(result.get("grader_error"))
    tests = []
    for k, t in enumerate(result["tests"], start=1):
        entry = {
            "name": t["grade_id"] + (" (graded by hand)" if t["kind"] == "manual" else ""),
            "number": str(k),
            "score": _num(t["score"]),
            "max_score": _num(t["points"]),
            "output": t["message"] or t["status"],
            "visibility": "visible",
            "extra_data": {"grade_id": t["grade_id"], "kind": t["kind"], "status": t["status"]},
        }
        if t["status"] in ("passed", "failed"):
            entry["status"] = t["status"]
        if failed or t["status"] not in ("passed", "failed"):  # nothing graded: no score, not a zero
            del entry["score"]
        tests.append(entry)
    auto_max = sum(t["points"] for t in result["tests"] if t["kind"] == "auto")
    manual_max = sum(t["points"] for t in result["tests"] if t["kind"] == "manual")
    lines = [(f"Not graded yet (grader error), {_num(auto_max)} autograded points" if failed
              else f"Autograded score: {_num(result['score'])} / {_num(auto_max)}")
             + (f" (plus {_num(manual_max)} point{'' if manual_max == 1 else 's'} graded by hand, pending)"
                if manual_max else "") + "."]
    if result.get("fatal"):
        lines.append(result["fatal"])
    for p in result.get("problems", []):
        if p != result.get("fatal"):
            lines.append("- " + p)
    return {
        **({} if failed else {"score": _num(result["score"])}),
        "execution_time": int(round(result.get("execution_time", 0.0))),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "student": result["student"],
            "assignment": result["assignment"],
            "fingerprint": result["fingerprint"],
            "grader_error": failed,
            **({"grader_error_detail": str(result.get("grader_detail", ""))} if failed else {}),
            "problems": list(result.get("problems", [])),
            "isolation": str(result.get("isolation") or ""),
        },
    }


def max_points(doc: Mapping) -> tuple[float, float]:
    """``(autograded, manually graded)`` maximum points of a results.json document."""
    totals = {"auto": 0.0, "manual": 0.0}
    for t in doc.get("tests", []):
        kind = t.get("extra_data", {}).get("kind")
        if kind in totals:
            totals[kind] += float(t.get("max_score", 0))
    return totals["auto"], totals["manual"]


def isolation_mode(isolation: str) -> str:
    """The mode part of an isolation description (``"user namespaces: mount+pid..."`` -> ``"user namespaces"``)."""
    return isolation.split(":", 1)[0].strip()


def read_results(path: Path) -> dict | None:
    """A results.json written by this grader, or None when missing or unreadable."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("extra_data"), dict):
        return None
    return doc


def grades_row(doc: Mapping) -> dict:
    """One grades.csv row from a results.json document.

    ``score`` and ``max_score`` are autograded points, ``manual_max`` the points graded by hand. Per-test
    columns hold the points earned; manually graded cells pending review are empty, and so are the score
    and every test of a grader error (nothing was graded).
    """
    extra = doc["extra_data"]
    auto_max, manual_max = max_points(doc)
    row = {
        "student": extra["student"],
        "assignment": extra["assignment"],
        "score": doc.get("score", ""),
        "max_score": _num(auto_max),
        "manual_max": _num(manual_max),
    }
    for t in doc.get("tests", []):
        te = t.get("extra_data", {})
        gid = te.get("grade_id", t.get("name", ""))
        row[gid] = t.get("score", "") if te.get("status") in ("passed", "failed") else ""
    row[GRADES_ISOLATION_COLUMN] = isolation_mode(str(extra.get("isolation") or ""))
    return row


def write_grades_csv(path: Path, rows: Iterable[Mapping], grade_ids: list[str]) -> None:
    """Write grades.csv atomically: student, assignment, score, max_score (autograded), manual_max, one column
    per grade_id, isolation."""
    buf = io.StringIO()
    columns = [*GRADES_FIXED_COLUMNS, *grade_ids, GRADES_ISOLATION_COLUMN]
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: str(r["student"])):
        writer.writerow({c: row.get(c, "") for c in columns})
    atomic_write(path, buf.getvalue())
