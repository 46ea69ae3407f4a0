"""Error gallery in headless Chromium: find the shoe, move the threshold, send an image to the other pages."""

from __future__ import annotations

from browser import no_exceptions, open_page, tall_shot, wait_idle


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def test_find_the_shoe_then_move_the_threshold(page, app_url):
    open_page(page, app_url, "anomalies", "dataset=mnist")
    page.wait_for_selector("text=Threshold", timeout=180_000)
    wait_idle(page)
    no_exceptions(page)
    auroc = page.locator("[data-testid='stMetric']").filter(has_text="AUROC").inner_text()
    assert float(auroc.split()[-1]) > 0.9, auroc
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg")
    assert page.locator("[data-testid='stPlotlyChart']").count() == 3  # histogram, ROC, per-class boxes
    assert page.locator("[data-testid='stImage'] img").count() == 3  # injected ranks, worst, best
    text = main_text(page)
    assert "flags 100 test images" in text and "injected fashion-mnist" in text
    tall_shot(page, "error-gallery-find-the-shoe")

    thumb = page.locator("[data-testid='stSlider']").filter(has_text="Flag the top").get_by_role("slider")
    thumb.focus()
    for _ in range(9):  # 1.0 % -> 1.9 %: the slider sends its value when the key is released
        thumb.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='stMain']\").innerText.includes('flags 190 test images')"
    )
    wait_idle(page)
    assert "err_flag=1.9" in page.url
    no_exceptions(page)


def test_an_ensemble_and_sending_an_image(page, app_url):
    open_page(
        page,
        app_url,
        "anomalies",
        "dataset=mnist&err_models=mnist-dense-q16-bce,mnist-conv-q8-bce&err_how=max&err_src=none",
    )
    page.wait_for_selector("text=Threshold", timeout=180_000)
    wait_idle(page)
    no_exceptions(page)
    assert "max of normalised log-MSE" in main_text(page)
    page.get_by_role("button", name="Send to your images").click()
    page.wait_for_selector("[data-testid='stToast']")
    assert "Sent" in page.locator("[data-testid='stToast']").first.inner_text()
    tall_shot(page, "error-gallery-ensemble")
    page.locator("[data-testid='stSidebarNav']").get_by_text("Your images").click()  # same session
    page.wait_for_selector("text=Least surprised", timeout=180_000)
    wait_idle(page)
    no_exceptions(page)
    assert "sent from another page" in main_text(page)
