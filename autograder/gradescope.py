"""Gradescope: the autograder bundle, the in-container grading run, and the PDF for manual grading.

Gradescope's autograder specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
an instructor uploads a zip with ``setup.sh`` and ``run_autograder`` at its root. Gradescope unpacks
it into ``/autograder/source``, runs ``setup.sh`` once as root to build the grading image (Ubuntu base
image), and for each submission copies ``run_autograder`` to ``/autograder/run_autograder`` and runs it
in a fresh container, with the student's files in ``/autograder/submission``; it reads the scores
from ``/autograder/results/results.json``.

* :func:`build_bundle` (``python -m autograder gradescope ASSIGNMENT --out DIR_OR_ZIP``) writes that
  zip: ``setup.sh``, ``run_autograder``, ``requirements.txt`` (the exact versions of the ``grader``
  extra installed here, :func:`pinned_requirements`) and ``course/``: the ``autograder`` and
  ``course_lib`` packages, the assignment's source notebook and its release folder. Everything but
  the two scripts is a secret (hidden checks, reference solutions): the zip stores it as readable by
  its owner only, and ``setup.sh`` makes ``/autograder/source`` root's alone (``0700``).
* :func:`run_autograder` (``python -m autograder.gradescope run``, what the bundle's
  ``run_autograder`` executes) grades the one notebook in ``<root>/submission`` with
  :func:`autograder.grade.pipeline.grade_submission` (the same pipeline, sandboxed student kernel and
  verdicts as ``python -m autograder grade``; the kernel never sees ``<root>/source``,
  ``<root>/submission`` or ``<root>/results``) and writes Gradescope's results.json with
  :func:`autograder.report.results.gradescope_results`. No notebook, or several none of which is named
  ``<assignment>.ipynb``, gives a results.json with score 0 and the reason, never a crash.
* :func:`notebook_pdf` (``python -m autograder pdf NOTEBOOK --out FILE.pdf``) renders a notebook (written
  answers, plots) to PDF with headless Chromium, for the second, manually graded Gradescope
  assignment that students upload it to (the route otter-grader takes, see docs/gradescope.md).

The root ``/autograder`` is overridable by the environment variable ``AUTOGRADER_ROOT`` (both scripts)
or ``--root`` (the Python entry point), so the bundle can be tested outside a container.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from autograder.errors import AutograderError

__all__ = [
    "ROOT_ENV_VAR",
    "DEFAULT_ROOT",
    "DEFAULT_SUBMISSION_TIMEOUT",
    "EXCLUDED_DISTRIBUTIONS",
    "GradescopeError",
    "PdfError",
    "Bundle",
    "pinned_requirements",
    "bundle_files",
    "build_bundle",
    "find_submission",
    "run_autograder",
    "find_chromium",
    "notebook_pdf",
    "main",
]

#: Environment variable that moves Gradescope's ``/autograder`` root (for tests outside a container).
ROOT_ENV_VAR = "AUTOGRADER_ROOT"
DEFAULT_ROOT = Path("/autograder")
#: Seconds for one submission in the container (cells, tests, restarts): below Gradescope's default
#: autograder timeout of 10 minutes, so that results.json is written before Gradescope stops the run.
DEFAULT_SUBMISSION_TIMEOUT = 480.0
#: The distribution of this project (installed from the bundle itself, never pinned from PyPI).
_PROJECT = "deepnet-course"
#: Never pinned into a bundle even when something here depends on them: the reference implementation
#: of the tests and the test tools (the ``grader`` extra needs none of them).
EXCLUDED_DISTRIBUTIONS = frozenset({"torch", "pytest", "pytest-timeout", "ruff", "playwright"})
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_PACKAGES = ("autograder", "course_lib")
_SKIP_DIRS = {"__pycache__", "examples", ".ipynb_checkpoints"}
#: Mode bits stored in the zip: the two scripts executable, everything else its owner's only.
_SCRIPT_MODE, _SECRET_MODE, _DIR_MODE = 0o755, 0o600, 0o700


class GradescopeError(AutograderError, ValueError):
    """A bundle cannot be built (or checked) as asked; the message says what to do."""


class PdfError(AutograderError, RuntimeError):
    """A notebook could not be rendered to PDF; the message says why and what to do."""


@dataclass(frozen=True)
class Bundle:
    """What :func:`build_bundle` wrote.

    Attributes
    ----------
    path : Path
        The zip file, or the folder holding the bundle's files.
    size_bytes : int
        Size of the zip (or the files' total size for a folder).
    files : tuple of str
        The bundle's paths, relative to its root.
    requirements : tuple of str
        The pinned requirements (``name==version``).
    """

    path: Path
    size_bytes: int
    files: tuple[str, ...]
    requirements: tuple[str, ...]


# --------------------------------------------------------------------------- building the bundle

def pinned_requirements(extra: str = "grader", *, project: str = _PROJECT,
                        exclude: frozenset[str] = EXCLUDED_DISTRIBUTIONS) -> list[str]:
    """Exact versions of everything ``project[extra]`` needs, as installed in this environment.

    The dependency closure of the project's base requirements and ``extra`` (following extras such
    as ``dask[distributed]`` and evaluating environment markers for this interpreter), each pinned
    to its installed version; plus the build backend of the project (``setuptools``), which the
    bundle needs to install the course package itself.

    Parameters
    ----------
    extra : str
        The optional-dependency group to pin.
    project : str
        The distribution whose requirements are followed (itself excluded).
    exclude : frozenset of str
        Distribution names never pinned.

    Returns
    -------
    list of str
        ``name==version`` lines, sorted by name.

    Raises
    ------
    GradescopeError
        When the project or one of its requirements is not installed here.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    def dist(name: str):
        try:
            return metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise GradescopeError(
                f"{name} is not installed in this environment ({sys.prefix}), so the bundle's pinned versions "
                f"cannot be taken from it: install the project with its '{extra}' extra first "
                "(scripts/setup.sh)") from None

    pins: dict[str, str] = {}
    done: dict[str, set[str]] = {}
    todo: list[tuple[str, set[str]]] = [(project, {extra})]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in exclude or extras <= done.get(key, {"<none>"}):
            continue
        done.setdefault(key, set()).update(extras)
        d = dist(name)
        if key != canonicalize_name(project):
            pins[key] = f"{d.metadata['Name']}=={d.version}"
        for text in d.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
                continue
            todo.append((req.name, set(req.extras) | {""}))
    pins["setuptools"] = f"setuptools=={dist('setuptools').version}"
    return sorted(pins.values(), key=str.lower)


