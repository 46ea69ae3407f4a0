"""Share links in headless Chromium: on each page, change every control a link can carry, copy the URL, open it in
a new browser (no shared session) and compare screenshots of the page's main area."""

from __future__ import annotations

import numpy as np
import pytest
from browser import SCREENSHOTS, drag_scrubber, grey_pixels, no_exceptions, open_page, wait_idle, wait_quiet
from playwright.sync_api import TimeoutError as PlaywrightTimeout

WIDTH, HEIGHT = 1440, 1000


def settle(page, timeout: float = 240_000) -> None:
    """The run has finished and no background job (a map fit, a kNN score) shows progress any more."""
    wait_idle(page, timeout)
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='stMain'] [data-testid='stProgress']\")", timeout=timeout
    )
    wait_quiet(page, 1000, timeout)  # and the reruns of its own that follow (the screen report, a still's chart)


def moved(page, before: str) -> None:
    """Every control a link carries rewrites the URL: wait for that, then for the run to finish."""
    page.wait_for_function("(before) => location.href !== before", arg=before)
    settle(page)


def acted(page, act) -> None:
    """Do `act` (a click on a control) until the URL changes, at most three times, then wait for the run. On a
    loaded machine a click can land on a widget a rerun is replacing (a dropdown's option, seen in a full run)
    and be lost, as it would be for a user, who clicks again."""
    before = page.url
    for attempt in range(3):
        act()
        try:
            page.wait_for_function("(before) => location.href !== before", arg=before, timeout=20_000)
            break
        except PlaywrightTimeout:  # the click was lost: try again
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            settle(page)
            if page.url != before:  # the click had landed, only its run was slow: clicking again would undo it
                break
    settle(page)


def widget(page, testid: str, label: str):
    return page.locator(f"[data-testid='{testid}']").filter(has=page.get_by_text(label, exact=True)).first


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox (or multiselect) labelled `label`."""

    def act() -> None:
        box = (
            page.locator("[data-testid='stSelectbox'], [data-testid='stMultiSelect']")
            .filter(has=page.get_by_text(label, exact=True))
            .first
        )
        box.locator("input").first.click()
        page.keyboard.type(option)  # filters the list: a long one shows only a window of its options
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")

    acted(page, act)


def radio(page, label: str, option: str) -> None:
    acted(page, lambda: widget(page, "stRadio", label).get_by_text(option, exact=True).click())


def nudge(page, label: str, presses: int) -> None:
    """Move the slider labelled `label` by `presses` steps with the keyboard (negative: to the left)."""
    before = page.url
    widget(page, "stSlider", label).get_by_role("slider").first.focus()
    for _ in range(abs(presses)):
        page.keyboard.press("ArrowRight" if presses > 0 else "ArrowLeft")
    moved(page, before)


def tab(page, name: str) -> None:
    before = page.url
    page.get_by_role("tab", name=name).click()
    moved(page, before)


def scrub(page, chart_key: str, fraction: float) -> str:
    """Drag a figure's own slider; returns the label it stopped at once the URL has its new position."""
    before = page.url
    chart = page.locator(f".st-key-{chart_key}")
    label = drag_scrubber(page, chart, [fraction])[0][0]
    moved(page, before)
    return label


def main_shot(page, name: str) -> np.ndarray:
    """The main area as grey pixels, the window made as tall as the content so nothing is cut off."""
    page.mouse.move(0, 0)  # no hover highlight
    page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no focus ring
    # A fresh tab lays a caption out in the fallback font until the code font arrives, one line shorter (24 px seen
    # in CI): measure once the fonts are in, and again after the re-layout until the height holds.
    page.evaluate("() => document.fonts.ready.then(() => true)")
    height = 0
    for _ in range(5):
        now = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
        if now == height:
            break
        height = now
        page.set_viewport_size({"width": WIDTH, "height": min(max(height, HEIGHT), 6000)})
        page.wait_for_timeout(1000)  # plotly and images re-lay out to the new size
        settle(page)
    png = page.locator("[data-testid='stMain']").screenshot(animations="disabled")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / f"{name}.png").write_bytes(png)
    return grey_pixels(png)


def same_view(page, browser, name: str) -> str:
    """Open the page's current URL in a fresh browser context and assert it looks the same; returns the URL."""
    link = page.url
    # what the browser keeps of having been used, which no link carries and no view differs by: the focus of the
    # control used last, and a multiselect whose overflowing tags were scrolled to the one chosen last (the
    # anomalies page's classes: 2,864 pixels differed before this)
    page.mouse.move(0, 0)
    page.evaluate(
        """() => {
            document.activeElement?.blur();
            for (const e of document.querySelectorAll("[data-testid='stMultiSelect'] *")) e.scrollLeft = 0;
        }"""
    )
    here = main_shot(page, f"share-{name}-made")
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
    try:
        other = context.new_page()
        other.set_default_timeout(120_000)
        other.goto(link)
        other.wait_for_selector("[data-testid='stApp']")
        settle(other)
        no_exceptions(other)
        assert other.url == link, "opening the link changed it"
        there = main_shot(other, f"share-{name}-opened")
    finally:
        context.close()
    assert here.shape == there.shape, f"{name}: the page has another size when opened from its link"
    differ = np.abs(here - there)
    # identical but for anti-aliasing: a few pixels of a border drawn a shade or two apart (3 of 1.1 M seen)
    assert (differ > 16).sum() == 0 and (differ > 0).mean() < 1e-4, (
        f"{name}: {(differ > 0).sum()} of {differ.size} pixels differ, {(differ > 16).sum()} clearly (screenshots/)"
    )
    return link


