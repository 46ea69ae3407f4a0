"""The Latent space page in a real browser: switch the method, box-select, decode an empty spot, a 70k map."""

from __future__ import annotations

import json
import time

from browser import SCREENSHOTS, no_exceptions, open_page, tall_shot, wait_idle


def open_map(page, app_url: str, query: str):
    open_page(page, app_url, "", query.split("&")[0])  # app.py first: it registers the pages
    open_page(page, app_url, "latent_map", query)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".main-svg").first.wait_for()
    page.wait_for_timeout(800)  # WebGL points drawn
    return chart


def plot_area(chart) -> dict:
    chart.scroll_into_view_if_needed()
    return chart.locator(".nsewdrag").first.bounding_box()


def drag(page, box: dict, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=10)
    page.mouse.up()


def settled(page, text: str, timeout: float = 300_000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout)
    wait_idle(page)


def test_switch_method_then_box_select_shows_the_gallery(page, app_url):
    chart = open_map(page, app_url, "dataset=digits&map_method=umap")
    page.locator("[data-testid='stRadio']").filter(has_text="UMAP").get_by_text("PCA", exact=True).click()
    settled(page, "PCA of 360 codes")
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".main-svg").first.wait_for()
    chart.locator(".modebar-btn[data-title='Box Select']").first.click()
    drag(page, plot_area(chart), (0.25, 0.25), (0.75, 0.75))
    settled(page, "selected")
    assert page.get_by_text("Selection as CSV", exact=True).count() >= 1  # the explorer's export (issue 30)
    assert page.locator("[data-testid='stImage'] img").count() >= 1  # the gallery of inputs and reconstructions
    no_exceptions(page)
    tall_shot(page, "latent-map-box-selection")


def test_clicking_an_empty_spot_decodes_it(page, app_url):
    chart = open_map(page, app_url, "dataset=mnist&map_method=pca")
    box = plot_area(chart)
    page.mouse.click(box["x"] + 0.04 * box["width"], box["y"] + 0.04 * box["height"])  # a corner: no digit there
    settled(page, "Decoding a map position is a projection")
    assert page.locator("[data-testid='stImage'] img").count() == 2  # the decoded picture and its neighbours
    assert page.get_by_text("selected").count() == 0  # the click hit no test image
    no_exceptions(page)
    tall_shot(page, "latent-map-decode-anywhere")


def test_decoded_manifold_under_a_two_d_map(page, app_url):
    chart = open_map(page, app_url, "dataset=mnist&map_model=mnist-vae-h256-q2-bce&map_under=1")
    assert page.get_by_text("code plane of 10,000 codes").count() == 1
    assert chart.locator(".layer-subplot .imagelayer image").count() == 1  # the decoded tiles, under the points
    no_exceptions(page)
    tall_shot(page, "latent-map-vae-manifold")