def _fill(template: str, values: dict[str, str]) -> str:
    text = (_TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def _pyproject(version: str) -> str:
    major, minor = sys.version_info[:2]
    return (
        "# The course package inside a Gradescope bundle (generated): its dependencies are pinned in\n"
        "# ../requirements.txt and installed by setup.sh before this package (pip install --no-deps -e).\n"
        "[build-system]\n"
        'requires = ["setuptools>=77"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{_PROJECT}"\n'
        f'version = "{version}"\n'
        f'requires-python = "=={major}.{minor}.*"\n\n'
        "[tool.setuptools.packages.find]\n"
        'include = ["course_lib*", "autograder*"]\n\n'
        "[tool.setuptools.package-data]\n"
        '"autograder" = ["*.json", "templates/*"]\n')


def _module_file(module: ModuleType) -> Path:
    """The resolved file ``module`` was imported from."""
    if module.__file__ is None:
        raise GradescopeError(f"{module.__name__} is not imported from a file (a namespace package?); "
                              "install the project with scripts/setup.sh")
    return Path(module.__file__).resolve()


def _package_files(package: str) -> list[tuple[str, Path]]:
    """(path inside ``course/``, file) for the importable package ``package`` (no caches, no examples)."""
    import importlib

    root = _module_file(importlib.import_module(package)).parent
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            if fname.startswith(".") or path.suffix in (".pyc", ".pyo") or path.is_symlink():
                continue
            out.append((f"{package}/{path.relative_to(root).as_posix()}", path))
    return out


def bundle_files(assignment: str, course_dir: Path, *,
                 submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT) -> list[tuple[str, bytes, int]]:
    """The files of the Gradescope bundle of ``assignment``: ``(path, content, mode)``.

    Parameters
    ----------
    assignment : str
        Assignment name (``source/<assignment>/`` in ``course_dir``).
    course_dir : Path
        The nbgrader course folder, with the source notebook and the generated ``release/<assignment>/``.
    submission_timeout : float
        Seconds ``run_autograder`` gives one submission; keep it below the autograder timeout set on
        Gradescope.

    Returns
    -------
    list of (str, bytes, int)
        Paths relative to the bundle's root (``setup.sh``, ``run_autograder``, ``requirements.txt``,
        ``course/...``), contents and file modes.

    Raises
    ------
    autograder.grade.course.AssignmentNotFoundError
        For an unknown assignment.
    GradescopeError
        When the release folder is missing or the environment lacks a pinned requirement.
    """
    from importlib import metadata

    from autograder.grade.course import find_assignment

    info = find_assignment(Path(course_dir), assignment)
    if not info.release_dir.is_dir() or not any(info.release_dir.iterdir()):
        raise GradescopeError(f"the release of {assignment} is missing ({info.release_dir} does not exist or is "
                              f"empty); build it first: python -m autograder release {assignment}")
    pins = pinned_requirements()
    version = sys.version_info
    values = {"ASSIGNMENT": assignment, "PYTHON_VERSION": f"{version.major}.{version.minor}",
              "PYTHON_TUPLE": f"{version.major}, {version.minor}", "SUBMISSION_TIMEOUT": f"{submission_timeout:g}"}
    files: list[tuple[str, bytes, int]] = [
        ("setup.sh", _fill("gradescope_setup.sh", values).encode(), _SCRIPT_MODE),
        ("run_autograder", _fill("gradescope_run_autograder", values).encode(), _SCRIPT_MODE),
        ("requirements.txt", ("\n".join(pins) + "\n").encode(), _SECRET_MODE),
        ("course/pyproject.toml", _pyproject(metadata.version(_PROJECT)).encode(), _SECRET_MODE),
    ]
    for package in _PACKAGES:
        files += [(f"course/{rel}", path.read_bytes(), _SECRET_MODE) for rel, path in _package_files(package)]
    source_rel = info.source_notebook.resolve().relative_to(Path(course_dir).resolve()).as_posix()
    files.append((f"course/{source_rel}", info.source_notebook.read_bytes(), _SECRET_MODE))
    for path in sorted(info.release_dir.rglob("*")):
        rel = path.relative_to(info.release_dir)
        if path.is_file() and not path.is_symlink() and not any(p in _SKIP_DIRS or p.startswith(".")
                                                                for p in rel.parts):
            files.append((f"course/release/{assignment}/{rel.as_posix()}", path.read_bytes(), _SECRET_MODE))
    return files


def build_bundle(assignment: str, out: Path, *, course_dir: Path,
                 submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT) -> Bundle:
    """Write the Gradescope autograder bundle of ``assignment`` to ``out``.

    Parameters
    ----------
    assignment : str
        Assignment name.
    out : Path
        A ``*.zip`` file (what Gradescope's "Autograder configuration" takes), or a folder that gets
        the bundle's files unpacked (for inspection; zip its contents to upload).
    course_dir : Path
        The nbgrader course folder.
    submission_timeout : float
        Seconds one submission may take in the container (see :func:`bundle_files`).

    Returns
    -------
    Bundle

    Raises
    ------
    GradescopeError, autograder.grade.course.AssignmentNotFoundError
        Bad input, said clearly; nothing is written then.
    """
    from autograder.report.results import atomic_write

    course_dir = Path(course_dir).resolve()
    files = bundle_files(assignment, course_dir, submission_timeout=submission_timeout)
    out = Path(out)
    pins = next(tuple(content.decode().split()) for path, content, _ in files if path == "requirements.txt")
    if out.suffix.lower() == ".zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for folder in sorted({str(Path(p).parent) for p, _, _ in files} - {"."}):
                info = zipfile.ZipInfo(folder.rstrip("/") + "/", date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o040000 | _DIR_MODE) << 16
                zf.writestr(info, b"")
            for path, content, mode in files:
                info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, content)
        atomic_write(out, buf.getvalue())
        size = out.stat().st_size
    else:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise GradescopeError(f"{out} exists and is not an empty folder; pass a new folder or a .zip file")
        for path, content, mode in files:
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(mode)
        size = sum(len(content) for _, content, _ in files)
    return Bundle(out.resolve(), size, tuple(p for p, _, _ in files), pins)


