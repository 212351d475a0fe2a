"""Attack and fault submissions of the real ``fc_nets`` assignment, and what the tests check on them.

Every submission starts from a notebook whose honest score is known and adds the attack or the fault:

* ``solution`` -- the released notebook with every solution cell taken from the source notebook
  (:func:`autograder.examples.make_examples.example_notebooks`): full marks;
* ``blank`` -- the released notebook as handed out: 0;
* ``partial`` -- solutions of the first half of the exercises only;
* ``wrong`` -- every exercise written, all of them wrong but plausible (:data:`WRONG_CODE`), the code a
  cheater wants to pass: 0.

A :class:`Case` names the grade_ids that its code honestly passes; the expected score is the sum of their
points in the *source* notebook. Attack cells print a line starting with :data:`RAN` so the tests can tell
that they really ran. :func:`run_batch` grades a list of cases through
:func:`autograder.grade.batch.grade_assignment` on a temporary copy of the course (``source/fc_nets``,
``release/fc_nets``, ``nbgrader_config.py``), so the repository itself is only read.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from grading_fixture import processes_matching, tree_digest

from autograder.examples.make_examples import example_notebooks
from autograder.grade.job import GradingOptions
from autograder.grade.source import parse_source_notebook

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "fc_nets"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
#: Printed by every attack cell once it has done its work (so a test can tell it ran).
RAN = "ATTACK-RAN"
#: Paths of the repository that other engineers may be editing while the tests run.
IN_FLIGHT = ("source/", "release/", "autograder/checks/", "autograder/release.py", "autograder/assignments.py")


# --------------------------------------------------------------------------- the course

def make_course(root: Path, assignment: str = ASSIGNMENT) -> Path:
    """A course folder with this repository's source and release of ``assignment`` and its nbgrader config."""
    root = Path(root)
    for part in ("source", "release"):
        shutil.copytree(REPO / part / assignment, root / part / assignment)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def _nbg(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


@dataclass
class Course:
    """The notebooks of one course copy, and the texts a student must never see."""

    root: Path
    source: nbformat.NotebookNode = field(init=False)
    release: nbformat.NotebookNode = field(init=False)
    points: dict[str, float] = field(init=False)
    manual_points: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.source = nbformat.read(self.root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
        self.release = nbformat.read(self.root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
        graded = parse_source_notebook(self.source)
        self.points = {g.grade_id: g.points for g in graded if g.kind == "auto"}
        self.manual_points = {g.grade_id: g.points for g in graded if g.kind == "manual"}

    @property
    def max_score(self) -> float:
        return sum(self.points.values())

    def examples(self) -> dict[str, nbformat.NotebookNode]:
        return example_notebooks(self.source, self.release)

    def public_text(self) -> str:
        """What every student has anyway: the released notebook and the released files."""
        parts = [cell.source for cell in self.release.cells]
        for p in sorted((self.root / "release" / ASSIGNMENT).rglob("*")):
            if p.is_file() and p.suffix != ".ipynb":
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)

    def secrets(self) -> dict[str, set[str]]:
        """Lines of the hidden tests, the solutions, the reference library and the check helpers that are
        not in the release: none may appear in anything written for a student (unless the student wrote it)."""
        public = self.public_text()
        hidden, solutions = set(), set()
        for cell in self.source.cells:
            inside = None
            for line in cell.source.splitlines():
                s = line.strip()
                if s in ("### BEGIN HIDDEN TESTS", "### BEGIN SOLUTION"):
                    inside = hidden if "HIDDEN" in s else solutions
                elif s in ("### END HIDDEN TESTS", "### END SOLUTION"):
                    inside = None
                elif inside is not None and len(s) >= 12 and not s.startswith("#") and s not in public:
                    inside.add(s)
        library = _distinct_lines([REPO / "course_lib" / p.name for p in
                                   (self.root / "release" / ASSIGNMENT / "course_lib").glob("*.py")], public, 24)
        checks = _distinct_lines([REPO / "autograder" / "checks" / "__init__.py",
                                  REPO / "autograder" / "checks" / f"{ASSIGNMENT}.py"], public, 30)
        return {"hidden tests": hidden | {"BEGIN HIDDEN TESTS"}, "solutions": solutions | {"BEGIN SOLUTION"},
                "reference library": library, "check helpers": checks}


def _distinct_lines(files: Iterable[Path], public: str, min_len: int) -> set[str]:
    out = set()
    for f in files:
        if f.is_file():
            for line in f.read_text(errors="replace").splitlines():
                s = line.strip()
                if len(s) >= min_len and not s.startswith(("#", '"', "'")) and s not in public:
                    out.add(s)
    return out


# --------------------------------------------------------------------------- notebooks

#: Plausible but wrong code for every exercise stub (``# YOUR CODE HERE`` + ``raise NotImplementedError()``),
#: in order of the stubs of each solution cell: shapes right, values wrong.
WRONG_CODE = {
    "affine_forward": ["out = np.zeros((x.shape[0], w.shape[1]))\ncache = (x, w, b)"],
    "affine_backward": ["dx, dw, db = np.zeros(x.shape), np.zeros(w.shape), np.zeros(b.shape)"],
    "relu_forward": ["out, cache = np.array(x, copy=True), x"],
    "relu_backward": ["dx = np.array(dout, copy=True)"],
    "softmax_loss": ["loss, dx = 0.0, np.zeros_like(x)"],
    "FullyConnectedNet": [
        "dims = [input_dim] + list(hidden_dims) + [num_classes]\n"
        "for i in range(1, self.num_layers + 1):\n"
        "    self.params[f\"W{i}\"] = np.random.randn(dims[i - 1], dims[i])\n"
        "    self.params[f\"b{i}\"] = np.ones(dims[i])",
        "scores = np.zeros((X.shape[0], self.params[f\"W{self.num_layers}\"].shape[1]))\n"
        "if y is None:\n"
        "    return scores\n"
        "loss, grads = 0.0, {name: np.zeros_like(value) for name, value in self.params.items()}",
    ],
    "overfit_settings": ['return {"three_layer": {"weight_scale": 1e-9, "learning_rate": 1e-9},\n'
                         '        "five_layer": {"weight_scale": 1e-9, "learning_rate": 1e-9}}'],
    "sgd_momentum": ['config.setdefault("velocity", np.zeros_like(w))\nnext_w = w - config["learning_rate"] * dw'],
    "sgd_nesterov_momentum": ['config.setdefault("velocity", np.zeros_like(w))\n'
                              'next_w = w - config["learning_rate"] * dw'],
    "rmsprop": ['config.setdefault("cache", np.zeros_like(w))\nnext_w = w - config["learning_rate"] * dw'],
    "adam": ['config.setdefault("m", np.zeros_like(w))\nconfig.setdefault("v", np.zeros_like(w))\n'
             'config["t"] = config.get("t", 0) + 1\nnext_w = w - config["learning_rate"] * dw'],
}
_STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)[ \t]*$", re.M)


def wrong_notebook(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with every stub replaced by :data:`WRONG_CODE` (all exercises attempted, all wrong)."""
    nb = copy_nb(release)
    for cell in nb.cells:
        gid = _nbg(cell).get("grade_id")
        if not _nbg(cell).get("solution") or cell.cell_type != "code":
            continue
        blocks = iter(WRONG_CODE[gid])
        cell.source = _STUB.sub(lambda m, blocks=blocks: _indent(next(blocks), m.group(1)), cell.source)
        assert next(blocks, None) is None and "NotImplementedError" not in cell.source, gid
    return nb


def _indent(code: str, indent: str) -> str:
    return "\n".join(indent + line if line else line for line in code.splitlines())


def copy_nb(nb) -> nbformat.NotebookNode:
    return nbformat.reads(nbformat.writes(nb), as_version=4)


def code_cell(source: str, cell_id: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.id = cell_id
    return cell


def setup_index(nb) -> int:
    """Position of the first code cell (the imports) of the notebook."""
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def with_cells(nb, sources: list[str], *, at: int | None = None, tag: str = "attack"):
    """A copy of ``nb`` with new code cells inserted at ``at`` (default: right after the imports cell)."""
    nb = copy_nb(nb)
    pos = setup_index(nb) + 1 if at is None else at
    for k, src in enumerate(sources):
        nb.cells.insert(pos + k, code_cell(src, f"{tag}-{k}"))
    return nb


def replace_solution(nb, grade_id: str, source: str):
    """A copy of ``nb`` whose solution cell ``grade_id`` holds ``source``."""
    nb = copy_nb(nb)
    cell = next(c for c in nb.cells if _nbg(c).get("grade_id") == grade_id)
    cell.source = source
    return nb


def as_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def example(kind: str, cells: Iterable[str] = (), *, at: int | None = None) -> Callable[[Course, Targets, str], bytes]:
    """Builder of a submission: an example notebook (solution, blank, partial) or ``wrong``, plus ``cells``
    inserted at ``at``. A cell that uses ``TARGET`` gets a first line defining it: the dict of the host's
    course, out, submissions and repo folders and the student's own id (what an informed attacker knows)."""

    def build(course: Course, targets: Targets, student: str) -> bytes:
        nb = wrong_notebook(course.release) if kind == "wrong" else course.examples()[kind]
        known = {"course": str(targets.course), "out": str(targets.out), "submissions": str(targets.submissions),
                 "repo": str(targets.repo), "student": student}
        sources = [f"TARGET = {known!r}\n{c}" if "TARGET" in c else c for c in cells]
        return as_bytes(with_cells(nb, sources, at=at) if sources else nb)

    return build


# --------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Targets:
    """Where things are on the grading host: what a well-informed attacker aims at."""

    course: Path
    out: Path
    submissions: Path
    repo: Path = REPO


@dataclass(frozen=True)
class Case:
    """One submission of a batch.

    Attributes
    ----------
    name : str
        Short name (in the student id and in reports).
    what : str
        What the submission does, one line.
    base : str
        The notebook it starts from (solution, blank, wrong, partial) or the fault's kind.
    build : callable
        ``build(course, targets, student) -> bytes | None`` (None: the student folder has no notebook).
    passing : frozenset of str or None
        grade_ids its code honestly passes; None means every autograded test.
    filename : str
        Name of the notebook file in the student's folder.
    """

    name: str
    what: str
    base: str
    build: Callable[[Course, Targets, str], bytes | None]
    passing: frozenset[str] | None = frozenset()
    filename: str = NOTEBOOK

    def expected_passing(self, course: Course) -> set[str]:
        return set(course.points) if self.passing is None else set(self.passing)

    def expected_score(self, course: Course) -> float:
        return sum(course.points[g] for g in self.expected_passing(course))


def student_id(prefix: str, index: int, case: Case) -> str:
    """``zq<prefix><index>-<name>``: grading goes in id order, so the list order of the cases is the order
    in which they are started (the slowest first, for two workers to finish together)."""
    return f"zq{prefix}{index:02d}-{case.name}"


def check_ids_distinct(ids: list[str]) -> None:
    """No student id may occur inside another (the leak checks search for ids as text)."""
    for a in ids:
        for b in ids:
            assert a == b or a not in b, (a, b)


# --------------------------------------------------------------------------- grading a batch

def wait_until_gone(needle: str, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_matching(needle)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def repo_snapshot() -> dict[str, str]:
    """Digest of the repository's tracked files and of the grading outputs nbgrader would put at its root.

    Paths that other engineers are editing right now (:data:`IN_FLIGHT`) are left out.
    """
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    snap = {}
    for rel in sorted(filter(None, tracked.decode().split("\0"))):
        if rel.startswith(IN_FLIGHT):
            continue
        p = REPO / rel
        snap[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<missing>"
    for rel in ("gradebook.db", "submitted", "autograded", "feedback", "grading-out"):
        p = REPO / rel
        if p.is_file():
            snap[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            snap.update({f"{rel}/{k}": v for k, v in tree_digest(p).items()})
    for rel in ("source/fc_nets", "release/fc_nets"):  # the real assignment is read by the grading
        snap.update({f"{rel}/{k}": v for k, v in tree_digest(REPO / rel).items()})
    return snap


@dataclass
class Batch:
    """A graded batch: where everything is, and accessors for what was written."""

    prefix: str
    cases: list[Case]
    course: Course
    targets: Targets
    scratch: Path
    submitted: dict[str, bytes | None]
    inputs_before: dict[str, dict[str, str]]
    summary: object = None
    seconds: float = 0.0
    repo_before: dict[str, str] = field(default_factory=dict)
    repo_after: dict[str, str] = field(default_factory=dict)

    def input_changes(self) -> list[str]:
        """The inputs of the grading (submissions, the course copy's source and release) that changed."""
        now = {"submitted": tree_digest(self.targets.submissions), "source": tree_digest(self.course.root / "source"),
               "release": tree_digest(self.course.root / "release")}
        return [k for k in now if now[k] != self.inputs_before[k]]

    def report(self) -> str:
        """A table: each case's score, its honest score and its grading time."""
        rows = [f"{'case':<18}{'base':<9}{'score':>6}{'honest':>8}{'seconds':>9}  what"]
        for case in self.cases:
            doc = self.results(case.name)
            rows.append(f"{case.name:<18}{case.base:<9}{doc['score']:>6g}{case.expected_score(self.course):>8g}"
                        f"{doc['execution_time']:>9}  {case.what}")
        return "\n".join(rows + [f"batch of {len(self.cases)} graded in {self.seconds:.0f} s"])

    def repo_changes(self) -> list[str]:
        """Repository paths whose content changed while the batch was graded."""
        before, after = self.repo_before, self.repo_after
        return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))

    def leftovers(self) -> list[Path]:
        """The grader's scratch folders (workdirs, kernel staging) still in the scratch folder."""
        return [p for p in self.scratch.iterdir() if p.name.startswith(("ag-", "autograder-kernel-"))]

    def sid(self, name: str) -> str:
        return self.ids[self.cases.index(self.case(name))]

    def case(self, name: str) -> Case:
        return next(c for c in self.cases if c.name == name)

    @property
    def ids(self) -> list[str]:
        return [student_id(self.prefix, k, c) for k, c in enumerate(self.cases)]

    def results(self, name: str) -> dict:
        return json.loads((self.targets.out / self.sid(name) / "results.json").read_text())

    def feedback(self, name: str) -> str:
        """feedback.html with the HTML entities decoded."""
        return html.unescape((self.targets.out / self.sid(name) / "feedback.html").read_text())

    def tests(self, name: str) -> dict[str, dict]:
        return {t["extra_data"]["grade_id"]: t for t in self.results(name)["tests"]}

    def passing(self, name: str) -> set[str]:
        return {g for g, t in self.tests(name).items() if t.get("status") == "passed"}

    def outputs(self, name: str) -> str:
        """Everything the student's cells printed in this run (from the executed notebook saved for
        formgrader): what the attack cells report, without their code."""
        nb = nbformat.read(self.targets.course / "autograded" / self.sid(name) / ASSIGNMENT / NOTEBOOK, as_version=4)
        texts = []
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                texts.append(out.get("text", ""))
                texts += [out.get("evalue", ""), *out.get("traceback", [])]
                texts += [v for v in out.get("data", {}).values() if isinstance(v, str)]
        return "\n".join(texts)

    def written_for(self, sid: str) -> dict[str, str]:
        """Every file written for one student (outputs and the notebook saved for formgrader), as text."""
        files = {}
        for folder in (self.targets.out / sid, self.targets.course / "autograded" / sid):
            if folder.is_dir():
                for p in sorted(folder.rglob("*")):
                    if p.is_file():
                        text = p.read_text(errors="replace")
                        files[str(p)] = html.unescape(text) if p.suffix == ".html" else _json_text(text)
        return files


def _json_text(text: str) -> str:
    """The text plus every string inside it when it is JSON (so escaped quotes and newlines match)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    parts = [text]

    def walk(x) -> None:
        if isinstance(x, str):
            parts.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    return "\n".join(parts)


def prepare_batch(root: Path, prefix: str, cases: list[Case]) -> Batch:
    """Write the course copy and every case's submission under ``root``."""
    course = Course(make_course(root / "course"))
    subs = root / "submitted"
    targets = Targets(course=course.root, out=root / "out", submissions=subs)
    scratch = root / "scratch"
    scratch.mkdir()
    ids = [student_id(prefix, k, c) for k, c in enumerate(cases)]
    check_ids_distinct(ids)
    submitted = {}
    for case, sid in zip(cases, ids):
        folder = subs / sid / ASSIGNMENT
        folder.mkdir(parents=True)
        data = case.build(course, targets, sid)
        submitted[sid] = data
        if data is not None:
            (folder / case.filename).write_bytes(data)
    inputs = {"submitted": tree_digest(subs), "source": tree_digest(course.root / "source"),
              "release": tree_digest(course.root / "release")}
    return Batch(prefix, cases, course, targets, scratch, submitted, inputs)


def run_batch(batch: Batch, options: GradingOptions, workers: int) -> Batch:
    """Grade the batch in this process's grading functions (Dask workers when ``workers`` > 0)."""
    from autograder.grade.batch import grade_assignment

    batch.repo_before = repo_snapshot()
    t0 = time.monotonic()
    batch.summary = grade_assignment(ASSIGNMENT, batch.targets.submissions, course_dir=batch.course.root,
                                     out_dir=batch.targets.out, workers=workers, options=options,
                                     progress=False)
    batch.seconds = time.monotonic() - t0
    batch.repo_after = repo_snapshot()
    return batch


def graded(tmp_path_factory, name: str, prefix: str, cases: list[Case], options: GradingOptions,
           workers: int = 2) -> Iterator[Batch]:
    """A module fixture's body: prepare the batch in a fresh folder, grade it, yield it.

    While grading, the grader's scratch folders (workdirs, kernel staging) go to the batch's own scratch
    folder, in this process and in the Dask workers, and the grader fingerprint is pinned (the package
    may be edited while the tests run).
    """
    import pytest

    batch = prepare_batch(tmp_path_factory.mktemp(name), prefix, cases)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("autograder.grade.batch.grader_fingerprint", lambda: "pinned-grader-for-tests")
        mp.setattr(tempfile, "tempdir", str(batch.scratch))
        mp.setenv("TMPDIR", str(batch.scratch))
        yield run_batch(batch, options, workers)


def leaks(batch: Batch, sid: str, secrets: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """(file, kind, line) for every secret line found in what was written for ``sid`` that the
    student did not write themselves."""
    own = _json_text((batch.submitted.get(sid) or b"").decode("utf-8", errors="replace"))
    found = []
    for path, text in batch.written_for(sid).items():
        for kind, lines in secrets.items():
            found += [(path, kind, s) for s in lines if s in text and s not in own]
    return found
