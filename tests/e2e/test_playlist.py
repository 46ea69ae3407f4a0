"""The lecture playlist in headless Chromium: "Add this view" saves the share link, the JSON exports and imports
(bad JSON gets one line), and in lecture mode PageDown/PageUp past the end of a page's slider open the
next/previous saved view, as a presenter remote would."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

from browser import SCREENSHOTS, no_exceptions, open_deep_link, wait_idle

from aeviz import playlists, sweeps
from aeviz.playlists import Playlist

LEVELS = sweeps.levels("gaussian")
PANEL = "[data-testid='stSidebar'] [data-testid='stExpander']:has-text('Lecture playlist')"


def scrub_label(page) -> str:
    return page.locator(".st-key-dn_scrub text.slider-label").first.text_content()


def lecture() -> Playlist:
    """Three views: the denoising scrubber one step before its end, Home's last test image, the latent map."""
    views = (
        playlists.make_view("denoising", {"dataset": "mnist", "dn_level": f"{LEVELS[-2]:g}"}, "Noise"),
        playlists.make_view("", {"dataset": "mnist", "home_idx": "9999"}, "Last image"),
        playlists.make_view("latent_map", {"dataset": "digits", "map_method": "pca"}, "Map"),
    )
    return Playlist("Week 3", views)


def at_path(page, path: str, has: str) -> None:
    page.wait_for_function("([p, q]) => location.pathname === p && location.search.includes(q)", arg=[path, has])
    wait_idle(page)


def test_page_down_past_the_sliders_end_opens_the_next_saved_view_and_page_up_comes_back(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        link = f"{playlists.LINK_KEY}={playlists.to_link_value(lecture())}&lecture=1"
        open_deep_link(page, app_url, "", link)  # a lecture's link opens its first view, in lecture mode
        at_path(page, "/denoising", "dn_level=0.95")
        page.locator(".st-key-dn_scrub .slider-rail-rect").wait_for()
        assert "lecture=1" in page.url and playlists.LINK_KEY + "=" not in page.url
        assert scrub_label(page) == "Gaussian sigma = 0.95"
        page.keyboard.press("PageDown")  # not at the end yet: the slider steps
        page.wait_for_function(
            "() => document.querySelector('.st-key-dn_scrub text.slider-label').textContent.endsWith('1.00')"
        )
        page.wait_for_timeout(500)
        assert page.url.split("?")[0].endswith("/denoising")
        page.keyboard.press("ArrowRight")  # the arrows never leave the page
        page.wait_for_timeout(800)
        assert page.url.split("?")[0].endswith("/denoising")
        page.keyboard.press("PageDown")  # at the end: the next view
        at_path(page, "/", "home_idx=9999")
        assert "lecture=1" in page.url
        page.locator(".st-key-w_home_idx input[type=range]").wait_for()
        page.wait_for_timeout(500)
        page.keyboard.press("PageDown")  # Home's slider is at its end too
        at_path(page, "/latent_map", "dataset=digits")
        page.locator(".js-plotly-plot").first.wait_for()
        page.screenshot(path=str(SCREENSHOTS / "playlist-lecture-1280x720.png"))
        page.keyboard.press("PageDown")  # the last view: nothing further
        page.wait_for_timeout(1500)
        assert page.url.split("?")[0].endswith("/latent_map")
        page.keyboard.press("PageUp")  # a page without a slider: straight back
        at_path(page, "/", "home_idx=9999")
        page.wait_for_timeout(500)
        page.keyboard.press("PageUp")  # Home's slider is not at its start: it steps
        page.wait_for_function("() => location.search.includes('home_idx=9998')")
        assert page.url.split("?")[0].rstrip("/").endswith(app_url.split("//")[1])
        no_exceptions(page)
    finally:
        context.close()


def open_panel(page):
    panel = page.locator(PANEL)
    panel.locator("summary").click()
    return panel


def test_add_this_view_saves_the_share_link_and_the_json_round_trips(page, app_url, tmp_path):
    open_deep_link(page, app_url, "denoising", f"dataset=mnist&dn_level={LEVELS[4]:g}")
    page.locator(".st-key-dn_scrub .slider-rail-rect").wait_for()
    wait_idle(page)
    panel = open_panel(page)
    panel.get_by_role("textbox", name="Name").fill("Monday")
    panel.get_by_role("textbox", name="Name").press("Enter")
    wait_idle(page)
    panel.get_by_role("button", name="Add this view").click()
    wait_idle(page)
    page.get_by_role("link", name="VAE: interpolate & sample").click()  # in-app: the session (and list) stays
    page.wait_for_function("() => location.pathname === '/vae'")
    wait_idle(page)
    shared = page.url
    panel = page.locator(PANEL)
    assert panel.locator("details").get_attribute("open") is not None  # the panel stays open across pages
    panel.get_by_role("button", name="Add this view").click()
    wait_idle(page)
    assert panel.get_by_role("button", name="1. Denoising · mnist").count() == 1
    assert panel.get_by_role("button", name="▶ 2. VAE: interpolate & sample · mnist").count() == 1
    with page.expect_download() as got:
        panel.get_by_role("button", name="Export as JSON").click()
    saved = playlists.from_json(got.value.path().read_bytes())
    assert saved.name == "Monday" and [v.page for v in saved.views] == ["denoising", "vae"]
    assert saved.views[0].params()["dn_level"] == f"{LEVELS[4]:g}"
    in_url = dict(parse_qsl(urlsplit(shared).query))
    assert saved.views[1].params() == {k: v for k, v in in_url.items() if k != "lecture"}  # the share link
    link = panel.locator("[data-testid='stCode']").inner_text().strip()
    assert playlists.from_link_value(link.split(playlists.LINK_KEY + "=")[1]) == saved

    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"format": "aeviz-playlist", "version": 1, "views": [{"page": "../admin"}]}))
    panel.locator("input[type=file]").set_input_files(str(bad))
    wait_idle(page)
    error = page.locator(
        "[data-testid='stSidebar'] [data-testid='stAlertContentError'] [data-testid='stMarkdownContainer']"
    )
    assert error.inner_text().strip() == "broken.json: View 1 names no page of this app."  # one line
    assert page.locator(PANEL).get_by_role("button", name="1. Denoising · mnist").count() == 1  # nothing lost

    good = tmp_path / "friday.json"
    good.write_text(playlists.to_json(lecture()))
    page.locator(PANEL).locator("input[type=file]").set_input_files(str(good))
    wait_idle(page)
    assert page.locator(PANEL).get_by_role("button", name="3. Map").count() == 1
    page.locator("[data-testid='stSidebar']").screenshot(path=str(SCREENSHOTS / "playlist-panel.png"))
    page.locator(PANEL).get_by_role("button", name="2. Last image").click()
    at_path(page, "/", "home_idx=9999")
    no_exceptions(page)
