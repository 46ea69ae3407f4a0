"""The app shell in a real browser: every page opens without an exception; state lives in the URL."""

from __future__ import annotations

import pytest
from browser import no_exceptions, open_deep_link, open_page, page_slugs, paused, shot, wait_idle


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


def test_a_page_chosen_just_after_a_resize_is_the_page_shown(page, fresh_app_url):
    """The screen reporter answers a resize ~0.3 s later with a rerun, and Streamlit's browser side sends a
    widget's rerun for the page it last ran until the server says the new page has started. On a busy server
    (CI) the report landed between a click in the sidebar and that answer, and ran the old page again without
    its URL settings: the student stayed on the Error gallery, reset to its defaults."""
    open_deep_link(page, fresh_app_url, "anomalies", "dataset=digits&err_src=none&err_metric=bce")
    page.wait_for_selector("text=Threshold", timeout=180_000)
    wait_idle(page)
    size = page.viewport_size
    # a busy server: the click's rerun and the report both wait in the socket (a server of its own: the pause
    # reaches no other test's work, a training job or a timing probe)
    with paused(fresh_app_url):
        page.locator("[data-testid='stSidebarNav']").get_by_text("Your images").click()
        page.set_viewport_size({"width": size["width"] - 40, "height": size["height"] + 200})
        page.wait_for_timeout(900)  # the reporter's 0.3 s debounce has passed
    page.wait_for_timeout(1500)
    wait_idle(page)
    page.set_viewport_size(size)
    no_exceptions(page)
    assert "/anomalies" not in page.url, page.url
    assert page.locator("h1").first.inner_text().startswith("Your images"), page.locator("h1").first.inner_text()
