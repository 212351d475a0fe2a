"""Grading pipeline for the course: sandboxed student kernels, remote checks and the CLI."""


def __getattr__(name: str) -> str:
    """``autograder.__version__``: the installed project's version (``course_lib.__version__``, the one source)."""
    if name == "__version__":
        from importlib import metadata

        return metadata.version("deepnet-course")
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")
