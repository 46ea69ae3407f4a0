"""The decoder playground in headless Chromium: dragging a code bar redraws the picture in the browser while the
mouse moves (no script run, no message to the server), the weights travel once per model, the arrow keys move
the selected bar in lecture mode, and a decoder the browser cannot run is decoded on the server on release."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from browser import (
    no_exceptions,
    open_deep_link,
    open_page,
    script_states,
    serve_app,
    shot,
    wait_idle,
    watch_script_state,
)
from foreign import dense, export_folder
from kit import canvas_pixels, record_websocket, server_pixels
from playwright.sync_api import expect
from torch import nn

from aeviz import checkpoints, data, metrics, webdecoder
from aeviz.foreign import importer


def zoo_model(name: str):
    info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == name)
    return info, checkpoints.load_checkpoint(info.path)


def code_of(play) -> np.ndarray:
    return np.array([float(v) for v in play.locator(".pg").get_attribute("data-code").split(",")], dtype=np.float32)


def decoded_frames(page, key: str) -> int:
    return page.evaluate(f"() => ((window.__aevizDecodes || {{}})['{key}'] || {{frames: 0}}).frames")


def open_playground(page, url: str, path: str, query: str, key: str):
    open_deep_link(page, url, path, query)
    play = page.locator(f".st-key-{key}")
    play.locator(".col").first.wait_for()
    play.scroll_into_view_if_needed()
    page.wait_for_function(f"() => (window.__aevizDecodes || {{}})['{key}']")  # the first frame is drawn
    return play


def drag(page, play, slot: int, fractions) -> list[tuple[np.ndarray, np.ndarray]]:
    """Press code bar `slot` of the playground `play` near its top, move to each fraction of its height (0 top)
    and record, before letting go, the picture and the code. Returns [(pixels, code), ...]."""
    canvas = play.locator("canvas.decoded")
    track = play.locator(".col").nth(slot).locator(".track").bounding_box()
    x = track["x"] + track["width"] / 2
    page.mouse.move(x, track["y"] + 2)
    page.mouse.down()
    seen = []
    try:
        for fraction in fractions:
            page.mouse.move(x, track["y"] + fraction * track["height"], steps=6)
            page.wait_for_timeout(120)
            seen.append((canvas_pixels(canvas), code_of(play)))
    finally:
        page.evaluate("() => { window.__aevizDuringDrag = (window.__aevizStates || []).slice(); }")
        page.mouse.up()
    return seen


def test_dragging_a_code_bar_redraws_the_picture_while_dragging(page, app_url):
    frames = record_websocket(page)
    query = "dataset=mnist&home_model=mnist-conv-q16-bce&home_idx=3"
    play = open_playground(page, app_url, "", query, "home_play")
    info, model = zoo_model("mnist-conv-q16-bce")
    image = data.load_dataset("mnist", "test").images[3:4].numpy()
    origin = metrics.encode_all(model, image)[0]
    assert np.abs(code_of(play) - origin).max() < 1e-4  # it starts from the chosen image's code
    canvas = play.locator("canvas.decoded")
    start = canvas_pixels(canvas)
    expected = server_pixels(metrics.reconstruct_and_score(model, image, "mse")[0][0])
    assert np.abs(start.astype(int) - expected).max() <= 1  # the browser's picture is the server's reconstruction

    watch_script_state(page)
    sent, drawn = len(frames["sent"]), decoded_frames(page, "home_play")
    seen = drag(page, play, 1, [0.05, 0.5, 0.95])
    during = page.evaluate("() => window.__aevizDuringDrag")
    assert during == [] and frames["sent"][sent:] == []  # no script run, not one message to the server
    assert decoded_frames(page, "home_play") - drawn >= 3
    (top, top_code), (middle, _), (bottom, bottom_code) = seen
    for a, b in ((top, middle), (middle, bottom), (top, bottom)):
        assert np.abs(a.astype(float) - b).mean() > 1, "the picture must change during the drag"
    moved = np.flatnonzero(np.abs(top_code - bottom_code) > 1e-6)
    assert list(moved) == [1] and top_code[1] > bottom_code[1]  # only dimension 1 moved, top is high
    with torch.inference_mode():
        redrawn = model.decode(torch.tensor(bottom_code[None], dtype=torch.float32))[0].numpy()
    assert np.abs(bottom.astype(int) - server_pixels(redrawn)).max() <= 2  # code printed to 5 decimals
    assert script_states(page) == []  # letting go runs nothing either

    play.get_by_role("button", name="Reset to this image").click()
    page.wait_for_timeout(200)
    assert np.abs(canvas_pixels(canvas).astype(int) - start).max() == 0
    assert np.abs(code_of(play) - origin).max() < 1e-4
    no_exceptions(page)


def test_the_weights_travel_once_per_model(page, app_url):
    frames = record_websocket(page)
    name = "mnist-dense-h256x128-q16-bce"  # 0.95 MB of weights: their absence from a rerun is plain to see
    play = open_playground(page, app_url, "", f"dataset=mnist&home_model={name}&home_idx=0", "home_play")
    info, model = zoo_model(name)
    weights = len(webdecoder.export(model).to_bytes(str(info.metadata["hash"])))
    assert sum(frames["received"]) > weights
    before, code = len(frames["received"]), code_of(play)
    page.locator(".st-key-w_home_idx input[type=range]").focus()
    page.keyboard.press("ArrowRight")  # the next test image: a whole-page rerun
    page.wait_for_function("() => location.search.includes('home_idx=1')")
    wait_idle(page)
    page.wait_for_timeout(300)
    rerun = sum(frames["received"][before:])
    assert rerun < weights / 3, f"a rerun received {rerun:,} bytes; the weights are {weights:,}"
    assert np.abs(code_of(play) - code).max() > 1e-3  # the playground follows the new image
    no_exceptions(page)


def test_lecture_mode_arrow_keys_move_the_selected_code_slider(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        play = open_playground(page, app_url, "", "dataset=mnist&lecture=1&home_idx=0", "home_play")
        column = play.locator(".col").nth(2)
        column.click()
        before = code_of(play)
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(200)
        after = code_of(play)
        assert after[2] > before[2] and np.abs(np.delete(after - before, 2)).max() == 0
        assert "home_idx=0" in page.url  # the page's main slider did not move
        shot(page, "playground-lecture-1280x720")
        page.locator("h1").first.click()  # a click elsewhere gives the arrows back to the main slider
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => location.search.includes('home_idx=1')")
        no_exceptions(page)
    finally:
        context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_playground_screenshots_at_1280x720(browser, app_url, theme):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        query = "dataset=fashion-mnist&home_model=fashion-mnist-dense-q64-bce&home_idx=7"
        if theme == "dark":
            query += "&embed_options=dark_theme"
        play = open_playground(page, app_url, "", query, "home_play")
        assert play.locator(".col").count() == 12 and play.locator("canvas.strip").is_visible()  # q=64: 12 sliders
        assert "12 of 64 dimensions" in play.locator(".note").inner_text()
        drag(page, play, 4, [0.2])
        box = play.bounding_box()
        assert box["height"] < 700 and box["width"] <= 1280  # on one screen
        shot(page, f"playground-home-{theme}-1280x720")
        no_exceptions(page)
    finally:
        context.close()


def test_the_vae_page_drags_its_code_too(page, app_url):
    open_deep_link(page, app_url, "vae", "dataset=mnist&vae_model=mnist-vae-h256-q16-bce")
    page.get_by_role("tab", name="Drag the code").click()
    play = page.locator(".st-key-vae_play")
    play.locator(".col").first.wait_for()
    page.wait_for_function("() => (window.__aevizDecodes || {})['vae_play']")
    assert play.locator(".col").count() == 16 and "KL" in play.locator(".sub").first.inner_text()
    watch_script_state(page)
    drawn = decoded_frames(page, "vae_play")
    first, last = drag(page, play, 0, [0.1, 0.9])
    assert page.evaluate("() => window.__aevizDuringDrag") == []
    assert decoded_frames(page, "vae_play") > drawn and np.abs(first[0].astype(float) - last[0]).mean() > 0.5
    shot(page, "playground-vae")
    no_exceptions(page)


@pytest.fixture
def shuffle_app_url(tmp_path):
    """A server with an imported model whose decoder uses an op the browser's kernel lacks (pixel shuffle)."""
    encoder, _ = dense(q=4)
    torch.manual_seed(0)
    decoder = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (4, 4, 4)), nn.PixelShuffle(2), nn.Sigmoid()).eval()
    folder = export_folder(tmp_path / "export", encoder, decoder, name="imp-shuffle")
    importer.import_path(folder, tmp_path / "home" / "checkpoints")  # serve_app's AEVIZ_HOME
    with serve_app(tmp_path) as url:
        yield url


def test_a_decoder_the_browser_lacks_is_decoded_on_the_server_on_release(page, shuffle_app_url):
    open_page(page, shuffle_app_url, "", "dataset=digits")
    open_page(page, shuffle_app_url, "", "dataset=digits&home_model=server:imp-shuffle")
    play = page.locator(".st-key-home_play")
    play.locator(".col").first.wait_for()
    play.scroll_into_view_if_needed()
    assert "Decoded on the server when you let go" in play.locator(".caption").inner_text()
    assert "pixel_shuffle" in play.locator(".caption").inner_text()  # which op is missing
    canvas = play.locator("canvas.decoded")
    # the locator is found again at each try, not held as one element: a rerun under load may remount the canvas
    expect(canvas).to_have_js_property("width", 8, timeout=120_000)
    before = canvas_pixels(canvas)
    watch_script_state(page)
    drag(page, play, 0, [0.95])
    page.wait_for_function("() => (window.__aevizStates || []).length > 0")  # the release reran the fragment
    wait_idle(page)
    page.wait_for_timeout(500)
    assert np.abs(canvas_pixels(canvas).astype(float) - before).mean() > 0.5
    no_exceptions(page)
