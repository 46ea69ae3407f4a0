"""Server-side rerun time per interaction, page by page: AppTest drives app.py as a browser session would.

Run: `AEVIZ_DATA_DIR=... python benchmarks/latency.py [--page latent_map] [--dataset mnist] [--repeats 20]`.
Each interaction opens its page with its URL state, waits until background jobs are done (maps, kNN), warms
up, then times `repeats` reruns. Prints a table and a final JSON line with `<page>.<interaction>.p50_ms`
and `.p95_ms` keys. Timings are the server-side run: the whole script, or only the st.fragment a widget
lives in (Interaction.fragment), as Streamlit does for widgets inside a fragment. Measure on the target
machine (2 CPU cores for the lecture server): `taskset -c 0,1 python benchmarks/latency.py`.

To add a page: append Interaction(name, act, query, fragment) entries to INTERACTIONS["<page stem>"].
`act(at, i)` performs the i-th interaction on an opened AppTest and returns it after its rerun (alternate
values with i so nothing is served from a cache of the previous run); put `slider` in the name of
slider-driven ones. For a widget inside a fragment, set it and call tests/plotly_events.fragment_run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "e2e")]  # aeviz, the tests' helpers

from plotly_events import fragment_run, select  # noqa: E402


@dataclass(frozen=True)
class Interaction:
    """One thing a user does on a page, timed as the server-side rerun it causes."""

    name: str
    act: Callable  # (AppTest, i) -> AppTest, after its rerun
    query: dict[str, str] = field(default_factory=dict)  # URL state the page opens with
    fragment: str | None = None  # the st.fragment function the widget lives in: only it reruns, as in a browser
    settle_s: float = 600  # how long background jobs may take before timing starts


def _rerun(at, i):
    return at.run()


def _radio(key: str, values: tuple):
    return lambda at, i: at.radio(key=key).set_value(values[i % len(values)]).run()


def _box(size: int, fragment: str | None = "explore"):
    """A box selection of `size` points (a different set each time), as the browser reports it."""
    return lambda at, i: select(
        at, "map_chart", list(range(i % 7, 10_000, max(1, 10_000 // size)))[:size], fragment=fragment
    )


def _click_empty(at, i):
    return select(at, "map_chart", [-1 - (37 + 61 * i) % 900], fragment="explore")  # decode anywhere


INTERACTIONS: dict[str, list[Interaction]] = {
    "latent_map": [
        Interaction("map_warm", _rerun),
        Interaction("selection_gallery", _box(3250), fragment="explore"),
        Interaction("selection_gallery_small", _box(24), fragment="explore"),
        Interaction("selection_gallery_full_rerun", _box(3250, fragment=None)),
        Interaction("click_decode", _click_empty, fragment="explore"),
        Interaction("method_switch", _radio("w_map_method", ("pca", "umap"))),
        Interaction("map_warm_side_by_side", _rerun, {"map_other": "{dataset}-conv-q16-bce"}),
        Interaction("selection_side_by_side", _box(3250), {"map_other": "{dataset}-conv-q16-bce"}, fragment="explore"),
        Interaction("map_warm_70k_pca", _rerun, {"map_split": "all", "map_method": "pca"}),
    ],
}


def share_cache_data() -> None:
    """AppTest gives every run a fresh st.cache_data store, a server keeps one: share one across runs, or each
    timed rerun pays for work a server has cached (scanning the checkpoint folder alone: ~170 ms)."""
    from streamlit.testing.v1 import app_test

    shared = app_test.MemoryCacheStorageManager()
    app_test.MemoryCacheStorageManager = lambda: shared


def open_app(page: str, query: dict[str, str], timeout: float = 600):
    from apptest import run_page

    return run_page(f"pages/{page}.py", query, timeout)


def settle(at, timeout: float):
    """Rerun until no background job shows progress (the browser polls; AppTest must ask)."""
    deadline = time.monotonic() + timeout
    while at.get("progress") and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
    if at.get("progress"):
        raise TimeoutError(f"background jobs still running after {timeout} s")
    return at


def measure(page: str, interaction: Interaction, dataset: str, repeats: int, warmup: int) -> np.ndarray:
    query = {"dataset": dataset, **{k: v.format(dataset=dataset) for k, v in interaction.query.items()}}
    at = settle(open_app(page, query), interaction.settle_s)
    full = at._tree  # a fragment rerun's tree holds the fragment only: the next interaction needs the page's
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        at = interaction.act(at, i)
        elapsed = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"{page}.{interaction.name}: {[e.value for e in at.exception]}")
        if interaction.fragment:
            at._tree = full
        if i >= warmup:
            times.append(1000 * elapsed)
    return np.array(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--page", action="append", choices=sorted(INTERACTIONS), help="default: every page")
    parser.add_argument("--only", action="append", help="interaction names to run (default: all)")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--while-training", action="store_true", help="time them while a job trains")
    parser.add_argument(
        "--browser",
        choices=["auto", "on", "off", "first-screen"],
        default="auto",
        help="cold start, first paint and first screen of every page in Chromium (auto: unless --page/--only); "
        "first-screen: only each page's first screen (benchmarks/firstscreen.py), then the --page reruns",
    )
    parser.add_argument("--browser-repeats", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="each page's first visit on a fresh server, empty cache")
    parser.add_argument(
        "--keep-parsed-data", action="store_true", help="--cold: each fresh cache gets the dataset's parsed arrays"
    )
    parser.add_argument("--cold-child", help=argparse.SUPPRESS)  # one page of --cold, in a process of its own
    args = parser.parse_args(argv)
    if args.cold or args.cold_child:
        return cold_figures(args)
    os.environ.setdefault("AEVIZ_WARM_UP", "1")
    share_cache_data()
    training = start_training(args.dataset) if args.while_training else None
    results: dict[str, float] = {}
    print(
        f"{'interaction':45s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}  (n={args.repeats}, cpus={os.cpu_count()}"
        f", affinity={len(os.sched_getaffinity(0))})"
    )
    if args.browser == "on" or (args.browser == "auto" and not (args.page or args.only)):
        results.update(browser_figures(args.dataset, args.browser_repeats))  # first paint and cold start
    elif args.browser == "first-screen":
        results.update(browser_figures(args.dataset, args.browser_repeats, first_screen_only=True, pages=args.page))
        if not args.page and not args.only:
            print(json.dumps(results))
            return results
    for page in args.page or sorted(INTERACTIONS):
        for interaction in INTERACTIONS[page]:
            if args.only and interaction.name not in args.only:
                continue
            ms = measure(page, interaction, args.dataset, args.repeats, args.warmup)
            key = f"{page}.{interaction.name}"
            results[f"{key}.p50_ms"] = round(float(np.percentile(ms, 50)), 1)
            results[f"{key}.p95_ms"] = round(float(np.percentile(ms, 95)), 1)
            print(
                f"{key:45s} {results[key + '.p50_ms']:8.1f} {results[key + '.p95_ms']:8.1f} {ms.max():8.1f}", flush=True
            )
    if training is not None:
        results = stop_training(training, results)
    print(json.dumps(results))
    return results


def cold_figures(args) -> dict[str, float]:
    """--cold: see benchmarks/cold.py."""
    import cold
    from browser import page_slugs

    if args.cold_child:
        row = cold.child(args.cold_child, args.dataset)
        print(json.dumps(row))
        return row
    results = cold.run_cold(args.page or page_slugs(), args.dataset, args.keep_parsed_data)
    print(json.dumps(results))
    return results


# --- the same reruns while a training job runs in this (server) process ----------------------------

TRAINING: dict = {"job": None}  # the job --while-training started: the Train page's live poll watches it
TRAIN_IMAGES = 10_000


def _home_image(at, i):
    return at.slider(key="w_home_idx").set_value(i % 50).run()


def _train_live_poll(at, i):
    """The Train page showing the running job: what its fragment redraws every 0.5 s (timed as a full run)."""
    if TRAINING["job"] is not None:
        at.query_params["train_job"] = TRAINING["job"].id
    return at.run()


INTERACTIONS.setdefault("home", []).append(Interaction("image_slider", _home_image))
INTERACTIONS.setdefault("train", []).extend([Interaction("form", _rerun), Interaction("live_poll", _train_live_poll)])


def _train_rate(job, seconds: float) -> float:
    """Images per second the job trains over the next `seconds` (from its progress fraction)."""
    first, start = job.snapshot().fraction, time.perf_counter()
    time.sleep(seconds)
    done = job.snapshot().fraction - first
    return done * job.spec.train_config.epochs * TRAIN_IMAGES / (time.perf_counter() - start)


def start_training(dataset: str):
    """A job longer than the measurement in the server's job manager, as the Train page starts it."""
    os.environ.setdefault("AEVIZ_JOB_IDLE_S", "1e9")  # no browser keeps it alive here
    from aeviz import ui  # sets torch's threads as the server does
    from aeviz.jobs import JobSpec
    from aeviz.models import make_config
    from aeviz.train import TrainConfig

    spec = JobSpec(
        "dense",
        make_config("dense", bottleneck=16),
        dataset,
        TrainConfig(epochs=10_000, subset=TRAIN_IMAGES),
        "benchmark-never-saved",
    )
    manager = ui.job_manager()
    job = TRAINING["job"] = manager.submit(spec, owner="benchmark")
    while job.snapshot().epoch < 2:
        time.sleep(0.1)
    alone = _train_rate(job, 5.0)
    print(f"training {dataset} dense q16 alone: {alone:,.0f} images/s", flush=True)
    return manager, job, alone, time.perf_counter(), job.snapshot().fraction


