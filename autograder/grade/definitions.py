"""What of a student's cell the verdicts need: its definitions, not its experiments.

Test cells are self-contained: they read only the exercises, the names the solution cells define
(``python -m autograder validate`` enforces it). The exercises, in turn, read at call time the globals
their notebook defines: imports, helper functions and classes, constants. Training runs and plots make
up most of a notebook's running time and bind nothing a verdict reads. :func:`definitions_only` keeps a
cell's top-level statements that define something from what is already defined, and drops the others,
so the grader can run the definitions of every cell and the solution cells in full (step
``execute_student_notebook`` with ``GradingOptions.run_cells="definitions"``); when a cell then fails, or
a test fails for any reason but a verdict on the student's code, the submission is graded again on the
whole notebook (step ``run_whole_notebook``, :mod:`autograder.grade.replay`).

Kept, at top level and inside ``if``/``try`` blocks whose headers qualify:

* imports (then :func:`drop_unused_imports` drops those whose names nothing that runs reads, such as
  ``import matplotlib.pyplot as plt`` when only the plots used ``plt``: importing pyplot alone takes
  longer than running every definition of a notebook);
* ``def`` and ``class`` statements whose decorators, defaults and bases call nothing and read only
  defined names (their bodies run later, when called);
* assignments (``=``, annotated, augmented) whose value calls nothing and reads only defined names
  (``EPS = 1e-5``, ``LAYERS = {"relu": relu_forward}``; lambdas may call: their body runs later);
* statements that call a method of, or assign into, a defined non-module name, with arguments that read
  only defined names (``SETTINGS.update(lr=LR)``, ``TABLE["x"] = f``): they may change what an exercise
  reads;
* ``global``, ``pass`` and docstrings.

"Defined" names are the builtins, what kept statements bound before, and everything the solution cells
bind (they run in full). Dropped: every other statement (``data = get_CIFAR10_data()``,
``small = {"X": data["X_train"]}``, ``solver.train()``, ``plt.plot(...)``, ``for`` loops).
"""

from __future__ import annotations

import ast
import builtins
import symtable
from collections.abc import Set as AbstractSet

__all__ = ["BUILTIN_NAMES", "definitions_only", "bound_names", "bind_cell", "names_used", "drop_unused_imports",
           "plotting_names", "PLOTTING_MODULES"]

#: Names defined before any cell runs.
BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__doc__", "get_ipython", "display", "In", "Out"}