# --------------------------------------------------------------------------- grading in the container

def _root(root: Path | str | None) -> Path:
    if root is None:
        root = os.environ.get(ROOT_ENV_VAR) or DEFAULT_ROOT
    return Path(root).resolve()


def find_submission(folder: Path, assignment: str) -> tuple[Path | None, list[str]]:
    """The student's notebook in Gradescope's submission folder, and what is wrong with it.

    The same rule as ``python -m autograder grade`` for one student's folder: the one ``*.ipynb``
    directly in ``folder`` (checkpoints and hidden files ignored), else the one named
    ``<assignment>.ipynb`` among several. A symbolic link is never followed: Gradescope copies the
    student's files as they are, and a link could point at the bundle's secrets.

    Returns
    -------
    (Path or None, list of str)
        The notebook (None when there is none to grade) and the problems found, in student-facing words.
    """
    from autograder.grade.submissions import _pick_notebook

    folder = Path(folder)
    if not folder.is_dir():
        return None, [f"no submission folder {folder} (Gradescope puts the uploaded files there)"]
    notebook, problems = _pick_notebook(folder, assignment)
    if notebook is None:
        problems = [p.replace(f"in {folder.name}/", "in your submission") for p in problems]
        return None, problems + [f"upload exactly one notebook, {assignment}.ipynb"]
    if notebook.is_symlink():
        return None, [f"{notebook.name} is a symbolic link, not a notebook file; upload the notebook itself"]
    return notebook, problems


