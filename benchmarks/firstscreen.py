"""First screen per page: a new browser on a warm server, until the page's main figure is drawn and the run is over.

Run on its own (issue 30 section 5): `AEVIZ_DATA_DIR=... python benchmarks/firstscreen.py [--repeats 5]
[--pages vae,denoising] [--before /tmp/old-checkout]` starts the app (and, with --before, the same app from
another checkout) and a plain Streamlit page (benchmarks/reference_page.py) on this machine, then opens each page
and the reference in turn, interleaved (page, reference, page, reference, ...), each in a new browser context
with nothing cached. Per page it prints the median first screen, the reference's median from the same rounds,
their ratio, the median time until the main figure is interactive (its plotly chart drawn, where it has one),
the browser's script time, and the bytes a new visitor is sent (HTTP bodies as sent, plus websocket frames).
A final JSON line holds every figure. Also used by `python benchmarks/latency.py --browser first-screen`.
For each page a fresh browser context opens its URL; the time runs to the moment every element that
tests/e2e/test_fold.py requires above the fold is drawn (a plotly chart: its SVG; a picture: decoded) and
Streamlit's script state says the run has ended. Chromium's own count of the time its main thread spent in
scripts (CDP Performance.getMetrics, ScriptDuration) is read at that moment: the price of the page's
JavaScript (plotly's 4.7 MB bundle above all) for a visitor whose browser has nothing cached.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

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


# What a new visitor must see for the first screen: the page's main figure, either as its interactive plotly
# chart or as the still drawn by the server until that chart arrives (ui/scrubs.py); `INTERACTIVE` is the chart
# itself. Selectors are CSS lists: any one match counts.
STILL = {
    "reconstructions": [".st-key-rec_chart .main-svg, .st-key-rec_chart_still img", ".st-key-w_rec_seed"],
    "latent_map": [".st-key-map_chart .main-svg, .st-key-map_chart_still img"],
    "denoising": [".st-key-dn_scrub .main-svg, .st-key-dn_scrub_still img", ".st-key-w_dn_seed"],
    "vae": [".st-key-vae_scrub .main-svg, .st-key-vae_scrub_still img"],
    "anomalies": [".st-key-w_err_flag", ".st-key-err_hist .main-svg, .st-key-err_hist_still img"],
    "features": [
        ".st-key-w_ft_rank",
        "[data-testid='stImage']",
        ".st-key-ft_density .main-svg, .st-key-ft_density_still img",
    ],
}
INTERACTIVE = {
    "reconstructions": ".st-key-rec_chart .main-svg",
    "latent_map": ".st-key-map_chart .main-svg",
    "denoising": ".st-key-dn_scrub .main-svg",
    "vae": ".st-key-vae_scrub .main-svg",
    "anomalies": ".st-key-err_hist .main-svg",
    "features": ".st-key-ft_density .main-svg",
    "reproduce": "[data-testid='stDataFrame'] canvas",
}
REFERENCE = ["[data-testid='stImage'] img", "[data-testid='stSlider']"]


def _record_bytes(cdp) -> dict[str, float]:
    """Counts what the browser receives: HTTP bodies as sent on the wire, websocket frames' payloads."""
    sent = {"http": 0.0, "ws": 0.0}

    def http(event):
        sent["http"] += event.get("encodedDataLength", 0)

    def frame(event):
        payload = event["response"].get("payloadData", "")
        binary = event["response"].get("opcode") == 2
        sent["ws"] += len(base64.b64decode(payload)) if binary else len(payload.encode())

    cdp.on("Network.loadingFinished", http)
    cdp.on("Network.webSocketFrameReceived", frame)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    return sent


