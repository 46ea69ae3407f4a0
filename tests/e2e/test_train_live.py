"""The Train page in a real browser: a tiny job's curve grows live and its model becomes selectable."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from browser import no_exceptions, open_page, tall_shot, wait_idle, wait_quiet

CURVE_POINTS = """() => {
    const graph = document.querySelector('.js-plotly-plot');
    return graph && graph.data && graph.data.length ? graph.data[0].x.length : 0;
}"""


def model_count(page) -> int:
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text(re.compile(r"\d+ models")).wait_for()
    return int(re.search(r"(\d+) models", sidebar.inner_text()).group(1))


def press_on_slider(page, label: str, key: str) -> None:
    """Move a (select) slider to an end with the keyboard, as a user can, and wait until the run it asks for is
    over. A key pressed while a run redraws the form can be lost (the redraw puts back the value the server
    last saw), so the page is quiet first and the end is checked: a lost press made a "long" job 1 epoch."""
    wait_quiet(page)
    thumb = page.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")
    end = "aria-valuemax" if key == "End" else "aria-valuemin"
    for _ in range(3):
        thumb.focus()
        thumb.press(key)
        wait_quiet(page)
        if thumb.get_attribute("aria-valuenow") == thumb.get_attribute(end):
            return
    raise AssertionError(f"the {label!r} slider did not move to its {key}")


def type_number(page, label: str, value: int) -> None:
    """Type `value` into the number input labelled `label` (Enter commits it) and wait for the run."""
    wait_quiet(page)
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_quiet(page)
    assert box.input_value() == str(value)


def curve_points(page, more_than: int, timeout: float = 120_000) -> int:
    # The count that passed is returned: a second look could land while Plotly redraws the growing chart.
    found = page.wait_for_function(
        f"() => {{ const n = ({CURVE_POINTS})(); return n > {more_than} ? n : 0; }}", timeout=timeout
    )
    return found.json_value()


def start_training(page, name: str) -> None:
    wait_quiet(page)
    page.get_by_label("Model name (optional)").fill(name)
    page.get_by_role("button", name="Start training").click()


def test_watch_a_long_job_learn_live_then_cancel_it(page, app_url):
    open_page(page, app_url, "train", "dataset=digits&train_family=conv")
    no_exceptions(page)
    tall_shot(page, "train-form")
    before = model_count(page)
    press_on_slider(page, "Epochs", "End")  # a conv net, 100 epochs of batches of 16: far longer than the watching
    press_on_slider(page, "Batch size", "Home")
    start_training(page, "e2e-cancelled")
    cancel = page.get_by_role("button", name="Cancel")
    cancel.wait_for(timeout=180_000)  # a loaded server times the job's speed first (seen past 60 s in a full run)
    first = curve_points(page, 1)
    later = curve_points(page, first + 3)  # the fragment polls: the same chart grows, no reload
    assert later > first and "train_job=" in page.url
    assert page.get_by_text(re.compile(r"epoch \d+/100")).count() >= 1
    no_exceptions(page)
    tall_shot(page, "train-live")
    cancel.click()
    page.get_by_text("Cancelled: nothing was saved.").wait_for(timeout=120_000)
    wait_idle(page)
    no_exceptions(page)
    assert model_count(page) == before


def test_train_a_tiny_model_then_pick_it(page, app_url):
    open_page(page, app_url, "train", "dataset=digits")
    before = model_count(page)
    start_training(page, "e2e-digits")  # 30 epochs of batches of 64: seconds
    try:
        page.get_by_text("Saved e2e-digits").wait_for(timeout=300_000)
    finally:
        tall_shot(page, "train-end")
    wait_idle(page)
    no_exceptions(page)
    assert curve_points(page, 29) >= 30  # the finished job's curves stay on the page: a point per epoch at least
    assert model_count(page) == before + 1  # the sidebar of this very page already counts it
    tall_shot(page, "train-done")
    token = parse_qs(urlparse(page.url).query)["ws"][0]  # the session's workspace travels in its links
    open_page(page, app_url, "", f"dataset=digits&ws={token}&home_model=session-{token}:e2e-digits")
    no_exceptions(page)
    assert "Model e2e-digits" in page.locator("[data-testid='stMain']").inner_text().replace("`", "")


def slider_value(page, label: str) -> str:
    thumb = page.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")
    return thumb.get_attribute("aria-valuenow") or thumb.get_attribute("aria-valuetext")


def test_the_form_keeps_its_choices_after_a_job(page, app_url):
    open_page(page, app_url, "train", "dataset=digits&train_family=dense")
    press_on_slider(page, "Epochs", "Home")  # 1 epoch: over in seconds
    press_on_slider(page, "Batch size", "End")
    chosen = slider_value(page, "Epochs"), slider_value(page, "Batch size")
    start_training(page, "e2e-kept")
    page.get_by_text("Saved e2e-kept").wait_for(timeout=120_000)
    wait_idle(page)
    no_exceptions(page)
    assert (slider_value(page, "Epochs"), slider_value(page, "Batch size")) == chosen
