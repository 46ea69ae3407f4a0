"""Your images in headless Chromium: upload a photo-like digit and bad files, draw one, see ranks and messages."""

from __future__ import annotations

import io

import numpy as np
from browser import UPLOAD, no_exceptions, open_page, tall_shot, wait_idle
from PIL import Image, ImageDraw, ImageFilter


def photo_like_digit() -> bytes:
    """A '2' in grey pencil, photographed on warm, unevenly lit, noisy paper: a JPEG as a phone makes it."""
    rng = np.random.default_rng(3)
    strokes = Image.new("L", (480, 360), 0)
    draw = ImageDraw.Draw(strokes)
    draw.arc([180, 60, 300, 170], 200, 20, fill=255, width=16)
    draw.line([(295, 130), (190, 290)], fill=255, width=16)
    draw.line([(190, 290), (310, 290)], fill=255, width=16)
    ink = np.asarray(strokes.filter(ImageFilter.GaussianBlur(2)), np.float32) / 255
    ys, xs = np.mgrid[0:360, 0:480] / 360
    paper = np.clip(0.93 - 0.15 * xs + 0.05 * ys + rng.normal(0, 0.025, (360, 480)), 0, 1)
    grey = paper * (1 - 0.75 * ink)
    rgb = np.stack([grey, grey * 0.97, grey * 0.9], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(buf, "JPEG", quality=88)
    return buf.getvalue()


def truncated_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()[:1500]


def file(name: str, data: bytes, mime: str = "image/png") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def studied(page) -> str:
    """The image the page is studying, as its picker shows it."""
    picker = page.locator("[data-testid='stSelectbox']").filter(has_text="Image to study")
    return picker.inner_text() + " " + (picker.locator("input").first.get_attribute("value") or "")


def test_upload_a_photo_and_bad_files(page, app_url):
    open_page(page, app_url, "your_images", "dataset=mnist")
    no_exceptions(page)
    page.wait_for_selector(UPLOAD, state="attached")
    page.locator(UPLOAD).set_input_files(
        [
            file("phone-photo.jpg", photo_like_digit(), "image/jpeg"),
            file("homework.png", b"Dear teacher, my digit is 2.\n" * 8),
            file("cut-off.png", truncated_png()),
            file("too-big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 2**20)),
        ]
    )
    page.wait_for_selector("text=Least surprised", timeout=180_000)
    wait_idle(page, 180_000)
    no_exceptions(page)
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    assert any("homework.png" in a and "contains text, not image data" in a for a in alerts), alerts
    assert any("cut-off.png" in a and "damaged or incomplete" in a for a in alerts), alerts
    uploader = page.locator("[data-testid='stMain'] [data-testid='stFileUploader']").inner_text()
    assert "too-big.png" in uploader and "5.0MB or smaller" in uploader  # refused before it is even sent
    reason = page.locator("[data-testid='stFileChip'][aria-invalid='true'] span[role='alert']").first.bounding_box()
    assert reason is not None and reason["width"] > 100 and reason["height"] > 10  # said, not only a red icon
    text = main_text(page)
    assert "1. phone-photo.jpg" in studied(page) and "Centred by mass in 28x28" in text
    assert "more unusual than" in text and "of 10,001" in text  # its rank among the test digits
    assert page.locator("[data-testid='stImage'] img").count() >= 7  # 6 steps and the comparison grid
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg")
    assert page.locator("[data-testid='stPlotlyChart']").count() == 2  # percentiles and the map with stars
    tall_shot(page, "your-images-upload")


def test_draw_a_digit(page, app_url):
    open_page(page, app_url, "your_images", "dataset=mnist")
    page.get_by_role("tab", name="Draw").click()
    canvas = page.locator("canvas").last  # fabric.js listens on its top canvas
    canvas.wait_for()
    box = canvas.bounding_box()
    stroke = [(0.35, 0.2), (0.6, 0.2), (0.45, 0.85)]  # a '7'
    page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
    page.mouse.down()
    for fx, fy in stroke[1:]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=15)
    page.mouse.up()
    wait_idle(page)
    canvas.hover()  # the canvas's own toolbar shows while the pointer is over it
    page.get_by_role("button", name="Reset canvas & history").wait_for()
    tools = page.locator(".dc-toolbar-card").bounding_box()
    tabs = page.get_by_role("tablist").first.bounding_box()
    assert tools["y"] > tabs["y"] + tabs["height"], (tools, tabs)  # below the tab strip, not over it
    page.get_by_role("button", name="Add the drawing to your images").click()
    page.wait_for_selector("text=Least surprised", timeout=180_000)
    wait_idle(page, 180_000)
    no_exceptions(page)
    text = main_text(page)
    assert "1. drawing 1" in studied(page) and "more unusual than" in text
    tall_shot(page, "your-images-drawing")