def visit(browser, url: str, first: list[str], live: str | None, timeout_ms: float = 300_000) -> dict[str, float]:
    """One new visitor: seconds to the first screen (`first` drawn, run over), to the interactive chart `live`,
    the browser's script seconds by the first screen, and the bytes received by the time it is interactive."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        tab = context.new_page()
        cdp = context.new_cdp_session(tab)
        cdp.send("Performance.enable")
        sent = _record_bytes(cdp)
        start = time.perf_counter()
        tab.goto(url)
        tab.wait_for_function(DRAWN, arg=first, timeout=timeout_ms, polling="raf")
        shown = time.perf_counter() - start
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        if live:
            tab.wait_for_selector(live, timeout=timeout_ms)
        ready = time.perf_counter() - start
        tab.wait_for_timeout(1500)  # what arrives just after (a deferred chart's bundle) counts as sent
        if tab.locator("[data-testid='stException']").count():
            raise RuntimeError(f"{url}: {tab.locator('[data-testid=stException]').first.inner_text()}")
        script = float(metrics.get("ScriptDuration", float("nan")))
        return {"first": shown, "live": ready, "script": script, "bytes": sent["http"] + sent["ws"]}
    finally:
        context.close()


@contextlib.contextmanager
def reference_server(home: Path):
    """benchmarks/reference_page.py under `streamlit run` on a free port; yields its URL."""
    from load import free_port

    port = free_port()
    log = open(home / "reference.log", "w")  # noqa: SIM115 - the server's whole life
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(HERE / "reference_page.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=home, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        from browser import _wait_healthy

        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _page_url(url: str, slug: str, dataset: str) -> str:
    return f"{url}/{'' if slug == 'home' else slug}?dataset={dataset}"


def interleaved(browser, apps: dict[str, str], reference: str, slugs: list[str], dataset: str, repeats: int):
    """Per app and page: the visits' figures, and the reference's visits made between them."""
    wanted = main_elements()
    runs: dict[tuple[str, str], list[dict]] = {}
    for url in apps.values():  # one visit each fills the servers' caches: the figures are for a warm server
        for slug in slugs:
            visit(browser, _page_url(url, slug, dataset), wanted.get(slug, ["[data-testid='stMain']"]), None)
    visit(browser, reference, REFERENCE, None)
    for _ in range(repeats):
        for slug in slugs:
            for app, url in apps.items():
                first = STILL.get(slug, wanted.get(slug, ["[data-testid='stMain']"]))
                live = INTERACTIVE.get(slug)
                runs.setdefault((app, slug), []).append(visit(browser, _page_url(url, slug, dataset), first, live))
                runs.setdefault(("reference", slug), []).append(visit(browser, reference, REFERENCE, None))
    return runs


def report(runs: dict[tuple[str, str], list[dict]], apps: list[str], slugs: list[str]) -> dict[str, float]:
    figures: dict[str, float] = {}
    heads = ("first s", "ref s", "ratio", "live s", "script s", "MB sent")
    print(f"{'page':16s} {'app':7s} " + " ".join(f"{h:>8s}" for h in heads))
    for slug in slugs:
        ref = float(np.median([r["first"] for r in runs[("reference", slug)]]))
        for app in apps:
            got = {k: float(np.median([r[k] for r in runs[(app, slug)]])) for k in ("first", "live", "script", "bytes")}
            for k, v in got.items():
                figures[f"{app}.{slug}.{k}"] = round(v, 3) if k != "bytes" else round(v)
            figures[f"{app}.{slug}.reference_first"] = round(ref, 3)
            print(
                f"{slug:16s} {app:7s} {got['first']:8.2f} {ref:6.2f} {got['first'] / ref:6.2f} {got['live']:7.2f} "
                f"{got['script']:8.2f} {got['bytes'] / 1e6:8.2f}",
                flush=True,
            )
    ref_bytes = float(np.median([r["bytes"] for v in (runs[("reference", s)] for s in slugs) for r in v]))
    figures["reference.bytes"] = round(ref_bytes)
    print(f"reference page: {ref_bytes / 1e6:.2f} MB sent")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pages", default="", help="comma-separated page slugs (home for Home); default all")
    parser.add_argument("--before", type=Path, help="another checkout of aeviz, measured in the same rounds")
    args = parser.parse_args()
    sys.path[:0] = [str(HERE), str(REPO / "tests" / "e2e")]
    from browser import CHROMIUM, CHROMIUM_ARGS, page_slugs
    from load import start_server, stop_server
    from playwright.sync_api import sync_playwright

    slugs = [s for s in page_slugs() if not args.pages or s in args.pages.split(",")]
    checkouts = {"now": REPO, **({"before": args.before.resolve()} if args.before else {})}
    with tempfile.TemporaryDirectory(prefix="aeviz-firstscreen-") as tmp, sync_playwright() as pw:
        servers = {}
        try:
            for name, repo in checkouts.items():
                (Path(tmp) / name).mkdir()
                servers[name] = start_server(Path(tmp) / name, repo=repo)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            with reference_server(Path(tmp)) as reference:
                apps = {name: url for name, (_, url) in servers.items()}
                runs = interleaved(browser, apps, reference, slugs, args.dataset, args.repeats)
            figures = report(runs, list(apps), slugs)
            browser.close()
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    print(json.dumps(figures))


if __name__ == "__main__":
    os.environ.setdefault("AEVIZ_DATA_DIR", str(REPO.parent / "shared" / "data"))
    main()
