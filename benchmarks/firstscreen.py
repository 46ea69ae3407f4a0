"""First screen per page: a new browser on a warm server, until the page's main figure is drawn and the run is over.

Used by `python benchmarks/latency.py --browser on` (every figure) or `--browser first-screen` (only these).
For each page a fresh browser context opens its URL; the time runs to the moment every element that
tests/e2e/test_fold.py requires above the fold is drawn (a plotly chart: its SVG; a picture: decoded) and
Streamlit's script state says the run has ended. Chromium's own count of the time its main thread spent in
scripts (CDP Performance.getMetrics, ScriptDuration) is read at that moment: the price of the page's
JavaScript (plotly's 4.7 MB bundle above all) for a visitor whose browser has nothing cached.
"""

from __future__ import annotations

import time

import numpy as np

DRAWN = """(selectors) => selectors.every(sel => {  // every main element laid out, with its content drawn
    const el = document.querySelector(sel);
    if (!el) return false;
    const box = el.getBoundingClientRect();
    if (box.width < 20 || box.height < 3) return false;
    if (el.matches("[data-testid='stPlotlyChart']") || el.querySelector("[data-testid='stPlotlyChart']"))
        return !!el.querySelector('.main-svg');
    const img = el.tagName === 'IMG' ? el : el.querySelector('img');
    return !img || (img.complete && img.naturalWidth > 0);
}) && !!document.querySelector("[data-test-script-state='notRunning']")"""


def main_elements() -> dict[str, list[str]]:
    """Per page slug (home included by name): what must be drawn, as the fold test has it."""
    from test_fold import ABOVE_THE_FOLD

    return {slug or "home": selectors for slug, selectors in ABOVE_THE_FOLD.items()}


def open_once(browser, url: str, selectors: list[str], timeout_ms: float = 300_000) -> tuple[float, float]:
    """(seconds to the first screen drawn, seconds of browser script time by then) in a new browser session."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        tab = context.new_page()
        cdp = context.new_cdp_session(tab)
        cdp.send("Performance.enable")
        start = time.perf_counter()
        tab.goto(url)
        tab.wait_for_function(DRAWN, arg=selectors, timeout=timeout_ms, polling="raf")
        elapsed = time.perf_counter() - start
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        if tab.locator("[data-testid='stException']").count():
            raise RuntimeError(f"{url}: {tab.locator('[data-testid=stException]').first.inner_text()}")
        return elapsed, float(metrics.get("ScriptDuration", float("nan")))
    finally:
        context.close()


def first_screens(browser, url: str, dataset: str, repeats: int, slugs: list[str]) -> dict[str, float]:
    """Median first-screen and script times per page (after one visit that fills the server's caches)."""
    results: dict[str, float] = {}
    wanted = main_elements()
    print(f"{'first screen (new browser, warm server)':45s} {'p50 ms':>8s} {'max ms':>8s} {'script ms':>9s}")
    for slug in slugs:
        selectors = wanted.get(slug, ["[data-testid='stMain']"])
        page_url = f"{url}/{'' if slug == 'home' else slug}?dataset={dataset}"
        open_once(browser, page_url, selectors)
        runs = np.array([open_once(browser, page_url, selectors) for _ in range(repeats)]) * 1000
        results[f"first_screen.{slug}.ms"] = round(float(np.median(runs[:, 0])), 0)
        results[f"first_screen.{slug}.script_ms"] = round(float(np.median(runs[:, 1])), 0)
        print(
            f"{slug:45s} {np.median(runs[:, 0]):8.0f} {runs[:, 0].max():8.0f} {np.median(runs[:, 1]):9.0f}",
            flush=True,
        )
    return results
