"""A corpus of independently written correct solutions, and the notebooks a student would hand in with them.

``tests/corpus/<assignment>/<submission>.py`` holds one submission: the solution cells of every graded
exercise of the assignment as a student writes them, in the percent format (``# %% <grade_id>`` starts a
cell; the cell ``# %% given`` mirrors the release's imports so that the file is valid Python on its own and
is not pasted). Each submission carries one variant of every function, written the way real students'
code differs (the module docstring of each file says which course's convention it mimics and how it
differs from the reference solution). :func:`corpus_notebook` pastes the cells into the released notebook's
solution cells as a student would: the release cell's given import lines (before its first ``def`` or
``class``) stay, the rest of the cell is the student's.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "corpus"
_CELL = re.compile(r"^# %% (\S+)[ \t]*$", re.M)
_DEFINITION = re.compile(r"^(def|class) ", re.M)


def corpus_files(assignment: str) -> dict[str, Path]:
    """The corpus submissions of ``assignment``: name -> file."""
    return {p.stem: p for p in sorted((CORPUS / assignment).glob("*.py"))}


def read_cells(path: Path) -> dict[str, str]:
    """The cells of a corpus file, grade_id -> source (the ``given`` cell left out)."""
    text = path.read_text()
    heads = list(_CELL.finditer(text))
    if not heads:
        raise ValueError(f"{path}: no '# %% <grade_id>' cell header")
    cells = {}
    for head, nxt in zip(heads, [*heads[1:], None]):
        body = text[head.end():nxt.start() if nxt is not None else len(text)].strip("\n") + "\n"
        if head.group(1) in cells:
            raise ValueError(f"{path}: cell {head.group(1)!r} appears twice")
        cells[head.group(1)] = body
    cells.pop("given", None)
    return cells


def _nbg(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def graded_code_solutions(nb: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the notebook's code solution cells (the functions and classes a student writes)."""
    return [_nbg(c)["grade_id"] for c in nb.cells if _nbg(c).get("solution") and c.cell_type == "code"]


def corpus_notebook(release: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """The released notebook with every code solution cell replaced by the corpus file's cell.

    Raises
    ------
    ValueError
        When the file misses a code solution cell of the release or has a cell the release does not.
    """
    cells = read_cells(path)
    wanted = graded_code_solutions(release)
    missing, extra = sorted(set(wanted) - set(cells)), sorted(set(cells) - set(wanted))
    if missing or extra:
        raise ValueError(f"{path.name}: cells missing {missing}, not in the release {extra}")
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = _nbg(cell).get("grade_id")
        if gid in cells and cell.cell_type == "code":
            first = _DEFINITION.search(cell.source)
            given = cell.source[:first.start()] if first is not None else ""
            cell.source = given + cells[gid]
    return nb
