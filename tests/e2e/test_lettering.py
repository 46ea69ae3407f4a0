"""Text drawn into pictures reads at the page's type size on a 1280x720 projector, in lecture mode and out."""

from __future__ import annotations

import base64
import io

import pytest
from browser import SCREENSHOTS, new_tab, no_exceptions, open_deep_link, wait_idle
from PIL import Image

from aeviz.views.figures import TEXT_PX_KEY

# every composed picture on the page as the viewer sees it: <img> of st.image, <image> of a plotly scrubber
SHOWN = """() => [...document.querySelectorAll(
    "[data-testid='stMain'] [data-testid='stImage'] img, [data-testid='stMain'] .js-plotly-plot g.imagelayer image"
  )].map(el => ({src: el.getAttribute('src') || el.getAttribute('href'), width: el.getBoundingClientRect().width}))
  .filter(p => p.width > 0)"""
BODY = "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"


def png_of(page, src: str) -> Image.Image:
    if src.startswith("data:"):
        return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    return Image.open(io.BytesIO(page.request.get(src).body()))


def shown_text(page) -> list[tuple[float, int, float]]:
    """(smallest text as shown in px, as composed, the picture's display scale) of every picture with text."""
    out = []
    for item in page.evaluate(SHOWN):
        picture = png_of(page, item["src"])
        composed = picture.text.get(TEXT_PX_KEY)  # type: ignore[attr-defined]
        if composed:
            scale = item["width"] / picture.width
            out.append((int(composed) * scale, int(composed), scale))
    return out


@pytest.fixture
def projector(browser):
    with new_tab(browser, 1280, 720, 120_000) as tab:
        yield tab


@pytest.mark.parametrize("lecture", [1, 0], ids=["lecture", "plain"])
@pytest.mark.parametrize("slug", ["reconstructions", "denoising", "vae", "anomalies"])
def test_text_in_pictures_is_at_least_the_body_size_at_1280x720(projector, app_url, slug, lecture):
    """Row names, dB, 't', MSE and ranks were drawn about 7 px tall and blurred: pictures were composed with
    text of 0.21 cells and shrunk by the browser to fit. They are now composed at the size they are shown."""
    open_deep_link(projector, app_url, slug, f"dataset=mnist&lecture={lecture}")
    projector.wait_for_timeout(1500)  # the screen's report reruns the page once it differs from the guess
    wait_idle(projector)
    no_exceptions(projector)
    body = projector.evaluate(BODY)
    assert body == (20 if lecture else 16)
    sizes = shown_text(projector)
    assert sizes, "no picture on the page records its text size"
    for shown, composed, scale in sizes:
        assert shown >= body - 0.5, f"{slug}: text {composed} px shown at {scale:.2f}x is {shown:.1f} px < {body}"
        assert scale <= 1.01, f"{slug}: a picture stretched {scale:.2f}x blurs its text"
    SCREENSHOTS.mkdir(exist_ok=True)
    projector.screenshot(path=str(SCREENSHOTS / f"lettering-{slug}-{'lecture' if lecture else 'plain'}-1280x720.png"))