def start(page, app_url: str, path: str) -> None:
    """Open the page on MNIST and switch the sidebar to the small digits set: the dataset is a control too."""
    open_page(page, app_url, path, "dataset=mnist")
    settle(page)
    before = page.url
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox'] input").first.click()
    page.get_by_role("option", name="scikit-learn 8x8 digits (offline)").click()
    moved(page, before)


def home(page):
    choose(page, "Model", "digits-conv-q8-bce")
    nudge(page, "Test image", 3)


def reconstructions(page):
    radio(page, "Model family", "conv")
    radio(page, "Images", "by class")
    choose(page, "Class", "3")
    nudge(page, "Draw", 2)


def more_options(page) -> None:
    """Open the latent page's "More options" popover (the secondary controls live in it) unless it is open."""
    if not page.get_by_text("Side by side with", exact=True).is_visible():
        page.get_by_role("button", name="More options").click()
        page.get_by_text("Side by side with", exact=True).wait_for()


def latent_map(page):
    choose(page, "Model", "digits-conv-q2-bce")
    more_options(page)
    choose(page, "Side by side with", "digits-dense-q8-bce")
    radio(page, "Map", "PCA")
    more_options(page)
    radio(page, "Points", "test + train")
    more_options(page)
    before = page.url
    widget(page, "stCheckbox", "Decoded images under the map").locator("label").click()
    moved(page, before)
    page.keyboard.press("Escape")  # closed, as the link opens it
    page.mouse.click(5, 300)


def denoising(page):
    radio(page, "Noise", "Masking")
    radio(page, "Images", "by index")
    box = widget(page, "stTextInput", "Indices (comma separated)").locator("input")
    before = page.url
    box.fill("3,4,5,40")
    box.press("Enter")
    moved(page, before)
    nudge(page, "Noise seed", 2)
    assert scrub(page, "dn_scrub", 0.8).startswith("Masking p = ")
    assert "dn_level=" in page.url


def anomalies(page):
    choose(page, "Model, or up to four for an ensemble", "digits-conv-q16-bce")
    radio(page, "Error", "BCE")
    radio(page, "Ensemble", "max")
    choose(page, "Inject from", "MNIST handwritten digits")
    choose(page, "Inject from", "Fashion-MNIST clothing")
    choose(page, "Classes", "Bag")
    nudge(page, "How many", -3)
    nudge(page, "Draw", 1)
    nudge(page, "Flag the top … % of test images", 4)
    nudge(page, "Images per gallery", -2)


def your_images(page):
    before = page.url
    widget(
        page, "stCheckbox", "MNIST-style preprocessing (turn off for images that already look like MNIST digits)"
    ).locator("label").click()
    moved(page, before)
    tab(page, "Draw")


def train(page):
    choose(page, "Train on", "Fashion-MNIST clothing")
    choose(page, "Model family", "Denoising")
    choose(page, "Noise", "Masking")
    # the form times a new model on a thread, polling each second: under load a poll can come after the 1 s of
    # quiet that settle waits for, and the view would be taken with "Timing…" where the opened link, timed
    # already, says "Measured…" (the likeliest cause of a CI failure here: 24,758 pixels differed)
    page.get_by_text("Measured on this server's").wait_for(timeout=240_000)
    settle(page)


PAGES = {
    "home": home,
    "reconstructions": reconstructions,
    "latent_map": latent_map,
    "denoising": denoising,
    "anomalies": anomalies,
    "your_images": your_images,
    "train": train,
}


# A documented difference (strict: the day it goes, this test says so): after the latent page's "More options"
# popover was opened and closed with Escape, a 1-pixel light-red line (83 pixels, y 229, x 971-1053 at 1440x1000)
# stays under its button; it is the popover's, not state a link carries (blurring and moving the mouse away leave
# it). Seen in every run so far.
# the closed popover's 1-pixel line under 'More options' (83 pixels), not link state; after the explorer's
# layout (issue 30) the same view passed once under load: non-strict until it is seen to be gone for good
@pytest.mark.parametrize("path", list(PAGES))
def test_a_link_made_after_changing_every_control_opens_the_same_view(page, browser, app_url, path):
    start(page, app_url, "" if path == "home" else path)
    PAGES[path](page)
    no_exceptions(page)
    same_view(page, browser, path)


def test_the_vae_page_link_keeps_its_tab_t_and_samples(page, browser, app_url):
    start(page, app_url, "vae")
    choose(page, "VAE", "digits-vae-h64-q2-bce")  # not the default (the largest code), so the URL changes
    radio(page, "Images", "by class")
    tab(page, "One dimension at a time")
    radio(page, "Image", "B")
    nudge(page, "Dimensions", -3)
    tab(page, "Interpolate")
    assert scrub(page, "vae_scrub", 0.25) == "t = 0.25"
    same_view(page, browser, "vae-interpolate")  # the tab, the picked pair and t
    tab(page, "Sample from the prior")
    nudge(page, "Temperature", -4)
    before = page.url
    page.get_by_role("button", name="Re-sample").click()
    moved(page, before)
    link = same_view(page, browser, "vae-sample")
    assert "vae_tab=Sample" in link and "vae_seed=1" in link and "vae_t=0.25" in link
