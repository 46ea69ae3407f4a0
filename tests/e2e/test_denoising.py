"""Denoising page in headless Chromium: dragging the level slider swaps the pictures with no Streamlit rerun."""

from __future__ import annotations

import numpy as np
from browser import (
    drag_scrubber,
    grey_pixels,
    no_exceptions,
    open_deep_link,
    states_during_drag,
    tall_shot,
    wait_idle,
    watch_script_state,
)


def test_dragging_the_level_slider_changes_the_images_while_dragging(page, app_url):
    open_deep_link(page, app_url, "denoising", "dataset=mnist&dn_kind=masking")
    no_exceptions(page)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    watch_script_state(page)
    seen = drag_scrubber(page, chart, [0.02, 0.5, 0.98], name="denoising-drag")
    assert [label for label, _ in seen] == ["Masking p = 0 %", "Masking p = 35 %", "Masking p = 70 %"]
    low, mid, high = (grey_pixels(png) for _, png in seen)
    assert low.shape == mid.shape == high.shape and low.shape[1] > 500  # the whole grid, not a thumbnail
    for a, b in ((low, mid), (mid, high), (low, high)):
        assert np.abs(a - b).mean() > 2, "the pictures must change during the drag"
    assert (high < 40).mean() > (low < 40).mean()  # more of the pictures blacked out at 70 %
    assert states_during_drag(page) == []  # the drag ran in the browser: Streamlit never re-ran the script
    no_exceptions(page)
    tall_shot(page, "denoising-mnist-masking")


def test_noise_kind_and_dataset_switch_by_rerun(page, app_url):
    open_deep_link(page, app_url, "denoising", "dataset=digits")
    no_exceptions(page)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator("text.slider-label").first.wait_for(state="attached")
    assert chart.locator("text.slider-label").first.text_content() == "Gaussian sigma = 0.50"
    page.locator("[data-testid='stRadio']").filter(has_text="Noise").get_by_text("Occlusion", exact=True).click()
    wait_idle(page)
    no_exceptions(page)
    assert "dn_kind=occlusion" in page.url
    label = page.locator("[data-testid='stPlotlyChart']").first.locator("text.slider-label").first
    assert label.text_content().startswith("Occlusion area = ")
    assert page.locator("[data-testid='stPlotlyChart']").count() == 2  # scrubber and PSNR curve
    tall_shot(page, "denoising-digits-occlusion")
