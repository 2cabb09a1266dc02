"""The course in a real browser: JupyterLab from the installed package, Debian's chromium
driven by Playwright (never a downloaded browser).

For every notebook in notebooks/ (and a small dedicated panel notebook written to a temp dir)
it runs all cells and checks that every widget output rendered (no "Error displaying widget",
no missing model, no unrendered "Loading widget..."), that charts appear (matplotlib images
load, panel charts are laid out and draw their lines), and that
clicking insmod in a ModulePanel adds the module's row to the displayed lsmod table and a line
to its dmesg pane. A learner's own module goes the whole way too: typed with the keyboard into a
%%kmodule cell of a fresh notebook, built by the real kbuild, loaded by the next %%kshell cell,
whose output shows the module's pr_info line from dmesg (docs/screenshots/kmodule-cell.png).
Screenshots go to artifacts/screenshots/ (gitignored), and one per notebook
(and one per panel) is copied to docs/screenshots/ for the README: new ones always, existing
ones with KCOURSE_UPDATE_SCREENSHOTS=1.

CI installs chromium (apt) and playwright (pip); need_tool() makes a missing chromium a
failure there (KCOURSE_REQUIRE_REAL=1) and a skip elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import need, need_tool

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
ARTIFACTS = REPO / "artifacts" / "screenshots"
DOCS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PANEL_NOTEBOOK = "panel-check.ipynb"
# What a notebook shows when a widget's view could not be made (@jupyter-widgets/jupyterlab-
# manager renders these texts), or when no widget manager picked the output up at all.
WIDGET_FAILURES = ("Error displaying widget", "model not found", "Loading widget...")
STARTUP_LIMIT_S = 120
RUN_LIMIT_MS = 600_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_panel_notebook(path: Path) -> None:
    """A notebook with one ModulePanel, one LeakPanel and one ElfExplorer."""
    import nbformat

    cells = [
        "import kcourse\nprint(kcourse.__version__)",
        "from kcourse.kernel import Kernel\nfrom kcourse.ui import ModulePanel\n"
        "kernel = Kernel(seed=0)\npanel = ModulePanel(kernel)\npanel",
        "from kcourse.ui import LeakPanel\nLeakPanel()",
        "from kcourse.ui import ElfExplorer\nElfExplorer('hello')",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def write_settings(settings: Path) -> None:
    """User settings: render every cell (no windowing, so all widgets exist in the DOM) and
    no news or update checks (the test must not reach the network)."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, value in files.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free localhost port, token disabled, config and runtime in a temp dir,
    serving a copy of notebooks/ (so autosave never touches the repository)."""
    need_tool("chromium")
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    for nb in NOTEBOOKS:
        shutil.copy(nb, root / nb.name)
    write_panel_notebook(root / PANEL_NOTEBOOK)
    write_settings(base / "settings")
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTER_DATA_DIR=str(base / "data"), JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"), IPYTHONDIR=str(base / "ipython"),
               XDG_DATA_HOME=str(base / "xdg-data"))
    port = free_port()
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
         "--ServerApp.terminals_enabled=False"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (base / "lab.log").read_text()[-3000:])
            time.sleep(0.25)
    yield url, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    path = need_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed (pip install playwright)")
    import tempfile

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1100})
        yield ctx
        ctx.close()


def open_and_run(browser, url: str, name: str):
    """Open a notebook, wait for an idle kernel, run all cells; returns the page."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/lab/tree/{name}?reset")
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session &&"
        " w.sessionContext.session.kernel;"
        " return k && k.connectionStatus === 'connected' && k.status === 'idle'; }",
        timeout=120_000)
    page.set_default_timeout(RUN_LIMIT_MS)
    ran = page.evaluate(
        "async () => await window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.set_default_timeout(60_000)
    assert ran, f"{name}: run-all stopped on an error"
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'")
    page.kc_errors = errors
    return page


def widget_counts(page) -> tuple[int, int]:
    """(widget outputs in the notebook model, widget views rendered in the page)."""
    expected = page.evaluate(
        """() => { const nb = window.jupyterapp.shell.currentWidget; let n = 0;
        for (const cell of nb.model.cells) {
          if (cell.type !== 'code') continue;
          for (let i = 0; i < cell.outputs.length; i++)
            if ('application/vnd.jupyter.widget-view+json' in cell.outputs.get(i).data) n++;
        }
        return n; }""")
    # the first .jupyter-widgets element inside each output is the view of that output
    rendered = page.evaluate(
        """() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
          .filter(o => o.querySelector('.jupyter-widgets')).length""")
    return expected, rendered


def check_widgets(page, name: str) -> None:
    expected, rendered = 0, -1
    for _ in range(100):  # views are created asynchronously after the outputs arrive
        expected, rendered = widget_counts(page)
        if rendered >= expected:
            break
        page.wait_for_timeout(100)
    text = page.inner_text(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    for failure in WIDGET_FAILURES:
        assert failure not in text, f"{name}: {failure}"
    assert rendered == expected, f"{name}: {rendered} of {expected} widgets rendered"


def check_images(page, name: str) -> int:
    """Every <img> in the outputs (matplotlib figures) has loaded pixels."""
    sizes = page.evaluate(
        """() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')]
          .map(i => [i.complete, i.naturalWidth, i.naturalHeight])""")
    for complete, width, height in sizes:
        assert complete and width > 0 and height > 0, f"{name}: an image did not load"
    return len(sizes)


def check_chart(chart, series: str) -> None:
    """A panel chart (SVG) is laid out with a visible size and draws the named series."""
    svg = chart.locator("svg.kc-svgchart").first
    box = svg.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50, "chart not laid out"
    line = chart.locator(f'svg.kc-svgchart g.kc-series[data-name="{series}"] path')
    assert line.count() == 1 and line.get_attribute("d"), f"chart has no {series} line"


def screenshot(page, stem: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{stem}.png"
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").screenshot(path=str(target))
    return target


def publish(shot: Path) -> None:
    """Copy a screenshot to docs/screenshots/ (for the README) when it is not there yet, or
    always with KCOURSE_UPDATE_SCREENSHOTS=1: a rendering differs by a few pixels from run to
    run, and an ordinary test run should not leave the checkout modified."""
    DOCS.mkdir(parents=True, exist_ok=True)
    target = DOCS / shot.name
    if not target.exists() or os.environ.get("KCOURSE_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, target)


@pytest.mark.parametrize("notebook", [nb.name for nb in NOTEBOOKS])
def test_notebook_runs_and_every_widget_renders(lab, browser, notebook):
    url, _root = lab
    page = open_and_run(browser, url, notebook)
    try:
        check_widgets(page, notebook)
        check_images(page, notebook)
        first = page.locator(".jp-OutputArea-output .jupyter-widgets").first
        if first.count():
            first.scroll_into_view_if_needed()
        publish(screenshot(page, Path(notebook).stem))
        assert not page.kc_errors, f"{notebook}: JavaScript errors {page.kc_errors}"
    finally:
        page.close()


def test_module_panel_insmod_in_the_browser(lab, browser):
    url, _root = lab
    page = open_and_run(browser, url, PANEL_NOTEBOOK)
    try:
        check_widgets(page, PANEL_NOTEBOOK)
        panel = page.locator(".kc-module-panel").first
        lsmod = panel.locator(".kc-lsmod-view")
        dmesg = panel.locator(".kc-dmesg-view")
        assert lsmod.locator('tr[data-key="hello"]').count() == 0
        dmesg_before = dmesg.inner_text().count("\n")
        panel.get_by_role("button", name="insmod", exact=True).click()
        lsmod.locator('tr[data-key="hello"]').wait_for()
        page.wait_for_function(
            "([sel, n]) => document.querySelector(sel).innerText.split('\\n').length > n + 1",
            arg=[".kc-module-panel .kc-dmesg-view", dmesg_before])
        assert "hello, world" in dmesg.inner_text()
        assert panel.locator('.kc-states[data-state="LIVE"]').count() == 1
        check_chart(panel.locator(".kc-chart").first, "hello")
        # the leak panel: five cycles of leaker.c's kmalloc(4000) (a 4096-byte kmalloc-4k
        # object each, include/linux/slab.h) stay allocated after rmmod
        leak = page.locator(".kc-leak-panel").first
        leak.get_by_role("button", name="run cycles").click()
        leak.get_by_text("after 5 cycles").wait_for()
        assert "the kernel still holds 20480 bytes for leaker" in leak.inner_text()
        check_chart(leak.locator(".kc-chart").first, "user process")
        elf = page.locator(".jupyter-widgets.widget-vbox", has=page.locator(".kc-sections"))
        assert elf.first.locator('tr[data-key=".init.text"]').count() == 1
        check_images(page, PANEL_NOTEBOOK)
        assert not page.kc_errors, f"JavaScript errors {page.kc_errors}"
        for name, element in (("module-panel", panel), ("leak-panel", leak),
                              ("elf-explorer", elf.first)):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            element.screenshot(path=str(ARTIFACTS / f"{name}.png"))
            publish(ARTIFACTS / f"{name}.png")
    finally:
        page.close()


# The module a learner types into a %%kmodule cell; each line is typed as it stands here.
TYPED_MODULE = [
    "%%kmodule hello_browser",
    "#include <linux/init.h>",
    "#include <linux/module.h>",
    "",
    "static int __init hello_browser_init(void)",
    "{",
    '    pr_info("hello_browser: typed in a browser\\n");',
    "    return 0;",
    "}",
    "",
    "static void __exit hello_browser_exit(void)",
    "{",
    "}",
    "",
    "module_init(hello_browser_init);",
    "module_exit(hello_browser_exit);",
    'MODULE_LICENSE("GPL");',
]
TYPED_SHELL = ["%%kshell", "insmod hello_browser/hello_browser.ko", "dmesg | tail -1"]
TYPED_FOLDER = "kmodule-typed"
BUILD_LIMIT_MS = 300_000  # a cold kbuild of one module on a busy 2-core machine


def type_lines(page, lines: list[str]) -> None:
    """Type lines into the active cell editor with the keyboard. After each Enter the editor
    indents the new line as it sees fit; Shift+Home selects that indentation so the line's own
    text (or the next Enter) replaces it, and the cell holds exactly the lines typed."""
    for i, line in enumerate(lines):
        if i:
            page.keyboard.press("Enter")
            page.keyboard.press("Shift+Home")
        if line:
            page.keyboard.type(line)


def nth_cell(page, index: int):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(index)


def cell_source(page) -> str:
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel"
        ".getSource()")


def run_typed_cell(page, cell, wait_for: str) -> str:
    """Shift+Enter, as a learner runs a cell, then wait until its output shows `wait_for` and
    the kernel is idle; returns the output's text."""
    page.keyboard.press("Shift+Enter")
    output = cell.locator(".jp-OutputArea")
    output.get_by_text(wait_for).first.wait_for(timeout=BUILD_LIMIT_MS)
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'")
    return output.inner_text()


def test_kmodule_cell_typed_built_and_loaded_in_the_browser(lab, browser, tmp_path):
    """A learner's flow: type C into a %%kmodule cell, build it with the real kbuild (gcc-12,
    the pinned headers), load it from the next %%kshell cell and read its pr_info in dmesg."""
    from kcourse import pin
    from kcourse.build import headers

    need_tool("make")
    need_tool("gcc-12")
    need(headers.installed_tree(pin.release()) is not None or shutil.which("apt-get"),
         f"neither {pin.headers_package()} nor apt-get is here")
    import nbformat

    url, root = lab
    folder = root / TYPED_FOLDER   # the kernel's working folder: kmodules/ is made here
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext kcourse.magic")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, folder / "kmodule-cell.ipynb")

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{url}/lab/tree/{TYPED_FOLDER}/kmodule-cell.ipynb?reset")
        page.wait_for_function(
            "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            " const k = w && w.sessionContext && w.sessionContext.session &&"
            " w.sessionContext.session.kernel;"
            " return k && k.connectionStatus === 'connected' && k.status === 'idle'; }",
            timeout=120_000)
        page.set_default_timeout(60_000)
        nth_cell(page, 0).locator(".cm-content").click()
        # Shift+Enter on the last cell runs it and opens a new cell below, in edit mode
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(
            "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
            " return nb.widgets.length === 2 && nb.activeCellIndex === 1"
            " && nb.mode === 'edit'; }")
        type_lines(page, TYPED_MODULE)
        assert cell_source(page) == "\n".join(TYPED_MODULE)
        module_cell = nth_cell(page, 1)
        built = run_typed_cell(page, module_cell, "built hello_browser/hello_browser.ko")
        assert "  LD [M]  hello_browser/hello_browser.ko" in built    # kbuild's own output
        assert "%%kmodule:" not in built
        assert (folder / "kmodules" / "hello_browser" / "hello_browser.ko").is_file()

        type_lines(page, TYPED_SHELL)
        assert cell_source(page) == "\n".join(TYPED_SHELL)
        shell_cell = nth_cell(page, 2)
        shown = run_typed_cell(page, shell_cell, "# dmesg | tail -1")
        # printk's record as dmesg prints it: [seconds.microseconds] then the text
        # (kernel/printk/printk.c, print_time)
        lines = shown.splitlines()
        assert lines[:2] == ["# insmod hello_browser/hello_browser.ko", "# dmesg | tail -1"]
        assert re.fullmatch(r"\[ *\d+\.\d{6}\] hello_browser: typed in a browser", lines[2]), \
            shown
        assert not errors, f"JavaScript errors {errors}"

        # the notebook from its toolbar down to the %%kshell cell's output
        module_cell.scroll_into_view_if_needed()
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").bounding_box()
        end = shell_cell.bounding_box()
        update = os.environ.get("KCOURSE_UPDATE_SCREENSHOTS") == "1"
        target = DOCS / "kmodule-cell.png" if update else tmp_path / "kmodule-cell.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), clip={
            "x": panel["x"], "y": panel["y"], "width": panel["width"],
            "height": end["y"] + end["height"] + 6 - panel["y"]})
        assert target.stat().st_size > 10_000
    finally:
        page.close()