def stop_training(training, results: dict[str, float]) -> dict[str, float]:
    """Prefix the timings, add the job's speed alone and during the reruns, and how fast it cancels."""
    from aeviz.jobs import State

    manager, job, alone, since, fraction = training
    during = (
        (job.snapshot().fraction - fraction)
        * job.spec.train_config.epochs
        * TRAIN_IMAGES
        / (time.perf_counter() - since)
    )
    start = time.perf_counter()
    manager.cancel(job.id)
    while job.snapshot().state != State.CANCELLED:
        time.sleep(0.005)
    cancel_ms = 1000 * (time.perf_counter() - start)
    print(f"training during the reruns: {during:,.0f} images/s; cancelled in {cancel_ms:.0f} ms", flush=True)
    return {
        **{f"while_training.{k}": v for k, v in results.items()},
        "training.images_per_s_alone": round(alone),
        "training.images_per_s_during_reruns": round(during),
        "training.cancel_ms": round(cancel_ms),
    }


# --- the denoising and VAE pages (their scrub sliders run in the browser: no rerun to time) -------


def _slider(key: str, values: tuple, fragment: str | None = None):
    def act(at, i):
        at.slider(key=key).set_value(values[i % len(values)])
        return fragment_run(at, fragment) if fragment else at.run()

    return act


