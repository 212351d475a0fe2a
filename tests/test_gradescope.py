"""Gradescope: the autograder bundle installed by its own setup.sh and run like Gradescope runs it,
and the PDF of a notebook for manual grading.

Gradescope's autograder specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip is unpacked into ``/autograder/source``, ``setup.sh`` runs once, ``run_autograder`` is copied to
``/autograder/run_autograder`` and run per submission with the files in ``/autograder/submission``,
and ``/autograder/results/results.json`` is read. The tests do exactly that under a simulated root
(``AUTOGRADER_ROOT``), with a clean environment (no PYTHONPATH, not this repository's venv), so the
grader that runs is the bundle's own copy in the bundle's own pinned virtual environment.

The simulated root lies outside ``/tmp``: the student kernel's sandbox mounts a fresh ``/tmp``, so a
venv under it would vanish inside the sandbox (issue 9, point 3, is about lifting that).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import grading_fixture as fx
import nbformat
import pytest

from autograder import cli
from autograder.assignments import get_assignment
from autograder.grade.course import AssignmentNotFoundError
from autograder.gradescope import (
    EXCLUDED_DISTRIBUTIONS,
    GradescopeError,
    PdfError,
    build_bundle,
    notebook_pdf,
    pinned_requirements,
)
from autograder.report.results import validate_results

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "autograder" / "examples"
#: The grader extra and the base dependencies of pyproject.toml: each must be pinned to what is installed here.
DIRECT = ("nbgrader", "nbformat", "nbclient", "nbconvert", "ipykernel", "jupyter_client", "dask", "distributed",
          "numpy", "tqdm", "matplotlib")


def example(assignment: str, student: str) -> Path:
    """The one notebook of a bundled example submission."""
    (path,) = sorted((EXAMPLES / assignment / student).rglob("*.ipynb"))
    return path


def auto_max(doc: dict) -> float:
    return sum(t["max_score"] for t in doc["tests"] if t["extra_data"]["kind"] == "auto")


def unpack(zip_path: Path, dest: Path) -> None:
    """Unzip like Gradescope does, keeping the modes the zip stores."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
        for info in zf.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(dest / info.filename, mode)


def clean_env(root: Path) -> dict[str, str]:
    """The machine's environment without this repository's venv or import path, with the simulated root."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env["AUTOGRADER_ROOT"] = str(root)
    env["AUTOGRADER_PYTHON"] = sys._base_executable  # the interpreter this venv (and the pins) came from
    return env


@dataclass
class Installed:
    root: Path
    env: dict[str, str]
    bundle_bytes: int
    requirements: tuple[str, ...]
    setup_seconds: float

    def install_source(self, zip_path: Path) -> None:
        """Swap in another bundle's files (same pinned environment; the venv stays)."""
        shutil.rmtree(self.root / "source")
        unpack(zip_path, self.root / "source")
        shutil.copy2(self.root / "source" / "run_autograder", self.root / "run_autograder")

    def grade(self, files: dict[str, bytes | Path]) -> tuple[dict, float]:
        """Run ``run_autograder`` on a fresh submission folder; results.json (schema-checked) and seconds."""
        doc, seconds, _ = self.grade_with_output(files)
        return doc, seconds

    def grade_with_output(self, files: dict[str, bytes | Path]) -> tuple[dict, float, str]:
        """:meth:`grade`, and what run_autograder printed (Gradescope shows it to instructors only)."""
        for d in ("submission", "results"):
            shutil.rmtree(self.root / d, ignore_errors=True)
        sub = self.root / "submission"
        sub.mkdir()
        for name, content in files.items():
            if isinstance(content, Path):
                (sub / name).symlink_to(content)
            else:
                (sub / name).write_bytes(content)
        t0 = time.monotonic()
        proc = subprocess.run([str(self.root / "run_autograder")], env=self.env, cwd=self.root,
                              capture_output=True, text=True, timeout=900)
        seconds = time.monotonic() - t0
        assert proc.returncode == 0, f"run_autograder failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        doc = json.loads((self.root / "results" / "results.json").read_text(encoding="utf-8"))
        validate_results(doc)
        return doc, seconds, proc.stdout


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory) -> Path:
    return build_bundle("fc_nets", tmp_path_factory.mktemp("bundle") / "fc_nets.zip", course_dir=REPO).path


