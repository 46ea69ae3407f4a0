"""The viewer's theme in a real browser: dark pages get dark charts and pictures, all text at AA contrast."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from browser import no_exceptions, open_deep_link, shot, wait_idle, wait_quiet
from PIL import Image

# Per chart: the SVG's own background, the plot area's fill, and the fills of its tick labels and titles.
CHART_COLOURS = """() => [...document.querySelectorAll("[data-testid='stPlotlyChart']")].map(chart => {
    const fill = el => getComputedStyle(el).fill;
    const opacity = el => Number(getComputedStyle(el).fillOpacity);
    const texts = [...chart.querySelectorAll('.xtick text, .ytick text, .xtitle, .ytitle, .gtitle, .legendtext,'
                                            + ' .slider-label, .slider-current-value')];
    const plot = chart.querySelector('rect.bg');
    return {svg: getComputedStyle(chart.querySelector('.main-svg')).backgroundColor,
            plot: plot ? fill(plot) : null, plotOpacity: plot ? opacity(plot) : 0,
            texts: texts.map(t => [fill(t), opacity(t)])};
})"""
APP_BACKGROUND = "() => getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor"


def rgb(css: str) -> tuple[tuple[float, float, float], float]:
    """'rgb(1, 2, 3)' or 'rgba(1, 2, 3, 0.5)' -> ((r, g, b), alpha)."""
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    return tuple(values[:3]), values[3] if len(values) > 3 else 1.0


def luminance(colour) -> float:
    c = np.asarray(colour, float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over(colour, alpha: float, background) -> tuple:
    return tuple(alpha * np.asarray(colour, float) + (1 - alpha) * np.asarray(background, float))


def check_charts(page, dark: bool) -> int:
    """Every chart's background is the page's (or dark on a dark page); every text >= 4.5:1 against it."""
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg")
    page.wait_for_timeout(500)
    background, _ = rgb(page.evaluate(APP_BACKGROUND))
    assert (luminance(background) < 0.05) == dark
    charts = page.evaluate(CHART_COLOURS)
    assert charts
    for chart in charts:
        colour, alpha = rgb(chart["svg"])
        shown = over(colour, alpha, background)
        if chart["plot"]:
            shown = over(rgb(chart["plot"])[0], chart["plotOpacity"], shown)
        if dark:
            assert luminance(shown) < 0.05, f"a light chart on the dark page: {chart}"
        assert chart["texts"]
        for fill, opacity in chart["texts"]:
            ink = over(rgb(fill)[0], opacity, shown)
            assert contrast(ink, shown) >= 4.5, f"chart text {fill} x {opacity} on {shown}"
    return len(charts)


def picture_corner(page, selector: str = "[data-testid='stMain'] [data-testid='stImage'] img") -> float:
    """Grey level of a composed picture's top-left corner (its label panel), as served."""
    src = page.locator(selector).first.get_attribute("src")
    png = page.request.get(src).body()
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"))[0, 0])


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_home_chart_and_picture_follow_the_theme(page, app_url, theme):
    open_deep_link(page, app_url, "", f"dataset=mnist&embed_options={theme}_theme")
    no_exceptions(page)
    assert page.locator("[data-testid='stPlotlyChart']").count() == 0  # the code's bars are a picture too
    for selector in ("[data-testid='stMain'] [data-testid='stImage'] img", ".st-key-home_code img"):
        corner = picture_corner(page, selector)
        assert corner < 64 if theme == "dark" else corner > 240  # the label panel, and the chart's background
    shot(page, f"theme-home-{theme}")


def test_dark_pages_keep_charts_dark_and_legible(page, app_url):
    for path in ("reconstructions", "denoising", "anomalies"):
        open_deep_link(page, app_url, path, "dataset=mnist&embed_options=dark_theme")
        no_exceptions(page)
        assert check_charts(page, dark=True) >= 1, path
        shot(page, f"theme-{path}-dark")


def test_the_menu_offers_light_dark_and_system_and_dark_applies_at_once(page, app_url):
    open_deep_link(page, app_url, "reconstructions", "dataset=mnist")
    check_charts(page, dark=False)
    page.locator("[data-testid='stMainMenu']").click()
    for choice in ("System", "Light", "Dark"):
        assert page.locator(f"[data-testid='stMainMenuItem-theme-{choice}']").count() == 1
    page.locator("[data-testid='stMainMenuItem-theme-Dark']").click()
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector(\"[data-testid='stApp']\"))"
        ".backgroundColor !== 'rgb(255, 255, 255)'"
    )
    wait_idle(page)
    check_charts(page, dark=True)  # no rerun needed: chart text takes the page's colour


def test_reconstruction_captions_are_body_text_size_at_1280_wide(page, app_url):
    """The grid fills the column; its MSE captions (0.21 of a cell) must still show >= 16 px tall."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_deep_link(page, app_url, "reconstructions", "dataset=mnist&embed_options=dark_theme")
    image = page.locator("[data-testid='stMain'] [data-testid='stImage'] img").first
    image.wait_for()
    wait_quiet(page)  # composed for the screen the browser reported, not the first run's guess
    natural, shown = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    column = page.evaluate("""() => { const c = document.querySelector("[data-testid='stMainBlockContainer']");
        const s = getComputedStyle(c);
        return c.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); }""")
    # sized to the available width, not a fixed pixel size: the largest whole upscale of the 28-pixel digits that
    # fits (lettering.fit_scale; one step more is 28 px per column of cells wider), shown at its composed size
    assert natural == shown <= column and shown >= 0.9 * column
    assert 0.21 * 112 * shown / natural >= 16
    assert picture_corner(page) < 64


def scrub_corner(page, key: str) -> float:
    """Grey level of a scrub figure's picture's top-left corner (its label panel), as the browser has it."""
    import base64

    href = page.locator(f".st-key-{key} g.imagelayer image").first.get_attribute("href")
    png = base64.b64decode(href.split(",", 1)[1])
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"))[0, 0])


def test_a_theme_switched_in_the_menu_redraws_the_denoising_pictures_at_once(page, app_url):
    """The scrub's pictures kept their light panel after a switch to dark until something else reran the page:
    the screen reporter now reruns it when the page's background changes."""
    open_deep_link(page, app_url, "denoising", "dataset=mnist")
    image = ".st-key-dn_scrub g.imagelayer image"
    page.locator(image).first.wait_for(state="attached")
    assert scrub_corner(page, "dn_scrub") > 240
    light = page.locator(image).first.get_attribute("href")
    page.locator("[data-testid='stMainMenu']").click()
    page.locator("[data-testid='stMainMenuItem-theme-Dark']").click()
    page.wait_for_function(  # no click, no slider: the page reruns by itself
        "([selector, light]) => { const img = document.querySelector(selector);"
        " return img && img.getAttribute('href') !== light; }",
        arg=[image, light],
        timeout=30_000,
    )
    wait_idle(page)
    assert scrub_corner(page, "dn_scrub") < 64
    shot(page, "theme-denoising-switched-dark")
