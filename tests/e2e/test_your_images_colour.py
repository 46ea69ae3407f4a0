"""Your images on a colour model in headless Chromium: upload a colour photo, see its colour steps, a colour
reconstruction, the dataset's wording and which class its code lies nearest."""

from __future__ import annotations

import io

import colourworld
import numpy as np
import pytest
from browser import UPLOAD, no_exceptions, serve_app, tall_shot, wait_idle
from fakes import colour_photo
from PIL import Image


@pytest.fixture(scope="module")
def colour_app(tmp_path_factory):
    mk = tmp_path_factory.mktemp
    data, zoo = colourworld.build(mk("data"), mk("zoo"), mk("cache"))
    with serve_app(mk("home"), AEVIZ_DATA_DIR=str(data), AEVIZ_ZOO_DIR=str(zoo)) as url:
        yield url


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def colourfulness(png: bytes) -> float:
    """How far a picture's pixels are from grey, on average (0-255)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.float32)
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())


def test_upload_a_colour_photo_to_a_colour_model(page, colour_app):
    page.goto(f"{colour_app}/your_images?dataset=cifar10")
    wait_idle(page, 240_000)  # a fresh server's first page
    no_exceptions(page)
    assert page.locator("h1").first.inner_text().strip() == "Your images: how unusual is your photo?"
    page.wait_for_selector(UPLOAD, state="attached")
    photo = {"name": "garden.jpg", "mimeType": "image/jpeg", "buffer": jpeg(colour_photo((300, 200)))}
    page.locator(UPLOAD).set_input_files([photo])
    done, slow = page.locator("text=Least surprised"), page.locator("text=took longer than")
    done.or_(slow).first.wait_for(timeout=180_000)
    if slow.count():  # the decoding helper's cold start on a loaded machine
        page.locator(UPLOAD).set_input_files([{**photo, "name": "garden-again.jpg"}])
    done.wait_for(timeout=180_000)
    page.wait_for_selector("text=Which class is it?", timeout=180_000)
    wait_idle(page, 180_000)
    no_exceptions(page)
    text = page.locator("[data-testid='stMain']").inner_text()
    for expected in ("Your picture (300 x 200)", "Centre-cropped to 200 x 200", "Resized to 32 x 32"):
        assert expected in text, expected
    assert "MNIST-style" not in text and "digit" not in text.replace("find the digit", "")
    assert "nearest test photos are" in text and "by raw pixels" in text
    pictures = page.locator("[data-testid='stImage'] img")
    assert pictures.count() >= 5  # three steps, the comparison grid, the neighbours
    comparison = pictures.nth(3).screenshot()
    assert colourfulness(comparison) > 8, "the reconstructions are drawn in grey"
    tall_shot(page, "your-images-colour")
