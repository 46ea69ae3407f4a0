"""Helpers for the browser tests: wait for a run to finish, open pages, screenshots, the app's pages."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "screenshots"
CHROMIUM = os.environ.get("AEVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the script has finished its run (Streamlit marks the app root with the state)."""
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout, state="attached")
    page.wait_for_timeout(300)  # let the last deltas paint
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=timeout, state="attached")


def open_page(page, app_url: str, path: str = "", query: str = "") -> None:
    page.goto(f"{app_url}/{path}{'?' + query if query else ''}")
    page.wait_for_selector("[data-testid='stApp']")
    wait_idle(page)


def no_exceptions(page) -> None:
    """No exception box and no error element on the page."""
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def page_slugs() -> list[str]:
    """URL paths of the pages app.py routes to (read from its PAGES list, without running it)."""
    import ast

    tree = ast.parse((REPO / "app.py").read_text())
    pages = next(ast.literal_eval(n.value) for n in tree.body
                 if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")
    return [Path(p).stem for p, _, _ in pages if (REPO / p).exists()]
