"""Cold start, page by page: each page's first visit on a freshly started server with an empty cache.

Run through `python benchmarks/latency.py --cold [--page train] [--dataset mnist]` (2 cores for the lecture
server: `taskset -c 0,1 python benchmarks/latency.py --cold`). For every page a new process with empty
AEVIZ_CACHE_DIR and AEVIZ_HOME folders plays the server. Streamlit is set up first, as `streamlit run` does
before anyone connects; then its first run (the lecturer opening the app on the home page: importing torch
and aeviz, parsing the test set, scanning the checkpoints) is timed as `start_first_page_s`; it waits until
the start-up work (ui.warm_start: datasets parsed, shipped baselines checked, training speed timed) has
finished (`start_ready_s`); then a new session visits the page, and that run, server-side, is the page's
`first_visit_s`. A page whose slow part runs in a background job (a map fit) shows a progress bar within that
run: marked in the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 3.0


def _session(page: str, dataset: str):
    """A new browser session: its first run (app.py's default page), then `page` when it is another one."""
    from latency import open_app

    start = time.perf_counter()
    at = open_app(page, {"dataset": dataset})
    return at, time.perf_counter() - start


def _page_run(page: str, dataset: str) -> tuple[float, bool]:
    """Seconds of `page`'s first run in a new session (the home run before it excluded), and whether it left
    a background job's progress bar."""
    from apptest import new_session

    at = new_session({"dataset": dataset}, timeout=600)
    start = time.perf_counter()
    at.run()
    if page != "home":
        at.switch_page(f"pages/{page}.py")
        start = time.perf_counter()
        at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{page}: {[e.value for e in at.exception]}")
    return elapsed, bool(at.get("progress"))


def child(page: str, dataset: str, ready_timeout: float = 300) -> dict:
    """In a fresh process: start the 'server' (first run), wait for its start-up work, time `page`'s first visit."""
    from latency import share_cache_data
    from streamlit.testing.v1 import AppTest

    share_cache_data()
    AppTest.from_string("import streamlit as st\nst.write('up')").run()  # what `streamlit run` does before
    at, first = _session("home", dataset)  # anyone connects (AppTest's component scan alone took 4 s here)
    if at.exception:
        raise RuntimeError(f"home: {[e.value for e in at.exception]}")
    from aeviz import ui

    start = time.perf_counter()
    ready = ui.wait_until_warm(ready_timeout) if hasattr(ui, "wait_until_warm") else None  # older versions
    ready_s = time.perf_counter() - start
    seconds, pending = _page_run(page, dataset)
    return {
        "page": page,
        "first_page_s": round(first, 2),
        "ready_s": round(ready_s, 2),
        "ready": ready,
        "first_visit_s": round(seconds, 2),
        "pending": pending,
    }


def copy_parsed(cache: Path, dataset: str = "") -> None:
    """This machine's parsed dataset arrays (one dataset's, or all) into a fresh cache: CIFAR-10's 60,000 JPEGs
    take a first server two minutes to read, once per machine, which would otherwise be every fresh server's start
    here (and longer than a page may take to open in screenshots.py)."""
    import shutil

    from aeviz.diskcache import cache_dir

    (cache / "datasets").mkdir(parents=True, exist_ok=True)
    for path in (cache_dir() / "datasets").glob(f"{dataset}-*.npz" if dataset else "*.npz"):
        shutil.copy(path, cache / "datasets" / path.name)


def run_cold(pages: list[str], dataset: str, keep_parsed: bool = False) -> dict[str, float]:
    """Every page in a process of its own, each with empty caches (but the dataset's parsed arrays, with
    `keep_parsed`); prints a table, returns the figures."""
    results: dict[str, float] = {}
    title = "page (cold server, " + ("parsed data kept)" if keep_parsed else "empty cache)")
    print(
        f"{title:34s} {'first page':>10s} {'ready':>7s} {'first visit':>11s}  "
        f"(s, affinity={len(os.sched_getaffinity(0))} cpus, target <= {TARGET_S:g} s)",
        flush=True,
    )
    for page in pages:
        with tempfile.TemporaryDirectory(prefix="aeviz-cold-") as home:
            env = {**os.environ, "AEVIZ_CACHE_DIR": f"{home}/cache", "AEVIZ_HOME": f"{home}/home"}
            if keep_parsed:
                copy_parsed(Path(home) / "cache", dataset)
            env.pop("AEVIZ_WARM_UP", None)  # the server's own warm-ups, as `streamlit run` has them
            out = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).with_name("latency.py")),
                    "--cold-child",
                    page,
                    "--dataset",
                    dataset,
                ],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
            )
        line = next((x for x in reversed(out.stdout.splitlines()) if x.startswith("{")), None)
        if out.returncode or line is None:
            raise RuntimeError(f"cold {page} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
        row = json.loads(line)
        mark = " (background job still running)" if row["pending"] else ""
        print(
            f"{page:34s} {row['first_page_s']:10.2f} {row['ready_s']:7.2f} {row['first_visit_s']:11.2f}"
            f"{'' if row['first_visit_s'] <= TARGET_S else '  over target'}{mark}",
            flush=True,
        )
        results[f"cold.{page}.first_visit_s"] = row["first_visit_s"]
        results[f"cold.{page}.start_first_page_s"] = row["first_page_s"]
        results[f"cold.{page}.start_ready_s"] = row["ready_s"]
    visits = [v for k, v in results.items() if k.endswith(".first_visit_s")]
    results["cold.max_first_visit_s"] = max(visits)
    return results
