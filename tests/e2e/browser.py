"""Helpers for the browser tests: wait for a run to finish, open pages, screenshots, the app's pages."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "screenshots"
CHROMIUM = os.environ.get("AEVIZ_CHROMIUM", "/usr/bin/chromium")
# the page's own file uploader (the sidebar has one too: the lecture playlist's)
UPLOAD = "[data-testid='stMain'] input[type=file]"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def new_tab(browser, width: int, height: int, timeout_ms: float):
    """A tab in a fresh browser context (no cookies, no session) with a window of width x height CSS pixels."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    try:
        tab = context.new_page()
        tab.set_default_timeout(timeout_ms)
        yield tab
    finally:
        context.close()


# A session's first screen draws its charts as stills and holds back what lies below the fold; a trigger then
# asks for the live run (aeviz/ui/firstrun.py). A page is settled once that run has come: the trigger is gone.
LIVE = """() => !!document.querySelector("[data-test-script-state='notRunning']")
    && !document.querySelector('.st-key-aeviz_first_screen')"""


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the script has finished its run (Streamlit marks the app root with the state), the session's
    live run included."""
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout, state="attached")
    page.wait_for_timeout(300)  # let the last deltas paint
    page.wait_for_function(LIVE, timeout=timeout, polling=100)


def open_page(page, app_url: str, path: str = "", query: str = "") -> None:
    page.goto(f"{app_url}/{path}{'?' + query if query else ''}")
    page.wait_for_selector("[data-testid='stApp']")
    wait_quiet(page, 700)  # past the rerun the browser's screen report asks for (~0.3 s after loading)


def open_deep_link(page, app_url: str, path: str, query: str) -> None:
    """Open a shared link to a page; a fresh server runs a deep-linked page file on its own until app.py has
    run once (st.navigation), so the home page is opened first."""
    open_page(page, app_url)
    open_page(page, app_url, path, query)


def grey_pixels(png: bytes):
    """A PNG (a scrubber frame, a screenshot) as a float32 array of grey levels 0-255."""
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)


def page_at_failure(page, name: str) -> str:
    """What a page shows now, for a failed test's report: script state, URL, the main area's text (a screenshot
    goes to screenshots/failed-<name>.png). Never raises: the page may be gone."""
    try:
        state = page.evaluate(
            "() => document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state')"
        )
        text = page.locator("[data-testid='stMain']").inner_text(timeout=5000)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"failed-{name[:80]}.png"), timeout=10_000)
        return f"script state: {state}\nurl: {page.url}\n{text[:3000]}"
    except Exception as exc:  # a report helper: the page may be gone
        return f"(could not read the page: {exc!r})"


def no_exceptions(page) -> None:
    """No exception box and no error element on the page."""
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']"
    ).first.inner_text()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def page_slugs() -> list[str]:
    """URL paths of the pages app.py routes to (read from its PAGES list, without running it)."""
    import ast

    tree = ast.parse((REPO / "app.py").read_text())
    pages = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES"
    )
    return [Path(p).stem for p, _, _ in pages if (REPO / p).exists()]


def tall_shot(page, name: str, max_height: int = 6000) -> Path:
    """A screenshot of the whole page: Streamlit scrolls inside stMain, so full_page alone stops at the
    viewport; the viewport grows to the content's height first (and is put back afterwards)."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), max_height)})
    page.wait_for_timeout(800)  # plotly and images re-lay out to the new size
    wait_idle(page)
    try:
        return shot(page, name)
    finally:
        page.set_viewport_size(size)


# --- dragging a plotly figure's own slider (client-side scrubbing) --------------------------------


def wait_quiet(page, quiet_ms: int = 1000, timeout: float = 60_000) -> None:
    """Wait until the script has not run for `quiet_ms`: a page's first runs are followed by reruns of its own
    (the browser reporting its screen ~0.3 s after loading, a scrub figure's still asking for its chart), which
    wait_idle's pause can fall between."""
    wait_idle(page, timeout)
    page.wait_for_function(
        """(quiet) => {
            const app = document.querySelector('[data-test-script-state]');
            if (!window.__aevizQuiet) {
                window.__aevizQuiet = {last: performance.now()};
                new MutationObserver(() => { window.__aevizQuiet.last = performance.now(); })
                    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
            }
            return app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('.st-key-aeviz_first_screen')
                && performance.now() - window.__aevizQuiet.last >= quiet;
        }""",
        arg=quiet_ms,
        timeout=timeout,
        polling=100,
    )


