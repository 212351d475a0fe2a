"""Step 4 of a release: ``requirements.txt`` and ``README.md`` for students."""

from __future__ import annotations

from pathlib import Path

from autograder.assignments import get_assignment
from autograder.release.library import LIBRARY

__all__ = [
    "REQUIREMENTS",
    "write_student_files",
]


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


def write_student_files(name: str, out_dir: Path, course_dir: Path | None = None) -> None:
    """Write ``requirements.txt`` and ``README.md`` of the release of ``name`` into ``out_dir``."""
    assignment = get_assignment(name, course_dir)
    (out_dir / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(
        _README.format(name=name, notebook=assignment.notebook, library=LIBRARY), encoding="utf-8")
