"""Grading pipeline for the course: sandboxed student kernels, remote checks and the CLI."""

__version__ = "0.1.0"