def _write_results(path: Path, doc: dict) -> None:
    from autograder.report.results import atomic_write

    atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def run_autograder(assignment: str, *, root: Path | str | None = None, student: str = "student",
                   submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT) -> dict:
    """Grade the submission in ``<root>/submission`` into ``<root>/results/results.json``.

    Parameters
    ----------
    assignment : str
        Assignment name (the bundle's ``course/source/<assignment>/``).
    root : Path, optional
        Gradescope's root (default ``$AUTOGRADER_ROOT``, else ``/autograder``). The course is in
        ``<root>/source/course``.
    student : str
        Student id recorded in ``extra_data`` (Gradescope knows who submitted).
    submission_timeout : float
        Seconds for the student's cells and the tests together.

    Returns
    -------
    dict
        The results.json document written. It always exists afterwards: a missing or ambiguous
        notebook gives score 0 with the reason; a failure of the grader itself gives no score
        (``extra_data.grader_error``; Gradescope then reports the autograder as failed). The isolation
        mode of the student kernel is printed (Gradescope shows the output to instructors only).
    """
    from autograder.grade.course import find_assignment
    from autograder.grade.fingerprint import grader_fingerprint, job_fingerprint
    from autograder.grade.job import GradingJob, GradingOptions
    from autograder.grade.pipeline import grade_submission
    from autograder.grade.submissions import read_tree_files
    from autograder.report.results import gradescope_results

    root = _root(root)
    results = root / "results" / "results.json"
    try:
        info = find_assignment(root / "source" / "course", assignment)
        source = info.source_notebook.read_bytes()
        notebook, problems = find_submission(root / "submission", assignment)
        data = None
        if notebook is not None:
            try:
                data = notebook.read_bytes()
            except OSError as exc:
                problems.append(f"the notebook could not be read ({exc.strerror})")
        # The kernel works on its own copy of the notebook and the release: everything under the
        # root (secrets, the original upload, the results) stays out of its sight.
        hide = tuple(str(root / d) for d in ("source", "submission", "results"))
        options = GradingOptions(submission_timeout=submission_timeout, hide=hide)
        release_files = read_tree_files(info.release_dir, skip_suffixes=(".ipynb",))
        job = GradingJob(
            student=student, assignment=assignment, origin=str(notebook or root / "submission"),
            submission=data, problems=problems, source_notebook=source, release_dir=str(info.release_dir),
            notebook_name=info.source_notebook.name, release_files=release_files, options=options,
            fingerprint=job_fingerprint(data, source, grader_fingerprint(), release_files=release_files,
                                        options=options))
        result = grade_submission(job)
        # Gradescope shows run_autograder's output to instructors only (stdout_visibility hidden).
        print(f"student kernel isolation: {result.get('isolation') or 'none (the kernel did not start)'}")
        doc = gradescope_results(result)
    except Exception as exc:  # noqa: BLE001 - the student still gets a results.json that says what happened
        # A grader error is never the student's zero: no score at all (see results.gradescope_results).
        doc = {"visibility": "visible", "stdout_visibility": "hidden",
               "output": ("Not graded yet: the autograder failed before it could grade this submission. "
                          "This is not a problem with your submission: tell your instructor."),
               "extra_data": {"student": student, "assignment": assignment, "grader_error": True,
                              "grader_error_detail": f"{type(exc).__name__}: {exc}"}}
    _write_results(results, doc)
    return doc


