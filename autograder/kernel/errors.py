"""The kernel's exceptions: failures of the student kernel (:class:`KernelError`, grader-side errors, all
:class:`autograder.errors.AutograderError`) and the student's own exceptions re-raised in the grader
(:class:`StudentError`, deliberately not an ``AutograderError``, see :mod:`autograder.errors`)."""

from __future__ import annotations

import builtins
import functools

from autograder.errors import AutograderError

__all__ = ["KernelError", "KernelDied", "KernelTimeout", "ProtocolError", "StudentError", "NotDefinedError"]


class KernelError(AutograderError, RuntimeError):
    """Base class of the kernel failures; messages are written for students."""


class KernelDied(KernelError):
    """The kernel process ended (``os._exit``, a crash, the memory limit...)."""


class KernelTimeout(KernelError):
    """A cell or a call exceeded its time; the kernel has been killed (:meth:`StudentKernel.restart`)."""


class ProtocolError(KernelError):
    """The kernel sent a malformed, inconsistent or oversized reply; the kernel has been killed."""


class StudentError(Exception):
    """Student code running in the kernel raised an exception during a remote operation.

    The instance raised is also an instance of the student's exception's nearest built-in
    class (``except ValueError`` works for a student ``ValueError`` or ``OptionError``).

    Attributes
    ----------
    type_name : str
        The student-side exception class name.
    text : str
        Its message.
    student_traceback : str
        The student-side traceback (kernel-server frames removed).
    """

    def __init__(self, type_name: str, text: str, student_traceback: str = ""):
        super().__init__(f"{type_name}: {text}" if text else type_name)
        self.type_name = type_name
        self.text = text
        self.student_traceback = student_traceback

    def __str__(self) -> str:
        return f"{self.type_name}: {self.text}" if self.text else self.type_name


class NotDefinedError(StudentError, NameError):
    """The notebook does not define the global that was asked for (:meth:`StudentKernel.get`)."""

    def __init__(self, name: str):
        super().__init__("NameError", f"your notebook does not define `{name}`")
        self.name = name


_UNMAPPED = {"StopIteration", "StopAsyncIteration", "ExceptionGroup", "UnicodeError",
             "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeTranslateError"}


@functools.cache
def _student_error_class(builtin_name: str) -> type[StudentError]:
    base = getattr(builtins, builtin_name, None) if builtin_name not in _UNMAPPED else None
    if (not isinstance(base, type) or not issubclass(base, Exception) or base is Exception
            or issubclass(base, StudentError)):
        return StudentError
    return type(f"Student{builtin_name}", (StudentError, base), {"__module__": __name__})
