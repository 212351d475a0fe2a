"""Build the student releases: ``release/<name>/`` from ``source/<name>/`` plus a stripped ``course_lib``.

:func:`release` runs these steps for each assignment, in a temporary folder first so that a failure
leaves the committed release untouched:

1. :func:`generate_notebooks` -- nbgrader's ``GenerateAssignment`` converter, in-process, with the
   course settings of :func:`autograder.assignments.nbgrader_settings` and no configuration files
   (nothing from ``~/.jupyter``), no gradebook: solutions become :data:`~autograder.assignments.CODE_STUB`,
   hidden tests disappear, outputs are cleared, test cells are locked and checksummed.
2. :func:`normalize_notebook` -- drop volatile metadata and write canonical JSON, so that building twice
   gives byte-identical files.
3. :func:`strip_library` -- copy ``course_lib`` without the solution regions that name this assignment
   (``# BEGIN SOLUTION <assignment> ...`` / ``# END SOLUTION`` lines in the library's modules).
4. :func:`write_student_files` -- ``requirements.txt`` and ``README.md``.

:func:`check_release` rebuilds everything into a temporary folder and lists the differences with the
committed ``release/``.

Command line: ``python -m autograder release [--check] [NAME...]``.
"""

from __future__ import annotations

import ast
import builtins
import filecmp
import json
import logging
import re
import shutil
import symtable
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignments import assignment_names, get_assignment, nbgrader_settings
from autograder.errors import AutograderError

__all__ = [
    "ReleaseError",
    "SourceNotFoundError",
    "LIBRARY",
    "REQUIREMENTS",
    "StrippedLibrary",
    "Region",
    "BEGIN_MARKER",
    "END_MARKER",
    "library_regions",
    "strip_regions",
    "top_level_names",
    "release",
    "build_release",
    "generate_notebooks",
    "normalize_notebook",
    "strip_library",
    "write_student_files",
    "check_release",
]

#: The package shipped (stripped) next to every released notebook.
LIBRARY = "course_lib"

#: ``requirements.txt`` of every release: JupyterLab to open the notebook, what the notebook and the shipped
#: library import, and what ``python -m course_lib.check`` runs the notebook with (a fresh venv built from
#: this file alone opens and runs the release: tests/test_release_student_env.py).
REQUIREMENTS = (
    "numpy>=1.24",
    "matplotlib>=3.6",
    "tqdm>=4.60",
    "jupyterlab>=4.2",
    "nbformat>=5.9",
    "nbclient>=0.8",
    "ipykernel>=6.25",
)

# Files and folders never shipped from course_lib.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache")

# Notebook metadata kept in a release; everything else (kernel versions, editor state) is dropped.
_KEPT_NB_METADATA = ("kernelspec", "language_info")
_KEPT_LANGUAGE_INFO = ("name", "file_extension", "mimetype")


class ReleaseError(AutograderError, ValueError):
    """A release cannot be built: missing source, unreadable solution markers, unparsable library module."""


class SourceNotFoundError(ReleaseError, FileNotFoundError):
    """``source/<name>/<notebook>.ipynb`` does not exist."""


# ---------------------------------------------------------------------------------------------------
# Step 1-2: notebooks
# ---------------------------------------------------------------------------------------------------

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
        shutil.copytree(source_dir, root / "source" / name, ignore=_IGNORED)
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


# ---------------------------------------------------------------------------------------------------
# Step 3: the stripped library
# ---------------------------------------------------------------------------------------------------

#: Opens a solution region of a ``course_lib`` module; the names that follow are the assignments whose
#: releases must not ship the region (see :func:`library_regions`).
BEGIN_MARKER = "# BEGIN SOLUTION"
#: Closes the innermost open solution region.
END_MARKER = "# END SOLUTION"

_BEGIN_RE = re.compile(r"^[ \t]*# BEGIN SOLUTION(?P<tags>(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*$")
_END_RE = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")


