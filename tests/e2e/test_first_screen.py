"""A new visitor's first screen (issue 30 section 5): the scrub figure's frame drawn by the server as a plain
picture first, then the interactive chart in its place at the same frame, with no script error; the picture is
the chart's own frame, and the session's later runs draw the chart at once."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from browser import new_tab, no_exceptions, open_deep_link, wait_idle
from PIL import Image

# Records every still picture as it appears (it is replaced within a second, before a test could look)
WATCH_STILLS = """
window.__stills = [];
new MutationObserver(() => {
  for (const img of document.querySelectorAll('[class*="_still"] img')) {
    if (!img.__seen) { img.__seen = true; window.__stills.push({alt: img.alt, src: img.src, at: performance.now(),
      chart: !!document.querySelector('.st-key-dn_scrub .main-svg')}); }
  }
}).observe(document, {childList: true, subtree: true});
"""


def data_uri_pixels(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"), dtype=float)


@pytest.fixture
def projector(browser):
    """A 1280x720 window: the screen a session's first run lays its pictures out for, before the browser has
    reported its own (aeviz.ui.screen.GUESS; a larger window gets a still at that size, then a larger chart)."""
    with new_tab(browser, 1280, 720, 60_000) as tab:
        yield tab


def test_the_denoising_scrub_shows_its_frame_first_then_turns_interactive_at_it(projector, app_url):
    page = projector
    page.add_init_script(WATCH_STILLS)
    open_deep_link(page, app_url, "denoising", "dataset=mnist&dn_level=0.3")
    chart = page.locator(".st-key-dn_scrub .js-plotly-plot")
    chart.locator(".main-svg").first.wait_for()
    wait_idle(page)
    stills = page.evaluate("() => window.__stills")
    assert len(stills) == 1 and not stills[0]["chart"]  # shown before the chart
    assert stills[0]["alt"] == "Gaussian sigma = 0.30"  # the frame the link names, labelled as the chart does
    assert page.locator(".st-key-dn_scrub_still").count() == 0  # replaced by it
    active, source = page.evaluate(
        "() => { const gd = document.querySelector('.st-key-dn_scrub .js-plotly-plot');"
        " return [gd._fullLayout.sliders[0].active, gd.data[0].source]; }"
    )
    assert active == 6  # 0.30 on the 0.05 grid: the chart opened where the link and the still said
    assert np.abs(data_uri_pixels(stills[0]["src"]) - data_uri_pixels(source)).max() == 0  # the same picture
    page.locator(".st-key-w_dn_seed input[type=range]").focus()  # a rerun of the same session
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('dn_seed=1')")
    wait_idle(page)
    assert len(page.evaluate("() => window.__stills")) == 1  # no second still: the chart is drawn at once
    assert chart.locator(".main-svg").count() >= 1
    no_exceptions(page)
