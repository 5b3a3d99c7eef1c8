"""The course as students meet it: JupyterLab in a real (headless) chromium.

Starts JupyterLab on a copy of lecture 04, opens it in Debian's chromium through Playwright, runs
all cells (fast budget), moves the theta slider of the parallel-lines explorer and checks that no
cell failed, that the explorer rendered and that its plot changed.

- chromium: ``/usr/bin/chromium``. When it is missing and we run as root, the test installs it
  with ``apt-get install -y chromium``; only when that is impossible does it skip, saying why.
  (Playwright's own browser download is never used.)
- Screenshots (test artifacts) go to ``$DGMLIB_BROWSER_ARTIFACTS`` or a pytest temporary folder;
  the path is printed. ``DGMLIB_SCREENSHOTS=docs/screenshots`` also writes the README's pictures
  there: ``jupyterlab-light.png`` and ``jupyterlab-dark.png``.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_wasserstein_vs_jsd.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 420  # generous: the fast run of lecture 04 takes well under a minute on an idle laptop


def _log(message: str) -> None:
    print(f"[browser test] {message}", flush=True)


def _ensure_chromium() -> str | None:
    """None when /usr/bin/chromium is there (installing it with apt-get if we may), else why not."""
    if CHROMIUM.exists():
        return None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and installing it needs root: run `sudo apt-get install -y chromium`"
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and this machine has no apt-get to install Debian's chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    tail = ""
    for command in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"],
                    ["apt-get", "install", "-y", "chromium"]):
        if CHROMIUM.exists():
            break
        _log("installing chromium: " + " ".join(command))
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            tail = (done.stdout + done.stderr)[-600:]
        except (OSError, subprocess.TimeoutExpired) as err:
            tail = str(err)
    if CHROMIUM.exists():
        return None
    return f"could not install chromium with apt-get (last output: {tail.strip()})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _write_settings(settings_dir: Path, theme: str = "JupyterLab Light") -> None:
    """User settings of the throw-away lab: a theme, and no news or update pop-ups."""
    apputils = settings_dir / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    notebook = settings_dir / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True, exist_ok=True)  # render every cell (no virtual scrolling), so the DOM holds them all
    (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("DGMLIB_BROWSER_ARTIFACTS") or tmp_path_factory.mktemp("browser-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    _log(f"screenshots (artifacts) in {folder.resolve()}")
    return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port with a random token, on a copy of lecture 04."""
    reason = _ensure_chromium()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    home = tmp_path_factory.mktemp("lab")
    (home / "lectures").mkdir()
    shutil.copy(ROOT / "lectures" / NOTEBOOK, home / "lectures" / NOTEBOOK)
    _write_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "DGMLIB_FAST": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_DATA_DIR": str(home / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("MPLBACKEND", None)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
               f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
               "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home / "server.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"JupyterLab did not start:\n{(home / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        _log(f"JupyterLab up on port {port} (root {home})")
        yield {"base": base, "token": token, "home": home}
    finally:
        try:  # shut the kernels down before the server
            for kernel in _get(f"{base}/api/kernels?token={token}") or []:
                request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def page(lab, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(menu)}$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).first.click()


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-Notebook .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")


def _wait_until_run(page, n_cells: int) -> float:
    """Wait until every code cell shows an execution count and the kernel is idle."""
    start = time.monotonic()
    while time.monotonic() - start < RUN_TIMEOUT_S:
        prompts = _prompts(page)
        numbered = [p for p in prompts if re.fullmatch(r"\[\d+\]:", p)]
        busy = any("*" in p for p in prompts)
        status = page.eval_on_selector_all(".jp-Notebook-ExecutionIndicator", "els => els.map(e => e.dataset.status)")
        if len(numbered) == n_cells and not busy and all(s == "idle" for s in status):
            return time.monotonic() - start
        time.sleep(1.0)
    raise AssertionError(f"the notebook did not finish within {RUN_TIMEOUT_S} s; prompts: {_prompts(page)}")


