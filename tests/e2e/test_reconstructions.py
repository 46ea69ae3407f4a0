"""Reconstructions page in headless Chromium: the grid is one image that changes with family and class."""

from __future__ import annotations

from pathlib import Path

from browser import SCREENSHOTS, no_exceptions, open_page, shot, wait_idle


def open_grid(page, app_url, query: str) -> None:
    """Open the page and wait until the grid is painted (the script state turns idle before the deltas draw)."""
    open_page(page, app_url, "reconstructions", query)
    page.wait_for_selector("[data-testid='stMain'] [data-testid='stImage'] img")
    wait_idle(page)


def grid_src(page) -> str:
    grid = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    assert grid.count() == 1, "the whole grid is one composed image"
    return grid.first.get_attribute("src")


def new_grid(page, old: str) -> str:
    """Wait until the script has rerun and the grid picture is a different one; return its src."""
    page.wait_for_function(
        "old => { const img = document.querySelector("
        "\"[data-testid='stMain'] [data-testid='stImage'] img\"); return img && img.src !== old; }",
        arg=old,
    )
    wait_idle(page)
    return grid_src(page)


def radio_option(page, group: str, option: str):
    return page.locator("[data-testid='stRadio']").filter(has_text=group).get_by_text(option, exact=True)


def test_family_and_class_change_the_grid(page, app_url):
    open_grid(page, app_url, "dataset=mnist")
    no_exceptions(page)
    assert "Reconstructions across bottleneck sizes" in page.locator("h1").first.inner_text()
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg")  # the rate-distortion chart is drawn
    assert "beats PCA" in page.locator("[data-testid='stMain']").inner_text()
    dense = grid_src(page)
    shot(page, "reconstructions-mnist-dense")

    radio_option(page, "Model family", "conv").click()
    conv = new_grid(page, dense)
    no_exceptions(page)
    assert "rec_family=conv" in page.url
    shot(page, "reconstructions-mnist-conv")

    radio_option(page, "Images", "by class").click()
    zeros = new_grid(page, conv)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Class").click()
    page.get_by_role("option", name="3", exact=True).click()
    threes = new_grid(page, zeros)
    no_exceptions(page)
    assert threes not in (dense, conv) and "rec_class=3" in page.url
    shot(page, "reconstructions-mnist-conv-class3")
    grid = page.request.get(threes).body()  # the whole grid as served, most of it below the fold
    assert grid[:8] == b"\x89PNG\r\n\x1a\n"
    (SCREENSHOTS / "reconstructions-grid-conv-class3.png").write_bytes(grid)


def test_grid_downloads_as_png(page, app_url, tmp_path):
    open_grid(page, app_url, "dataset=mnist&rec_family=dense-h256x128")
    with page.expect_download() as download:
        page.locator("[data-testid='stDownloadButton'] button").click()
    saved = Path(tmp_path / "grid.png")
    download.value.save_as(saved)
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and saved.stat().st_size > 10_000
    assert download.value.suggested_filename == "reconstructions-mnist-dense-h256x128-bce.png"
    no_exceptions(page)


def test_digits_page_works(page, app_url):
    open_grid(page, app_url, "dataset=digits")
    no_exceptions(page)
    assert grid_src(page)
    assert "VAE 64" in page.locator("[data-testid='stRadio']").filter(has_text="Model family").inner_text()
    shot(page, "reconstructions-digits")
