"""The Latent space explorer in headless Chromium: a clicked point's neighbours in code space (as Python computes
them), hover thumbnails from the sprite sheets (no message per hover), the 3-D view turning with no rerun, the
full-screen map, and the CSV and PNG exports of a selection; screenshots at 1280x720, light, dark and lecture."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from browser import SCREENSHOTS, no_exceptions, open_deep_link, script_states, wait_idle, watch_script_state
from kit import canvas_pixels, record_websocket
from PIL import Image

from aeviz import checkpoints, data, metrics, projection
from aeviz.views.projector import SPRITE_LEVELS, CodeIndex

CHART = ".st-key-map_chart .js-plotly-plot"


def zoo_model(name: str):
    info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == name)
    return info, checkpoints.load_checkpoint(info.path)


def shipped_map(name: str, dataset: str, method: str):
    """The zoo's map, its codes and the test set, as the server shows them."""
    info, net = zoo_model(name)
    test = data.load_dataset(dataset, "test")
    codes = metrics.encode_all(net, test.images)
    return projection.load_maps(checkpoints.maps_path(info.path), info.metadata["hash"], codes)[method], test


def isolated(points: np.ndarray, count: int) -> list[int]:
    """Points well inside the map whose nearest other point is farthest: a click or hover finds them alone."""
    from sklearn.neighbors import NearestNeighbors

    lo, hi = np.percentile(points, [5, 95], axis=0)
    inside = np.flatnonzero(((points > lo) & (points < hi)).all(axis=1))
    gaps, _ = NearestNeighbors(n_neighbors=2).fit(points).kneighbors(points[inside])
    return [int(i) for i in inside[np.argsort(-gaps[:, 1])[:count]]]


def screen_xy(page, x: float, y: float) -> tuple[float, float]:
    """Where map position (x, y) is on the screen."""
    return page.evaluate(
        """([sel, x, y]) => { const gd = document.querySelector(sel), L = gd._fullLayout;
            const r = gd.getBoundingClientRect();
            return [r.left + L.xaxis._offset + L.xaxis.c2p(x), r.top + L.yaxis._offset + L.yaxis.c2p(y)]; }""",
        [CHART, float(x), float(y)],
    )


def sprite_pixels(image: np.ndarray) -> np.ndarray:
    """An image (1,H,W) in [0,1] as its sprite keeps it: 16 grey levels, (H,W) 0..255."""
    step = 255 / (SPRITE_LEVELS - 1)
    return np.round(np.round(np.clip(image[0], 0, 1) * 255) / step) * step


def open_map(page, app_url: str, query: str) -> None:
    open_deep_link(page, app_url, "latent_map", query)
    page.locator(CHART).wait_for()
    page.wait_for_function("() => (window.__aevizSprites || []).length > 0", timeout=120_000)  # sheets decoded
    page.wait_for_timeout(500)


