"""Generate the bundled example submissions from ``source/`` and ``release/``.

For each assignment with a source notebook and a release, writes the nbgrader layout
``autograder/examples/<assignment>/<student>/<assignment>/<notebook>.ipynb`` for four students:

* ``solution``  -- the released notebook with every solution cell taken from the source
  (solution markers removed): full marks;
* ``blank``     -- the released notebook as handed out: 0 points;
* ``partial``   -- solutions for the first half of the solution cells only;
* ``cheater``   -- no real solutions, plus the tricks that fool other graders: an AST
  transformer that turns ``assert`` into ``pass``, an input transformer that blanks every later
  cell, numpy comparisons patched to always agree, test cells emptied and their points raised,
  and attempts to read the source notebook and the gradebook: scores what its code deserves (0).

Test cells are copied from the release (visible tests only), so the examples contain no hidden
tests. Generation is deterministic; ``--check`` lists drift against the committed examples.

Usage::

    python -m autograder.examples.make_examples [ASSIGNMENT...] [--check]

then, e.g., ``python -m autograder grade fc_nets autograder/examples/fc_nets``.
"""

from __future__ import annotations

import argparse
import copy
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

__all__ = ["STUDENTS", "build_examples", "check_examples", "example_notebooks", "main"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STUDENTS = ("solution", "blank", "partial", "cheater")

_CHEATS = [
    "# Tricks that fool graders which run tests inside the student's kernel.\n"
    "import ast\n\n\n"
    "class _NoAsserts(ast.NodeTransformer):\n"
    "    def visit_Assert(self, node):\n"
    "        return ast.Pass()\n\n\n"
    "get_ipython().ast_transformers.append(_NoAsserts())",
    "import numpy as np\n\n"
    "np.allclose = lambda *args, **kwargs: True\n"
    "np.array_equal = lambda *args, **kwargs: True\n"
    "np.testing.assert_allclose = lambda *args, **kwargs: None",
    "import glob\n\n"
    "for pattern in ('../../../source/**/*.ipynb', '../../../gradebook.db', '../../../submitted/*'):\n"
    "    for path in glob.glob(pattern, recursive=True):\n"
    "        print(path, open(path, 'rb').read(200))",
    "# Blank every cell after this one (test cells included).\n"
    "get_ipython().input_transformers_post.append(lambda lines: [])",
]


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")).rstrip("\n")


def _nbg(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def example_notebooks(source_nb, release_nb) -> dict[str, nbformat.NotebookNode]:
    """The four example notebooks of one assignment (see the module docstring)."""
    solutions = {_nbg(c).get("grade_id"): c.source for c in source_nb.cells if _nbg(c).get("solution")}
    sol_ids = [_nbg(c)["grade_id"] for c in release_nb.cells if _nbg(c).get("solution")]
    first_half = set(sol_ids[: len(sol_ids) // 2])

    def filled(ids: set[str]):
        nb = copy.deepcopy(release_nb)
        for cell in nb.cells:
            gid = _nbg(cell).get("grade_id")
            if _nbg(cell).get("solution") and gid in ids and gid in solutions:
                cell.source = _strip_markers(solutions[gid])
        return nb

    cheater = copy.deepcopy(release_nb)
    for cell in cheater.cells:
        meta = _nbg(cell)
        if meta.get("grade") and not meta.get("solution"):
            meta["points"] = 100
            cell.source = "pass"
    setup = next((i for i, c in enumerate(cheater.cells) if c.cell_type == "code"), 0)
    for k, src in enumerate(_CHEATS):
        cell = nbformat.v4.new_code_cell(src)
        cell.id = f"cheat-{k}"
        cheater.cells.insert(setup + 1 + k, cell)
    return {"solution": filled(set(sol_ids)), "blank": copy.deepcopy(release_nb),
            "partial": filled(first_half), "cheater": cheater}


def _assignments(course: Path, names: list[str] | None) -> list[str]:
    found = sorted(p.name for p in (course / "release").iterdir()
                   if p.is_dir() and (course / "source" / p.name).is_dir()) if (course / "release").is_dir() else []
    if names:
        unknown = [n for n in names if n not in found]
        if unknown:
            raise SystemExit(f"error: no source+release for {', '.join(unknown)}; available: {', '.join(found)}")
        return list(names)
    return found


def build_examples(assignment: str, course: Path, dest: Path) -> list[Path]:
    """Write the examples of ``assignment`` under ``dest/<assignment>/``; returns the files written."""
    rel = course / "release" / assignment
    notebooks = sorted(rel.glob("*.ipynb"))
    if len(notebooks) != 1:
        raise SystemExit(f"error: expected one notebook in {rel}, found {len(notebooks)}")
    name = notebooks[0].name
    source_nb = nbformat.read(course / "source" / assignment / name, as_version=4)
    release_nb = nbformat.read(notebooks[0], as_version=4)
    written = []
    for student, nb in example_notebooks(source_nb, release_nb).items():
        path = dest / assignment / student / assignment / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(path)
    return written


def check_examples(course: Path = REPO, examples: Path = HERE, names: list[str] | None = None) -> list[str]:
    """Differences between the committed examples and freshly generated ones (empty when up to date)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in _assignments(course, names):
            for path in build_examples(assignment, course, Path(tmp)):
                rel = path.relative_to(tmp)
                have = examples / rel
                if not have.is_file():
                    problems.append(f"{rel} is missing")
                elif not filecmp.cmp(path, have, shallow=False):
                    problems.append(f"{rel} differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.examples.make_examples",
                                     description="Generate the bundled example submissions.")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every released one")
    parser.add_argument("--check", action="store_true", help="only list drift; exit 1 when there is some")
    args = parser.parse_args(argv)
    if args.check:
        problems = check_examples(names=args.assignments or None)
        print("\n".join(problems) or "examples are up to date")
        return 1 if problems else 0
    for assignment in _assignments(REPO, args.assignments or None):
        shutil.rmtree(HERE / assignment, ignore_errors=True)
        for path in build_examples(assignment, REPO, HERE):
            print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
