"""Why a release cannot be built."""

from __future__ import annotations

from autograder.errors import AutograderError

__all__ = [
    "ReleaseError",
    "SourceNotFoundError",
]


class ReleaseError(AutograderError, ValueError):
    """A release cannot be built: missing source, unreadable solution markers, unparsable library module."""


class SourceNotFoundError(ReleaseError, FileNotFoundError):
    """``source/<name>/<notebook>.ipynb`` does not exist."""