def _select_index(key: str, count: int):
    return lambda at, i: at.selectbox(key=key).select_index(i % count).run()


def _radio_in(key: str, values: tuple, fragment: str):
    def act(at, i):
        at.radio(key=key).set_value(values[i % len(values)])
        return fragment_run(at, fragment)

    return act


def _resample(at, i):
    at.button(key="vae_resample").click()
    return fragment_run(at, "sample_view")


def _new_noise_seed(at, i):
    """A noise seed never seen before: the full cost of a new scrub (sweep, 21 frames, 21 PNGs), no cache."""
    return at.slider(key="w_dn_seed").set_value(10 + i).run()


INTERACTIONS.setdefault("denoising", []).extend(
    [
        Interaction("page_warm", _rerun),
        Interaction("noise_kind", _radio("w_dn_kind", ("gaussian", "masking", "salt_pepper"))),
        Interaction("image_draw_slider", _slider("w_dn_img_seed", (0, 1, 2))),
        Interaction("noise_seed_slider", _slider("w_dn_seed", (0, 1, 2))),
        Interaction("noise_seed_slider_uncached", _new_noise_seed),
    ]
)
INTERACTIONS.setdefault("vae", []).extend(
    [
        Interaction("page_warm", _rerun),
        Interaction("model_switch", _select_index("w_vae_model", 2)),
        Interaction("image_draw_slider", _slider("w_vae_pair_seed", (0, 1, 2))),
        Interaction("dims_slider", _slider("w_vae_dims", (4, 8, 12), "dims_view"), fragment="dims_view"),
        Interaction("traverse_image", _radio_in("w_vae_trav", ("A", "B"), "dims_view"), fragment="dims_view"),
        Interaction(
            "temperature_slider", _slider("w_vae_temp", (0.5, 1.0, 1.5), "sample_view"), fragment="sample_view"
        ),
        Interaction("resample", _resample, fragment="sample_view"),
    ]
)


# --- pages not covered above; page first paint in a real browser; cold start to a usable home -------


def _with_own_image(act):
    """Your images needs an image of the user's: put one test image into the session once, then act."""

    def with_image(at, i):
        if not at.session_state.get("aeviz_user_images"):
            from aeviz import images

            picture = at.session_state["aeviz_context"].test.images[0, 0].numpy()  # a test image, (H,W)
            at.session_state["aeviz_user_images"] = [images.Preprocessed(picture, (), False, "benchmark")]
            at = at.run()  # the page with the image (only the warm-up runs get here)
        return act(at, i)

    return with_image


