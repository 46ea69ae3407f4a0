"""The Train page's code map in a real browser: it moves between polls of a running job, and once the job has
ended its slider replays every epoch in the browser, without a Streamlit rerun."""

from __future__ import annotations

from browser import no_exceptions, open_page, script_states, tall_shot, wait_idle, watch_script_state
from test_train_live import press_on_slider, start_training

# A short text that changes whenever the points of the figure named `meta` (its layout.meta) do: the first
# trace's x values as plotly holds them (decoded numbers, or the base64 block they came in).
POINTS = """(meta) => {
    const graph = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta === meta);
    if (!graph || !graph._fullData || !graph._fullData.length) return '';
    const x = graph._fullData[0].x;
    if (!x) return '';
    return x.bdata ? x.bdata.slice(0, 600) : Array.from(x).slice(0, 60).map(v => v.toFixed(4)).join(',');
}"""


def points(page, meta: str) -> str:
    return page.evaluate(POINTS, meta)


def points_other_than(page, meta: str, before: str, timeout: float = 120_000) -> str:
    found = page.wait_for_function(
        f"() => {{ const p = ({POINTS})({meta!r}); return p && p !== {before!r} ? p : ''; }}", timeout=timeout
    )
    return found.json_value()


def test_the_code_map_moves_while_a_job_runs_and_its_replay_scrubs_in_the_browser(page, app_url):
    open_page(page, app_url, "train", "dataset=digits&train_family=dense")
    press_on_slider(page, "Epochs", "End")  # 100 short epochs: a few polls to watch, then it ends by itself
    start_training(page, "e2e-code-map")
    page.get_by_role("button", name="Cancel").wait_for()
    first = points_other_than(page, "aeviz-code-map", "")
    later = points_other_than(page, "aeviz-code-map", first)  # a later poll drew a later epoch's map
    assert later != first and "train_job=" in page.url
    no_exceptions(page)
    page.get_by_text("Saved e2e-code-map").wait_for(timeout=300_000)
    wait_idle(page)
    no_exceptions(page)
    tall_shot(page, "train-code-replay")
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".slider-grip-rect"))
    chart.scroll_into_view_if_needed()
    assert chart.locator("text.slider-label").first.text_content() == "epoch 100"  # opened at the end
    at_end = points(page, "aeviz-code-replay")
    watch_script_state(page)
    rail = chart.locator(".slider-rail-rect").bounding_box()
    grip = chart.locator(".slider-grip-rect").bounding_box()
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    seen = []
    for fraction in (0.5, 0.0):
        page.mouse.move(rail["x"] + fraction * rail["width"], y, steps=8)
        page.wait_for_timeout(200)
        seen.append((chart.locator("text.slider-label").first.text_content(), points(page, "aeviz-code-replay")))
    page.mouse.up()
    page.wait_for_timeout(300)
    (middle_label, middle), (start_label, start) = seen
    assert start_label == "epoch 0" and middle_label not in ("epoch 0", "epoch 100")
    assert len({at_end, middle, start}) == 3 and all(seen_points for seen_points in (at_end, middle, start))
    assert script_states(page) == []  # the frames swapped in the browser: no script ran
    no_exceptions(page)
