"""results.json (Gradescope format), grades.csv, feedback.html and gradebook writes (no kernels)."""

from __future__ import annotations

import base64
import copy
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import grading_fixture as fx
import jsonschema
import nbformat
import pandas as pd
import pytest

from autograder.grade import pipeline
from autograder.grade.job import GradingJob, GradingState, TestResult, _Cell
from autograder.grade.pipeline import error_result
from autograder.grade.result import build_result
from autograder.grade.source import parse_source
from autograder.report.gradebook import GradebookWriter, course_settings
from autograder.report.results import (
    atomic_write,
    grades_row,
    gradescope_results,
    max_points,
    validate_results,
    write_grades_csv,
)

# A 1x1 PNG, as a matplotlib figure would appear in a cell's outputs.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e227"
    "e4a50000000049454e44ae426082")).decode()


def _job(course: Path, student: str, kind: str | None) -> GradingJob:
    source = (course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb").read_bytes()
    sub = fx.student_notebook(kind) if kind else None
    return GradingJob(student=student, assignment=fx.ASSIGNMENT, origin=f"{student}.ipynb", submission=sub,
                      problems=[] if sub else ["no notebook found"], source_notebook=source,
                      release_dir=str(course / "release" / fx.ASSIGNMENT), notebook_name="tiny.ipynb",
                      fingerprint="f" * 64)


def _graded_by_hand(course: Path, student: str = "alice", *, extra_cells=(), outputs=None) -> dict:
    """A result built by the pipeline's own steps, with test verdicts set here (no kernel).

    ``outputs`` maps a cell index of the student's notebook to the outputs it printed.
    """
    state = GradingState(_job(course, student, "partial"))
    parse_source(state)
    pipeline.load_submission(state)
    state.notebook.cells.extend(extra_cells)
    for i, outs in (outputs or {}).items():
        state.cells[i] = _Cell("ok", outs)
    state.tests = [
        TestResult("test_square", "auto", 2.0, 2.0, "passed", "passed"),
        TestResult("test_add", "auto", 1.0, 0.0, "failed", "add(2, 3) should be 5"),
        TestResult("explain", "manual", 1.0, 0.0, "pending", "pending manual grading"),
    ]
    pipeline.render_feedback(state)
    return build_result(state)


@pytest.fixture
def course(tmp_path):
    return fx.make_course(tmp_path / "course")


def test_results_json_follows_the_gradescope_format(course):
    doc = gradescope_results(_graded_by_hand(course))
    validate_results(doc)
    assert doc["score"] == 2 and doc["visibility"] == "visible" and doc["stdout_visibility"] == "hidden"
    assert isinstance(doc["execution_time"], int)
    assert [(t["name"], t.get("score"), t["max_score"], t.get("status")) for t in doc["tests"]] == [
        ("test_square", 2, 2, "passed"), ("test_add", 0, 1, "failed"), ("explain (graded by hand)", None, 1, None)]
    assert doc["tests"][1]["output"] == "add(2, 3) should be 5"
    assert doc["tests"][2]["output"] == "pending manual grading"
    assert doc["extra_data"]["fingerprint"] == "f" * 64 and doc["extra_data"]["student"] == "alice"
    assert "Autograded score: 2 / 3" in doc["output"]


def test_manual_questions_are_pending_with_their_points_apart_from_the_autograded_ones(course):
    """Issue 12 point 5: a manually graded question is not a 0 and has a status Gradescope's format allows
    (none: the format knows only passed/failed); its points count apart from the autograded score."""
    doc = gradescope_results(_graded_by_hand(course))
    validate_results(doc)
    explain = doc["tests"][2]
    assert "score" not in explain and "status" not in explain and explain["max_score"] == 1
    assert explain["extra_data"]["status"] == "pending" and "pending" in explain["output"]
    assert max_points(doc) == (3.0, 1.0) and doc["score"] == 2
    assert "Autograded score: 2 / 3 (plus 1 point graded by hand, pending)." in doc["output"]
    row = grades_row(doc)
    assert (row["score"], row["max_score"], row["manual_max"], row["explain"]) == (2, 3, 1, "")


def _no_notebook_result(course: Path, student: str) -> dict:
    """The pipeline's result for a student without a notebook (no kernel starts)."""
    state = GradingState(_job(course, student, None))
    for step in pipeline.STEPS:
        step(state)
    return build_result(state)


def test_fault_result_is_valid_and_says_why(course):
    doc = gradescope_results(_no_notebook_result(course, "bob"))
    validate_results(doc)
    assert doc["score"] == 0 and doc["extra_data"]["grader_error"] is False
    assert [t.get("score") for t in doc["tests"]] == [0, 0, None]  # the written answer: pending, not a 0
    assert doc["tests"][0]["output"] == "no notebook found"


def test_a_grader_error_has_no_score_anywhere(course):
    """Issue 8 point 8: a submission the grader could not grade is not a zero (Gradescope's format has no
    'not graded' value, so the document has no score at all and Gradescope reports a failed autograder)."""
    result = error_result(_job(course, "bob", "solution"), "the Dask worker died")
    assert result["score"] is None and result["grader_error"]
    doc = gradescope_results(result)
    with pytest.raises(jsonschema.ValidationError):
        validate_results(doc)
    assert "score" not in doc and not any("score" in t for t in doc["tests"])
    assert [t["extra_data"]["status"] for t in doc["tests"]] == ["error", "error", "pending"]
    assert doc["extra_data"]["grader_error"] is True
    assert doc["extra_data"]["grader_error_detail"] == "the Dask worker died"
    assert "not a problem with your submission" in doc["tests"][0]["output"]
    assert doc["output"].startswith("Not graded yet (grader error), 3 autograded points")
    row = grades_row(doc)
    assert row["score"] == row["test_square"] == row["test_add"] == row["explain"] == ""
    page = result["feedback_html"]
    assert "not graded yet" in page and "not graded (grader error)" in page and "- / 2" in page


def test_schema_accepts_gradescopes_documented_example():
    # The example of gradescope/autograder_samples docs/specs.md ("Output format"), comments removed.
    example = {
        "score": 44.0, "execution_time": 136, "output": "Text relevant to the entire submission",
        "visibility": "after_due_date", "stdout_visibility": "visible", "extra_data": {},
        "tests": [{"score": 2.0, "max_score": 2.0, "name": "Your name here", "number": "1.1",
                   "output": "Giant multiline string that will be placed in a <pre> tag and collapsed by default",
                   "tags": ["tag1", "tag2", "tag3"], "visibility": "visible", "extra_data": {}}],
        "leaderboard": [{"name": "Accuracy", "value": .926}, {"name": "Time", "value": 15.1, "order": "asc"},
                        {"name": "Stars", "value": "*****"}],
    }
    validate_results(example)


@pytest.mark.parametrize("mutate", [
    lambda d: d["tests"][0].update(status="pending"),
    lambda d: d.update(visibility="public"),
    lambda d: d["tests"][0].update(score="2"),
    lambda d: d.update(unknown_key=1),
    lambda d: (d.pop("score"), d["tests"][0].pop("score")),
])
def test_schema_rejects_what_gradescope_would_not_take(course, mutate):
    doc = gradescope_results(_graded_by_hand(course))
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(jsonschema.ValidationError):
        validate_results(bad)


def test_grades_csv_loads_in_pandas(course, tmp_path):
    docs = [gradescope_results(_graded_by_hand(course, s)) for s in ("bob", "alice")]
    docs.append(gradescope_results(_no_notebook_result(course, "carol")))
    docs.append(gradescope_results(error_result(_job(course, "dave", "solution"), "the Dask worker died")))
    path = tmp_path / "grades.csv"
    write_grades_csv(path, [grades_row(d) for d in docs], ["test_square", "test_add", "explain"])
    df = pd.read_csv(path)
    assert list(df.columns) == ["student", "assignment", "score", "max_score", "manual_max", "test_square",
                                "test_add", "explain", "isolation"]
    assert list(df["student"]) == ["alice", "bob", "carol", "dave"]
    # score / max_score: autograded points (2 + 1); manual_max: the written answer's point
    assert list(df["score"].fillna(-1)) == [2, 2, 0, -1] and list(df["max_score"]) == [3, 3, 3, 3]
    assert list(df["manual_max"]) == [1, 1, 1, 1]
    assert list(df["test_square"].fillna(-1)) == [2, 2, 0, -1]  # dave: a grader error, not graded
    assert df["explain"].isna().all()  # pending manual grading
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "out" / "results.json"
    atomic_write(target, "old")
    assert target.read_text() == "old"

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def _feedback(course, **kw) -> str:
    return _graded_by_hand(course, **kw)["feedback_html"]


def test_feedback_places_results_after_their_cells_with_summary_first(course):
    page = _feedback(course)
    summary = page.index("Grading results: tiny")
    square_cell = page.index("should be [1, 4]")
    square_box = page.index("id='ag-test_square'")
    add_def = page.index("a</span> <span class=\"o\">-</span> <span class=\"n\">b</span>")
    add_box = page.index("id='ag-test_add'")
    explain_box = page.index("id='ag-explain'")
    assert summary < square_cell < square_box < add_def < add_box < explain_box
    assert "add(2, 3) should be 5" in page and "pending manual grading" in page
    assert "<td>- / 1</td>" in page and "(- / 1 points)" in page  # the written answer: no score yet, not a 0
    assert fx.HIDDEN_CANARY not in page


def test_feedback_includes_plots_and_sanitizes_student_html(course):
    outputs = {2: [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                   nbformat.v4.new_output("display_data", data={
                       "text/html": "<b>bold</b><script>document.title='pwned'</script>"
                                    "<img src=x onerror=\"document.title='pwned'\">",
                       "text/plain": "x"}),
                   nbformat.v4.new_output("display_data", data={"application/javascript": "alert('pwned')"}),
                   nbformat.v4.new_output("stream", name="stdout", text="printed <i>text</i>\n")]}
    md = nbformat.v4.new_markdown_cell("Notes <script>alert('pwned')</script> <a href=\"javascript:alert(1)\">x</a>"
                                       " and $a<b$ `x<y`")
    page = _feedback(course, extra_cells=[md], outputs=outputs)
    assert f"data:image/png;base64,{PNG}" in page
    assert "<b>bold</b>" in page and "printed &lt;i&gt;text&lt;/i&gt;" in page
    scripts, handlers, links = _active_content(page)
    assert not [s for s in scripts if "pwned" in s]
    assert handlers == [] and not [h for h in links if h.lower().startswith("javascript:")]


def test_feedback_code_is_escaped_images_have_alt_text_and_cells_take_focus():
    """The page is not re-parsed after rendering (nbconvert's BeautifulSoup pass) and highlighted code is not
    sanitized again: pygments escapes the code, the alt text and keyboard focus that pass added are there."""
    from autograder.report.feedback import render_feedback_html

    code = nbformat.v4.new_code_cell("s = '</div><script>document.title=\\'pwned\\'</script>'  # <b>x</b>\nprint(s)")
    code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                    nbformat.v4.new_output("stream", name="stdout", text="out\n")]
    nb = nbformat.v4.new_notebook(cells=[code, nbformat.v4.new_markdown_cell("![pic](http://x.invalid/a.png)")])
    page = render_feedback_html(nb, [], student="s", assignment="tiny")
    scripts, handlers, _ = _active_content(page)
    assert not [s for s in scripts if "pwned" in s] and handlers == []
    assert "&lt;/div&gt;&lt;script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) == 2 and all('alt="' in img for img in images), images
    assert f'<img alt="No description has been provided for this image" src="data:image/png;base64,{PNG}"' in page
    focusable = [c.strip() for c in re.findall(r'<div tabindex="0" class="([^"]*)"', page)]
    assert focusable.count("jp-Cell-inputWrapper") == 2  # the code cell and the markdown cell
    assert "jp-RenderedImage jp-OutputArea-output" in focusable and "jp-RenderedText jp-OutputArea-output" in focusable


