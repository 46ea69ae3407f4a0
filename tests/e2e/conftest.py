"""Browser harness: `streamlit run app.py` on a free localhost port, driven by headless Chromium."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, REPO


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


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


@contextlib.contextmanager
def serve_app(home: Path, **extra_env: str):
    """`streamlit run app.py` on a free port with its caches and user folder under `home`; yields the URL."""
    port = _free_port()
    env = {**os.environ, "AEVIZ_CACHE_DIR": str(home / "cache"), "AEVIZ_HOME": str(home / "home"),
           "PYTHONUNBUFFERED": "1", **extra_env}
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        text = (home / "streamlit.log").read_text()
        if "Traceback" in text:
            print(text[-5000:])


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """A real server over the real zoo, shared by the browser tests; caches and user folder in a temp dir."""
    with serve_app(tmp_path_factory.mktemp("e2e-home")) as url:
        yield url


@pytest.fixture
def fresh_app_url(tmp_path):
    """A server of its own that no browser has visited yet (for first-visit behaviour)."""
    with serve_app(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium package")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()
