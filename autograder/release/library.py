"""Step 3 of a release: ``course_lib`` without the solution regions that name the assignment.

``course_lib`` holds the reference answer of every exercise, each between two marker lines that name the
assignments whose releases must not ship it::

    # BEGIN SOLUTION fc_nets batchnorm
    def batchnorm_forward(x, gamma, beta, bn_param):
        ...
    # END SOLUTION

The release of an assignment drops every region that names it and every marker line (:func:`strip_library`);
which regions name which assignment is said only there, next to the code (docs/notebooks.md).
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
import symtable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from autograder.release.errors import ReleaseError

__all__ = [
    "LIBRARY",
    "IGNORED_FILES",
    "BEGIN_MARKER",
    "END_MARKER",
    "Region",
    "StrippedLibrary",
    "library_regions",
    "strip_regions",
    "top_level_names",
    "strip_library",
]


#: The package shipped (stripped) next to every released notebook.
LIBRARY = "course_lib"


IGNORED_FILES = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache")


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


def _is_all(stmt: ast.stmt) -> TypeGuard[ast.Assign]:
    """Whether ``stmt`` is the module's ``__all__ = ...``."""
    return isinstance(stmt, ast.Assign) and [ast.unparse(t) for t in stmt.targets] == ["__all__"]


def _unresolved(text: str, names: set[str], where: str) -> set[str]:
    """Global names the module's code uses (at any depth) that it neither defines nor imports (``names``)."""
    defined = names | set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__"}
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
        if _is_all(stmt) and isinstance(stmt.value, (ast.List, ast.Tuple)):
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
    names: set[str]  # top_level_names(tree)
    removed: list[str]
    changed: bool


def _strip_module(text: str, assignment: str, where: str) -> _Stripped:
    try:
        before = top_level_names(ast.parse(text, filename=where))
    except SyntaxError as exc:
        raise ReleaseError(f"cannot parse {where}: {exc}; fix the module before releasing.") from exc
    out = strip_regions(text, assignment, where)
    try:
        tree = ast.parse(out, filename=where)
    except SyntaxError as exc:
        raise ReleaseError(f"{where}: without its solution regions for {assignment!r} the module is not valid "
                           f"Python ({exc.msg}, line {exc.lineno} of the stripped text); a region must hold "
                           "whole statements (or whole entries of a list or dict).") from exc
    out, unexported = _drop_unexported(out, tree, where)
    if unexported:
        tree = ast.parse(out, filename=where)
    names = top_level_names(tree)
    return _Stripped(out, tree, names, sorted(before - names), out != text)


def _has_code(tree: ast.Module) -> bool:
    """True when the module defines a function, class or constant besides ``__all__`` and imports."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if _is_all(stmt):
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
        text = path.read_text(encoding="utf-8")
        modules[_module_name(package, rel)] = (rel, _strip_module(text, assignment, f"{package}/{rel.as_posix()}"))

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
            missing = _unresolved(mod.text, mod.names, name)
            for stmt in mod.tree.body:
                if isinstance(stmt, ast.ImportFrom):
                    source = _library_import(stmt, name, rel.name == "__init__.py", package)
                    if source in omitted:
                        missing |= {a.name for a in stmt.names}
                    elif source in modules:
                        available = modules[source][1].names | {
                            m.rpartition(".")[2] for m in modules if m.startswith(source + ".")}
                        missing |= {a.name for a in stmt.names if a.name not in available}
            if missing:
                omitted[name] = f"its code uses {', '.join(sorted(missing))}, which this release does not ship"
                changed = True

    report = StrippedLibrary(omitted=dict(sorted(omitted.items())))
    shutil.copytree(package_dir, out_dir, ignore=IGNORED_FILES)
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