def _active_content(page: str) -> tuple[list[str], list[str], list[str]]:
    """Script bodies, on* event-handler attributes and link targets of an HTML page."""
    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.scripts, self.handlers, self.links, self._in_script = [], [], [], False

        def handle_starttag(self, tag, attrs):
            self._in_script = tag == "script"
            if self._in_script:
                self.scripts.append("")
            self.handlers += [f"{tag} {k}" for k, _ in attrs if k.lower().startswith("on")]
            self.links += [v or "" for k, v in attrs if k in ("href", "src")]

        def handle_endtag(self, tag):
            self._in_script = False

        def handle_data(self, data):
            if self._in_script:
                self.scripts[-1] += data

    p = Parser()
    p.feed(page)
    return p.scripts, p.handlers, p.links


def test_feedback_lists_results_of_deleted_test_cells_at_the_end(course):
    state = GradingState(_job(course, "dan", "solution"))
    parse_source(state)
    pipeline.load_submission(state)
    state.notebook.cells = [c for c in state.notebook.cells
                            if c.metadata.get("nbgrader", {}).get("grade_id") != "test_add"]
    state.tests = [TestResult("test_square", "auto", 2.0, 2.0, "passed", "passed"),
                   TestResult("test_add", "auto", 1.0, 1.0, "passed", "passed")]
    pipeline.render_feedback(state)
    page = state.feedback_html
    assert page.index("Tests whose cells are not in your notebook") < page.index("id='ag-test_add'")
    assert page.index("id='ag-test_square'") < page.index("Tests whose cells are not in your notebook")


