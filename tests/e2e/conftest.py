"""Browser harness: `streamlit run app.py` on a free localhost port, driven by headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, new_tab, page_at_failure, serve_app

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report carries what its page showed: the script state, the URL, the main
    area's text and a screenshot (screenshots/failed-<test>.png), so a failure in CI can be read, not guessed."""
    report = yield
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.failed and call.when == "call" and page is not None:
        report.sections.append(("page at failure", page_at_failure(page, item.name)))
    return report


def pytest_collection_modifyitems(items):
    """Every test in this folder drives the browser (a conftest hook sees the whole session's items)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


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
    with new_tab(browser, 1440, 1000, 60_000) as tab:
        yield tab
