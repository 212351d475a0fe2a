"""Steps 1-2 of a release: nbgrader's ``GenerateAssignment`` in-process, then deterministic notebook JSON."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from autograder.assignments import nbgrader_settings
from autograder.release.errors import ReleaseError
from autograder.release.library import IGNORED_FILES

__all__ = [
    "generate_notebooks",
    "normalize_notebook",
]


_KEPT_NB_METADATA = ("kernelspec", "language_info")


_KEPT_LANGUAGE_INFO = ("name", "file_extension", "mimetype")


def generate_notebooks(name: str, source_dir: Path, out_dir: Path) -> Path:
    """Run nbgrader's GenerateAssignment on ``source_dir`` (one assignment folder) into ``out_dir``.

    Parameters
    ----------
    name : str
        Assignment id.
    source_dir : Path
        ``source/<name>/`` of the course.
    out_dir : Path
        Folder to create; receives the released notebooks and the other files of ``source_dir``.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix=f"release-{name}-") as tmp:
        root = Path(tmp)
        # A private course directory: nbgrader reads source/<name>/ and writes release/<name>/ under it.
        shutil.copytree(source_dir, root / "source" / name, ignore=IGNORED_FILES)
        cfg = Config()
        for section, values in nbgrader_settings(root).items():
            for key, value in values.items():
                setattr(getattr(cfg, section), key, value)
        cfg.CourseDirectory.assignment_id = name
        cfg.GenerateAssignment.no_database = True
        cfg.SaveCells.enabled = False
        cfg.BaseConverter.force = True
        log = logging.getLogger(f"autograder.release.{name}")
        log.setLevel(logging.WARNING)
        coursedir = CourseDirectory(config=cfg, log=log)
        converter = GenerateAssignment(coursedir=coursedir, config=cfg, log=log)
        try:
            converter.start()
        except Exception as exc:  # nbgrader raises NbGraderException, RuntimeError, ValueError...
            raise ReleaseError(f"nbgrader could not generate {name!r} from {source_dir}: {exc}") from exc
        shutil.copytree(root / "release" / name, out_dir)
    for path in sorted(out_dir.rglob("*.ipynb")):
        normalize_notebook(path)
    for path in sorted(out_dir.rglob("*")):
        if path.is_file():
            path.chmod(0o644)
    return out_dir


def normalize_notebook(path: Path) -> None:
    """Rewrite a released notebook deterministically.

    Keeps only ``kernelspec`` and the stable part of ``language_info`` in the notebook metadata, clears
    outputs and execution counts (nbgrader does already), and writes sorted-key JSON with one-space
    indentation and a final newline, as Jupyter does.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {})
    kept = {k: meta[k] for k in _KEPT_NB_METADATA if k in meta}
    if "language_info" in kept:
        kept["language_info"] = {k: v for k, v in kept["language_info"].items() if k in _KEPT_LANGUAGE_INFO}
    nb["metadata"] = kept
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
        cell.get("metadata", {}).pop("collapsed", None)
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