def test_feedback_renders_in_headless_chromium(course, tmp_path, chromium):
    outputs = {2: [nbformat.v4.new_output("display_data", data={
        "text/html": "<img src=x onerror=\"document.title='pwned'\">"
                     "<script>document.body.setAttribute('data-ran', 'yes')</script>",
        "image/png": PNG, "text/plain": "x"})]}
    html_file = tmp_path / "feedback.html"
    html_file.write_text(_feedback(course, outputs=outputs), encoding="utf-8")
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400"]
    dom = subprocess.run([*base, "--virtual-time-budget=3000", "--dump-dom", html_file.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "Grading results: tiny" in dom and "ag-box ag-failed" in dom
    assert re.search(r"<title>[^<]*tiny feedback for alice[^<]*</title>", dom)
    assert 'data-ran="yes"' not in dom  # the student's script did not run (nor the onerror: title above)
    shot = tmp_path / "shot.png"
    subprocess.run([*base, f"--screenshot={shot}", html_file.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 5000  # a rendered page, not a blank one


def test_feedback_never_fetches_a_remote_image(course, tmp_path, chromium):
    """A tracking pixel in the student's markdown or outputs is not requested when the page is opened; the
    same page without its Content-Security-Policy does request it (so the check can fail)."""
    import http.server
    import threading

    requests = []

    class Pixel(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # http.server's name
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pixel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        md = nbformat.v4.new_markdown_cell(f'Look: <img src="{url}/markdown.png">')
        outputs = {2: [nbformat.v4.new_output("display_data", data={
            "text/html": f'<img src="{url}/output.png" width="1">', "text/plain": "x"})]}
        page = _feedback(course, outputs=outputs, extra_cells=[md])
        assert f"{url}/markdown.png" in page and f"{url}/output.png" in page  # kept, but never fetched
        assert page.index("Content-Security-Policy") < page.index(f"{url}/markdown.png")

        def open_page(text: str, name: str) -> None:
            path = tmp_path / name
            path.write_text(text, encoding="utf-8")
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / name}.d",
                            "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
                           capture_output=True, timeout=120)

        open_page(page, "feedback.html")
        assert requests == [], f"the feedback page fetched {requests}"
        open_page(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page), "no-policy.html")
        assert sorted(requests) == ["/markdown.png", "/output.png"], requests
    finally:
        server.shutdown()
        server.server_close()


def test_gradebook_scores_reach_nbgrader_export(course, tmp_path):
    source = course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb"
    db_url, course_id = course_settings(course)
    assert course_id == "tinycourse" and db_url.endswith("/course/gradebook.db")
    results = [_graded_by_hand(course, "alice"), error_result(_job(course, "bob", None), "no notebook found")]
    with GradebookWriter(course, fx.ASSIGNMENT, source) as gb:
        for r in results:
            gb.record(r)
        gb.record(results[0])  # re-recording is harmless (resume, regrade)
        grade = gb.gb.find_grade("explain", "tiny", "tiny", "alice")
        assert grade.auto_score is None and grade.needs_manual_grade
        grade.manual_score = 1.0  # a TA grades the written answer
        gb.gb.db.commit()
    with GradebookWriter(course, fx.ASSIGNMENT, source) as gb:
        gb.record(results[0])  # autograding again keeps the TA's score
        assert gb.gb.find_grade("explain", "tiny", "tiny", "alice").manual_score == 1.0
    out = tmp_path / "export.csv"
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(out)], cwd=course,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_csv(out).set_index("student_id")
    assert df.loc["alice", "raw_score"] == 3.0  # 2 autograded + 1 by hand
    assert df.loc["bob", "raw_score"] == 0.0
    assert df.loc["alice", "max_score"] == 4.0


def test_a_gradebook_failure_leaves_the_student_to_grade_again(course, tmp_path):
    from autograder.grade.batch import write_student_outputs
    from autograder.report.gradebook import GradebookError

    source = course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb"
    result = _graded_by_hand(course, "alice")
    result["tests"][0]["grade_id"] = "renamed_after_release"  # the source changed since release
    out = tmp_path / "out"
    with GradebookWriter(course, fx.ASSIGNMENT, source) as gb, \
            pytest.raises(GradebookError, match="the source notebook changed while grading: run the same grade command again"):
        write_student_outputs(result, out, gradebook=gb)
    assert (out / "alice" / "feedback.html").is_file()
    assert not (out / "alice" / "results.json").exists()  # not done: the next run grades alice again


# --------------------------------------------------------------------------- hostile outputs, offline math

#: Every script below adds "PWNED-<where>" to the page's title if it runs.
def _js(where: str) -> str:
    return f"document.title+='PWNED-{where}'"


def _html_attack(where: str) -> str:
    return f"<script>{_js(where)}</script><img src=x onerror=\"{_js(where + '-onerror')}\">"


#: An invalid PNG: the <img> fails to load, so an onerror handler injected into it fires.
BROKEN_PNG = "AAAA"


def _unquoted(where: str) -> str:
    """A value for an attribute nbconvert writes unquoted (no quote or space needed)."""
    return f"1 onerror=document.title+=`PWNED-{where}`"


def _hostile_outputs() -> list:
    """An output for every MIME type nbconvert's lab template has a block for (templates/base/display_priority.j2),
    an unknown type, and every output metadata field the template reads (width, height, filenames, unconfined,
    needs_background, at the top level and per image type), each carrying a script."""
    out = []
    for kind in ("display_data", "execute_result"):
        extra = {"execution_count": 3} if kind == "execute_result" else {}
        bundles = [
            {"application/javascript": _js(f"{kind}-javascript")},
            {"text/vnd.mermaid": "graph TD\n" + _html_attack(f"{kind}-mermaid")},
            {"text/html": _html_attack(f"{kind}-html")},
            {"text/markdown": "*md* " + _html_attack(f"{kind}-markdown")},
            {"image/svg+xml": f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"{_js(kind + '-svg-onload')}\">"
                              f"<script>{_js(kind + '-svg')}</script></svg>"},
            {"text/latex": "$x$</div>" + _html_attack(f"{kind}-latex") + r"\href{javascript:alert(1)}{x}"},
            {"text/plain": _html_attack(f"{kind}-plain")},
            {"application/vnd.jupyter.widget-view+json": {
                "model_id": f"</script><script>{_js(kind + '-widget')}</script>", "version_major": 2}},
            {"application/pdf": "JVBERi0=", "text/html": _html_attack(f"{kind}-pdf-html")},
            {"application/x-unknown": _html_attack(f"{kind}-unknown")},
        ]
        for bundle in bundles:
            out.append(nbformat.v4.new_output(kind, data=bundle, **extra))
        for mime in ("image/png", "image/jpeg"):
            tag = f"{kind}-{mime.split('/')[1]}"
            out.append(nbformat.v4.new_output(kind, data={mime: BROKEN_PNG}, metadata={
                "width": _unquoted(tag + "-width"), "height": _unquoted(tag + "-height"),
                "unconfined": _html_attack(tag + "-unconfined"), "needs_background": _html_attack(tag + "-bg")},
                **extra))
            out.append(nbformat.v4.new_output(kind, data={mime: BROKEN_PNG}, metadata={mime: {
                "width": _unquoted(tag + "-typed-width"), "height": _unquoted(tag + "-typed-height")},
                "filenames": {mime: f"x\" onerror=\"{_js(tag + '-filename')}"}}, **extra))
    out.append(nbformat.v4.new_output("stream", name="stdout", text=_html_attack("stdout") + "\x1b[31mred\x1b[0m"))
    out.append(nbformat.v4.new_output("stream", name="stdin", text=_html_attack("stdin")))
    out.append(nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[_html_attack("traceback")]))
    odd = nbformat.v4.new_output("display_data", data={"text/plain": "x"})
    odd["svg_filename"] = f"x\" onerror=\"{_js('svg-filename')}"
    out.append(odd)
    return out