@pytest.fixture(scope="module")
def installed(bundle_zip):
    """A simulated /autograder with the fc_nets bundle unpacked and its own setup.sh run."""
    root = REPO / "build" / f"gradescope-root-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    inst = Installed(root, clean_env(root), bundle_zip.stat().st_size, (), 0.0)
    try:
        unpack(bundle_zip, root / "source")
        t0 = time.monotonic()
        proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=inst.env, cwd=root / "source",
                              capture_output=True, text=True, timeout=1500)
        inst.setup_seconds = time.monotonic() - t0
        assert proc.returncode == 0, \
            f"setup.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # what Gradescope does
        inst.requirements = tuple((root / "source" / "requirements.txt").read_text().split())
        yield inst
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- the bundle's contents

def test_bundle_holds_scripts_pins_and_the_hidden_course_files_readable_by_root_only(bundle_zip):
    with zipfile.ZipFile(bundle_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        pins = zf.read("requirements.txt").decode().split()
        scripts = [zf.read(name).decode() for name in ("setup.sh", "run_autograder")]
    for script in scripts:
        assert script.startswith("#!/usr/bin/env bash\n") and not re.search(r"@[A-Z_]+@", script)
    major, minor = sys.version_info[:2]
    assert f'PY="${{AUTOGRADER_PYTHON:-python{major}.{minor}}}"' in scripts[0]
    assert '--submission-timeout "480"' in scripts[1]
    for name in ("setup.sh", "run_autograder", "requirements.txt", "course/pyproject.toml",
                 "course/autograder/gradescope.py", "course/autograder/checks/fc_nets.py",
                 "course/course_lib/layers.py", "course/source/fc_nets/fc_nets.ipynb",
                 "course/release/fc_nets/fc_nets.ipynb", "course/release/fc_nets/course_lib/__init__.py"):
        assert name in infos, f"{name} missing from the bundle"
    assert not [n for n in infos if "/examples/" in n or "__pycache__" in n or n.startswith("course/source/batchnorm")]
    for name, info in infos.items():
        mode = (info.external_attr >> 16) & 0o777
        if name in ("setup.sh", "run_autograder"):
            assert mode == 0o755, name
        else:
            assert mode & 0o077 == 0, f"{name} is stored readable by others ({oct(mode)})"
    installed_versions = {n.split("==")[0].lower().replace("_", "-"): n.split("==")[1] for n in pins}
    for name in DIRECT:
        assert installed_versions[name.replace("_", "-")] == metadata.version(name), name
    assert not EXCLUDED_DISTRIBUTIONS & set(installed_versions)
    assert "deepnet-course" not in installed_versions  # installed from the bundle itself
    assert pins == pinned_requirements()


def test_unknown_assignment_missing_release_and_busy_folder_are_clear_errors(tmp_path):
    with pytest.raises(AssignmentNotFoundError, match="fc_nets"):
        build_bundle("nope", tmp_path / "x.zip", course_dir=REPO)
    course = fx.make_course(tmp_path / "course")
    shutil.rmtree(course / "release" / fx.ASSIGNMENT)
    with pytest.raises(GradescopeError, match="python -m autograder release tiny"):
        build_bundle(fx.ASSIGNMENT, tmp_path / "tiny.zip", course_dir=course)
    assert not (tmp_path / "tiny.zip").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with pytest.raises(GradescopeError, match="not an empty folder"):
        build_bundle("fc_nets", tmp_path / "busy", course_dir=REPO)


def test_cli_builds_the_zip_and_a_folder(tmp_path, capsys):
    assert cli.main(["gradescope", "fc_nets", "--out", str(tmp_path / "b.zip")]) == 0
    assert "pinned requirements" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        zipped = sorted(n for n in zf.namelist() if not n.endswith("/"))
    assert cli.main(["gradescope", "fc_nets", "--out", str(tmp_path / "dir")]) == 0
    unpacked = sorted(p.relative_to(tmp_path / "dir").as_posix() for p in (tmp_path / "dir").rglob("*") if p.is_file())
    assert unpacked == zipped
    assert os.access(tmp_path / "dir" / "run_autograder", os.X_OK)
    assert cli.main(["gradescope", "nope", "--out", str(tmp_path / "c.zip")]) == 2
    assert "unknown assignment 'nope'" in capsys.readouterr().err


def test_run_autograder_without_its_environment_writes_a_grader_error_not_a_zero(tmp_path, bundle_zip):
    root = tmp_path / "root"
    unpack(bundle_zip, root / "source")
    proc = subprocess.run([str(root / "source" / "run_autograder")], env=clean_env(root), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    doc = json.loads((root / "results" / "results.json").read_text())
    # A grader error is not the student's zero: no score, so Gradescope reports the autograder as failed.
    assert "score" not in doc and doc["extra_data"]["grader_error"] is True
    assert "setup.sh did not finish" in doc["output"] and "not a problem with your submission" in doc["output"]


# --------------------------------------------------------------------------- installed and run like Gradescope

def test_setup_installs_the_pinned_environment_and_the_bundles_own_grader(installed):
    py = installed.root / "venv" / "bin" / "python"
    freeze = subprocess.run([str(py), "-m", "pip", "freeze", "--all", "--exclude-editable"], env=installed.env,
                            capture_output=True, text=True, check=True).stdout.split()

    def norm(req: str) -> str:
        name, version = req.split("==")
        return f"{name.replace('_', '-').lower()}=={version}"

    # Exactly the pins: a dependency the pins missed would have been installed unpinned and show up here.
    assert {norm(r) for r in freeze if not r.startswith("pip==")} == {norm(r) for r in installed.requirements}
    where = subprocess.run([str(py), "-c", "import autograder, course_lib; print(autograder.__file__); "
                            "print(course_lib.__file__)"], env=installed.env, cwd="/", capture_output=True,
                           text=True, check=True).stdout.split()
    for path in where:
        assert Path(path).is_relative_to(installed.root / "source" / "course"), path
    source = installed.root / "source"
    assert stat.S_IMODE(source.stat().st_mode) == 0o700
    assert not [p for p in source.rglob("*") if stat.S_IMODE(p.lstat().st_mode) & 0o077]


def test_solution_gets_full_marks(installed):
    doc, seconds, stdout = installed.grade_with_output({"fc_nets.ipynb": example("fc_nets", "solution").read_bytes()})
    assert "student kernel isolation: " in stdout and f"score {doc['score']:g} / " in stdout
    total = get_assignment("fc_nets").total_points
    assert auto_max(doc) == total
    assert doc["score"] == total, doc["output"]
    assert all(t["status"] == "passed" for t in doc["tests"] if t["extra_data"]["kind"] == "auto")
    print(f"\nGradescope bundle of fc_nets: {installed.bundle_bytes / 1e6:.2f} MB; setup.sh {installed.setup_seconds:.0f} s; "
          f"run_autograder on the solution example {seconds:.1f} s")


def test_blank_release_gets_zero(installed):
    doc, _ = installed.grade({"fc_nets.ipynb": example("fc_nets", "blank").read_bytes()})
    assert doc["score"] == 0
    assert auto_max(doc) == get_assignment("fc_nets").total_points
    assert all(t["status"] == "failed" for t in doc["tests"] if t["extra_data"]["kind"] == "auto")


@pytest.mark.parametrize("files, reason", [
    ({}, "no notebook found in your submission"),
    ({"a.ipynb": b"{}", "b.ipynb": b"{}"}, "several notebooks found (a.ipynb, b.ipynb)"),
    ({"notes.txt": b"my answers"}, "no notebook found"),
])
def test_zero_or_several_notebooks_give_zero_with_the_reason(installed, files, reason):
    doc, _ = installed.grade(files)
    assert doc["score"] == 0
    assert reason in doc["output"] and "upload exactly one notebook, fc_nets.ipynb" in doc["output"]
    autos = [t for t in doc["tests"] if t["extra_data"]["kind"] == "auto"]
    assert autos and all(t["status"] == "failed" and reason in t["output"] for t in autos)


def test_a_symlink_to_the_hidden_source_is_not_followed(installed):
    secret = installed.root / "source" / "course" / "source" / "fc_nets" / "fc_nets.ipynb"
    doc, _ = installed.grade({"fc_nets.ipynb": secret})
    assert doc["score"] == 0 and "symbolic link" in doc["output"]
    assert "HIDDEN TESTS" not in json.dumps(doc)


def test_student_code_sees_none_of_the_bundle(installed):
    """A correct submission that breaks itself if it can see anything of the bundle or the submission folder."""
    nb = nbformat.reads(example("fc_nets", "solution").read_text(encoding="utf-8"), as_version=4)
    root = installed.root
    secrets = [root / "source", root / "source" / "course" / "autograder" / "checks" / "fc_nets.py",
               root / "source" / "course" / "source" / "fc_nets" / "fc_nets.ipynb", root / "submission",
               root / "results"]
    nb.cells.append(nbformat.v4.new_code_cell(
        "import importlib.util, os\n"
        f"_seen = [p for p in {[str(s) for s in secrets]!r} if os.path.exists(p)]\n"
        "try:\n"
        "    _seen += ['autograder.checks'] if importlib.util.find_spec('autograder.checks') else []\n"
        "except Exception:\n"
        "    pass\n"
        "if _seen:\n"
        "    def affine_forward(x, w, b):\n"
        "        raise AssertionError('the sandbox let me see ' + repr(_seen))\n"))
    doc, _ = installed.grade({"fc_nets.ipynb": nbformat.writes(nb).encode()})
    failed = [t["output"] for t in doc["tests"] if t.get("status") == "failed"]
    assert doc["score"] == get_assignment("fc_nets").total_points, failed


@pytest.mark.parametrize("assignment", ["batchnorm", "dropout", "deep_networks"])
def test_other_assignments_solution_full_blank_zero(installed, bundle_zip, tmp_path, assignment):
    zip_path = build_bundle(assignment, tmp_path / f"{assignment}.zip", course_dir=REPO).path
    with zipfile.ZipFile(zip_path) as zf:
        assert tuple(zf.read("requirements.txt").decode().split()) == installed.requirements  # same environment
    installed.install_source(zip_path)
    try:
        total = get_assignment(assignment).total_points
        doc, _ = installed.grade({f"{assignment}.ipynb": example(assignment, "solution").read_bytes()})
        assert doc["score"] == total == auto_max(doc), doc["output"]
        doc, _ = installed.grade({f"{assignment}.ipynb": example(assignment, "blank").read_bytes()})
        assert doc["score"] == 0 and auto_max(doc) == total
    finally:
        installed.install_source(bundle_zip)  # the other tests grade fc_nets


# --------------------------------------------------------------------------- PDF for manual grading

def _answer_notebook() -> nbformat.NotebookNode:
    """A notebook with a written answer and a plot, executed so that the plot is a saved output."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Inline question 1\n\nMy answer: batchnorm lets larger learning "
                                      "rates train because the scale of each layer's input is fixed."),
        nbformat.v4.new_code_cell("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                                  "%matplotlib inline\nplt.plot([0, 1, 2], [2, 1, 3])\nplt.title('loss curve')\n"
                                  "plt.show()"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert any(o.get("data", {}).get("image/png") for o in nb.cells[1].outputs), "the plot was not produced"
    return nb


def test_pdf_holds_the_written_answer_and_the_plot(tmp_path, chromium):
    import pypdf

    path = tmp_path / "answers.ipynb"
    nbformat.write(_answer_notebook(), path)
    out = notebook_pdf(path, tmp_path / "out" / "answers.pdf", chromium=chromium)
    reader = pypdf.PdfReader(out)
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert "Inline question 1" in text and "batchnorm lets larger learning rates train" in text
    images = [img for page in reader.pages for img in page.images]
    assert images, "the plot is not in the PDF"


def test_pdf_command_and_its_errors(tmp_path, capsys, chromium, monkeypatch):
    path = tmp_path / "answers.ipynb"
    nbformat.write(_answer_notebook(), path)
    monkeypatch.setenv("PATH", str(Path(chromium).parent) + os.pathsep + os.environ.get("PATH", ""))
    assert cli.main(["pdf", str(path)]) == 0
    assert (tmp_path / "answers.pdf").read_bytes().startswith(b"%PDF")
    assert cli.main(["pdf", str(tmp_path / "missing.ipynb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.ipynb").write_text("not json")
    with pytest.raises(PdfError, match="not a readable notebook"):
        notebook_pdf(tmp_path / "bad.ipynb", tmp_path / "bad.pdf", chromium=chromium)
    with pytest.raises(PdfError, match="could not be started"):
        notebook_pdf(path, tmp_path / "x.pdf", chromium=str(tmp_path / "no-such-chromium"))
