"""The app shell in a real browser: every page opens without an exception; state lives in the URL."""

from __future__ import annotations

import pytest
from browser import no_exceptions, open_page, page_slugs, shot, wait_idle


@pytest.mark.parametrize("path", page_slugs())
def test_every_page_opens(page, app_url, path):
    open_page(page, app_url, "" if path == "home" else path)
    no_exceptions(page)
    assert page.locator("h1").count() >= 1
    shot(page, f"page-{path}")


def test_home_shows_model_and_dataset(page, app_url):
    open_page(page, app_url)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert "test images" in sidebar.inner_text() and "device" in sidebar.inner_text()
    assert page.locator("[data-testid='stImage'] img").count() >= 1
    assert "dataset=" in page.url


def test_dataset_choice_round_trips_through_the_url(page, app_url):
    open_page(page, app_url, "", "dataset=digits")
    wait_idle(page)
    assert "scikit-learn (bundled)" in page.locator("[data-testid='stSidebar']").inner_text()
    assert "dataset=digits" in page.url


def test_a_deep_link_as_the_first_visit_gets_the_whole_app(page, fresh_app_url):
    """Streamlit runs a page file alone on a new server (pages/ folder, old multipage mode) until app.py has
    run once; ui.context reroutes through app.py, so the shared link shows the sidebar and the page."""
    open_page(page, fresh_app_url, "reconstructions", "dataset=digits")
    no_exceptions(page)
    sidebar = page.locator("[data-testid='stSidebar']").inner_text()
    assert "scikit-learn (bundled)" in sidebar and "test images" in sidebar
    assert "No dataset is available" not in page.locator("[data-testid='stMain']").inner_text()
    assert "dataset=digits" in page.url