INTERACTIONS.setdefault("reconstructions", []).extend(
    [
        Interaction("page_warm", _rerun),
        Interaction("image_draw_slider", _slider("w_rec_seed", (0, 1, 2), "grid_view"), fragment="grid_view"),
        Interaction("family_switch", _radio("w_rec_family", ("dense", "conv"))),
    ]
)
INTERACTIONS.setdefault("anomalies", []).extend(
    [
        Interaction("page_warm", _rerun),
        Interaction("flag_slider", _slider("w_err_flag", (0.5, 1.0, 2.0), "threshold_view"), fragment="threshold_view"),
        Interaction("gallery_size_slider", _slider("w_err_k", (4, 8, 12), "gallery_view"), fragment="gallery_view"),
        Interaction("gallery_size_slider_full_rerun", _slider("w_err_k", (4, 8, 12))),  # a URL shared at that size
        Interaction("inject_count_slider", _slider("w_err_n", (50, 100, 150))),
        Interaction("metric_switch", _radio("w_err_metric", ("mse", "bce"))),
    ]
)
INTERACTIONS.setdefault("your_images", []).extend(
    [
        Interaction("page_warm", _with_own_image(_rerun)),
        Interaction("metric_switch", _with_own_image(_radio("w_you_metric", ("mse", "bce")))),
    ]
)
INTERACTIONS.setdefault("reproduce", []).append(Interaction("page_warm", _rerun))


def _idle(tab, timeout_ms: float) -> None:
    """The run has ended, and no second one (URL sync, rerouting) follows within 300 ms."""
    from load import IDLE

    tab.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)
    tab.wait_for_timeout(300)
    tab.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)


def _open_s(browser, url: str, timeout_ms: float = 300_000) -> float:
    """Seconds from typing the URL in a new browser session to its page fully drawn (minus the 300 ms check)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    start = time.perf_counter()
    tab.goto(url)
    _idle(tab, timeout_ms)
    elapsed = time.perf_counter() - start - 0.3
    if tab.locator("[data-testid='stException']").count():
        raise RuntimeError(f"{url}: {tab.locator('[data-testid=stException]').first.inner_text()}")
    context.close()
    return elapsed


def _cold_start_s(browser, home: Path, dataset: str) -> float:
    """From `streamlit run app.py` to the home page drawn in a browser, image and slider included."""
    from load import start_server, stop_server

    start = time.perf_counter()
    proc, url = start_server(home)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.goto(f"{url}/?dataset={dataset}")
        tab.wait_for_selector("[data-testid='stMain'] [data-testid='stImage'] img", timeout=300_000)
        tab.wait_for_selector("[data-testid='stMain'] [data-testid='stSlider']", timeout=300_000)
        _idle(tab, 300_000)
        elapsed = time.perf_counter() - start - 0.3
        context.close()
        return elapsed
    finally:
        stop_server(proc)


def browser_figures(
    dataset: str, repeats: int, first_screen_only: bool = False, pages: list[str] | None = None
) -> dict[str, float]:
    """Cold start to a usable home (empty caches, then a restart with the caches on disk), and each page's
    first paint on a warm server: a new browser session opening the page, until its run has ended; then
    each page's first screen (benchmarks/firstscreen.py)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO / "tests" / "e2e")]
    from browser import CHROMIUM, CHROMIUM_ARGS, page_slugs
    from firstscreen import first_screens
    from load import start_server, stop_server

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="aeviz-latency-") as home, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        if not first_screen_only:
            results["app.cold_start_to_usable_home_s"] = round(_cold_start_s(browser, Path(home), dataset), 2)
            results["app.restart_to_usable_home_s"] = round(_cold_start_s(browser, Path(home), dataset), 2)
            for key in ("app.cold_start_to_usable_home_s", "app.restart_to_usable_home_s"):
                print(f"{key:45s} {results[key]:8.2f}", flush=True)
        proc, url = start_server(Path(home))
        try:
            slugs = [s for s in page_slugs() if not pages or s in pages]
            for slug in [] if first_screen_only else slugs:
                page_url = f"{url}/{'' if slug == 'home' else slug}?dataset={dataset}"
                _open_s(browser, page_url)  # the first visit computes and caches; then it is warm
                seconds = np.array([_open_s(browser, page_url) for _ in range(repeats)])
                for q in (50, 95):
                    results[f"{slug}.first_paint_warm.p{q}_s"] = round(float(np.percentile(seconds, q)), 2)
                print(
                    f"{slug + '.first_paint_warm (s)':45s} {np.percentile(seconds, 50):8.2f} "
                    f"{np.percentile(seconds, 95):8.2f} {seconds.max():8.2f}",
                    flush=True,
                )
            results.update(first_screens(browser, url, dataset, repeats, slugs))
        finally:
            stop_server(proc)
        browser.close()
    return results


if __name__ == "__main__":
    main()