def test_seventy_thousand_points_pan_and_zoom(page, app_url):
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))))
    open_page(page, app_url, "", "dataset=mnist")
    open_page(page, app_url, "latent_map", "dataset=mnist&map_method=pca&map_split=all")
    settled(page, "PCA of 70,000 codes")
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".main-svg").first.wait_for()
    page.wait_for_timeout(1500)
    box = plot_area(chart)
    tall_shot(page, "latent-map-70k")
    x_range = lambda: page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range.slice()")
    before = x_range()
    page.evaluate("""() => { window.__frames = []; const tick = t => { window.__frames.push(t);
                             requestAnimationFrame(tick); }; requestAnimationFrame(tick); }""")
    start = time.perf_counter()
    drag(page, box, (0.5, 0.5), (0.3, 0.4))  # pan (Streamlit's default drag mode with click selection)
    for _ in range(3):
        chart.locator(".modebar-btn[data-title='Zoom in']").first.click()  # no scroll zoom: the page scrolls
        page.wait_for_timeout(100)
    chart.locator(".modebar-btn[data-title='Zoom']").first.click()
    drag(page, box, (0.3, 0.3), (0.6, 0.6))  # a zoom box
    page.wait_for_timeout(500)
    seconds = time.perf_counter() - start
    after = x_range()
    assert after != before and (after[1] - after[0]) < (before[1] - before[0])  # it panned and zoomed
    gaps = page.evaluate("() => window.__frames.slice(1).map((t, i) => t - window.__frames[i])")
    report = {
        "payload_bytes_largest_frame": max(frames),
        "interaction_s": round(seconds, 2),
        "frames": len(gaps) + 1,
        "frame_gap_ms_p50": round(sorted(gaps)[len(gaps) // 2], 1),
        "frame_gap_ms_max": round(max(gaps), 1),
    }
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "latent-map-70k.json").write_text(json.dumps(report))
    print("70k map in the browser:", report)
    no_exceptions(page)
    tall_shot(page, "latent-map-70k-zoomed")


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_the_chart_toolbar_leaves_the_legend_readable(page, app_url):
    chart = open_map(page, app_url, "dataset=digits&map_method=pca")
    chart.hover()  # plotly shows its toolbar while the pointer is over the chart
    toolbar = chart.locator(".modebar").first
    toolbar.wait_for()
    entries = chart.locator(".legend .traces")
    assert entries.first.text_content() == "0"
    boxes = [entries.nth(i).bounding_box() for i in range(entries.count())]
    assert not any(overlaps(toolbar.bounding_box(), box) for box in boxes), (toolbar.bounding_box(), boxes[:2])


ISLAND = """(name) => {  // the middle half of one class's points on the map, in page pixels
  const gd = document.querySelector('.st-key-map_chart .js-plotly-plot');
  const trace = gd._fullData.find(t => t.name === name);
  const quartiles = values => { const v = Array.from(values).sort((a, b) => a - b);
                                return [v[Math.floor(v.length / 4)], v[Math.floor(3 * v.length / 4)]]; };
  const [x0, x1] = quartiles(trace.x), [y0, y1] = quartiles(trace.y);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const px = x => box.left + xa._offset + xa.l2p(x), py = y => box.top + ya._offset + ya.l2p(y);
  return {left: px(x0), right: px(x1), top: py(y1), bottom: py(y0)};
}"""


def counts(text: str) -> dict[str, int]:
    """'7 ×928, 9 ×239, 4 ×3' -> {'7': 928, '9': 239, '4': 3}."""
    return {name: int(n.replace(",", "")) for name, n in (part.rsplit(" ×", 1) for part in text.split(", "))}


def test_a_box_round_the_island_of_sevens_shows_sevens_in_proportion(page, app_url):
    """Points come back class by class: the first 24 of a selection round the 7s were 0s, 2s, 3s and a 4. The
    pictures now sample the selection in proportion to its classes."""
    chart = open_map(page, app_url, "dataset=mnist&map_model=mnist-dense-q16-bce&map_method=umap")
    chart.locator(".modebar-btn[data-title='Box Select']").first.click()
    island = page.evaluate(ISLAND, "7")
    page.mouse.move(island["left"], island["top"])
    page.mouse.down()
    page.mouse.move(island["right"], island["bottom"], steps=12)
    page.mouse.up()
    settled(page, "selected")
    summary = page.locator("[data-testid='stMarkdownContainer']").filter(has_text=" selected (").first.inner_text()
    total = int(summary.split(" selected")[0].replace(",", ""))
    picked = counts(summary.split("(", 1)[1].split(")")[0])
    caption = page.locator("[data-testid='stImage']").filter(has_text="Shown: ").first.inner_text()
    shown = counts(caption.split("Shown: ", 1)[1].split(". ")[0].strip())
    assert max(picked, key=picked.get) == "7" and picked["7"] > 0.8 * total  # the box holds the island of 7s
    assert max(shown, key=shown.get) == "7" and sum(shown.values()) == min(24, total)
    assert abs(shown["7"] - 24 * picked["7"] / total) <= 1  # in proportion, not the first classes reported
    assert sum(n for c, n in shown.items() if c not in picked) <= 2  # the summary names the top 4 classes only
    no_exceptions(page)
    tall_shot(page, "latent-map-island-of-sevens")
