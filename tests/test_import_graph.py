"""scripts/import_graph.py: the import graph of autograder and course_lib, and no cycle in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import import_graph  # noqa: E402


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_function_level_import_closes_a_cycle(tmp_path):
    root = _tree(tmp_path, {
        "autograder/__init__.py": "",
        "autograder/a.py": "from autograder import b\n",
        "autograder/b.py": "def f():\n    from autograder.a import g\n    return g\n",
        "course_lib/__init__.py": "",
    })
    graph = import_graph.import_graph(root)
    assert graph["autograder.a"] == {"autograder.b"} and graph["autograder.b"] == {"autograder.a"}
    assert import_graph.cycles(graph) == [["autograder.a", "autograder.b"]]
    assert import_graph.main(["--root", str(root)]) == 1


def test_type_checking_imports_and_relative_imports(tmp_path):
    root = _tree(tmp_path, {
        "autograder/__init__.py": "",
        "autograder/kernel/__init__.py": "",
        "autograder/kernel/client.py": "from . import handles\nfrom .errors import E\n",
        "autograder/kernel/errors.py": "class E(Exception):\n    pass\n",
        "autograder/kernel/handles.py": ("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                                         "    from autograder.kernel.client import StudentKernel\n"),
        "course_lib/__init__.py": "import numpy\n",
    })
    graph = import_graph.import_graph(root)
    assert graph["autograder.kernel.client"] == {"autograder.kernel.handles", "autograder.kernel.errors"}
    assert graph["autograder.kernel.handles"] == set()  # never executed: no dependency
    assert graph["course_lib"] == set()  # third-party imports are not in the graph
    assert import_graph.cycles(graph) == []


def test_the_project_has_no_import_cycle():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "import_graph.py")], capture_output=True,
                          text=True, timeout=120)
    assert "autograder.kernel.client -> " in done.stdout and "course_lib.solver -> " in done.stdout
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("no cycle")
