"""Write grades into the course's nbgrader gradebook (``gradebook.db``).

Like ``nbgrader autograde``'s ``SaveAutoGrades``: the student and the submission are
created if needed, each grade cell gets ``auto_score`` (None for manually graded cells,
which are flagged ``needs_manual_grade`` so formgrader lists them), and a manual score a
grader already gave is kept. Only the main process writes (one SQLite writer), so
parallel grading cannot lose or interleave gradebook rows. ``nbgrader export`` and
formgrader read the result as usual.

The assignment's notebook and cells are normally in the gradebook already (the release
command runs nbgrader's ``generate_assignment``); if they are missing they are recorded
from the source notebook with nbgrader's own ``SaveCells`` preprocessor.
"""

from __future__ import annotations

import contextlib
import os
import sysconfig
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat

__all__ = ["GradebookError", "GradebookWriter", "course_settings", "interpreter_scripts_on_path"]


class GradebookError(RuntimeError):
    """The gradebook cannot take this assignment's grades."""


def course_settings(course_dir: Path) -> tuple[str, str]:
    """The gradebook URL and course id of an nbgrader course folder.

    Reads ``CourseDirectory.db_url`` / ``course_id`` from ``nbgrader_config.py`` when it sets
    them; defaults are nbgrader's (``sqlite:///<course>/gradebook.db``, ``default_course``).
    """
    course_dir = Path(course_dir).resolve()
    db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    course_id = "default_course"
    cfg_file = course_dir / "nbgrader_config.py"
    if cfg_file.is_file():
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader(cfg_file.name, path=str(course_dir)).load_config()
        cd = cfg.get("CourseDirectory", {})
        db_url = cd.get("db_url") or db_url
        course_id = cd.get("course_id") or course_id
    return db_url, course_id


@contextlib.contextmanager
def interpreter_scripts_on_path() -> Iterator[None]:
    """Put the running interpreter's script folder (e.g. ``.venv/bin``) first on ``PATH`` meanwhile.

    nbgrader runs the ``alembic`` command by name when it creates a gradebook; from a virtual
    environment that was not activated (``.venv/bin/python -m autograder ...``) that command is
    not on ``PATH`` and gradebook creation fails with ``No such file or directory: 'alembic'``.
    ``PATH`` is restored on exit.
    """
    scripts = sysconfig.get_path("scripts")  # <sys.prefix>/bin: where this environment's commands are
    old = os.environ.get("PATH")
    parts = (old or os.defpath).split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([scripts, *(p for p in parts if p != scripts)])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old


class GradebookWriter:
    """Record graded submissions of one assignment in the nbgrader gradebook.

    Parameters
    ----------
    course_dir : Path
        The nbgrader course folder.
    assignment : str
        Assignment name.
    source_notebook : Path
        The instructor's source notebook (its stem is the gradebook's notebook name).
    db_url : str, optional
        Overrides the course's gradebook URL.

    Use as a context manager; :meth:`record` one result dict at a time.
    """

    def __init__(self, course_dir: Path, assignment: str, source_notebook: Path, *,
                 db_url: str | None = None):
        self.course_dir = Path(course_dir)
        self.assignment = assignment
        self.source_notebook = Path(source_notebook)
        self.notebook_id = self.source_notebook.stem
        url, self.course_id = course_settings(self.course_dir)
        self.db_url = db_url or url
        self.gb = None

    def __enter__(self) -> GradebookWriter:
        from nbgrader.api import Gradebook

        with interpreter_scripts_on_path():  # nbgrader calls `alembic` by name for a new gradebook
            self.gb = Gradebook(self.db_url, course_id=self.course_id)
            try:
                self._ensure_assignment()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.gb is not None:
            self.gb.close()
            self.gb = None

    def _ensure_assignment(self) -> None:
        from nbgrader.api import MissingEntry
        from nbgrader.preprocessors import SaveCells

        gb = self.gb
        gb.update_or_create_assignment(self.assignment, course_id=self.course_id)
        try:
            gb.find_notebook(self.notebook_id, self.assignment)
            return
        except MissingEntry:
            pass
        nb = nbformat.read(self.source_notebook, as_version=4)
        resources = {"nbgrader": {"notebook": self.notebook_id, "assignment": self.assignment,
                                  "db_url": self.db_url}}
        SaveCells().preprocess(nb, resources)

    def record(self, result: Mapping) -> None:
        """Save one student's autograded scores.

        Parameters
        ----------
        result : mapping
            A result dict from :func:`autograder.pipeline.grade_submission`.

        Raises
        ------
        GradebookError
            A graded cell of the result is not in the gradebook (the source notebook changed
            after release; run ``python -m autograder release`` again).
        """
        try:
            with warnings.catch_warnings():
                # nbgrader 0.9's add_submission trips SQLAlchemy 2's autoflush warnings; harmless.
                warnings.filterwarnings("ignore", message=".*not in session.*")
                self._record(result)
        except GradebookError:
            self.gb.db.rollback()
            raise
        except Exception as exc:  # database locked, disk full, schema mismatch...
            self.gb.db.rollback()
            raise GradebookError(f"could not write {result['student']}'s grades to {self.db_url}: "
                                 f"{type(exc).__name__}: {exc}") from exc

    def _record(self, result: Mapping) -> None:
        from nbgrader.api import MissingEntry

        gb = self.gb
        student = result["student"]
        gb.update_or_create_student(student)
        # No timestamp: the grading time is not the submission time, and nbgrader would
        # compute late penalties from it.
        gb.update_or_create_submission(self.assignment, student)
        for t in result["tests"]:
            try:
                grade = gb.find_grade(t["grade_id"], self.notebook_id, self.assignment, student)
            except MissingEntry as exc:
                raise GradebookError(
                    f"grade cell {t['grade_id']!r} of {self.assignment}/{self.notebook_id} is not in the "
                    f"gradebook {self.db_url}; the source notebook changed after it was released: run "
                    f"'python -m autograder release {self.assignment}' and grade again") from exc
            grade.auto_score = float(t["score"]) if t["kind"] == "auto" else None
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        gb.db.commit()