def test_a_clicked_points_neighbours_are_its_nearest_codes_listed_and_ringed(page, app_url):
    latent_map, test = shipped_map("mnist-dense-q16-bce", "mnist", "pca")
    open_map(page, app_url, "dataset=mnist&map_model=mnist-dense-q16-bce&map_method=pca")
    chosen = isolated(latent_map.points, 1)[0]
    page.locator(CHART).scroll_into_view_if_needed()
    page.mouse.click(*screen_xy(page, *latent_map.points[chosen]))
    listing = page.locator("[data-testid='aevizNeighbours']")
    listing.wait_for(timeout=120_000)
    wait_idle(page)
    focus = int(listing.locator(".nb-focus").get_attribute("data-index"))
    assert focus == chosen
    found, distances = CodeIndex(latent_map.codes).neighbours(focus, 8)
    items = listing.locator(".nb-item:not(.nb-focus)")
    assert [int(i) for i in items.evaluate_all("(els) => els.map((e) => e.dataset.index)")] == found.tolist()
    shown = np.array(items.evaluate_all("(els) => els.map((e) => Number(e.dataset.distance))"))
    assert shown == pytest.approx(distances, abs=1e-4)
    labels = items.evaluate_all("(els) => els.map((e) => e.dataset.label)")
    assert labels == [test.classes[test.labels[i]] for i in found]
    for k, i in enumerate(found[:3]):  # the thumbnails are the images themselves, from the sprites
        pixels = canvas_pixels(items.nth(k).locator("canvas"))[..., 0].astype(float)
        assert np.abs(pixels - sprite_pixels(test.images[i].numpy())).max() <= 1
    rings = page.locator("[data-testid='aevizRings'] circle[data-index]")
    assert sorted(int(i) for i in rings.evaluate_all("(els) => els.map((e) => e.dataset.index)")) == sorted(
        [focus, *found.tolist()]
    )
    x, y = screen_xy(page, *latent_map.points[found[0]])  # the ring sits on the neighbour's point
    ring = page.locator(f"[data-testid='aevizRings'] circle[data-index='{found[0]}']").bounding_box()
    assert abs(ring["x"] + ring["width"] / 2 - x) < 2 and abs(ring["y"] + ring["height"] / 2 - y) < 2
    no_exceptions(page)


def test_hover_shows_each_points_image_from_the_sprites_with_no_message(page, app_url):
    frames = record_websocket(page)
    latent_map, test = shipped_map("mnist-dense-q16-bce", "mnist", "umap")
    open_map(page, app_url, "dataset=mnist&map_model=mnist-dense-q16-bce&map_method=umap")
    page.get_by_text("Hover over a point to see its image").first.wait_for()
    sheets = [n for n in frames["received"] if n > 900_000]
    assert len(sheets) == 1  # the test set's one sheet, in one message (about 1 MB)
    watch_script_state(page)
    sent, received = len(frames["sent"]), len(frames["received"])
    page.locator(CHART).scroll_into_view_if_needed()
    tip = page.locator("[data-testid='aevizHoverTip']")
    for i in isolated(latent_map.points, 3):
        x, y = screen_xy(page, *latent_map.points[i])
        page.mouse.move(x - 30, y - 30)
        page.mouse.move(x, y, steps=6)
        page.wait_for_function(f"() => document.querySelector('[data-testid=aevizHoverTip]')?.dataset.index === '{i}'")
        thumb = canvas_pixels(tip.locator("[data-testid='aevizHoverThumb'] canvas"))[..., 0].astype(float)
        assert np.abs(thumb - sprite_pixels(test.images[i].numpy())).max() <= 1
        assert f"#{i} · {test.classes[test.labels[i]]}" in tip.inner_text()
    assert frames["sent"][sent:] == [] and frames["received"][received:] == []  # nothing asked, nothing sent
    assert script_states(page) == []
    no_exceptions(page)


def test_the_3d_view_turns_in_the_browser_without_a_rerun(page, app_url):
    frames = record_websocket(page)
    open_deep_link(page, app_url, "latent_map", "dataset=mnist&map_model=mnist-dense-q16-bce&map_method=pca&map_3d=1")
    gd = page.locator(".st-key-map_chart_3d .js-plotly-plot")
    gd.wait_for()
    page.get_by_text("Drag to turn it").first.wait_for()
    page.wait_for_timeout(1000)
    camera = """() => JSON.stringify(document.querySelector('.st-key-map_chart_3d .js-plotly-plot')
                ._fullLayout.scene._scene.getCamera().eye)"""
    before = page.evaluate(camera)
    traces = page.evaluate("() => document.querySelector('.st-key-map_chart_3d .js-plotly-plot').data.map(t => t.type)")
    assert set(traces) == {"scatter3d"} and len(traces) == 10
    watch_script_state(page)
    sent = len(frames["sent"])
    box = gd.bounding_box()
    x, y = box["x"] + 0.4 * box["width"], box["y"] + 0.5 * box["height"]
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(x + 10 * step, y + 2 * step)
        page.wait_for_timeout(30)
    page.mouse.up()
    page.wait_for_timeout(800)
    assert page.evaluate(camera) != before  # turned
    assert script_states(page) == [] and frames["sent"][sent:] == []  # by the browser alone
    no_exceptions(page)


