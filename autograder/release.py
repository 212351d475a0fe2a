"""Build the student releases: ``release/<name>/`` from ``source/<name>/`` plus a stripped ``course_lib``.

:func:`release` runs these steps for each assignment, in a temporary folder first so that a failure
leaves the committed release untouched:

1. :func:`generate_notebooks` -- nbgrader's ``GenerateAssignment`` converter, in-process, with the
   course settings of :func:`autograder.assignments.nbgrader_settings` and no configuration files
   (nothing from ``~/.jupyter``), no gradebook: solutions become :data:`~autograder.assignments.CODE_STUB`,
   hidden tests disappear, outputs are cleared, test cells are locked and checksummed.
2. :func:`normalize_notebook` -- drop volatile metadata and write canonical JSON, so that building twice
   gives byte-identical files.
3. :func:`strip_library` -- copy ``course_lib`` without the solutions of this assignment and of every
   later one (see :func:`autograder.assignments.stripped_solutions`).
4. :func:`write_student_files` -- ``requirements.txt`` and ``README.md``.

:func:`check_release` rebuilds everything into a temporary folder and lists the differences with the
committed ``release/``.

Command line: ``python -m autograder release [NAME...]`` (or ``python -m autograder.release``).
"""

from __future__ import annotations

import argparse
import ast
import filecmp
import json
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignments import (
    assignment_names,
    get_assignment,
    nbgrader_settings,
    stripped_solutions,
)
from autograder.errors import AutograderError

