"""The ``run`` check (``--run``): the source notebook's own solutions, graded by the real pipeline, pass its tests."""

from __future__ import annotations

from pathlib import Path

from autograder.validate.structure import Problem, source_path

__all__ = [
    "solution_problems",
]


def solution_problems(name: str, course_dir: Path, *, timeout: float = 600.0) -> list[Problem]:
    """Grade the source notebook itself as a submission: every autograded test must pass.

    Runs the instructor's notebook (trusted) in a grading kernel, with the release's files beside it.
    """
    from autograder.grade.job import GradingJob, GradingOptions
    from autograder.grade.pipeline import grade_submission
    from autograder.grade.submissions import read_tree_files

    course_dir = Path(course_dir)
    path = source_path(name, course_dir)
    release_dir = course_dir / "release" / name
    if not release_dir.is_dir():
        return [Problem(name, "run", f"release/{name}", "missing: the solutions run next to the release's "
                                                          f"files; run 'python -m autograder release {name}'")]
    data = path.read_bytes()
    job = GradingJob(student="source", assignment=name, origin=str(path), submission=data, problems=[],
                     source_notebook=data, release_dir=str(release_dir), notebook_name=path.name,
                     fingerprint="0" * 64,
                     options=GradingOptions(submission_timeout=timeout, trusted_notebooks=True,
                                            hide=(str(course_dir / "grading-out"),)),
                     release_files=read_tree_files(release_dir, skip_suffixes=(".ipynb",)))
    result = grade_submission(job)
    rel = path.relative_to(course_dir).as_posix() if path.is_relative_to(course_dir) else str(path)
    if result.get("grader_error"):
        return [Problem(name, "run", rel, f"could not be graded: {result.get('grader_detail')}")]
    return [Problem(name, "run", f"{rel}, {t['grade_id']}",
                    f"the notebook's own solutions fail this test: {t['message']}")
            for t in result["tests"] if t["kind"] == "auto" and t["status"] != "passed"]
