"""Check your notebook before you submit it: which test cells pass?

In a notebook cell::

    from course_lib.check import check; check()

or from a terminal, in the assignment folder: ``python -m course_lib.check [NOTEBOOK]`` (instructors:
``python -m autograder check``, the same command). The command exits with 0 when every test cell passes,
1 when one fails, 2 when the notebook cannot be found or read.

It runs your **saved** notebook from top to bottom in a fresh kernel (save first!) and
prints a table of the test cells (the cells with ``assert`` checks) and whether each one
passed. Only the visible tests that are in your notebook run; the grader also runs hidden
tests, so passing here is necessary but not sufficient.

This module runs on students' machines from the released ``course_lib``: it needs only the
standard library, ``nbformat`` and ``nbclient`` (which Jupyter installs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course_lib.errors import CourseLibError

__all__ = ["CheckError", "CheckResult", "check", "find_notebook", "find_notebook_in", "find_test_cells", "format_table",
           "add_arguments", "epilog", "main", "DESCRIPTION"]

#: Set in the kernel that :func:`check` starts (and by the grader): a nested ``check()`` call
#: (the notebook's own check cell) returns at once instead of starting another kernel.
_GUARD = "COURSE_LIB_CHECK_RUNNING"
_GRADING = "AUTOGRADER_GRADING"


class CheckError(CourseLibError, ValueError):
    """The notebook to check cannot be found or read."""


@dataclass
class CheckResult:
    """Outcome of one test cell.

    Attributes
    ----------
    grade_id : str
        The test cell's id.
    points : float
        Points the cell is worth.
    passed : bool
    message : str
        ``"passed"``, the error (``AssertionError: ...``), or why it did not run.
    cell : int
        1-based cell number in the notebook.
    """

    grade_id: str
    points: float
    passed: bool
    message: str
    cell: int


def _candidates(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def find_notebook(path: str | os.PathLike | None = None) -> Path:
    """The notebook to check.

    Parameters
    ----------
    path : path-like, optional
        Explicit notebook. Without it: the notebook this kernel was started for (when Jupyter
        or VS Code tells), else the only ``.ipynb`` in the current folder.

    Raises
    ------
    CheckError
        No notebook, or several and none can be told apart.
    """
    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir():
            return find_notebook_in(p)
        if not p.is_file():
            raise CheckError(f"notebook not found: {p}; pass the path of your .ipynb file")
        if p.suffix.lower() != ".ipynb":
            raise CheckError(f"{p} is not a notebook (.ipynb)")
        return p
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb") and Path(session).is_file():
        return Path(session)
    try:  # VS Code sets this global in the notebook's IPython namespace
        ipython = sys.modules.get("IPython")
        ip = ipython.get_ipython() if ipython is not None else None
        vsc = ip.user_ns.get("__vsc_ipynb_file__") if ip is not None else None
        if vsc and Path(vsc).is_file():
            return Path(vsc)
    except Exception:  # noqa: BLE001 - any odd IPython state: fall back to the folder
        pass
    return find_notebook_in(Path.cwd())


def find_notebook_in(folder: Path) -> Path:
    """The only notebook in ``folder`` (raises :class:`CheckError` otherwise)."""
    found = _candidates(folder)
    if len(found) == 1:
        return found[0]
    if not found:
        raise CheckError(f"no notebook (.ipynb) in {folder}; pass its path: check('my_notebook.ipynb')")
    names = ", ".join(p.name for p in found)
    raise CheckError(f"several notebooks in {folder} ({names}); say which one: check('{found[0].name}')")


def find_test_cells(nb) -> list[tuple[int, str, float]]:
    """(cell index, grade_id, points) of the autograded test cells of a notebook."""
    out = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if (cell.get("cell_type") == "code" and isinstance(meta, dict) and meta.get("grade")
                and not meta.get("solution")):
            pts = meta.get("points", 0)
            out.append((i, str(meta.get("grade_id", f"cell-{i + 1}")),
                        float(pts) if isinstance(pts, (int, float)) else 0.0))
    return out


def _error_of(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            evalue = str(out.get("evalue", "")).strip()
            return f"{out.get('ename', 'Error')}: {evalue}" if evalue else str(out.get("ename", "Error"))
    return None


def format_table(results: list[CheckResult], notebook: Path) -> str:
    """The text table that :func:`check` prints."""
    width = max([len("test")] + [len(r.grade_id) for r in results])
    lines = [f"Visible tests of {notebook.name} (saved version):", "",
             f"  {'test'.ljust(width)}  points  result"]
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        message = [] if r.passed else r.message.strip().splitlines()
        detail = f"  {message[0]}" if message else ""
        lines.append(f"  {r.grade_id.ljust(width)}  {r.points:6g}  {status}{detail}")
        # The whole message, never cut: its hint is what tells the student what to fix.
        lines += [f"      {line}" for line in message[1:]]
    n_pass = sum(r.passed for r in results)
    pts = sum(r.points for r in results if r.passed)
    total = sum(r.points for r in results)
    lines += ["", f"{n_pass} of {len(results)} test cells pass ({pts:g} of {total:g} points). "
                  "The grader also runs hidden tests."]
    return "\n".join(lines)


def check(path: str | os.PathLike | None = None, *, timeout: float = 600.0, show: bool = True,
          kernel_name: str | None = None) -> list[CheckResult]:
    """Run the saved notebook in a fresh kernel and report which test cells pass.

    Parameters
    ----------
    path : path-like, optional
        The notebook; default: the notebook being run, or the only one in the current folder.
    timeout : float
        Seconds allowed for one cell (a cell over it is interrupted and counts as an error).
    show : bool
        Print the table.
    kernel_name : str, optional
        Jupyter kernel to use; default: this Python's ``python3`` kernel.

    Returns
    -------
    list of CheckResult
        One per test cell, in notebook order (empty when called while checking or grading).

    Raises
    ------
    CheckError
        The notebook cannot be found or read.
    """
    if os.environ.get(_GUARD) or os.environ.get(_GRADING):
        if show:
            print("check(): skipped here (the notebook is already being checked or graded).")
        return []
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb_path = find_notebook(path)
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - JSON, encoding, schema: all mean "cannot read"
        raise CheckError(f"cannot read {nb_path}: {exc}. Is it a valid notebook? Try re-saving it in Jupyter.") \
            from exc
    tests = find_test_cells(nb)
    if not tests:
        if show:
            print(f"{nb_path.name} has no test cells to check.")
        return []
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = []
    env = {**os.environ, _GUARD: "1"}
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name or "python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(nb_path.parent.resolve())}})
    if show:
        print(f"Running {nb_path.name} in a fresh kernel...", flush=True)
    t0 = time.monotonic()
    died: str | None = None
    try:
        client.execute(env=env)
    except DeadKernelError as exc:
        died = f"not run: the kernel died ({exc})"
    except Exception as exc:  # noqa: BLE001 - kernel start failures etc.: report, do not crash the notebook
        died = f"not run: {type(exc).__name__}: {exc}"
    results = []
    for idx, gid, pts in tests:
        cell = nb.cells[idx]
        err = _error_of(cell)
        ran = cell.get("execution_count") is not None or bool(cell.get("outputs")) or not cell.source.strip()
        if err is not None:
            results.append(CheckResult(gid, pts, False, err, idx + 1))
        elif died is not None and not ran:
            results.append(CheckResult(gid, pts, False, died, idx + 1))
        else:
            results.append(CheckResult(gid, pts, True, "passed", idx + 1))
    if show:
        print(format_table(results, nb_path))
        print(f"({time.monotonic() - t0:.0f} s)")
    return results


#: What the command does, for ``--help`` here and in ``python -m autograder check``.
DESCRIPTION = "Run your saved notebook top to bottom in a fresh kernel and print which test cells pass."


def epilog(prog: str) -> str:
    """The examples shown by ``--help`` of the command ``prog``."""
    return f"""\
examples:
  {prog} fc_nets.ipynb
  {prog}            (the only notebook in the current folder)

In a notebook cell:  from course_lib.check import check; check()
Save the notebook first: the saved file is what gets checked. Only the visible tests in
your notebook run here; the grader also runs hidden tests.
Exit code: 0 every test cell passes, 1 some fail, 2 the notebook cannot be found or read.
"""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the check command's arguments (``NOTEBOOK``, ``--timeout``) to ``parser``."""
    parser.add_argument("notebook", metavar="NOTEBOOK", nargs="?", type=Path,
                        help="the notebook (default: the only .ipynb in the current folder)")
    parser.add_argument("--timeout", type=_positive_seconds, default=600.0, metavar="SECONDS",
                        help="time limit of one cell (default: %(default)s)")


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.check [NOTEBOOK] [--timeout SECONDS]``; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: the command line).

    Returns
    -------
    int
        0 when every test cell passes (or the notebook has none), 1 when one fails or could not run,
        2 when the notebook cannot be found or read (one ``error:`` line on stderr, no traceback).
    """
    prog = "python -m course_lib.check"
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=epilog(prog),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        results = check(args.notebook, timeout=args.timeout)
    except CheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