__all__ = [
    "ReleaseError",
    "SourceNotFoundError",
    "LIBRARY",
    "REQUIREMENTS",
    "StrippedLibrary",
    "release",
    "build_release",
    "generate_notebooks",
    "normalize_notebook",
    "strip_library",
    "write_student_files",
    "check_release",
    "main",
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
    """A release cannot be built: bad manifest entry, missing source, unparsable library module."""


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


@dataclass
class _Module:
    name: str
    rel: Path
    text: str
    tree: ast.Module


def _module_name(package: str, rel: Path) -> str:
    parts = [package, *rel.with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse_solutions(entries: Iterable[str], modules: dict[str, _Module]) -> tuple[set[str], dict[str, set[str]]]:
    whole: set[str] = set()
    names: dict[str, set[str]] = {}
    for entry in entries:
        module, _, name = entry.partition(":")
        if module not in modules:
            raise ReleaseError(f"manifest entry {entry!r}: there is no module {module} in {LIBRARY}/; "
                               f"fix autograder/assignments.py.")
        if not name:
            whole.add(module)
            continue
        if name not in _top_level_definitions(modules[module].tree):
            raise ReleaseError(f"manifest entry {entry!r}: {module} defines no top-level {name!r}; "
                               f"fix autograder/assignments.py.")
        names.setdefault(module, set()).add(name)
    return whole, names


def _defined_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def _top_level_definitions(tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for stmt in tree.body:
        out |= _defined_names(stmt)
    return out


def _import_source(stmt: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """Absolute module of a ``from X import ...`` inside ``module``, or None for a non-library import."""
    if stmt.level == 0:
        target = stmt.module or ""
    else:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (stmt.level - 1)] if stmt.level > 1 else base
        target = ".".join(base + ([stmt.module] if stmt.module else []))
    return target if target == LIBRARY or target.startswith(LIBRARY + ".") else None


def _start_line(stmt: ast.stmt, lines: list[str]) -> int:
    """First line (1-based) of ``stmt`` including decorators and the comment lines right above it."""
    start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    while start > 1 and lines[start - 2].lstrip().startswith("#"):
        start -= 1
    return start


def _end_line(stmt: ast.stmt) -> int:
    """Last line (1-based) of ``stmt``."""
    assert stmt.end_lineno is not None, "statements parsed from source text carry end_lineno"
    return stmt.end_lineno


def _segment(mod: _Module, node: ast.AST) -> str:
    """The source text of ``node``, a node of ``mod.tree``."""
    text = ast.get_source_segment(mod.text, node)
    assert text is not None, "nodes parsed from mod.text carry their positions"
    return text


@dataclass
class _Plan:
    drop: list[ast.stmt]                     # statements removed entirely
    rewrite: dict[int, str]                  # statement id -> replacement text
    removed: list[str]                       # names removed (for the report)
    problem: str | None                      # why the module cannot ship


def _names_loaded(nodes: Iterable[ast.AST]) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                out.add(sub.id)
            elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                out.add(sub.value.id)
    return out


def _render_import(stmt: ast.ImportFrom, kept: list[ast.alias], lines: list[str]) -> str:
    head = lines[stmt.lineno - 1][: stmt.col_offset] + "from " + "." * stmt.level + (stmt.module or "") + " import "
    items = [a.name + (f" as {a.asname}" if a.asname else "") for a in kept]
    one = head + ", ".join(items)
    if len(items) == 1 or len(one) <= 100:
        return one
    return head + "(\n" + "".join(f"    {item},\n" for item in items) + ")"


def _render_sequence_assign(stmt: ast.Assign, kept: list[str], opener: str, closer: str) -> str:
    target = ast.unparse(stmt.targets[0])
    if not kept:
        return f"{target} = {opener}{closer}"
    return f"{target} = {opener}\n" + "".join(f"    {item},\n" for item in kept) + closer


def _plan_module(mod: _Module, removed_here: set[str], gone_elsewhere: dict[str, set[str]],
                 omitted: set[str], is_package: bool) -> _Plan:
    """Decide what to remove from one module and whether what is left can ship."""
    lines = mod.text.splitlines()
    drop: list[ast.stmt] = []
    rewrite: dict[int, str] = {}
    gone: set[str] = set()          # local names that no longer exist
    removed: list[str] = []
    kept_stmts: list[ast.stmt] = []
    for stmt in mod.tree.body:
        defined = _defined_names(stmt)
        if defined and defined & removed_here:
            drop.append(stmt)
            gone |= defined
            removed += sorted(defined)
            continue
        if isinstance(stmt, ast.ImportFrom):
            source = _import_source(stmt, mod.name, is_package)
            if source is not None:
                lost = [a for a in stmt.names
                        if source in omitted or a.name in gone_elsewhere.get(source, set())]
                if lost:
                    gone |= {a.asname or a.name for a in lost}
                    kept_aliases = [a for a in stmt.names if a not in lost]
                    if kept_aliases:
                        rewrite[id(stmt)] = _render_import(stmt, kept_aliases, lines)
                    else:
                        drop.append(stmt)
                    continue
        if isinstance(stmt, ast.Import):
            lost = [a for a in stmt.names if a.name in omitted or
                    any(a.name.startswith(m + ".") for m in omitted)]
            if lost:
                gone |= {a.asname or a.name.split(".")[0] for a in lost}
                drop.append(stmt)
                continue
        kept_stmts.append(stmt)

    # Second pass: containers naming removed objects lose those entries (a registry keeps the rest).
    final: list[ast.AST] = []  # statements, and dict literals stripped of removed entries
    for stmt in kept_stmts:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            value = stmt.value
            if target == "__all__" and isinstance(value, (ast.List, ast.Tuple)):
                items = [e for e in value.elts
                         if not (isinstance(e, ast.Constant) and e.value in gone)]
                if len(items) != len(value.elts):
                    opener, closer = ("[", "]") if isinstance(value, ast.List) else ("(", ")")
                    rewrite[id(stmt)] = _render_sequence_assign(
                        stmt, [_segment(mod, e) for e in items], opener, closer)
                continue  # __all__ names strings, not objects: never a reference
            if isinstance(value, ast.Dict) and None not in value.keys:
                pairs = [(k, v) for k, v in zip(value.keys, value.values)
                         if k is not None and not (_names_loaded([v]) & gone)]  # k: no ** entries (checked above)
                if len(pairs) != len(value.keys):
                    kept = [f"{_segment(mod, k)}: {_segment(mod, v)}"
                            for k, v in pairs]
                    rewrite[id(stmt)] = _render_sequence_assign(stmt, kept, "{", "}")
                    removed.append(f"{target}[...]")
                    final.append(ast.Dict(keys=[k for k, _ in pairs], values=[v for _, v in pairs]))
                    continue
        final.append(stmt)

    problem = None
    still = sorted(_names_loaded(final) & gone)
    if still:
        problem = f"its remaining code uses removed names ({', '.join(still)})"
    elif not is_package and not any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                                     for s in final):
        problem = "no function or class is left"
    return _Plan(drop=drop, rewrite=rewrite, removed=removed, problem=problem)


def _apply_plan(mod: _Module, plan: _Plan) -> str:
    lines = mod.text.splitlines(keepends=True)
    replaced: dict[int, str | None] = {}      # 0-based first line -> replacement (None: delete)
    spans: dict[int, int] = {}                # 0-based first line -> 0-based last line (inclusive)
    for stmt in plan.drop:
        start = _start_line(stmt, [line.rstrip("\n") for line in lines]) - 1
        replaced[start], spans[start] = None, _end_line(stmt) - 1
    for stmt in mod.tree.body:
        if id(stmt) in plan.rewrite:
            start = stmt.lineno - 1
            replaced[start], spans[start] = plan.rewrite[id(stmt)] + "\n", _end_line(stmt) - 1
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i in replaced:
            replacement = replaced[i]
            if replacement is not None:
                out.append(replacement)
            i = spans[i] + 1
            continue
        out.append(lines[i])
        i += 1
    text = "".join(out)
    # Removing definitions leaves runs of blank lines: keep at most two.
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.rstrip("\n") + "\n"


def strip_library(package_dir: Path, solutions: Sequence[str], out_dir: Path) -> StrippedLibrary:
    """Copy ``package_dir`` to ``out_dir`` without the given solutions.

    Each ``"module:name"`` top-level definition is cut out by its line range (with its decorators and
    the comment lines right above it; comments elsewhere stay), its name leaves ``__all__``, ``from ...
    import`` lists and dict registries (``{"adam": adam}``) of the other modules. A ``"module"`` entry
    omits the whole module. A module is also omitted when no function or class is left in it, or when its
    remaining top-level code still uses a removed name; modules importing from an omitted one are then
    re-examined, until nothing changes. Imports inside functions are left alone: they fail only when
    called (``Solver`` imports the update-rule registry lazily for this reason).

    Parameters
    ----------
    package_dir : Path
        The ``course_lib`` source folder.
    solutions : sequence of str
        Manifest entries to remove (:func:`autograder.assignments.stripped_solutions`).
    out_dir : Path
        Destination package folder (created).

    Returns
    -------
    StrippedLibrary
    """
    package = package_dir.name
    modules: dict[str, _Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir)
        if any(part in ("__pycache__", ".ipynb_checkpoints") for part in rel.parts):
            continue
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            raise ReleaseError(f"cannot parse {path}: {exc}; fix the module before releasing.") from exc
        name = _module_name(package, rel)
        modules[name] = _Module(name, rel, text, tree)

    whole, names = _parse_solutions(solutions, modules)
    omitted: dict[str, str] = {m: "listed as a solution in autograder/assignments.py" for m in whole}
    while True:
        plans: dict[str, _Plan] = {}
        gone = {m: set(names.get(m, set())) for m in modules}
        newly: dict[str, str] = {}
        for name, mod in modules.items():
            if name in omitted:
                continue
            plan = _plan_module(mod, names.get(name, set()), gone, set(omitted), mod.rel.name == "__init__.py")
            if plan.problem:
                newly[name] = plan.problem
            plans[name] = plan
        if not newly:
            break
        omitted.update(newly)

    report = StrippedLibrary(omitted=dict(sorted(omitted.items())))
    shutil.copytree(package_dir, out_dir, ignore=_IGNORED)
    for name, mod in modules.items():
        target = out_dir / mod.rel
        if name in omitted:
            target.unlink()
            continue
        plan = plans[name]
        if plan.drop or plan.rewrite:
            target.write_text(_apply_plan(mod, plan), encoding="utf-8")
            report.removed[name] = plan.removed
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


def write_student_files(name: str, out_dir: Path) -> None:
    """Write ``requirements.txt`` and ``README.md`` of the release of ``name`` into ``out_dir``."""
    assignment = get_assignment(name)
    (out_dir / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(
        _README.format(name=name, notebook=assignment.notebook, library=LIBRARY), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# Whole releases
# ---------------------------------------------------------------------------------------------------

def _source_dir(name: str, course_dir: Path) -> Path:
    assignment = get_assignment(name)
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
    report = strip_library(course_dir / LIBRARY, stripped_solutions(name), out_dir / LIBRARY)
    write_student_files(name, out_dir)
    for path in sorted(out_dir.rglob("*")):
        if path.is_file():
            path.chmod(0o644)
    return report


def _selected(assignments: Sequence[str] | None, course_dir: Path) -> list[str]:
    if assignments is None:
        return [n for n in assignment_names() if (course_dir / get_assignment(n).source_notebook).is_file()]
    for name in assignments:
        get_assignment(name)
    return list(dict.fromkeys(assignments))


def release(assignments: list[str] | None, course_dir: Path) -> list[Path]:
    """Regenerate ``release/<name>/`` for each assignment.

    Each release is built in a temporary folder next to ``release/`` and swapped in only when complete,
    so a failure leaves the previous release in place.

    Parameters
    ----------
    assignments : list of str or None
        Assignment names; None releases every assignment of the manifest that has a source notebook.
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m autograder.release [--check] [NAME...]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m autograder.release",
                                     description="Generate release/<name>/ from source/<name>/ (nbgrader) "
                                                 "with the stripped course library.")
    parser.add_argument("assignments", nargs="*", metavar="NAME",
                        help=f"assignments to release (default: all with a source notebook; known: "
                             f"{', '.join(assignment_names())})")
    parser.add_argument("--course-dir", type=Path, default=Path.cwd(),
                        help="course directory with source/ and release/ (default: the current folder)")
    parser.add_argument("--check", action="store_true",
                        help="only compare the committed release/ with a fresh build; exit 1 on differences")
    args = parser.parse_args(argv)
    names = args.assignments or None
    try:
        if args.check:
            problems = check_release(args.course_dir, names)
            for line in problems:
                print(line)
            if not problems:
                print("release/ is up to date")
            return 1 if problems else 0
        for path in release(names, args.course_dir):
            print(path)
    except (ReleaseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
