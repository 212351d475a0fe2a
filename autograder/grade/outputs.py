"""Caps on what the student's cells print, kept for feedback.html (per stream, per cell, per notebook)."""

from __future__ import annotations

import json

import nbformat

from autograder.grade.job import (
    GradingState,
)

#: Caps on what the student's cells print, kept for feedback.html.
_MAX_STREAM_CHARS = 100_000


_MAX_CELL_OUTPUT_CHARS = 2_000_000


_MAX_NOTEBOOK_OUTPUT_CHARS = 12_000_000


def _keep_outputs(state: GradingState, outputs: list) -> list:
    """Cap what a cell printed: long text is cut, and past the per-cell and per-notebook budgets
    outputs are dropped with a note (plots within the budgets are kept)."""
    kept: list = []
    cell_chars = 0
    for out in outputs:
        try:
            node = nbformat.from_dict(out)
            if node.get("output_type") == "stream" and len(node.get("text", "")) > _MAX_STREAM_CHARS:
                cut = len(node["text"]) - _MAX_STREAM_CHARS
                node["text"] = node["text"][:_MAX_STREAM_CHARS] + \
                    f"\n[grader] output too large: {cut} more characters were cut\n"
            size = len(json.dumps(node))
        except (TypeError, ValueError):
            continue
        if cell_chars + size > _MAX_CELL_OUTPUT_CHARS or \
                state.output_chars + size > _MAX_NOTEBOOK_OUTPUT_CHARS:
            kept.append(nbformat.v4.new_output(
                "stream", name="stderr", text="[grader] output too large: the rest of this cell's output "
                                              "was dropped\n"))
            break
        kept.append(node)
        cell_chars += size
        state.output_chars += size
    return kept
