"""Two browsers on one server: what one student trains never changes what another sees."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from browser import no_exceptions, open_page, wait_idle
from test_train_live import model_count, start_training

VIEW = ("reconstructions", "dataset=digits")


def main_png(page) -> bytes:
    """The page's main area as pixels, after every chart and picture has drawn."""
    wait_idle(page)
    page.wait_for_timeout(1500)  # plotly's first layout pass
    return page.locator("[data-testid='stMain']").screenshot(animations="disabled")


def test_student_a_trains_and_student_b_sees_the_same_pixels(browser, app_url):
    contexts = [browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1) for _ in range(2)]
    try:
        a, b = (c.new_page() for c in contexts)
        for tab in (a, b):
            tab.set_default_timeout(60_000)
        open_page(b, app_url, *VIEW)
        models_b, before = model_count(b), main_png(b)
        # student A trains the zoo's own recipe under the zoo's own name: digits, dense, q = 8
        open_page(a, app_url, "train", "dataset=digits")
        a.locator("[data-testid='stSlider']").filter(has_text="Bottleneck").get_by_role("slider").focus()
        a.keyboard.press("ArrowLeft")  # 16 -> 8
        start_training(a, "digits-dense-q8-bce")
        a.get_by_text("Saved digits-dense-q8-bce").wait_for(timeout=300_000)
        no_exceptions(a)
        open_page(b, app_url, *VIEW)  # B reloads: same models, same picture, byte for byte
        assert model_count(b) == models_b and main_png(b) == before
        no_exceptions(b)
        token = parse_qs(urlparse(a.url).query)["ws"][0]
        open_page(a, app_url, "reconstructions", f"dataset=digits&ws={token}")
        assert "digits-dense-q8-bce · yours" not in a.locator("[data-testid='stMain']").inner_text()  # zoo first
        assert model_count(a) == models_b + 1  # ... but A's sidebar counts its own model
    finally:
        for context in contexts:
            context.close()