def _calls(node: ast.AST | None) -> bool:
    """True when evaluating ``node`` may call something (lambda bodies do not run)."""
    if node is None:
        return False
    stack = [node]
    while stack:
        sub = stack.pop()
        if isinstance(sub, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return True
        if isinstance(sub, ast.Lambda):
            stack += sub.args.defaults + [d for d in sub.args.kw_defaults if d is not None]
            continue
        stack += list(ast.iter_child_nodes(sub))
    return False


def _reads(nodes: list[ast.AST | None]) -> set[str]:
    """Names evaluating ``nodes`` reads from the globals (lambda bodies and comprehension variables left out)."""
    loads: set[str] = set()
    local: set[str] = set()
    stack = [n for n in nodes if n is not None]
    while stack:
        sub = stack.pop()
        if isinstance(sub, ast.Lambda):
            stack += sub.args.defaults + [d for d in sub.args.kw_defaults if d is not None]
            continue
        if isinstance(sub, ast.Name):
            (loads if isinstance(sub.ctx, ast.Load) else local).add(sub.id)
        elif isinstance(sub, ast.comprehension):
            local |= {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
        stack += list(ast.iter_child_nodes(sub))
    return loads - local


def _root_name(node: ast.AST) -> str | None:
    """``x`` for ``x``, ``x.a.b``, ``x[k]``, ``x.a[k].b``; None otherwise."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _target_parts(target: ast.expr) -> list[ast.AST]:
    """What assigning to ``target`` evaluates: the object and index of ``a[i] = ...``, ``a.b = ...``."""
    if isinstance(target, ast.Subscript):
        return [target.value, target.slice]
    if isinstance(target, ast.Attribute):
        return [target.value]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [p for t in target.elts for p in _target_parts(t)]
    if isinstance(target, ast.Starred):
        return _target_parts(target.value)
    return []


def bound_names(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the globals."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    module = ast.Module(body=[stmt], type_ignores=[])
    try:
        table = symtable.symtable(ast.unparse(module), "<cell>", "exec")
    except SyntaxError:
        return set()
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}


def _bind(stmts: list[ast.stmt], known: set[str], modules: set[str]) -> None:
    """Add the names ``stmts`` bind to ``known``, and those they import to ``modules``."""
    for stmt in stmts:
        bound = bound_names(stmt)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            modules |= bound
        known |= bound


def bind_cell(source: str, known: set[str], modules: set[str]) -> None:
    """Record in ``known`` and ``modules`` what a cell that runs whole binds (nothing for invalid Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    _bind(tree.body, known, modules)


class _Judge:
    """Decides statement by statement, tracking the defined names and which of them are modules."""

    def __init__(self, known: set[str], modules: set[str]):
        self.known = known
        self.modules = modules

    def defined(self, nodes: list[ast.AST | None]) -> bool:
        return not any(_calls(n) for n in nodes) and _reads(nodes) <= self.known

    def data(self, node: ast.AST) -> bool:
        root = _root_name(node)
        return root is not None and root in self.known and root not in self.modules and root not in BUILTIN_NAMES

    def keep(self, stmt: ast.stmt) -> bool:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Global, ast.Pass)):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return True  # a docstring
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = stmt.args
            return self.defined([*stmt.decorator_list, *args.defaults, *args.kw_defaults,
                                 *(a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]),
                                 stmt.returns])
        if isinstance(stmt, ast.ClassDef):
            return self.defined([*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)])
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            parts = [p for t in targets for p in _target_parts(t)]
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                parts.append(ast.Name(stmt.target.id, ast.Load()))
            if self.defined([stmt.value, *parts]):
                return True
            # an assignment into defined data (TABLE["x"] = make()) may change what an exercise reads
            into_data = [t for t in targets if not isinstance(t, ast.Name)]
            return (bool(into_data) and all(self.data(t) for t in into_data)
                    and _reads([stmt.value, *parts]) <= self.known)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            # SETTINGS.update(lr=LR): a method of defined data, with arguments from defined names
            return isinstance(func, ast.Attribute) and self.data(func) and _reads([stmt.value]) <= self.known
        if isinstance(stmt, ast.If):
            return self.defined([stmt.test]) and all(self.keep(s) for s in stmt.body + stmt.orelse)
        if isinstance(stmt, ast.Try):
            blocks = stmt.body + stmt.orelse + stmt.finalbody + [s for h in stmt.handlers for s in h.body]
            return self.defined([h.type for h in stmt.handlers]) and all(self.keep(s) for s in blocks)
        return False


def _shares_lines(tree: ast.Module) -> bool:
    """True when two top-level statements share a line (``a = 1; train()``): such a cell is never split."""
    ends = [s.end_lineno or s.lineno for s in tree.body]
    return any(stmt.lineno <= end for stmt, end in zip(tree.body[1:], ends))


def _text_of(stmt: ast.stmt, lines: list[str]) -> str:
    """A top-level statement's source lines (its decorators included), ending with a newline."""
    start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    text = "".join(lines[start - 1: stmt.end_lineno])
    return text if text.endswith("\n") else text + "\n"


def definitions_only(source: str, known: set[str], modules: set[str] | None = None) -> tuple[str, bool]:
    """The statements of a code cell that define something, and whether any other statement was dropped.

    Parameters
    ----------
    source : str
        A code cell's source, IPython magics already replaced (a cell that is not valid Python, or that
        has two statements on one line, is returned whole: it runs as written).
    known : set of str
        The names defined so far (start from :data:`BUILTIN_NAMES`); the names of what will run (the kept
        statements, or the whole cell) are added to it.
    modules : set of str, optional
        The defined names that are modules (never "data" whose methods are kept); updated too.

    Returns
    -------
    kept : str
        The kept statements' source lines, in order (line numbers differ from the cell's).
    dropped : bool
        True when at least one statement was dropped.
    """
    modules = set() if modules is None else modules
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, False
    if _shares_lines(tree):
        _bind(tree.body, known, modules)
        return source, False  # two statements on one line (``a = 1; train()``): not split, it runs whole
    lines = source.splitlines(keepends=True)
    judge = _Judge(known, modules)
    kept: list[str] = []
    dropped = False
    for stmt in tree.body:
        if not judge.keep(stmt):
            dropped = True
            continue
        kept.append(_text_of(stmt, lines))
        _bind([stmt], known, modules)
    if not dropped:
        return source, False
    return "".join(kept), True