@dataclass(frozen=True)
class Region:
    """A solution region of a library module: lines ``start`` to ``end`` (1-based, the marker lines).

    Attributes
    ----------
    start, end : int
        Line numbers of the ``# BEGIN SOLUTION`` and ``# END SOLUTION`` markers.
    tags : frozenset of str
        The assignments whose releases do not ship the region.
    """

    start: int
    end: int
    tags: frozenset[str]


@dataclass
class StrippedLibrary:
    """What :func:`strip_library` shipped and removed.

    Attributes
    ----------
    shipped : list of str
        Modules written, e.g. ``course_lib.layers``.
    omitted : dict of str -> str
        Modules not shipped, with the reason.
    removed : dict of str -> list of str
        Top-level names removed from each shipped module.
    """

    shipped: list[str] = field(default_factory=list)
    omitted: dict[str, str] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)


def _module_name(package: str, rel: Path) -> str:
    parts = [package, *rel.with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def library_regions(text: str, where: str = "<module>") -> list[Region]:
    """The solution regions of a library module's text, outer regions before the ones they contain.

    A region runs from a ``# BEGIN SOLUTION name ...`` line to the matching ``# END SOLUTION`` line (regions
    nest); ``name ...`` are the assignments whose releases must not ship it: the assignment whose exercise
    the code answers, and any other whose students must not see it (e.g. assignments released before it).

    Raises
    ------
    ReleaseError
        For an unbalanced marker or a region that names no assignment.
    """
    regions: list[Region] = []
    open_: list[tuple[int, frozenset[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        begin = _BEGIN_RE.match(line)
        if begin:
            tags = frozenset(begin.group("tags").split())
            if not tags:
                raise ReleaseError(f"{where}:{number}: '{BEGIN_MARKER}' names no assignment; list the "
                                   f"assignments whose releases must not ship it, e.g. '{BEGIN_MARKER} fc_nets'.")
            open_.append((number, tags))
        elif _END_RE.match(line):
            if not open_:
                raise ReleaseError(f"{where}:{number}: '{END_MARKER}' without a '{BEGIN_MARKER}' above it.")
            start, tags = open_.pop()
            regions.append(Region(start, number, tags))
        elif BEGIN_MARKER in line or END_MARKER in line:
            raise ReleaseError(f"{where}:{number}: a solution marker must be alone on its line "
                               f"('{BEGIN_MARKER} name ...' or '{END_MARKER}').")
    if open_:
        raise ReleaseError(f"{where}:{open_[-1][0]}: '{BEGIN_MARKER}' is never closed; add '{END_MARKER}'.")
    return sorted(regions, key=lambda r: r.start)


def strip_regions(text: str, assignment: str, where: str = "<module>") -> str:
    """``text`` without the regions that name ``assignment`` and without every marker line.

    Runs of more than two blank lines left behind are shortened to two; the text ends with one newline.
    """
    lines = text.splitlines(keepends=True)
    drop = [False] * len(lines)
    for region in library_regions(text, where):
        span = range(region.start - 1, region.end) if assignment in region.tags else (region.start - 1,
                                                                                       region.end - 1)
        for i in span:
            drop[i] = True
    kept = "".join(line for line, gone in zip(lines, drop) if not gone)
    return re.sub(r"\n{4,}", "\n\n\n", kept).rstrip("\n") + "\n"


def top_level_names(tree: ast.Module) -> set[str]:
    """Names bound at module level (definitions, assignments, imports)."""
    out: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        else:
            out |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return out


def _library_import(stmt: ast.ImportFrom, module: str, is_package: bool, package: str) -> str | None:
    """Absolute module of a top-level ``from X import ...`` inside ``module``, or None outside ``package``."""
    if stmt.level == 0:
        target = stmt.module or ""
    else:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (stmt.level - 1)]
        target = ".".join(base + ([stmt.module] if stmt.module else []))
    return target if target == package or target.startswith(package + ".") else None


def _unresolved(text: str, tree: ast.Module, where: str) -> set[str]:
    """Global names the module's code uses (at any depth) that it neither defines nor imports."""
    defined = top_level_names(tree) | set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__"}
    used: set[str] = set()
    tables = [symtable.symtable(text, where, "exec")]
    while tables:
        table = tables.pop()
        used |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
        tables += table.get_children()
    return used - defined


def _drop_unexported(text: str, tree: ast.Module, where: str) -> tuple[str, list[str]]:
    """Remove ``__all__`` entries naming what the module no longer defines (one entry per line)."""
    defined = top_level_names(tree)
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and [ast.unparse(t) for t in stmt.targets] == ["__all__"]
                and isinstance(stmt.value, (ast.List, ast.Tuple))):
            gone = [e for e in stmt.value.elts if isinstance(e, ast.Constant) and e.value not in defined]
            lines = text.splitlines(keepends=True)
            for e in gone:
                if any(o is not e and o.lineno == e.lineno for o in stmt.value.elts):
                    raise ReleaseError(f"{where}:{e.lineno}: put each __all__ entry on its own line, so that "
                                       "the release can drop the names it strips.")
            for e in sorted(gone, key=lambda e: -e.lineno):
                del lines[e.lineno - 1]
            return "".join(lines), [str(e.value) for e in gone]
    return text, []


@dataclass
class _Stripped:
    text: str
    tree: ast.Module
    removed: list[str]
    changed: bool


def _strip_module(text: str, assignment: str, where: str) -> _Stripped:
    before = top_level_names(ast.parse(text, filename=where))
    out = strip_regions(text, assignment, where)
    try:
        tree = ast.parse(out, filename=where)
    except SyntaxError as exc:
        raise ReleaseError(f"{where}: without its solution regions for {assignment!r} the module is not valid "
                           f"Python ({exc.msg}, line {exc.lineno} of the stripped text); a region must hold "
                           "whole statements (or whole entries of a list or dict).") from exc
    out, unexported = _drop_unexported(out, tree, where)
    tree = ast.parse(out, filename=where)
    removed = sorted(before - top_level_names(tree))
    return _Stripped(out, tree, removed, out != text or bool(unexported))


def _has_code(tree: ast.Module) -> bool:
    """True when the module defines a function, class or constant besides ``__all__`` and imports."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, ast.Assign) and [ast.unparse(t) for t in stmt.targets] == ["__all__"]:
            continue
        return True
    return False


def strip_library(package_dir: Path, assignment: str, out_dir: Path) -> StrippedLibrary:
    """Copy the library ``package_dir`` to ``out_dir`` for the release of ``assignment``.

    Every solution region naming ``assignment`` (:func:`library_regions`) is cut out, every marker line
    goes, and ``__all__`` loses the names that are no longer defined. A module is omitted when nothing
    but imports is left, or when its code uses a name that no longer exists (an import from a stripped
    or omitted module, or a global it used from a removed region); modules importing from an omitted one
    are then examined again, until nothing changes. Imports inside functions are left alone: they fail
    only when called.

    Parameters
    ----------
    package_dir : Path
        The ``course_lib`` source folder.
    assignment : str
        The assignment being released.
    out_dir : Path
        Destination package folder (created).

    Returns
    -------
    StrippedLibrary

    Raises
    ------
    ReleaseError
        For unbalanced markers, or regions whose removal leaves invalid Python.
    """
    package = package_dir.name
    modules: dict[str, tuple[Path, _Stripped]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir)
        if any(part in ("__pycache__", ".ipynb_checkpoints") for part in rel.parts):
            continue
        where = f"{package}/{rel.as_posix()}"
        text = path.read_text(encoding="utf-8")
        try:
            ast.parse(text, filename=where)
        except SyntaxError as exc:
            raise ReleaseError(f"cannot parse {where}: {exc}; fix the module before releasing.") from exc
        modules[_module_name(package, rel)] = (rel, _strip_module(text, assignment, where))

    omitted: dict[str, str] = {}
    for name, (rel, mod) in modules.items():
        if rel.name != "__init__.py" and not _has_code(mod.tree) and mod.changed:
            omitted[name] = f"all its code is a solution of {assignment!r}"
    changed = True
    while changed:  # omit modules that use what is gone, until nothing changes
        changed = False
        for name, (rel, mod) in modules.items():
            if name in omitted:
                continue
            missing = set(_unresolved(mod.text, mod.tree, name))
            for stmt in mod.tree.body:
                if isinstance(stmt, ast.ImportFrom):
                    source = _library_import(stmt, name, rel.name == "__init__.py", package)
                    if source in omitted:
                        missing |= {a.name for a in stmt.names}
                    elif source in modules:
                        available = top_level_names(modules[source][1].tree) | {
                            m.rpartition(".")[2] for m in modules if m.startswith(source + ".")}
                        missing |= {a.name for a in stmt.names if a.name not in available}
            if missing:
                omitted[name] = f"its code uses {', '.join(sorted(missing))}, which this release does not ship"
                changed = True

    report = StrippedLibrary(omitted=dict(sorted(omitted.items())))
    shutil.copytree(package_dir, out_dir, ignore=_IGNORED)
    for name, (rel, mod) in modules.items():
        target = out_dir / rel
        if name in omitted:
            target.unlink()
            continue
        if mod.changed:
            target.write_text(mod.text, encoding="utf-8")
            if mod.removed:
                report.removed[name] = mod.removed
        report.shipped.append(name)
    return report


# ---------------------------------------------------------------------------------------------------
# Step 4: student files
# ---------------------------------------------------------------------------------------------------

_README = """\
# {name}

This folder is the student release of the `{name}` assignment.

* `{notebook}.ipynb` -- the assignment. Work through it top to bottom in JupyterLab; write your code
  where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line) and run the check
  cell that follows each exercise.
* `{library}/` -- the course library the notebook imports (data loading, gradient checking, the
  training loop, and what earlier assignments taught). Exercises of this assignment are **not** in it:
  you write them in the notebook. Do not edit it; grading uses its own copy.
* `requirements.txt` -- everything needed: JupyterLab, numpy, matplotlib, and what the checks use.

## Set up (once)

You need Python 3.10 or newer. In a terminal, in this folder:

```bash
python3 -m venv .venv                       # Windows: py -m venv .venv
source .venv/bin/activate                   # Windows: .venv\\Scripts\\activate
python -m pip install -r requirements.txt
```

## Open the notebook

With the environment activated (`source .venv/bin/activate`), in this folder:

```bash
jupyter lab {notebook}.ipynb
```

JupyterLab opens in your browser. Until you have written an exercise, the cells that use it stop with
`NotImplementedError`; that is expected.

## Check your work

Save the notebook, then either run this in a notebook cell:

```python
from course_lib.check import check; check()
```

or, in a terminal in this folder (environment activated):

```bash
python -m course_lib.check {notebook}.ipynb
```

Both run the saved notebook top to bottom in a fresh kernel and print a table of the test cells with
PASS or FAIL and, for a failure, the full message of the check. The command exits with 0 when every
test cell passes and 1 when one fails (`python -m course_lib.check --help` lists the options).
Grading runs the hidden tests of each exercise with different inputs than the visible checks, so
passing here is necessary but not sufficient: make your code correct for any valid input, not just
for the visible examples. Keep the function and class names and signatures as given.

## Data

The notebook loads CIFAR-10 from the folder named by the environment variable `COURSE_CIFAR10_DIR`,
else from `~/.cache/course_lib/cifar-10-batches-py` (`python -m {library}.data download` puts it
there). Without either it uses a synthetic stand-in and warns: your code runs, but the accuracies are
not CIFAR-10 accuracies.
"""


def write_student_files(name: str, out_dir: Path, course_dir: Path | None = None) -> None:
    """Write ``requirements.txt`` and ``README.md`` of the release of ``name`` into ``out_dir``."""
    assignment = get_assignment(name, course_dir)
    (out_dir / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(
        _README.format(name=name, notebook=assignment.notebook, library=LIBRARY), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# Whole releases
# ---------------------------------------------------------------------------------------------------

def _source_dir(name: str, course_dir: Path) -> Path:
    assignment = get_assignment(name, course_dir)
    notebook = course_dir / assignment.source_notebook
    if not notebook.is_file():
        raise SourceNotFoundError(f"cannot release {name!r}: {notebook} does not exist; write the source "
                                  f"notebook first (see docs/notebooks.md).")
    return notebook.parent


def build_release(name: str, course_dir: Path, out_dir: Path) -> StrippedLibrary:
    """Build the complete release of ``name`` into ``out_dir`` (which must not exist).

    Returns
    -------
    StrippedLibrary
        The report of the library step.
    """
    course_dir = Path(course_dir)
    generate_notebooks(name, _source_dir(name, course_dir), out_dir)
    if (out_dir / LIBRARY).exists():
        raise ReleaseError(f"source/{name}/ contains a {LIBRARY}/ folder; remove it: the release ships its own.")
    report = strip_library(course_dir / LIBRARY, name, out_dir / LIBRARY)
    write_student_files(name, out_dir, course_dir)
    for path in sorted(out_dir.rglob("*")):
        if path.is_file():
            path.chmod(0o644)
    return report


def _selected(assignments: Sequence[str] | None, course_dir: Path) -> list[str]:
    if assignments is None:
        return assignment_names(course_dir)
    for name in assignments:
        get_assignment(name, course_dir)
    return list(dict.fromkeys(assignments))


def release(assignments: list[str] | None, course_dir: Path) -> list[Path]:
    """Regenerate ``release/<name>/`` for each assignment.

    Each release is built in a temporary folder next to ``release/`` and swapped in only when complete,
    so a failure leaves the previous release in place.

    Parameters
    ----------
    assignments : list of str or None
        Assignment names; None releases every assignment of the course (folders of ``source/``).
    course_dir : Path
        The course directory (the repository root).

    Returns
    -------
    list of Path
        The ``release/<name>/`` folders written.

    Raises
    ------
    course_lib.errors.OptionError
        For an unknown assignment name.
    SourceNotFoundError
        When a named assignment has no source notebook.
    autograder.validate.ValidationError
        When the source notebook fails the structural checks of ``python -m autograder validate``
        (a :class:`ReleaseError`); nothing is written.
    ReleaseError
        When nbgrader or the library step fails.
    """
    course_dir = Path(course_dir).resolve()
    names = _selected(assignments, course_dir)
    release_root = course_dir / "release"
    release_root.mkdir(exist_ok=True)
    written = []
    from autograder.validate import require_valid

    for name in names:
        _source_dir(name, course_dir)
        require_valid(name, course_dir)  # refuses with the messages of `python -m autograder validate`
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=release_root))
        final = release_root / name
        old = staging / "previous"
        try:
            build_release(name, course_dir, staging / name)
            if final.exists():
                final.rename(old)
            try:
                (staging / name).rename(final)
            except OSError:
                if old.exists():
                    old.rename(final)  # put the previous release back
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(final)
    return written


def _tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")}


def check_release(course_dir: Path, assignments: Sequence[str] | None = None) -> list[str]:
    """Differences between the committed ``release/`` and a fresh build (empty when up to date).

    Parameters
    ----------
    course_dir : Path
    assignments : sequence of str, optional
        Default: every assignment with a source notebook.

    Returns
    -------
    list of str
        One line per difference, e.g. ``"release/fc_nets/fc_nets.ipynb differs"``.
    """
    course_dir = Path(course_dir).resolve()
    problems = []
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        for name in _selected(assignments, course_dir):
            fresh = Path(tmp) / name
            build_release(name, course_dir, fresh)
            committed = course_dir / "release" / name
            if not committed.is_dir():
                problems.append(f"release/{name}/ is missing; run `python -m autograder release {name}`")
                continue
            want, have = _tree_files(fresh), _tree_files(committed)
            problems += [f"release/{name}/{f} is missing" for f in sorted(want - have)]
            problems += [f"release/{name}/{f} should not be there" for f in sorted(have - want)]
            for f in sorted(want & have):
                if not filecmp.cmp(fresh / f, committed / f, shallow=False):
                    problems.append(f"release/{name}/{f} differs")
    return problems