def _hostile_notebook() -> nbformat.NotebookNode:
    """Student content in every field the template reads besides outputs: cell tags, magics_language,
    markdown attachments, raw cells, notebook title and widget state; and math to typeset."""
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = '</div><script>" + _js("source") + "</script>'", execution_count=1)
    code.outputs = _hostile_outputs()  # not validated: a submission's JSON need not follow the schema
    code.metadata["tags"] = [f"\"><script>{_js('tag')}</script>"]
    code.metadata["magics_language"] = "html"
    md = nbformat.v4.new_markdown_cell("Step size $10^{-4}$ and ![a](attachment:a.png) " + _html_attack("markdown-cell"))
    md["attachments"] = {"a.png": {"image/png": f"x\" onerror=\"{_js('attachment')}"},
                         "b.html": {"text/html": _html_attack("attachment-html")}}
    raw = nbformat.v4.new_raw_cell(_html_attack("raw"), metadata={"raw_mimetype": "text/html"})
    nb.cells = [md, code, raw]
    nb.metadata["title"] = f"</title><script>{_js('title')}</script>"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "x": f"</script><script>{_js('widget-state')}</script>"}}
    return nb


def _offline_dom(chromium: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after 10 s of (virtual) time in headless Chromium with no network at all (its own
    empty network namespace: only a loopback interface that is down; an ordinary user makes it inside a user
    namespace of its own)."""
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    cmd = [*unshare, chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
           "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and "</html>" in res.stdout, res.stderr[-2000:]
    return res.stdout


def _title(dom: str) -> str:
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    return m.group(1) if m else ""


def test_feedback_renders_only_allowed_output_types_and_valid_metadata():
    from autograder.report.feedback import ALLOWED_OUTPUT_TYPES, clean_output

    outputs = [clean_output(o) for o in _hostile_outputs()]
    for out in outputs:
        assert out is not None
        if out.output_type in ("display_data", "execute_result"):
            assert set(out.data) <= set(ALLOWED_OUTPUT_TYPES), out.data
            for md in out.metadata.values():  # only plain numbers and the two documented flags survive
                assert set(md) <= {"width", "height", "unconfined", "needs_background"} and md == {}, md
        assert "svg_filename" not in out and "filenames" not in out.get("metadata", {})
    mermaid = next(o for o in outputs if "graph TD" in o.data.get("text/plain", ""))
    assert mermaid.data["text/plain"].startswith("[text/vnd.mermaid output, shown as text]")
    assert [o.name for o in outputs if o.output_type == "stream"] == ["stdout", "stderr"]
    # valid metadata is kept, as numbers, per image type
    png = PNG
    kept = clean_output(nbformat.v4.new_output("display_data", data={"image/png": png}, metadata={
        "width": 320, "image/png": {"height": 240.5, "needs_background": "light"}, "unconfined": True}))
    assert kept.metadata == {"image/png": {"width": 320, "height": 240.5, "unconfined": True,
                                           "needs_background": "light"}}
    for bad in ("320", True, float("nan"), -5, 10**9, [1]):
        assert clean_output(nbformat.v4.new_output("display_data", data={"image/png": png},
                                                   metadata={"width": bad})).metadata == {}


def test_no_injected_script_runs_in_the_feedback_page(tmp_path, chromium):
    """A script through every output type and metadata field that nbconvert's template reads, and through the
    notebook's other fields: none runs in the page. The same notebook rendered as before (nbconvert's lab template
    with only the HTML sanitizer) runs several of them, so the check can fail; with the page's policy added,
    even that page runs none (the policy alone stops them)."""
    from nbconvert import HTMLExporter

    from autograder.report.feedback import clean_student_html, render_feedback_html, write_mathjax

    nb = _hostile_notebook()
    tests = [TestResult("test_x", "auto", 1.0, 0.0, "failed", "<script>" + _js("message") + "</script>")]
    page = render_feedback_html(nb, tests, student="alice", assignment="tiny")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page).group(1)
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]{44}' 'strict-dynamic';", policy), policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    write_mathjax(tmp_path)
    (tmp_path / "alice").mkdir()
    ours = tmp_path / "alice" / "feedback.html"
    ours.write_text(page, encoding="utf-8")
    dom = _offline_dom(chromium, ours, tmp_path / "p1")
    assert "PWNED" not in _title(dom), _title(dom)
    assert "tiny feedback for alice" in _title(dom) and "Grading results: tiny" in dom
    assert 'class="MathJax"' in dom  # the page's own script did run

    plain = copy.deepcopy(nb)  # nbconvert itself refuses the (schema-invalid) svg_filename field
    plain.metadata.pop("title")  # shown escaped, as the title: its text would read as a script's mark
    for out in plain.cells[1].outputs:
        out.pop("svg_filename", None)
    before, _ = HTMLExporter(template_name="lab", sanitize_html=True,
                             filters={"clean_html": clean_student_html}).from_notebook_node(plain)
    old = tmp_path / "alice" / "before.html"
    old.write_text(before, encoding="utf-8")
    ran = set(_title(_offline_dom(chromium, old, tmp_path / "p2")).split("PWNED-")[1:])
    assert {"display_data-mermaid", "execute_result-mermaid-onerror", "display_data-png-height",
            "execute_result-jpeg-typed-height"} <= ran, ran  # raw mermaid text; unquoted width/height
    head = before.index("<head>") + len("<head>")
    guarded = tmp_path / "alice" / "before-with-policy.html"
    guarded.write_text(before[:head] + f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
                       + before[head:], encoding="utf-8")
    assert "PWNED" not in _title(_offline_dom(chromium, guarded, tmp_path / "p3"))


def test_feedback_typesets_math_with_no_network(tmp_path, chromium):
    """MathJax comes from the copy beside the pages (written once per output folder, not inlined): with the
    network off, the markdown's and a LaTeX output's math is typeset; without the copy it stays raw TeX."""
    from autograder.report.feedback import MATHJAX_DIR, render_feedback_html, write_mathjax

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(r"Learning rate $10^{-4}$; the loss $$L = -\log p_y$$"),
                nbformat.v4.new_code_cell("x", execution_count=1, outputs=[nbformat.v4.new_output(
                    "execute_result", data={"text/latex": r"$\alpha_1$", "text/plain": "a"}, execution_count=1)])]
    page = render_feedback_html(nb, [], student="bob", assignment="tiny")
    assert f"../{MATHJAX_DIR}/MathJax.js" in page and "MathJax.Hub" not in page and len(page) < 400_000
    (tmp_path / "bob").mkdir()
    path = tmp_path / "bob" / "feedback.html"
    path.write_text(page, encoding="utf-8")
    raw = _offline_dom(chromium, path, tmp_path / "p0")
    assert 'class="MathJax"' not in raw and "$10^{-4}$" in raw  # no copy yet: raw TeX (the check can fail)

    mathjax = write_mathjax(tmp_path)
    assert (mathjax / "MathJax.js").is_file() and write_mathjax(tmp_path) == mathjax  # once per folder
    dom = _offline_dom(chromium, path, tmp_path / "p1")
    assert '<script type="math/tex" id="MathJax-Element-1">10^{-4}</script>' in dom
    assert re.search(r'<script type="math/tex; mode=display" id="MathJax-Element-2">L = -\\log p_y</script>', dom)
    assert re.search(r'<script type="math/tex" id="MathJax-Element-3">\\alpha_1</script>', dom)
    assert dom.count('class="MathJax"') + dom.count('class="MathJax_Display"') >= 3
    assert "$10^{-4}$" not in dom
