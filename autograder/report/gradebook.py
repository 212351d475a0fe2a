"""Write grades into the course's nbgrader gradebook (``gradebook.db``).

Like ``nbgrader autograde``'s ``SaveAutoGrades``: the student and the submission are
created if needed, each grade cell gets ``auto_score`` (None for manually graded cells,
which are flagged ``needs_manual_grade`` so formgrader lists them), and a manual score a
grader already gave is kept. Only the main process writes (one SQLite writer), so
parallel grading cannot lose or interleave gradebook rows. ``nbgrader export`` and
formgrader read the result as usual.

**The gradebook follows the source notebook.** At the start of every grading run the assignment's
notebook and cells are synced from the source notebook (:meth:`GradebookWriter.sync_cells`): cells
added since the last run are created (with an empty grade for every earlier submission), removed
cells are deleted with their grades, and changed points become the cells' new ``max_score``; every
other recorded grade, automatic or manual, is kept. nbgrader's own ``SaveCells`` refuses to add or
remove cells once there are submissions ("Cannot add or remove cells ... because there are
submissions"); this does the adding and removing itself, then lets ``SaveCells`` update the rest.
"""

from __future__ import annotations

import contextlib
import os
import sysconfig
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat

from autograder.errors import AutograderError

__all__ = ["GradebookError", "GradebookWriter", "course_settings", "interpreter_scripts_on_path"]


class GradebookError(AutograderError, RuntimeError):
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


def _cell_info(kind: str, cell) -> dict:
    """The gradebook fields of a new cell of ``kind`` (as nbgrader's ``SaveCells`` records them)."""
    from nbgrader import utils

    if kind in ("grade", "task"):
        return {"max_score": float(cell.metadata.nbgrader["points"]), "cell_type": cell.cell_type}
    if kind == "source":
        return {"cell_type": cell.cell_type, "locked": utils.is_locked(cell), "source": cell.source,
                "checksum": cell.metadata.nbgrader.get("checksum")}
    return {}


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
        self.gb: Any = None  # nbgrader.api.Gradebook while open (nbgrader ships no type information)

    @property
    def _open_gb(self) -> Any:
        """The open gradebook; a clear error when used outside ``with GradebookWriter(...)``."""
        if self.gb is None:
            raise GradebookError(f"the gradebook {self.db_url} is not open: use GradebookWriter "
                                 "as a context manager (`with GradebookWriter(...) as writer:`)")
        return self.gb

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
        self._open_gb.update_or_create_assignment(self.assignment, course_id=self.course_id)
        self.sync_cells()

    def sync_cells(self) -> dict[str, list[str]]:
        """Make the gradebook's notebook and cells those of the source notebook, keeping recorded grades.

        Returns
        -------
        dict
            ``{"added": [...], "removed": [...]}``: names of the grade, solution, task and source cells
            added to or removed from an assignment that already had submissions (empty lists otherwise).
        """
        from nbgrader import utils
        from nbgrader.api import Comment, Grade, MissingEntry
        from nbgrader.preprocessors import SaveCells

        gb = self._open_gb
        nb = nbformat.read(self.source_notebook, as_version=4)
        resources = {"nbgrader": {"notebook": self.notebook_id, "assignment": self.assignment,
                                  "db_url": self.db_url}}
        changes: dict[str, list[str]] = {"added": [], "removed": []}
        try:
            notebook = gb.find_notebook(self.notebook_id, self.assignment)
        except MissingEntry:
            notebook = None
        if notebook is not None and notebook.submissions:
            # What SaveCells records, by kind: cell name -> the cell.
            wanted = {kind: {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if test(c)}
                      for kind, test in (("grade", utils.is_grade), ("solution", utils.is_solution),
                                         ("task", utils.is_task))}
            wanted["source"] = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
                                if utils.is_grade(c) or utils.is_solution(c) or utils.is_locked(c)
                                or utils.is_task(c)}
            have = {"grade": notebook.grade_cells, "solution": notebook.solution_cells,
                    "task": notebook.task_cells, "source": notebook.source_cells}
            for kind, cells in have.items():
                for cell in list(cells):
                    if cell.name not in wanted[kind]:
                        for row in [*(getattr(cell, "grades", None) or []), *(getattr(cell, "comments", None) or [])]:
                            gb.db.delete(row)
                        gb.db.delete(cell)
                        changes["removed"].append(cell.name)
            gb.db.commit()
            create = {"grade": gb.update_or_create_grade_cell, "solution": gb.update_or_create_solution_cell,
                      "task": gb.update_or_create_task_cell, "source": gb.update_or_create_source_cell}
            for kind, cells in wanted.items():
                known = {c.name for c in have[kind]}
                for name, cell in cells.items():
                    if name in known:
                        continue
                    row = create[kind](name, self.notebook_id, self.assignment, **_cell_info(kind, cell))
                    for submitted in notebook.submissions:  # what add_submission gives a new submission
                        if kind in ("grade", "task"):
                            gb.db.add(Grade(cell_id=row.id, notebook=submitted))
                        if kind in ("solution", "task"):
                            gb.db.add(Comment(cell_id=row.id, notebook=submitted))
                    changes["added"].append(name)
            gb.db.commit()
        # Cells now match: nbgrader's SaveCells updates points, sources and checksums (or creates the notebook).
        SaveCells().preprocess(nb, resources)
        gb.db.expire_all()
        return changes

    def record(self, result: Mapping) -> None:
        """Save one student's autograded scores.

        Parameters
        ----------
        result : mapping
            A result dict from :func:`autograder.grade.pipeline.grade_submission`.

        Raises
        ------
        GradebookError
            A graded cell of the result is not in the gradebook (the source notebook changed
            during this run; grade again: each run syncs the gradebook first).
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

        gb = self._open_gb
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
                    f"gradebook {self.db_url}; the source notebook changed while grading: run the same "
                    "grade command again (each run first syncs the gradebook with the source notebook)") from exc
            grade.auto_score = float(t["score"]) if t["kind"] == "auto" else None
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        gb.db.commit()