#: Names and attributes through which code can reach a global by a computed name (``globals()["plt"]``,
#: ``sys.modules["__main__"].plt``, ``f.__globals__``): where code that runs mentions one, every import stays.
_DYNAMIC = frozenset({"eval", "exec", "compile", "globals", "locals", "vars", "get_ipython", "__import__",
                      "__builtins__", "builtins", "sys", "importlib", "inspect", "__main__", "__globals__",
                      "f_globals", "__dict__", "getattr"})

#: Libraries whose state shapes figures only: a setting written into one of them
#: (``plt.rcParams["figure.figsize"] = (10, 8)``) goes with the plots when nothing else uses the name.
PLOTTING_MODULES = ("matplotlib", "seaborn")


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def plotting_names(sources: list[str]) -> set[str]:
    """Names that top-level imports of ``sources`` bind to a plotting library (:data:`PLOTTING_MODULES`)."""
    names: set[str] = set()
    for tree in filter(None, map(_parse, sources)):
        for stmt in tree.body:
            if isinstance(stmt, ast.Import):  # per name: ``import matplotlib.pyplot as plt, numpy as np``
                names |= {n for a in stmt.names if a.name.split(".")[0] in PLOTTING_MODULES
                          for n in bound_names(ast.Import(names=[a]))}
            elif isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] in PLOTTING_MODULES:
                names |= bound_names(stmt)
    return names


def _is_setting(stmt: ast.stmt, names: AbstractSet[str]) -> bool:
    """``stmt`` assigns into an attribute or item of one of ``names`` only (``plt.rcParams["x"] = 1``)."""
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return False
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return all(not isinstance(t, ast.Name) and _root_name(t) in names for t in targets)


def names_used(sources: list[str], settings_of: AbstractSet[str] = frozenset()) -> set[str] | None:
    """Every name the code ``sources`` mentions (read, bound or declared, function bodies included), except
    in top-level settings of ``settings_of`` (:func:`_is_setting`), which go if their name is unused.

    None when some source is not valid Python or mentions a way to reach globals by a computed name
    (:data:`_DYNAMIC`, e.g. ``globals()``): then no import may be taken for unused.
    """
    used: set[str] = set()
    for source in sources:
        tree = _parse(source)
        if tree is None:
            return None
        for stmt in tree.body:
            if _is_setting(stmt, settings_of):
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                elif isinstance(node, (ast.Global, ast.Nonlocal)):
                    used.update(node.names)
                elif isinstance(node, ast.Attribute) and node.attr in _DYNAMIC:
                    return None
    return None if used & _DYNAMIC else used


def _presence_check(stmt: ast.Import | ast.ImportFrom) -> str:
    """A statement that fails as ``stmt`` would when a top-level package it imports cannot be found
    (``ModuleNotFoundError: No module named 'x'``), and imports nothing otherwise."""
    if isinstance(stmt, ast.ImportFrom):
        tops = [stmt.module.split(".")[0]] if stmt.level == 0 and stmt.module else []
    else:
        tops = list(dict.fromkeys(a.name.split(".")[0] for a in stmt.names))
    return "".join(f'if __import__("importlib.util").util.find_spec({t!r}) is None:\n    __import__({t!r})\n'
                   for t in tops)


def drop_unused_imports(kept: str, used: set[str], plotting: AbstractSet[str] = frozenset()) -> tuple[str, bool]:
    """``kept`` (a cell's statements chosen by :func:`definitions_only`) without its top-level imports of
    names that no code that runs mentions (``used``, from :func:`names_used`), nor its settings
    (:func:`_is_setting`) of such names bound to a plotting library (``plotting``, from
    :func:`plotting_names`, whichever cell imported them); whether something was dropped.

    A star import, and an import that binds any used name, stays. A dropped import leaves a check that its
    top-level package can be found (:func:`_presence_check`), which imports nothing: a library missing on
    the grading machine still fails the cell, as the import would. What is dropped can only matter to code
    that reaches it by a computed name, which :func:`names_used` rules out, or to figures; if it still
    does, that code fails and the whole notebook runs (:mod:`autograder.grade.replay`).
    """
    tree = _parse(kept)
    if tree is None or _shares_lines(tree):
        return kept, False
    unused = set(plotting) - used
    lines = kept.splitlines(keepends=True)
    out: list[str] = []
    dropped = False
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and all(a.name != "*" for a in stmt.names) \
                and not bound_names(stmt) & used:
            dropped = True
            out.append(_presence_check(stmt))
        elif unused and _is_setting(stmt, unused):
            dropped = True
        else:
            out.append(_text_of(stmt, lines))
    return ("".join(out), True) if dropped else (kept, False)