def watch_script_state(page) -> None:
    """Record every change of Streamlit's script state from now on (read back with script_states), once the
    page's own follow-up runs are over (wait_quiet)."""
    wait_quiet(page)
    page.evaluate("""() => {
        window.__aevizStates = [];
        const app = document.querySelector('[data-test-script-state]');
        new MutationObserver(() => window.__aevizStates.push(app.getAttribute('data-test-script-state')))
            .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    }""")


def script_states(page) -> list[str]:
    return page.evaluate("() => window.__aevizStates || []")


def drag_scrubber(page, chart, fractions, name: str | None = None) -> list[tuple[str, bytes]]:
    """Press the slider grip of a plotly `chart`, move along the rail to each fraction of its length and,
    before releasing, record the slider's current-value text and a PNG of the figure's picture (also saved
    under screenshots/ as `{name}-{i}.png` when `name` is given). Returns [(label, png bytes), ...]."""
    chart.locator(".slider-grip-rect").wait_for()
    chart.scroll_into_view_if_needed()
    rail = chart.locator(".slider-rail-rect").bounding_box()
    grip = chart.locator(".slider-grip-rect").bounding_box()
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    seen = []
    try:
        for i, fraction in enumerate(fractions):
            page.mouse.move(rail["x"] + fraction * rail["width"], y, steps=8)
            page.wait_for_timeout(150)  # one animation frame is enough; this leaves room for a slow machine
            picture = chart.locator("g.imagelayer image").first.bounding_box()
            png = page.screenshot(clip=picture)
            if name:
                SCREENSHOTS.mkdir(exist_ok=True)
                (SCREENSHOTS / f"{name}-{i}.png").write_bytes(page.screenshot())
            seen.append((chart.locator("text.slider-label").first.text_content(), png))
    finally:
        page.evaluate("() => { window.__aevizDuringDrag = (window.__aevizStates || []).slice(); }")
        page.mouse.up()
    return seen


def states_during_drag(page) -> list[str]:
    """The script states recorded from watch_script_state until the last drag_scrubber let go: on release the
    scrub follower reruns its own fragment once, to put the position in the URL; while dragging nothing runs."""
    return page.evaluate("() => window.__aevizDuringDrag || []")


# --- the app under test: `streamlit run app.py` on a free port --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


SERVER_PIDS: dict[str, int] = {}  # url -> the server's process, for tests that pause it (a slow server)


@contextlib.contextmanager
def paused(url: str):
    """The server stopped (SIGSTOP) for the block: the browser's messages wait in the socket, as on a busy server."""
    os.kill(SERVER_PIDS[url], signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(SERVER_PIDS[url], signal.SIGCONT)


@contextlib.contextmanager
def serve_app(home: Path, launcher: tuple[str, ...] = ("-m", "streamlit"), **extra_env: str):
    """`streamlit run app.py` on a free port with its caches and user folder under `home`; yields the URL.
    `launcher`: what runs Streamlit's command line (e.g. tests/e2e/slow_imports.py with its arguments)."""
    port = _free_port()
    env = {
        **os.environ,
        "AEVIZ_CACHE_DIR": str(home / "cache"),
        "AEVIZ_HOME": str(home / "home"),
        "PYTHONUNBUFFERED": "1",
        "AEVIZ_ESTIMATES": "1",  # the server as it runs for users (the unit tests' conftest turns it off)
        **extra_env,
    }
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            *launcher,
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = proc.pid
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        SERVER_PIDS.pop(url, None)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()  # reaped: an unreaped Popen warns at garbage collection, an error in tests
        log.close()
        text = (home / "streamlit.log").read_text()
        if "Traceback" in text:
            print(text[-5000:])
