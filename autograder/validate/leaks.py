"""The ``leaks`` check: no solution, hidden-test or stripped library text in ``release/<name>/``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from autograder.assignments import assignment_names
from autograder.release.library import library_regions
from autograder.validate.library import library_modules
from autograder.validate.structure import NOTEBOOK_MARKERS, Problem, read_notebook, source_path

__all__ = [
    "secret_lines",
    "release_leaks",
]


_SOLUTION_RE = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


_HIDDEN_RE = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


#: Shorter secret lines (``return x``) are too common to count as a leak.
_MIN_SECRET_CHARS = 12


def _norm(line: str) -> str:
    return " ".join(line.split())


def _lines(text: str) -> set[str]:
    return {n for n in (_norm(line) for line in text.splitlines()) if n}


def _notebook_parts(path: Path) -> tuple[set[str], set[str]]:
    """(secret lines, public lines) of a source notebook: solution regions and hidden blocks vs the rest."""
    if not path.is_file():
        return set(), set()
    secret, public = set(), set()
    for cell in read_notebook(path).cells:
        for region in _SOLUTION_RE.findall(cell.source) + _HIDDEN_RE.findall(cell.source):
            secret |= _lines(region)
        public |= _lines(_HIDDEN_RE.sub("", _SOLUTION_RE.sub("", cell.source)))
    return secret, public


def _library_parts(course_dir: Path, name: str) -> tuple[set[str], set[str]]:
    """(lines of the ``course_lib`` regions the release of ``name`` strips, lines it ships)."""
    secret: set[str] = set()
    public: set[str] = set()
    for rel, text in library_modules(course_dir).items():
        lines = text.splitlines()
        inside = [False] * len(lines)
        marker = [False] * len(lines)
        for region in library_regions(text, rel):
            marker[region.start - 1] = marker[region.end - 1] = True
            if name in region.tags:
                for i in range(region.start - 1, region.end):
                    inside[i] = True
        for line, is_secret, is_marker in zip(lines, inside, marker):
            if not is_marker:
                (secret if is_secret else public).add(_norm(line))
    return secret - {""}, public - {""}


def secret_lines(name: str, course_dir: Path) -> list[str]:
    """The normalized lines that must not appear in ``release/<name>/``, sorted.

    The solution regions and hidden blocks of every assignment's source notebook, and the ``course_lib``
    regions the release strips, minus every line that is public anyway (given code and prose of any
    notebook, library code the release ships, also as part of a longer line) and lines shorter than 12
    characters.
    """
    course_dir = Path(course_dir)
    secret, public = set(), set()
    for other in dict.fromkeys([*assignment_names(course_dir), name]):
        s, p = _notebook_parts(source_path(other, course_dir))
        secret |= s
        public |= p
    lib_secret, lib_public = _library_parts(course_dir, name)
    secret |= lib_secret
    public |= lib_public
    markers = {m for pair in NOTEBOOK_MARKERS for m in pair}
    public_text = "\n".join(sorted(public))  # a secret line inside a public one (a shorter form) is public
    return sorted(s for s in secret - public
                  if len(s) >= _MIN_SECRET_CHARS and s not in markers and s not in public_text)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _release_texts(path: Path) -> dict[str, str]:
    """Every file of a release as normalized text; notebooks also as their decoded strings."""
    texts = {}
    for f in sorted(path.rglob("*")):
        if not f.is_file() or "__pycache__" in f.parts:
            continue
        raw = f.read_bytes().decode("utf-8", errors="replace")
        rel = f.relative_to(path).as_posix()
        texts[rel] = "\n".join(_norm(line) for line in raw.splitlines())
        if f.suffix == ".ipynb":
            try:
                decoded = "\n".join(_strings(json.loads(raw)))
            except ValueError:
                continue
            texts[rel + " (decoded)"] = "\n".join(_norm(line) for line in decoded.splitlines())
    return texts


def release_leaks(name: str, course_dir: Path) -> list[Problem]:
    """Lines of :func:`secret_lines` found in ``release/<name>/`` (nothing when it does not exist)."""
    course_dir = Path(course_dir)
    path = course_dir / "release" / name
    if not path.is_dir():
        return []
    texts = _release_texts(path)
    return [Problem(name, "leaks", f"release/{name}/{rel}",
                    f"contains solution or hidden-test text {line!r}: keep it inside the solution region or "
                    "hidden block only (in course_lib: between solution markers naming this assignment), then "
                    f"run 'python -m autograder release {name}'")
            for line in secret_lines(name, course_dir) for rel, text in texts.items() if line in text]
