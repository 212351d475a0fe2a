#!/usr/bin/env python3
"""Print the import graph of the ``autograder`` and ``course_lib`` modules; exit 1 if it has a cycle.

Every ``import`` counts, wherever it is written (module level or inside a function: a function-level import
is a dependency that only shows up later), except those under ``if TYPE_CHECKING:`` (never executed). An
edge ``a -> b`` means module ``a`` imports module ``b`` (``from package import name`` is an edge to
``package.name`` when that is a module, else to ``package``). Standard library and third-party imports are
left out.

Usage: ``python scripts/import_graph.py [--root DIR]`` (default: this repository).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

__all__ = ["PACKAGES", "module_files", "import_graph", "cycles", "main"]

#: The packages whose modules the graph holds.
PACKAGES = ("autograder", "course_lib")


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` of :data:`PACKAGES` under ``root``."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of :data:`PACKAGES` it imports."""
    files = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:  # relative: from the module's package, up level - 1
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module
                           for alias in node.names]
            for target in targets:
                while target and target not in files:  # ``import a.b.c`` of a non-module attribute path
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (each a cycle of imports), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:  # Tarjan's algorithm
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    """Print the graph, one module a line with what it imports; 1 and the cycles if there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the repository (default: this one)")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(10_000)
    graph = import_graph(args.root)
    for name in sorted(graph):
        print(f"{name} -> {', '.join(sorted(graph[name])) or '(nothing)'}")
    found = cycles(graph)
    if found:
        for component in found:
            print(f"import cycle: {' <-> '.join(component)}", file=sys.stderr)
        return 1
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, no cycle")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
