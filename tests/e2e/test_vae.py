"""VAE page in headless Chromium: the t slider scrubs the interpolation live; every tab draws its view."""

from __future__ import annotations

import numpy as np
from browser import (
    drag_scrubber,
    grey_pixels,
    no_exceptions,
    open_deep_link,
    states_during_drag,
    tall_shot,
    watch_script_state,
)


def test_dragging_t_moves_along_the_path_while_dragging(page, app_url):
    open_deep_link(page, app_url, "vae", "dataset=mnist&vae_pair_mode=by+index&vae_pair_idx=3,4")
    no_exceptions(page)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    watch_script_state(page)
    seen = drag_scrubber(page, chart, [0.02, 0.5, 0.98], name="vae-drag")
    assert [label for label, _ in seen] == ["t = 0.00", "t = 0.50", "t = 1.00"]
    start, middle, end = (grey_pixels(png) for _, png in seen)
    for a, b in ((start, middle), (middle, end), (start, end)):
        assert np.abs(a - b).mean() > 1, "the decoded images must change during the drag"
    assert states_during_drag(page) == []  # the drag ran in the browser: Streamlit never re-ran the script
    tall_shot(page, "vae-mnist-interpolate")


def test_each_tab_shows_its_view(page, app_url):
    open_deep_link(page, app_url, "vae", "dataset=mnist")
    main = page.locator("[data-testid='stMain']")
    for tab, name in (
        ("One dimension at a time", "traverse"),
        ("Sample from the prior", "sample"),
        ("2-d code plane", "plane"),
    ):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(800)
        no_exceptions(page)
        panel = main.locator("[role='tabpanel']:visible")
        if name == "plane":
            plane = panel.locator("[data-testid='stPlotlyChart'] .layer-subplot .imagelayer image")  # the decoded plane
            plane.wait_for(state="attached")
            assert panel.locator("[data-testid='stPlotlyChart'] .legendtext").count() == 10  # one per digit
        else:
            assert panel.locator("[data-testid='stImage'] img").count() == 1
        tall_shot(page, f"vae-mnist-{name}")
    before = page.url
    page.get_by_role("tab", name="Sample from the prior").click()
    page.get_by_role("button", name="Re-sample").click()
    page.wait_for_function("() => location.search.includes('vae_seed=1')")
    assert "vae_seed=1" in page.url and before != page.url
    no_exceptions(page)
