"""feedback.html: the student's executed notebook with the grading results inside.

The notebook is rendered with nbconvert's HTML exporter (lab template). A summary table
goes at the top and each test's result right after the cell that carries its grade_id in
the student's notebook (results whose cell the student deleted are listed at the end).
What the student wrote or printed is sanitized (no scripts, no event handlers); the
result boxes are the grader's own HTML, placed by random per-render tokens that a
submission cannot forge. A Content-Security-Policy (:data:`CONTENT_SECURITY_POLICY`) lets
the page load images from ``data:`` URIs only, so an ``<img>`` that the student points at a
server of theirs (a tracking pixel: who opened the feedback, when, from where) is never
fetched. Hidden-test code never reaches this module: it only sees test results
(student-facing messages).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Sequence

import bleach
import nbformat

__all__ = ["render_feedback_html", "fallback_html", "clean_student_html", "ALLOWED_TAGS", "CONTENT_SECURITY_POLICY"]

#: Policy of every feedback page: images (plots) only from data: URIs; no plugins, frames, forms or media.
#: Scripts are not restricted here (the page's MathJax loads from its CDN); the student's are removed by
#: :func:`clean_student_html`.
CONTENT_SECURITY_POLICY = "img-src data:; media-src 'none'; object-src 'none'; frame-src 'none'; form-action 'none'"
_CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'

#: HTML tags kept in the student's markdown and outputs; everything else is removed.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "u", "ul",
})
_ALLOWED_ATTRIBUTES = {
    "*": ["class", "title"],
    "a": ["href", "title"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
}

_STYLE = """
<style>
.ag-box{border:1px solid #bbb;border-left-width:6px;border-radius:4px;margin:8px 0 14px 0;
  padding:6px 12px;font-family:sans-serif;font-size:14px;background:#fafafa}
.ag-passed{border-left-color:#2e7d32}.ag-failed{border-left-color:#c62828}
.ag-pending{border-left-color:#f9a825}
.ag-box pre{white-space:pre-wrap;margin:4px 0;font-size:13px}
.ag-summary table{border-collapse:collapse;margin:6px 0}
.ag-summary td,.ag-summary th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.ag-status-passed{color:#2e7d32;font-weight:bold}.ag-status-failed{color:#c62828;font-weight:bold}
.ag-status-pending{color:#9a6700;font-weight:bold}
</style>
"""

_STATUS_TEXT = {"passed": "passed", "failed": "failed", "pending": "pending manual grading"}


def clean_student_html(element) -> str:
    """Sanitize HTML written or printed by the student (replaces nbconvert's ``clean_html``)."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES,
                        protocols=["http", "https", "mailto"], strip=True, strip_comments=True)


def _get(test, key):
    return test[key] if isinstance(test, dict) else getattr(test, key)


def _fmt_points(x: float) -> str:
    return f"{x:g}"


def _summary_html(tests: Sequence, student: str, assignment: str, problems: Iterable[str],
                  fatal: str | None) -> str:
    e = html.escape
    score = sum(_get(t, "score") for t in tests)
    auto_max = sum(_get(t, "points") for t in tests if _get(t, "kind") == "auto")
    manual_max = sum(_get(t, "points") for t in tests if _get(t, "kind") == "manual")
    rows = []
    for t in tests:
        status = _get(t, "status")
        msg = _get(t, "message") if status == "failed" else ""
        first = msg.strip().splitlines()[0] if msg.strip() else ""
        rows.append(
            f"<tr><td><a href='#ag-{e(_get(t, 'grade_id'))}'>{e(_get(t, 'grade_id'))}</a></td>"
            f"<td class='ag-status-{e(status)}'>{e(_STATUS_TEXT.get(status, status))}</td>"
            f"<td>{_fmt_points(_get(t, 'score'))} / {_fmt_points(_get(t, 'points'))}</td>"
            f"<td>{e(first)}</td></tr>")
    parts = [
        "<div class='ag-box ag-summary'>",
        f"<h2>Grading results: {e(assignment)}</h2>",
        f"<p>Student: <b>{e(student)}</b>. Autograded score: <b>{_fmt_points(score)} / "
        f"{_fmt_points(auto_max)}</b>",
    ]
    if manual_max:
        unit = "point" if manual_max == 1 else "points"
        parts.append(f" (plus {_fmt_points(manual_max)} {unit} graded by hand later)")
    parts.append(".</p>")
    if fatal:
        parts.append(f"<p class='ag-status-failed'>{e(fatal)}</p>")
    probs = [p for p in problems if p != fatal]
    if probs:
        parts.append("<p>Problems found while grading:</p><ul>")
        parts.extend(f"<li>{e(p)}</li>" for p in probs)
        parts.append("</ul>")
    parts.append("<table><thead><tr><th>test</th><th>result</th><th>points</th><th>message</th>"
                 "</tr></thead><tbody>")
    parts.extend(rows)
    parts.append("</tbody></table>")
    parts.append("<p>Tests are taken from the instructor's copy of the notebook and run against the "
                 "functions your notebook defines; the test cells in your notebook are not run.</p>")
    parts.append("</div>")
    return "".join(parts)


def _test_html(t) -> str:
    e = html.escape
    status = _get(t, "status")
    gid = _get(t, "grade_id")
    head = (f"<b>Test {e(gid)}</b>: <span class='ag-status-{e(status)}'>"
            f"{e(_STATUS_TEXT.get(status, status))}</span> "
            f"({_fmt_points(_get(t, 'score'))} / {_fmt_points(_get(t, 'points'))} points)")
    msg = _get(t, "message")
    if status == "passed" and msg == "passed":  # a passed test shows its message only when it carries a note
        msg = ""
    body = f"<pre>{e(msg)}</pre>" if msg and status != "pending" else ""
    return f"<div class='ag-box ag-{e(status)}' id='ag-{e(gid)}'>{head}{body}</div>"


def _token_cell(token: str):
    return nbformat.v4.new_raw_cell(token, metadata={"raw_mimetype": "text/html"})


def render_feedback_html(nb, tests: Sequence, *, student: str, assignment: str,
                         problems: Iterable[str] = (), fatal: str | None = None) -> str:
    """Render the executed notebook with the summary and per-test results.

    Parameters
    ----------
    nb : nbformat.NotebookNode or None
        The student's executed notebook (None when no notebook could be read).
    tests : sequence of TestResult or dict
        With grade_id, kind, points, score, status, message.
    student, assignment : str
        For the title and summary.
    problems : iterable of str
        Submission-level problems to list.
    fatal : str, optional
        Why the submission could not be run, if it could not.

    Returns
    -------
    str
        A standalone HTML page.
    """
    from nbconvert import HTMLExporter

    problems = list(problems)
    nb = nbformat.from_dict(nb) if nb is not None else nbformat.v4.new_notebook()
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))  # deep copy
    # The student's raw cells are not emitted: only the grader's token cells are.
    for cell in nb.cells:
        if cell.cell_type == "raw":
            cell.metadata.pop("raw_mimetype", None)
            cell.metadata.pop("format", None)
    snippets: dict[str, str] = {}

    def token(snippet: str) -> str:
        tok = f"AGTOKEN{uuid.uuid4().hex}"
        snippets[tok] = snippet
        return tok

    by_id: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if isinstance(gid, str) and gid not in by_id:
            by_id[gid] = i
    after: dict[int, list[str]] = {}
    missing: list[str] = []
    for t in tests:
        snippet = _test_html(t)
        idx = by_id.get(_get(t, "grade_id"))
        if idx is None:
            missing.append(snippet)
        else:
            after.setdefault(idx, []).append(snippet)
    cells = [_token_cell(token(_summary_html(tests, student, assignment, problems, fatal)))]
    if not nb.cells:
        cells.append(nbformat.v4.new_markdown_cell(
            "*No notebook could be read from this submission.*" if fatal else "*The notebook is empty.*"))
    for i, cell in enumerate(nb.cells):
        cells.append(cell)
        for snippet in after.get(i, []):
            cells.append(_token_cell(token(snippet)))
    if missing:
        cells.append(_token_cell(token(
            "<div class='ag-box'><h3>Tests whose cells are not in your notebook</h3></div>")))
        cells.extend(_token_cell(token(s)) for s in missing)
    nb.cells = cells
    for k, cell in enumerate(nb.cells):  # fixed ids: the same results always render to the same page
        cell.id = f"cell-{k}"
    exporter = HTMLExporter(template_name="lab", sanitize_html=True,
                            filters={"clean_html": clean_student_html})
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": f"{assignment} feedback for {student}"}})
    for tok, snippet in snippets.items():
        body = body.replace(tok, snippet, 1)
    head = body.find("<head>")
    if head < 0:
        raise RuntimeError("nbconvert's lab template produced a page without <head>: cannot add the security policy")
    body = body[: head + 6] + _CSP_META + body[head + 6:]
    return body.replace("</head>", _STYLE + "</head>", 1)


def fallback_html(tests: Sequence, *, student: str, assignment: str, problems: Iterable[str] = (),
                  fatal: str | None = None) -> str:
    """A minimal feedback page (no notebook), used when rendering the notebook failed."""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>" + _CSP_META + "<title>"
            f"{html.escape(assignment)} feedback for {html.escape(student)}</title>{_STYLE}</head><body>"
            + _summary_html(tests, student, assignment, list(problems), fatal)
            + "".join(_test_html(t) for t in tests) + "</body></html>")