def _check(assignment: str, root: Path | str | None) -> None:
    """What ``setup.sh`` verifies last: the bundle's own packages import and the course files are there."""
    import autograder
    import course_lib
    from autograder.grade.course import find_assignment

    root = _root(root)
    course = root / "source" / "course"
    for module in (autograder, course_lib):
        where = _module_file(module)
        if not where.is_relative_to(course):
            raise GradescopeError(f"{module.__name__} is imported from {where}, not from the bundle's {course}; "
                                  "the environment is not the bundle's own")
    info = find_assignment(course, assignment)
    if not info.release_dir.is_dir():
        raise GradescopeError(f"the bundle has no release folder {info.release_dir}")


# --------------------------------------------------------------------------- PDF for manual grading

def find_chromium() -> str:
    """The path of a Chromium (or Chrome) executable.

    Raises
    ------
    PdfError
        When none is installed, with how to install one.
    """
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    raise PdfError("no Chromium or Chrome found on PATH to render the PDF; install one (Debian/Ubuntu: "
                   "apt-get install chromium; macOS: install Google Chrome and put it on PATH) or pass --chromium PATH")


def _notebook_html(nb, title: str) -> str:
    """The notebook as one HTML page: cleaned and sanitized like feedback.html (the same allow-list of output
    types and metadata, :func:`autograder.report.feedback.clean_notebook`), images from ``data:`` URIs only."""
    from nbconvert import HTMLExporter

    from autograder.report.feedback import CONTENT_SECURITY_POLICY, clean_notebook, clean_student_html

    exporter = HTMLExporter(template_name="lab", sanitize_html=True, filters={"clean_html": clean_student_html})
    body, _ = exporter.from_notebook_node(clean_notebook(nb), resources={"metadata": {"name": title}})
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    return body.replace("<head>", "<head>" + meta, 1)


