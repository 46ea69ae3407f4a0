"""A new visitor's first screen (issue 30 section 5): each chart drawn by the server as a still first (a scrub
figure's frame as a plain picture, any other chart as SVG), before the browser has asked for plotly's bundle;
then the interactive chart in its place, with no script error. The still is the chart's own picture (the same
frame; the same legend), it stays over the chart until plotly has drawn it, and later runs draw charts at once."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from browser import new_tab, no_exceptions, open_deep_link, wait_idle
from PIL import Image

# Records every still picture as it appears (it is replaced within a second, before a test could look)
WATCH_STILLS = """
window.__stills = [];
new MutationObserver(() => {
  for (const img of document.querySelectorAll('.st-key-dn_scrub_still img')) {
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


def opened_watching(page, app_url: str, watch: str, path: str, query: str, chart_key: str):
    """Open a deep link with `watch` recording the page as it builds; wait for the chart's plotly drawing and
    the run's end. Returns the chart."""
    page.add_init_script(watch)
    open_deep_link(page, app_url, path, query)
    chart = page.locator(f".st-key-{chart_key} .js-plotly-plot")
    chart.locator(".main-svg").first.wait_for()
    wait_idle(page)
    return chart


def nudged(page, slider_key: str, url_part: str) -> None:
    """A rerun of the same session: the slider one step right, then the run's end."""
    page.locator(f".st-key-{slider_key} input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(part) => location.search.includes(part)", arg=url_part)
    wait_idle(page)


def test_the_denoising_scrub_shows_its_frame_first_then_turns_interactive_at_it(projector, app_url):
    page = projector
    chart = opened_watching(page, app_url, WATCH_STILLS, "denoising", "dataset=mnist&dn_level=0.3", "dn_scrub")
    stills = page.evaluate("() => window.__stills")
    assert len(stills) == 1 and not stills[0]["chart"]  # shown before the chart
    assert stills[0]["alt"] == "Gaussian sigma = 0.30"  # the frame the link names, labelled as the chart does
    assert page.locator(".st-key-dn_scrub_still img").is_hidden()  # the chart is drawn: its still is gone
    active, source = page.evaluate(
        "() => { const gd = document.querySelector('.st-key-dn_scrub .js-plotly-plot');"
        " return [gd._fullLayout.sliders[0].active, gd.data[0].source]; }"
    )
    assert active == 6  # 0.30 on the 0.05 grid: the chart opened where the link and the still said
    assert np.abs(data_uri_pixels(stills[0]["src"]) - data_uri_pixels(source)).max() == 0  # the same picture
    nudged(page, "w_dn_seed", "dn_seed=1")
    assert len(page.evaluate("() => window.__stills")) == 1  # no second still: the chart is drawn at once
    assert chart.locator(".main-svg").count() >= 1
    no_exceptions(page)


# When the chart's still first shows: whether plotly's bundle had been asked for by then
WATCH_CHART = """
window.__firstStill = null;
new MutationObserver(() => {
  const img = document.querySelector('.st-key-rec_chart_still img');
  if (img && !window.__firstStill) window.__firstStill = {src: img.src, alt: img.alt,
    plotly: performance.getEntriesByType('resource').some(e => e.name.includes('/PlotlyChart.'))};
}).observe(document, {childList: true, subtree: true});
"""


def test_a_chart_is_the_servers_still_until_plotly_has_drawn_it(projector, app_url):
    page = projector
    chart = opened_watching(page, app_url, WATCH_CHART, "reconstructions", "dataset=mnist", "rec_chart")
    first = page.evaluate("() => window.__firstStill")
    assert first is not None and not first["plotly"]  # the still came before the browser asked for plotly
    assert first["alt"] == "Test error vs bottleneck size"
    svg = base64.b64decode(first["src"].split(",", 1)[1]).decode()
    legend = chart.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")
    assert legend and all(f">{name}</text>" in svg for name in legend)  # the same series, named alike
    assert len(re.findall(r'<g fill="[^"]+" fill-opacity', svg)) == len(legend)  # each series' dots
    assert page.locator(".st-key-rec_chart_still img").is_hidden()  # once plotly has drawn, the still is gone
    nudged(page, "w_rec_seed", "rec_seed=1")  # a rerun: the chart alone, no still at all
    assert page.locator(".st-key-rec_chart_still").count() == 0
    assert chart.locator(".main-svg").count() >= 1
    no_exceptions(page)
