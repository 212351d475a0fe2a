"""The released notebooks render in JupyterLab 4 and Notebook 7, prose, math and plots.

What a student sees after running every cell correctly: the released notebook of each assignment with
the outputs of its source notebook executed at grading size (the ``executed_source`` fixture; the
release is generated from the source, so the cells share their ids). A real ``jupyter lab`` server
(which also serves Notebook 7 at ``/notebooks/``) opens it in headless Chromium, driven by Playwright;
every cell is scrolled into view (both UIs attach cells lazily) and checked:

* every cell is there, in order, with its type;
* markdown cells are rendered, and their math is typeset by MathJax: no ``$`` and no TeX command is
  left in their text outside code;
* each code cell shows exactly as many images as it has ``image/png`` outputs, and each image decoded
  (non-zero natural width); every notebook shows plots;
* the title is the notebook's first heading.

Screenshots of the top of the notebook and of its first plot are saved next to the test's temporary
files (their paths are in the failure message) so a person can look at them.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from test_source_notebooks import SHIPPED

from autograder.assignments import assignment_names, get_assignment

REPO = Path(__file__).resolve().parents[1]
#: URL of a notebook in each UI (``reset``: JupyterLab opens this notebook alone, not the last session's tabs).
UIS = {"jupyterlab": "lab/tree/{file}?reset&token={token}", "notebook7": "notebooks/{file}?token={token}"}
#: Unrendered math: a dollar sign, or a TeX command (a backslash and letters), outside code and MathJax.
RAW_TEX = re.compile(r"\$|\\[A-Za-z]{2,}")

# Once the document has loaded, walks the notebook's cells in order: scrolls each into view (both UIs
# attach and render cells lazily), waits until it is rendered (markdown: its HTML, and MathJax's output
# when it has math; code: its images decoded) or 10 s have passed, and reports what it shows. Only the visible notebook panel counts
# (JupyterLab may restore other tabs); cells are found by their position in its windowed list.
WALK_CELLS = """
async ({count, math}) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const panel = () => [...document.querySelectorAll('.jp-NotebookPanel')]
                        .find(p => !p.classList.contains('lm-mod-hidden') && p.offsetParent !== null);
  // Until the document has loaded, the panel shows a spinner over a placeholder notebook of one empty cell.
  for (let waited = 0; waited < 60000; waited += 100) {
    const nb = panel();
    if (nb && !nb.querySelector('.jp-Spinner') && nb.querySelector('.jp-Notebook .jp-Cell')) break;
    await sleep(100);
  }
  const report = [];
  for (let i = 0; i < count; i++) {
    let cell = null;
    for (let tries = 0; tries < 100 && !cell; tries++) {
      const nb = panel();
      cell = nb && nb.querySelector(`.jp-Notebook .jp-Cell[data-windowed-list-index="${i}"]`);
      if (!cell) {
        const outer = nb && nb.querySelector('.jp-WindowedPanel-outer');
        if (outer) outer.scrollTop += 400;
        await sleep(50);
      }
    }
    if (!cell) { report.push({index: i, missing: true}); continue; }
    cell.scrollIntoView({block: 'start'});
    const kind = cell.classList.contains('jp-MarkdownCell') ? 'markdown'
               : cell.classList.contains('jp-CodeCell') ? 'code' : 'raw';
    const ready = () => {
      if (kind === 'markdown') {
        const r = cell.querySelector('.jp-RenderedMarkdown');
        return !!r && r.textContent.trim() !== '' && (!math[i] || cell.querySelector('mjx-container') !== null);
      }
      return [...cell.querySelectorAll('.jp-OutputArea-output img')].every(img => img.complete);
    };
    for (let waited = 0; waited < 10000 && !ready(); waited += 50) await sleep(50);
    const rendered = cell.querySelector('.jp-RenderedMarkdown');
    let prose = '';
    if (rendered) {
      const copy = rendered.cloneNode(true);
      copy.querySelectorAll('mjx-container, code, pre, .MathJax, script').forEach(e => e.remove());
      prose = copy.textContent;
    }
    report.push({
      index: i, kind,
      rendered: kind !== 'markdown' || (!!rendered && !cell.classList.contains('jp-mod-editMode')),
      math: cell.querySelectorAll('mjx-container').length,
      prose,
      images: [...cell.querySelectorAll('.jp-OutputArea-output img')].map(img => img.naturalWidth),
      headings: [...cell.querySelectorAll('.jp-RenderedMarkdown h1')].map(h => h.textContent.replace('\u00b6', '').trim()),
    });
  }
  return report;
}
"""

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def student_view(name: str, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with the outputs of the executed source notebook, matched by cell id."""
    release = nbformat.read(REPO / get_assignment(name).release_notebook, as_version=4)
    by_id = {c.id: c for c in executed.cells}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.id in by_id:
            cell.outputs = copy.deepcopy(by_id[cell.id].get("outputs", []))
            cell.execution_count = by_id[cell.id].get("execution_count")
    return nb


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """A ``jupyter lab`` server on loopback over a temporary folder: ``(base_url, token, root)``.

    Its configuration, runtime, settings and workspace folders are temporary too, so no user state is
    read or written."""
    root = tmp_path_factory.mktemp("served")
    state = tmp_path_factory.mktemp("jupyter-state")
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[var] = str(state / sub)
    log = open(state / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start:\n{(state / 'server.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.mark.parametrize("ui", sorted(UIS))
@pytest.mark.parametrize("name", assignment_names())
def test_released_notebook_renders_with_its_plots(name, ui, jupyter, browser, executed_source, tmp_path):
    base, token, root = jupyter
    nb = student_view(name, executed_source(name).notebook)
    filename = f"{name}-{ui}.ipynb"  # one file per page: two UIs never edit the same document
    nbformat.write(nb, root / filename)
    shots = {"top": tmp_path / f"{name}-{ui}-top.png", "plot": tmp_path / f"{name}-{ui}-plot.png"}
    where = f"{name} in {ui} (screenshots: {tmp_path})"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{base}/" + UIS[ui].format(file=filename, token=token), timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        math = [c.cell_type == "markdown" and "$" in c.source for c in nb.cells]
        report = page.evaluate(WALK_CELLS, {"count": len(nb.cells), "math": math})
        page.locator('.jp-NotebookPanel:visible .jp-Cell[data-windowed-list-index="0"]').scroll_into_view_if_needed()
        page.screenshot(path=shots["top"])
        first_plot = next((r["index"] for r in report if r.get("images")), None)
        if first_plot is not None:
            page.locator(f'.jp-NotebookPanel:visible .jp-Cell[data-windowed-list-index="{first_plot}"]').screenshot(
                path=shots["plot"])
    finally:
        page.close()

    missing = [r["index"] for r in report if r.get("missing")]
    assert not missing, f"{where}: cells {missing} never appeared"
    kinds = [r["kind"] for r in report]
    assert kinds == [c.cell_type for c in nb.cells], f"{where}: cell types or order differ from the notebook"
    for r, cell in zip(report, nb.cells):
        label = f"{where}, cell {r['index']} ({cell.id})"
        if cell.cell_type == "markdown":
            assert r["rendered"], f"{label}: markdown shown as source, not rendered"
            assert not RAW_TEX.search(r["prose"]), \
                f"{label}: unrendered math {RAW_TEX.search(r['prose']).group()!r} in {r['prose'][:300]!r}"
            if "$" in cell.source:
                assert r["math"] > 0, f"{label}: its math was not typeset"
        elif cell.cell_type == "code":
            pngs = sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
            assert len(r["images"]) == pngs, f"{label}: shows {len(r['images'])} images, has {pngs} PNG outputs"
            assert all(w > 0 for w in r["images"]), f"{label}: an image did not decode"
    plots = sum(len(r["images"]) for r in report)
    assert plots > 0 or name not in SHIPPED, f"{where}: no plot is shown"  # the shipped ones all plot
    headings = [h for r in report for h in r["headings"]]
    title = next(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()[0].lstrip("# ").strip()
    assert headings and headings[0] == title, f"{where}: first heading {headings[:1]}, expected {title!r}"
    assert shots["top"].stat().st_size > 20_000, f"{where}: the screenshot of the top is blank"
    assert plots == 0 or shots["plot"].stat().st_size > 5_000, f"{where}: the screenshot of the first plot is blank"
