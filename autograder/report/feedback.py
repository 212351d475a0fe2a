"""feedback.html: the student's executed notebook with the grading results inside.

The notebook is rendered with nbconvert's HTML exporter (lab template). A summary table
goes at the top and each test's result right after the cell that carries its grade_id in
the student's notebook (results whose cell the student deleted are listed at the end).
What the student wrote or printed is sanitized (no scripts, no event handlers); the
result boxes are the grader's own HTML, placed by random per-render tokens that a
submission cannot forge.

What nbconvert would render from a student's outputs is narrowed first (:func:`clean_notebook`):
only the output types of :data:`ALLOWED_OUTPUT_TYPES` are rendered (any other, e.g.
``text/vnd.mermaid`` or ``application/javascript``, which nbconvert's template would put into
the page unescaped or as a script, is shown as escaped text), and output metadata is rebuilt
from what is valid (an image's width and height only as plain numbers: the template writes
them into unquoted attributes). The page is rendered with ``templates/feedback.html.j2``,
nbconvert's lab template without any of its scripts.

A Content-Security-Policy (:func:`content_security_policy`) lets the page run only its own
script, admitted by its SHA-256 hash: the loader of MathJax, which typesets the mathematics
offline from a copy beside the pages (:func:`write_mathjax`, ``OUT/_mathjax/``, MathJax 2.7 from
the ``jupyter-server-mathjax`` package). Images load from ``data:`` URIs only, so an ``<img>``
that the student points at a server of theirs (a tracking pixel: who opened the feedback,
when, from where) is never fetched. Hidden-test code never reaches this module: it only sees
test results (student-facing messages).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import bleach
import nbformat

__all__ = [
    "render_feedback_html",
    "fallback_html",
    "clean_student_html",
    "clean_output",
    "clean_notebook",
    "content_security_policy",
    "write_mathjax",
    "ALLOWED_TAGS",
    "ALLOWED_OUTPUT_TYPES",
    "CONTENT_SECURITY_POLICY",
    "MATHJAX_DIR",
    "MATHJAX_URL",
]

#: Policy of every feedback page: no script at all (see :func:`content_security_policy` for the pages that
#: run their own MathJax loader), images (plots) only from data: URIs; no plugins, frames, forms, media or
#: ``<base>`` (which would redirect the page's relative MathJax address).
CONTENT_SECURITY_POLICY = ("script-src 'none'; img-src data:; media-src 'none'; object-src 'none'; "
                           "frame-src 'none'; form-action 'none'; base-uri 'none'")

#: Output MIME types rendered in feedback.html; an output with none of them is shown as escaped text.
#: nbconvert's template escapes text/plain and text/latex, passes text/html and text/markdown through
#: :func:`clean_student_html`, and shows images as ``<img src="data:...">`` (an SVG image runs no script).
ALLOWED_OUTPUT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg",
                        "image/svg+xml")
#: Image types whose display metadata the template reads (width, height, unconfined, needs_background).
_SIZED_IMAGES = ("image/png", "image/jpeg")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
#: Largest image width or height kept from an output's metadata, in pixels.
_MAX_DIMENSION = 100_000

#: Folder beside the students' folders (``OUT/_mathjax``) with MathJax; student ids never start with "_".
MATHJAX_DIR = "_mathjax"
#: Where a feedback page (``OUT/<student>/feedback.html``) finds MathJax.
MATHJAX_URL = f"../{MATHJAX_DIR}/MathJax.js"
#: MathJax 2.7 configuration files loaded (jupyter-server-mathjax ships this combined one, HTML-CSS output
#: with the STIX-Web fonts) and the Safe extension (no \href to javascript:, no \require of arbitrary files).
_MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
_MATHJAX_SETTINGS = {
    "TeX": {"equationNumbers": {"autoNumber": "AMS", "useLabelIds": True}},
    "tex2jax": {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
                "processEscapes": True, "processEnvironments": True, "ignoreClass": "tex2jax_ignore|ag-box"},
    "displayAlign": "center",
    "messageStyle": "none",
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None,
                 "linebreaks": {"automatic": True}},
}
_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "feedback.html.j2"

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

_STATUS_TEXT = {"passed": "passed", "failed": "failed", "pending": "pending manual grading",
                "error": "not graded (grader error)"}


def clean_student_html(element) -> str:
    """Sanitize HTML written or printed by the student (replaces nbconvert's ``clean_html``)."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES,
                        protocols=["http", "https", "mailto"], strip=True, strip_comments=True)


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The page's policy, its scripts admitted by hash (base64 SHA-256 of each inline script's text).

    With hashes, ``'strict-dynamic'`` lets those scripts load others (MathJax loads its parts); a script
    in the page without one of these hashes never runs (no ``'unsafe-inline'``), nor does any
    ``<script src>`` or event handler written into the page.
    """
    hashes = [f"'sha256-{h}'" for h in script_hashes]
    if not hashes:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("script-src 'none'", f"script-src {' '.join(hashes)} 'strict-dynamic'")


def _csp_meta(script_hashes: Iterable[str] = ()) -> str:
    return f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(script_hashes)}">'


def _mathjax_loader(url: str) -> str:
    """The page's one script: MathJax's settings, then MathJax itself from ``url``."""
    src = f"{url}?config={_MATHJAX_CONFIG}"
    return (f"window.MathJax = {json.dumps(_MATHJAX_SETTINGS)};\n"
            "(function () {\n"
            "  var s = document.createElement('script');\n"
            f"  s.src = {json.dumps(src)};\n"
            "  document.head.appendChild(s);\n"
            "})();\n")


def write_mathjax(out_dir: Path) -> Path:
    """Copy MathJax 2.7 (``jupyter-server-mathjax``'s files) to ``out_dir/_mathjax`` unless it is there.

    Once per output folder: every ``out_dir/<student>/feedback.html`` loads it from there (:data:`MATHJAX_URL`),
    so pages typeset their mathematics with no network. Other locales and the SVG output (not used) are left
    out. Written to a temporary folder first, so an interrupted copy is never taken for a complete one.

    Returns
    -------
    Path
        ``out_dir/_mathjax``.
    """
    import jupyter_server_mathjax

    src = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    dest = Path(out_dir) / MATHJAX_DIR
    stamp = f"{src}\n{(src / 'MathJax.js').stat().st_mtime_ns}\n"
    done = dest / ".copied-from"
    if done.is_file() and done.read_text(encoding="utf-8") == stamp:
        return dest

    def skip(folder: str, names: list[str]) -> list[str]:
        rel = Path(folder).relative_to(src).as_posix()
        if rel == "localization":
            return [n for n in names if n != "en"]
        if rel == "jax/output":
            return [n for n in names if n == "SVG"]
        return [n for n in names if n.endswith(".py") or n == "__pycache__"]

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MATHJAX_DIR}.", dir=dest.parent))
    try:
        shutil.copytree(src, tmp / "mathjax", ignore=skip)
        (tmp / "mathjax" / done.name).write_text(stamp, encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp / "mathjax", dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# --------------------------------------------------------------------------- the student's notebook

def _text(value) -> str | None:
    """A text value of a notebook (a string, or nbformat's list of lines), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _dimension(value) -> int | float | None:
    """A plain positive number of pixels, or None (strings such as ``"1 onerror=..."`` are dropped)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 0 < value <= _MAX_DIMENSION:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _image_metadata(metadata, mime: str) -> dict:
    """What the template reads for image ``mime``, validated (nbconvert looks per type, then at the top)."""
    per_type = metadata.get(mime) if isinstance(metadata.get(mime), dict) else {}

    def get(key):
        return per_type[key] if key in per_type else metadata.get(key)

    out: dict = {}
    for key in ("width", "height"):
        value = _dimension(get(key))
        if value is not None:
            out[key] = value
    if get("unconfined") is True:
        out["unconfined"] = True
    if get("needs_background") in ("light", "dark"):
        out["needs_background"] = get("needs_background")
    return out


def _as_text(mime: str, value) -> str:
    text = _text(value)
    if text is None:
        text = json.dumps(value, indent=1, ensure_ascii=False, default=repr)
    return f"[{mime} output, shown as text]\n{text}"


def clean_output(output) -> nbformat.NotebookNode | None:
    """An output of the student's notebook reduced to what feedback.html renders safely (None: dropped).

    Streams keep stdout/stderr text, errors their traceback text; display data keeps the types of
    :data:`ALLOWED_OUTPUT_TYPES` (images only as base64 text) and, for images, the metadata validated by
    :func:`_image_metadata`; an output with no allowed type becomes the escaped text of its first type.
    Every other field (file names, ``svg_filename``, unknown metadata) is dropped.
    """
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text"))
        if text is None:
            return None
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stderr"
        return nbformat.v4.new_output("stream", name=name, text=text)
    if kind == "error":
        tb = output.get("traceback")
        lines = [t for t in tb if isinstance(t, str)] if isinstance(tb, list) else []
        return nbformat.v4.new_output("error", ename=str(output.get("ename", "")),
                                      evalue=str(output.get("evalue", "")), traceback=lines)
    if kind not in ("display_data", "execute_result"):
        return None
    data = output.get("data")
    if not isinstance(data, dict):
        data = {}
    metadata = output.get("metadata") if isinstance(output.get("metadata"), dict) else {}
    kept: dict = {}
    for mime in ALLOWED_OUTPUT_TYPES:
        text = _text(data.get(mime))
        if text is None:
            continue
        if mime in _SIZED_IMAGES and not _BASE64.fullmatch(text):
            continue
        kept[mime] = text
    if not kept and data:
        mime = next(iter(data))
        kept["text/plain"] = _as_text(str(mime), data[mime])
    md = {m: _image_metadata(metadata, m) for m in _SIZED_IMAGES if m in kept}
    md = {m: v for m, v in md.items() if v}
    if kind == "execute_result":
        count = output.get("execution_count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        return nbformat.v4.new_output(kind, data=kept, metadata=md, execution_count=count)
    return nbformat.v4.new_output(kind, data=kept, metadata=md)


def _clean_cell(cell) -> nbformat.NotebookNode:
    source = _text(cell.get("source")) or ""
    kind = cell.get("cell_type")
    if kind == "code":
        outputs = [o for o in map(clean_output, cell.get("outputs") or []) if o is not None]
        count = cell.get("execution_count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        return nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=count)
    if kind == "markdown":
        new = nbformat.v4.new_markdown_cell(source)
        attachments = cell.get("attachments")
        if isinstance(attachments, dict) and attachments:
            # an invalid attachment stays as an empty image: nbconvert refuses a reference to a missing one
            new["attachments"] = {
                name: {m: d for m, d in bundle.items()
                       if isinstance(m, str) and m.startswith("image/") and isinstance(d, str)
                       and _BASE64.fullmatch(d)} or {"image/png": ""}
                for name, bundle in attachments.items() if isinstance(name, str) and isinstance(bundle, dict)}
        return new
    return nbformat.v4.new_raw_cell(source)  # no raw_mimetype: rendered only through clean_student_html


def clean_notebook(nb) -> nbformat.NotebookNode:
    """A copy of the student's notebook with only what feedback.html shows, each part validated.

    Cells keep their type, source, outputs (:func:`clean_output`), execution count and markdown image
    attachments; cell metadata (tags, ``magics_language``...), notebook metadata (``title``, ``widgets``...)
    and everything else a submission may carry are dropped.
    """
    out = nbformat.v4.new_notebook()
    out.metadata = nbformat.from_dict({"language_info": {"name": "python"}})
    cells = nb.get("cells") if isinstance(nb, dict) else None
    out.cells = [_clean_cell(c) for c in (cells or []) if isinstance(c, dict)]
    return out


def _get(test, key):
    return test[key] if isinstance(test, dict) else getattr(test, key)


def _fmt_points(x: float) -> str:
    return f"{x:g}"


def _points(test) -> str:
    """``score / points`` of a test; ``- / points`` when it has no score yet (grader error, pending manual grading)."""
    score = "-" if _get(test, "status") in ("error", "pending") else _fmt_points(_get(test, "score"))
    return f"{score} / {_fmt_points(_get(test, 'points'))}"


def _summary_html(tests: Sequence, student: str, assignment: str, problems: Iterable[str],
                  fatal: str | None) -> str:
    e = html.escape
    score = sum(_get(t, "score") for t in tests)
    auto_max = sum(_get(t, "points") for t in tests if _get(t, "kind") == "auto")
    manual_max = sum(_get(t, "points") for t in tests if _get(t, "kind") == "manual")
    rows = []
    for t in tests:
        status = _get(t, "status")
        msg = _get(t, "message") if status in ("failed", "error") else ""
        first = msg.strip().splitlines()[0] if msg.strip() else ""
        rows.append(
            f"<tr><td><a href='#ag-{e(_get(t, 'grade_id'))}'>{e(_get(t, 'grade_id'))}</a></td>"
            f"<td class='ag-status-{e(status)}'>{e(_STATUS_TEXT.get(status, status))}</td>"
            f"<td>{_points(t)}</td>"
            f"<td>{e(first)}</td></tr>")
    not_graded = any(_get(t, "status") == "error" for t in tests)  # the grader failed, not the student
    parts = [
        "<div class='ag-box ag-summary'>",
        f"<h2>Grading results: {e(assignment)}</h2>",
        f"<p>Student: <b>{e(student)}</b>. "
        + (f"Autograded score: <b>not graded yet</b> ({_fmt_points(auto_max)} points)" if not_graded else
           f"Autograded score: <b>{_fmt_points(score)} / {_fmt_points(auto_max)}</b>"),
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
            f"({_points(t)} points)")
    msg = _get(t, "message")
    if status == "passed" and msg == "passed":  # a passed test shows its message only when it carries a note
        msg = ""
    body = f"<pre>{e(msg)}</pre>" if msg and status != "pending" else ""
    return f"<div class='ag-box ag-{e(status)}' id='ag-{e(gid)}'>{head}{body}</div>"


_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'<div class="(jp-Cell-inputWrapper|(?:jp-Rendered[A-Za-z]+ )+jp-OutputArea-output)')
_EXPORTERS = threading.local()


def _exporter():
    """This thread's HTML exporter for feedback pages, made on first use and reused for every page.

    Making one loads and compiles the templates; a grading worker renders many pages. nbconvert's
    ``HTMLExporter.from_notebook_node`` is used without its final BeautifulSoup pass (a parse and
    re-serialization of the whole page, ~0.2 s of a ~0.5 s page): the two things that pass adds, alt
    text on images and keyboard focus on cells, :func:`_accessible` adds to the rendered text.
    """
    exporter = getattr(_EXPORTERS, "exporter", None)
    if exporter is None:
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class FeedbackExporter(HTMLExporter):
            def from_notebook_node(self, nb, resources=None, **kw):
                # HTMLExporter.from_notebook_node (nbconvert 7) up to its BeautifulSoup pass
                resources = self._init_resources(resources)
                self.register_filter("highlight_code", Highlight2HTML(pygments_lexer="python", parent=self))
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

        exporter = FeedbackExporter(template_name="lab", template_file=str(_TEMPLATE), sanitize_html=True,
                                    filters={"clean_html": clean_student_html})
        _EXPORTERS.exporter = exporter
    return exporter


def _accessible(page: str) -> str:
    """What nbconvert's BeautifulSoup pass adds: alt text on images without one, cells reachable by keyboard.

    The page's HTML is the template's own and the student's content is escaped or sanitized by then, so a
    pattern over the text finds exactly the template's elements (and sanitized student ``<img>`` tags, which
    get the same alt text).
    """
    page = _IMG_WITHOUT_ALT.sub('<img alt="No description has been provided for this image"', page)
    return _FOCUSABLE.sub(lambda m: f'<div tabindex="0" class="{m.group(1)}', page)


def _token_cell(token: str):
    return nbformat.v4.new_raw_cell(token, metadata={"raw_mimetype": "text/html"})


def render_feedback_html(nb, tests: Sequence, *, student: str, assignment: str,
                         problems: Iterable[str] = (), fatal: str | None = None,
                         mathjax_url: str = MATHJAX_URL) -> str:
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
    mathjax_url : str
        Address of ``MathJax.js`` as seen from the page (default: the copy that :func:`write_mathjax`
        puts beside the students' folders).

    Returns
    -------
    str
        A standalone HTML page.
    """
    problems = list(problems)
    original = nb if nb is not None else nbformat.v4.new_notebook()
    nb = clean_notebook(original)  # a validated copy; the grade_ids are read from the original
    snippets: dict[str, str] = {}

    def token(snippet: str) -> str:
        tok = f"AGTOKEN{uuid.uuid4().hex}"
        snippets[tok] = snippet
        return tok

    by_id: dict[str, int] = {}
    kept = [c for c in (original.get("cells") or []) if isinstance(c, dict)]  # as clean_notebook keeps them
    for i, cell in enumerate(kept):
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
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
    body, _ = _exporter().from_notebook_node(
        nb, resources={"metadata": {"name": f"{assignment} feedback for {student}"}})
    body = _accessible(body)
    for tok, snippet in snippets.items():
        body = body.replace(tok, snippet, 1)
    head = body.find("<head>")
    if head < 0:
        raise RuntimeError("nbconvert's lab template produced a page without <head>: cannot add the security policy")
    loader = _mathjax_loader(mathjax_url)
    digest = base64.b64encode(hashlib.sha256(loader.encode("utf-8")).digest()).decode("ascii")
    body = body[: head + 6] + _csp_meta([digest]) + body[head + 6:]
    return body.replace("</head>", f"{_STYLE}<script>{loader}</script></head>", 1)


def fallback_html(tests: Sequence, *, student: str, assignment: str, problems: Iterable[str] = (),
                  fatal: str | None = None) -> str:
    """A minimal feedback page (no notebook), used when rendering the notebook failed."""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>" + _csp_meta() + "<title>"
            f"{html.escape(assignment)} feedback for {html.escape(student)}</title>{_STYLE}</head><body>"
            + _summary_html(tests, student, assignment, list(problems), fatal)
            + "".join(_test_html(t) for t in tests) + "</body></html>")
