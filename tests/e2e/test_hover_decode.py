"""Hover to decode in headless Chromium: over the Latent space PCA map and the VAE's 2-d code plane, the picture
under the cursor is decoded in the browser as the mouse moves, from the code the server's inverse gives that
position, with no script run and no message to the server."""

from __future__ import annotations

import numpy as np
import torch
from browser import no_exceptions, open_deep_link, script_states, shot, watch_script_state
from kit import canvas_pixels, record_websocket, server_pixels

from aeviz import checkpoints, data, metrics, projection


def numbers(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split(",")], dtype=np.float64)


def hover(page, chart_key: str, spots) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Move over the plotly chart to each (fx, fy) of its plot area; [(map position, code, pixels)] per spot."""
    gd = page.locator(f".st-key-{chart_key} .js-plotly-plot")
    gd.wait_for()
    gd.scroll_into_view_if_needed()
    box = gd.locator(".nsewdrag").first.bounding_box()
    tip = page.locator("[data-testid='aevizHoverTip']")
    seen = []
    for fx, fy in spots:
        frames = tip.get_attribute("data-frames") if tip.count() else None
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=4)
        page.wait_for_function(
            "(before) => { const t = document.querySelector('[data-testid=aevizHoverTip]');"
            " return t && t.style.display !== 'none' && t.dataset.frames !== before; }",
            arg=frames,
        )
        page.wait_for_timeout(100)
        seen.append(
            (
                numbers(tip.get_attribute("data-at")),
                numbers(tip.get_attribute("data-code")),
                canvas_pixels(tip.locator("canvas").first),  # the decoded spot (then a hovered point's image)
            )
        )
    return seen


def model(name: str):
    info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == name)
    return info, checkpoints.load_checkpoint(info.path)


def decoded_pixels(net, code: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return server_pixels(net.decode(torch.tensor(code[None], dtype=torch.float32))[0].numpy())


def test_hovering_the_pca_map_decodes_the_spot_under_the_cursor(page, app_url):
    frames = record_websocket(page)
    open_deep_link(page, app_url, "latent_map", "dataset=mnist&map_model=mnist-dense-q16-bce&map_method=pca")
    caption = page.get_by_text("Hover over the map").first
    caption.wait_for()
    assert "The plane keeps" in caption.inner_text()  # the page's own honest wording, with the variance kept
    info, net = model("mnist-dense-q16-bce")
    codes = metrics.encode_all(net, data.load_dataset("mnist", "test").images)
    pca = projection.load_maps(checkpoints.maps_path(info.path), info.metadata["hash"], codes)["pca"]
    watch_script_state(page)
    sent = len(frames["sent"])
    seen = hover(page, "map_chart", [(0.3, 0.3), (0.55, 0.5), (0.75, 0.7)])
    assert script_states(page) == [] and frames["sent"][sent:] == []  # all in the browser
    for at, code, pixels in seen:
        expected = pca.inverse(at[None].astype(np.float32))[0]
        assert np.abs(code - expected).max() < 1e-3  # positions are read back to 5 decimals
        assert np.abs(pixels.astype(int) - decoded_pixels(net, code)).max() <= 2
    assert np.abs(seen[0][2].astype(float) - seen[2][2]).mean() > 1  # different spots, different pictures
    shot(page, "hover-latent-map")
    page.mouse.move(5, 5)
    page.wait_for_function("() => document.querySelector('[data-testid=aevizHoverTip]').style.display === 'none'")
    no_exceptions(page)


def test_hovering_the_vae_plane_decodes_the_code_on_the_prior_quantile_scale(page, app_url):
    open_deep_link(page, app_url, "vae", "dataset=mnist")
    page.get_by_role("tab", name="2-d code plane").click()
    page.get_by_text("Move the mouse over the plane").first.wait_for()
    _, net = model("mnist-vae-h256-q2-bce")
    watch_script_state(page)
    seen = hover(page, "vae_plane", [(0.2, 0.8), (0.5, 0.5), (0.85, 0.15)])
    assert script_states(page) == []
    for at, code, pixels in seen:
        z = torch.special.ndtri(torch.tensor(at)).numpy()  # the plane is drawn at Φ(z)
        assert np.abs(code - z).max() < 1e-3
        assert np.abs(pixels.astype(int) - decoded_pixels(net, code)).max() <= 2
    shot(page, "hover-vae-plane")
    no_exceptions(page)