def notebook_pdf(notebook: Path, out: Path, *, chromium: str | None = None, timeout: float = 120.0) -> Path:
    """Render ``notebook`` (markdown, code and saved outputs: written answers and plots) to a PDF.

    The notebook is converted to HTML with nbconvert (lab template, the student's HTML sanitized),
    then printed by headless Chromium. Math is typeset by MathJax when it can be loaded; offline it
    stays as LaTeX source.

    Parameters
    ----------
    notebook : Path
        A saved ``.ipynb`` (run it and save it first: the PDF shows the saved outputs).
    out : Path
        The PDF to write.
    chromium : str, optional
        Chromium executable (default: :func:`find_chromium`).
    timeout : float
        Seconds Chromium may take.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    PdfError
        The notebook is missing or not a notebook, or Chromium failed; the message says what to do.
    """
    import nbformat

    notebook, out = Path(notebook), Path(out)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except FileNotFoundError:
        raise PdfError(f"{notebook} does not exist; pass the path of your saved .ipynb file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise PdfError(f"{notebook} is not a readable notebook ({type(exc).__name__}: {exc})") from None
    exe = chromium or find_chromium()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ag-pdf-") as tmp:
        page = Path(tmp) / "notebook.html"
        page.write_text(_notebook_html(nb, notebook.stem), encoding="utf-8")
        pdf = Path(tmp) / "notebook.pdf"
        argv = [exe, "--headless", "--disable-gpu", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
                "--run-all-compositor-stages-before-draw", "--virtual-time-budget=20000",
                f"--print-to-pdf={pdf}", page.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its own sandbox
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing {notebook} within {timeout:.0f} s") from None
        except OSError as exc:
            raise PdfError(f"Chromium ({exe}) could not be started: {exc}") from None
        if not pdf.is_file() or not pdf.read_bytes().startswith(b"%PDF"):
            err = proc.stderr.decode(errors="replace").strip()[-800:]
            raise PdfError(f"Chromium ({exe}) wrote no PDF for {notebook} (exit code {proc.returncode}): {err}")
        shutil.move(str(pdf), out)
    return out


# --------------------------------------------------------------------------- entry point in the container

def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.gradescope {run,check}``: the bundle's scripts call this inside the container.

    ``run`` grades the submission into results.json (exit code 0 whenever results.json was
    written); ``check`` is setup.sh's last step.
    """
    parser = argparse.ArgumentParser(
        prog="python -m autograder.gradescope",
        description="Inside a Gradescope container: grade the submission (run) or check the installation "
                    "(check). Instructors build the bundle with 'python -m autograder gradescope'.")
    parser.add_argument("command", choices=("run", "check"))
    parser.add_argument("--assignment", required=True, help="assignment name")
    parser.add_argument("--root", type=Path, default=None,
                        help=f"Gradescope's root folder (default: ${ROOT_ENV_VAR}, else {DEFAULT_ROOT})")
    parser.add_argument("--submission-timeout", type=float, default=DEFAULT_SUBMISSION_TIMEOUT, metavar="SECONDS",
                        help="time for one submission (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "check":
        try:
            _check(args.assignment, args.root)
        except Exception as exc:  # noqa: BLE001 - Gradescope's setup log gets one line
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"Gradescope autograder for {args.assignment} installed in {_root(args.root)}.")
        return 0
    doc = run_autograder(args.assignment, root=args.root, submission_timeout=args.submission_timeout)
    if doc.get("extra_data", {}).get("grader_error"):
        print(f"error: {args.assignment}: not graded, the grader failed: "
              f"{doc['extra_data'].get('grader_error_detail', '')}", file=sys.stderr)
        return 1
    max_score = sum(t.get("max_score", 0) for t in doc.get("tests", [])
                    if t.get("extra_data", {}).get("kind") == "auto")
    print(f"{args.assignment}: score {doc['score']:g} / {max_score:g}; results in "
          f"{_root(args.root) / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
