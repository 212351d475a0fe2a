"""Exceptions raised by :mod:`course_lib`.

Every exception subclasses a built-in (``ValueError``, ``FileNotFoundError``)
so that existing ``except ValueError`` code keeps working, and every message
says what was wrong, where, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CourseLibError",
    "ShapeError",
    "OptionError",
    "DataNotFoundError",
    "DataCorruptError",
    "SolverInputError",
    "SplitSizeError",
    "check_choice",
    "check_array",
]


class CourseLibError(Exception):
    """Base class of every error raised on purpose by ``course_lib``."""


class ShapeError(CourseLibError, ValueError):
    """An array argument has the wrong shape, dimensionality or dtype."""


class OptionError(CourseLibError, ValueError):
    """An option (mode, normalization, update rule, schedule...) is unknown."""


class DataNotFoundError(CourseLibError, FileNotFoundError):
    """The CIFAR-10 directory or one of its files does not exist."""


class DataCorruptError(CourseLibError, ValueError):
    """A CIFAR-10 file exists but cannot be read or fails its checksum."""


class SplitSizeError(CourseLibError, ValueError):
    """More training, validation or test images were requested than the data holds."""


class SolverInputError(CourseLibError, ValueError):
    """The model or the data dict given to :class:`~course_lib.solver.Solver` breaks the cs231n contract."""


def check_choice(where: str, name: str, value: object, allowed: Iterable[object]) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of ``allowed``.

    Parameters
    ----------
    where : str
        The function or class that received the option, e.g. ``"batchnorm_forward"``.
    name : str
        The option's name, e.g. ``"mode"``.
    value : object
        The value that was given.
    allowed : iterable
        The accepted values, listed in the message.
    """
    allowed = list(allowed)
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise OptionError(f"{where}: unknown {name} {value!r}; use one of {choices}.")


def check_array(where: str, name: str, value: object, ndim: int | tuple[int, ...] | None = None,
                shape: tuple[int | None, ...] | None = None):
    """Check that ``value`` is a floating or integer numpy array of the expected shape.

    Parameters
    ----------
    where, name : str
        Function and argument names, used in the message.
    value : object
        The argument to check.
    ndim : int or tuple of int, optional
        Accepted numbers of dimensions.
    shape : tuple, optional
        Expected shape; ``None`` entries match any size.

    Returns
    -------
    numpy.ndarray
        ``value`` itself (not copied).
    """
    import numpy as np

    if not isinstance(value, np.ndarray):
        raise ShapeError(
            f"{where}: {name} must be a numpy array, got {type(value).__name__}; "
            f"convert it with np.asarray({name})."
        )
    if value.dtype.kind not in "fiub":
        raise ShapeError(
            f"{where}: {name} has dtype {value.dtype}, expected a numeric (float) array; "
            f"convert it with {name}.astype(np.float64)."
        )
    if ndim is not None:
        ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in ndims:
            raise ShapeError(
                f"{where}: {name} must have {' or '.join(map(str, ndims))} dimensions, "
                f"got shape {value.shape}."
            )
    if shape is not None:
        ok = value.ndim == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
        if not ok:
            want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            raise ShapeError(f"{where}: {name} has shape {value.shape}, expected {want}.")
    return value
