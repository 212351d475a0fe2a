"""The base of every error the grader raises on purpose.

Each autograder exception subclasses :class:`AutograderError` and keeps its built-in base (``ValueError``,
``RuntimeError``, ``LookupError``...), so ``except ValueError`` code keeps working; the command line catches
:class:`AutograderError` once and prints its message (written to say what was wrong, where, and what to do).

Two families deliberately stay outside it:

- :class:`autograder.kernel.errors.StudentError` and its subclasses: the *student's* exceptions, re-raised in the
  grader while a hidden check calls student code; no handler of the grader's own failures may take one of
  them for a grader error.
- :mod:`autograder.kernel.wire`'s ``WireError``/``NotPlainData``: ``wire.py`` also runs, as a standalone file, inside
  the student's sandbox (standard library and numpy only); the kernel client turns a malformed reply into a
  :class:`autograder.kernel.errors.ProtocolError`, which is an :class:`AutograderError`.
"""

from __future__ import annotations

__all__ = ["AutograderError"]


class AutograderError(Exception):
    """Base class of every error raised on purpose by ``autograder`` (see the module docstring)."""