def test_the_map_goes_full_screen_and_keeps_its_rings(page, app_url):
    open_map(page, app_url, "dataset=mnist&map_model=mnist-dense-q16-bce&map_method=pca&map_find=5")
    page.locator("[data-testid='aevizRings'] circle[data-index='5']").wait_for()
    small = page.locator(CHART).bounding_box()
    page.locator(".st-key-map_chart").hover()
    page.locator(".st-key-map_chart").get_by_role("button", name="Fullscreen").click()
    page.wait_for_timeout(1500)
    big = page.locator(CHART).bounding_box()
    viewport = page.viewport_size
    assert big["width"] > 1.3 * small["width"] and big["height"] > 0.8 * viewport["height"]
    ring = page.locator("[data-testid='aevizRings'] circle[data-index='5']").bounding_box()
    assert ring is not None and big["x"] <= ring["x"] <= big["x"] + big["width"]  # redrawn for the new size
    page.keyboard.press("Escape")
    no_exceptions(page)


def test_a_selection_exports_as_csv_and_as_an_image_grid(page, app_url):
    latent_map, test = shipped_map("digits-dense-q16-bce", "digits", "pca")
    open_map(page, app_url, "dataset=digits&map_model=digits-dense-q16-bce&map_method=pca")
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".modebar-btn[data-title='Box Select']").first.click()
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.7 * box["height"], steps=10)
    page.mouse.up()
    page.get_by_text("selected").first.wait_for()
    wait_idle(page)
    count = int(page.get_by_text(" selected").first.inner_text().split()[0].replace(",", ""))
    with page.expect_download() as got:
        page.get_by_role("button", name="Selection as CSV").click()
    rows = list(csv.reader(io.StringIO(got.value.path().read_text())))
    assert rows[0] == ["index", "class", "x", "y", *(f"z{d}" for d in range(16))] and len(rows) == count + 1
    for row in rows[1:]:
        i = int(row[0])
        assert row[1] == test.classes[test.labels[i]]
        assert [float(v) for v in row[2:4]] == pytest.approx(latent_map.points[i].tolist(), abs=1e-4)
        assert [float(v) for v in row[4:]] == pytest.approx(latent_map.codes[i].tolist(), abs=1e-4)
    with page.expect_download() as got:
        page.get_by_role("button", name="Images as PNG").click()
    with Image.open(got.value.path()) as grid:
        per_row = int(np.ceil(np.sqrt(count)))
        assert grid.format == "PNG" and grid.width >= per_row * 8 * 7  # digits drawn 7 times their 8 px
    no_exceptions(page)


@pytest.mark.parametrize("look", ["light", "dark", "lecture"])
def test_screenshots_at_1280x720(browser, app_url, look):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(120_000)
    extra = {"light": "&embed_options=light_theme", "dark": "&embed_options=dark_theme", "lecture": "&lecture=1"}[look]
    try:
        open_map(page, app_url, f"dataset=mnist&map_model=mnist-dense-q16-bce&map_method=pca&map_find=17{extra}")
        page.locator("[data-testid='aevizNeighbours']").wait_for()
        page.wait_for_timeout(800)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"explorer-{look}-1280x720.png"))
        open_deep_link(page, app_url, "vae", f"dataset=mnist&vae_tab=Posterior{extra}")
        page.get_by_text("After 30 epochs").first.wait_for()
        page.wait_for_timeout(800)
        page.screenshot(path=str(SCREENSHOTS / f"vae-posterior-{look}-1280x720.png"), full_page=True)
        no_exceptions(page)
    finally:
        context.close()