def _image(png: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def _drag_slider(page, slider, fraction: float) -> None:
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target, .noUi-base").first
    box, hbox = track.bounding_box(), handle.bounding_box()
    page.mouse.move(hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + fraction * box["width"], hbox["y"] + hbox["height"] / 2, steps=12)
    page.mouse.up()


def test_lecture_04_runs_in_jupyterlab_and_its_explorer_reacts(lab, page, artifacts):
    started = time.monotonic()
    url = f"{lab['base']}/lab/tree/lectures/{NOTEBOOK}?token={lab['token']}&reset"
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)  # kernel started
    n_cells = len(nbformat.read(lab["home"] / "lectures" / NOTEBOOK, as_version=4).cells)
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(lab["home"] / "lectures" / NOTEBOOK, as_version=4).cells)
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n", arg=n_cells,
                           timeout=60_000)

    # Clear the stored outputs first, so everything we check below comes from this run.
    _menu(page, "Edit", "Clear Outputs of All Cells")
    _menu(page, "Run", "Run All Cells")
    page.wait_for_timeout(2000)
    run_s = _wait_until_run(page, code_cells)
    _log(f"all {code_cells} code cells ran in {run_s:.0f} s")

    # 1. No cell failed: the saved notebook holds no error output, the page shows no traceback.
    page.keyboard.press("Control+s")
    page.wait_for_timeout(2000)
    saved = nbformat.read(lab["home"] / "lectures" / NOTEBOOK, as_version=4)
    errors = [(c.execution_count, o.get("ename"), o.get("evalue")) for c in saved.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"cells raised: {errors}"
    assert [c.execution_count for c in saved.cells if c.cell_type == "code"] == list(range(1, code_cells + 1))
    tracebacks = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text=re.compile("Traceback|Error"))
    assert tracebacks.count() == 0, tracebacks.first.inner_text()[:2000]

    # 2. The explorer rendered: its slider, its figure (a non-blank PNG) and its readout.
    explorer = page.locator(".dgm-explorer").first
    explorer.scroll_into_view_if_needed()
    figure = explorer.locator(".dgm-explorer-figure")
    message = explorer.locator(".dgm-explorer-message")
    page.wait_for_function("el => el.naturalWidth > 0", arg=figure.element_handle(), timeout=30_000)
    assert "W = 0.5000" in message.inner_text()
    page.wait_for_timeout(500)
    before_png = figure.screenshot(path=str(artifacts / "explorer-theta-0.5.png"))
    before = _image(before_png)
    assert before.std() > 0.05, "the explorer's figure is blank"
    page.screenshot(path=str(artifacts / "lecture04-explorer.png"))

    # 3. Move the theta slider (drag the handle; arrow keys as a fallback) and the plot changes.
    slider = explorer.locator(".widget-slider").first
    readout = slider.locator(".widget-readout").first
    old = readout.inner_text()
    _drag_slider(page, slider, 0.15)
    try:
        page.wait_for_function("([el, old]) => el.textContent.trim() !== old", arg=[readout.element_handle(), old], timeout=10_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError; try the keyboard instead
        slider.locator(".noUi-handle").first.focus()
        for _ in range(6):
            page.keyboard.press("ArrowLeft")
    page.wait_for_function("([el, old]) => el.textContent.trim() !== old", arg=[readout.element_handle(), old], timeout=30_000)
    theta = float(readout.inner_text().replace("\u2212", "-"))
    _log(f"theta moved from {old} to {theta}")
    page.wait_for_function("([el, t]) => el.textContent.includes('W = ' + Math.abs(t).toFixed(4))",
                           arg=[message.element_handle(), theta], timeout=30_000)
    page.wait_for_timeout(500)
    after_png = figure.screenshot(path=str(artifacts / f"explorer-theta-{theta:g}.png"))
    after = _image(after_png)
    assert after.shape == before.shape
    changed = np.abs(after - before).max(axis=-1) > 0.1
    assert changed.mean() > 0.005, f"the plot did not change: {changed.mean():.4%} of pixels differ"
    assert f"W = {abs(theta):.4f}" in message.inner_text()

    # 4. Bad input typed into the box: a message, not a traceback.
    box = explorer.locator(".widget-text input").first
    box.fill("5")
    box.press("Enter")
    page.wait_for_function("el => el.textContent.includes('theta must be between -1 and 1')",
                           arg=message.element_handle(), timeout=30_000)
    assert tracebacks.count() == 0
    _log(f"browser test body took {time.monotonic() - started:.0f} s")

    # 5. The README's screenshots, light and dark, when asked for.
    target = os.environ.get("DGMLIB_SCREENSHOTS")
    box.fill(f"{theta:g}")
    box.press("Enter")
    page.wait_for_function("el => !el.textContent.includes('Not updated')", arg=message.element_handle(), timeout=30_000)
    shots = {"light": artifacts / "jupyterlab-light.png", "dark": artifacts / "jupyterlab-dark.png"}
    explorer.evaluate("el => el.closest('.jp-Cell').previousElementSibling.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    page.screenshot(path=str(shots["light"]))
    _menu_theme(page, "JupyterLab Dark")
    page.wait_for_timeout(1500)
    explorer.evaluate("el => el.closest('.jp-Cell').previousElementSibling.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    page.screenshot(path=str(shots["dark"]))
    assert _image(shots["dark"].read_bytes())[:40].mean() < _image(shots["light"].read_bytes())[:40].mean()  # the top bar is dark
    if target:
        out = Path(target)
        out.mkdir(parents=True, exist_ok=True)
        for name, path in shots.items():
            shutil.copy(path, out / path.name)
        _log(f"README screenshots written to {out.resolve()}")


def _menu_theme(page, theme: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(theme)}$")).first.click()
    page.wait_for_function("t => document.body.dataset.jpThemeName === t", arg=theme, timeout=30_000)
