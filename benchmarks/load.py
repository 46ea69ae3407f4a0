"""A lecture's worth of students at once: N headless-browser sessions click through the app for a fixed time.

Run: `AEVIZ_DATA_DIR=... python benchmarks/load.py` (30 sessions for 120 s on a server of its own, the figure
the README quotes; `--sessions 3 --seconds 30` for a quick check; `--url http://127.0.0.1:8501 --server-pid PID`
to load a server that is already running). Every session is one Playwright context in one headless Chromium;
it opens a random page, then moves sliders (arrow keys on the thumb) and changes pickers (selectboxes, radio
buttons) with a short think time between actions, and times each action from the key press or click to the
end of the rerun it causes (Streamlit's `data-test-script-state`, fragment reruns included). Errors are
exception boxes, an empty sidebar context, timeouts and browser console errors. The server's memory (its
whole process tree, RSS from /proc) is sampled every 2 s. Prints a table and a final JSON line.

The browser runs on the same machine as the server, so on a 2-core box it takes part of the CPU the students'
own laptops would provide: the latencies are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "e2e")]

from browser import CHROMIUM, CHROMIUM_ARGS, page_slugs  # noqa: E402

MAX_SESSIONS, MAX_SECONDS = 64, 1800  # bounds: a typo must not start 3000 browsers or run all night
IDLE = "[data-test-script-state='notRunning']"
WATCH = """() => {  // log every change of the script state with its time, for the action timings
    window.__aevizLog = [];
    const app = document.querySelector('[data-test-script-state]');
    new MutationObserver(() => window.__aevizLog.push([performance.now(),
        app.getAttribute('data-test-script-state')])).observe(app, {attributes: true,
        attributeFilter: ['data-test-script-state']});
}"""
RERUN_DONE = """([t0, gaveUp]) => {  // when the first rerun after t0 ended; -1: none started and we gave up
    const log = window.__aevizLog || [];
    const run = log.findIndex(([t, s]) => t >= t0 && s === 'running');
    if (run < 0) return gaveUp ? -1 : null;
    const done = log.slice(run).find(([t, s]) => s === 'notRunning');
    return done ? done[0] : null;
}"""


# --- the server and its memory --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    home: Path,
    cpus: set[int] | None = None,
    repo: Path = REPO,
    launcher: tuple[str, ...] = ("-m", "streamlit"),
    **env: str,
) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` of `repo` (default this one: another checkout measures the code before a change)
    on a free localhost port, caches and user folder under `home` (on `cpus` only, if given); returns when it
    answers its health check. `launcher` runs Streamlit's command line (e.g. tests/e2e/slow_imports.py)."""
    port = free_port()
    environ = {**os.environ, "AEVIZ_CACHE_DIR": str(home / "cache"), "AEVIZ_HOME": str(home / "home"), **env}
    environ["PYTHONPATH"] = os.pathsep.join([str(repo), *filter(None, [env.get("PYTHONPATH")])])
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - the server's whole life
    proc = subprocess.Popen(
        [
            sys.executable,
            *launcher,
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=repo,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"streamlit did not start; see {home / 'streamlit.log'}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()  # reaped: an unreaped Popen warns at garbage collection, an error in tests


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (the server's map helper process, the browser's renderers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def tree_usage(pid: int) -> tuple[float, float]:
    """(resident memory in MB, CPU seconds used so far) of a process tree, from /proc."""
    rss_kb, ticks = 0, 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text().splitlines()
            rss_kb += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime of the process itself
        except (OSError, IndexError, ValueError):
            continue
    return rss_kb / 1024, ticks / os.sysconf("SC_CLK_TCK")


# --- one student ---------------------------------------------------------------------------------------------


class Tally:
    """Every session's timings and errors, by kind of action."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.cpu: dict[str, float] = {}

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def time(self, kind: str, ms: float) -> None:
        self.ms.setdefault(kind, []).append(ms)

    def error(self, kind: str, detail: str) -> None:
        self.errors.setdefault(kind, []).append(detail[:300])


async def rerun_ms(page, t0: float, timeout_s: float) -> float | None:
    """Milliseconds from t0 (page clock) to the end of the rerun the action caused; None: it caused none."""
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()
    while time.monotonic() < deadline:
        done = await page.evaluate(RERUN_DONE, [t0, time.monotonic() - started > 5])
        if done == -1:  # no rerun started within 5 s: the value did not change (a slider at its end)
            return None
        if done is not None:
            return done - t0
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no end of the rerun after {timeout_s:.0f} s")


async def open_random_page(page, url: str, rng: random.Random, query: str, tally: Tally, timeout_s: float) -> str:
    slug = rng.choice(page_slugs())
    start = time.perf_counter()
    await page.goto(f"{url}/{'' if slug == 'home' else slug}?{query}")
    await page.wait_for_selector("[data-testid='stApp']", timeout=timeout_s * 1000)
    await page.wait_for_selector(IDLE, state="attached", timeout=timeout_s * 1000)
    await page.wait_for_timeout(300)  # a rerun that the first one asked for (URL sync, rerouting) starts now
    await page.wait_for_selector(IDLE, state="attached", timeout=timeout_s * 1000)
    tally.time(f"open {slug}", 1000 * (time.perf_counter() - start) - 300)
    await page.evaluate(WATCH)
    await check_page(page, slug, tally)
    return slug


async def check_page(page, where: str, tally: Tally) -> None:
    boxes = page.locator("[data-testid='stException']")
    if await boxes.count():
        tally.error("exception", f"{where}: {await boxes.first.inner_text()}")
    if await page.get_by_text("No dataset is available").count():
        tally.error("no_context", f"{where}: the page ran without the sidebar's context")


async def act(page, slug: str, rng: random.Random, tally: Tally, timeout_s: float) -> None:
    """Move one visible slider, or change one picker, of the page's main area, and time its rerun."""
    main = page.locator("[data-testid='stMain']")
    sliders = await main.locator("[data-testid='stSlider']").all()
    pickers = await main.locator("[data-testid='stSelectbox'], [data-testid='stRadio']").all()
    choices = [("slider", s) for s in sliders if await s.is_visible()] + [
        ("picker", p) for p in pickers if await p.is_visible() and not await p.locator("input[disabled]").count()
    ]
    if not choices:
        tally.count("nothing to change")
        return
    kind, element = rng.choice(choices)
    t0 = await page.evaluate("() => performance.now()")
    if kind == "slider":
        thumb = element.get_by_role("slider").first  # Streamlit 1.67: a react-aria range input
        await thumb.focus()
        await thumb.press(rng.choice(["ArrowRight", "ArrowLeft"]))
    elif await element.get_attribute("data-testid") == "stRadio":
        options = await element.locator("label:not(:has(input:checked))").all()
        if not options:
            tally.count("nothing to change")
            return
        await rng.choice(options).click()
    else:
        await element.click()
        options = await page.locator("[role='option'][aria-selected='false']").all()
        if not options:
            await page.keyboard.press("Escape")
            tally.count("nothing to change")
            return
        await rng.choice(options).click()
    ms = await rerun_ms(page, t0, timeout_s)
    if ms is None:
        tally.count(f"{kind} without a rerun")
    else:
        tally.time(f"{kind} {slug}", ms)
    await check_page(page, f"after a {kind} change", tally)


def console_kind(message) -> str:
    """'console' for a real error; 'ignored_*' for what this setup causes and a student's browser would not."""
    where = urllib.parse.urlparse(message.location.get("url") or "")
    if where.hostname and where.hostname not in ("127.0.0.1", "localhost"):
        return "ignored_external"  # an icon from a CDN: the benchmark machine is offline
    if where.path.endswith(("/_stcore/health", "/_stcore/host-config")) and where.path.count("/") > 2:
        return "ignored_probe"  # Streamlit's frontend probes for a base path under a deep link's page path
    return "console"


async def student(browser, url: str, number: int, args, tally: Tally, stop_at: float) -> None:
    rng = random.Random(args.seed * 1000 + number)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(args.timeout_s * 1000)
    page.on(
        "console",
        lambda m: (
            m.type == "error" and tally.error(console_kind(m), f"session {number}: {m.text} ({m.location.get('url')})")
        ),
    )
    page.on("pageerror", lambda e: tally.error("page_error", f"session {number}: {e}"))
    query = urllib.parse.urlencode({"dataset": args.dataset})
    await asyncio.sleep(rng.uniform(0, args.ramp_s))  # students arrive over the first seconds, not in one tick
    try:
        while time.monotonic() < stop_at:
            try:
                slug = await open_random_page(page, url, rng, query, tally, args.timeout_s)
                for _ in range(args.actions):
                    if time.monotonic() >= stop_at:
                        break
                    await asyncio.sleep(args.think_s * rng.uniform(0.5, 1.5))
                    await act(page, slug, rng, tally, args.timeout_s)
            except Exception as exc:  # a timeout or a vanished element: counted, then the next page
                tally.error(
                    "timeout" if "imeout" in type(exc).__name__ + str(exc) else "driver",
                    f"session {number}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                )
    finally:
        await context.close()


async def warm_up(browser, url: str, args) -> None:
    """Open every page once, as a lecturer does before class: first computations (codes of the test set,
    the PCA baseline, noise curves) are then cached and the timed phase sees the server as students do."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    start = time.perf_counter()
    for slug in page_slugs():
        await page.goto(f"{url}/{'' if slug == 'home' else slug}?{urllib.parse.urlencode({'dataset': args.dataset})}")
        await page.wait_for_selector(IDLE, state="attached", timeout=600_000)
        await page.wait_for_timeout(1000)
        await page.wait_for_selector(IDLE, state="attached", timeout=600_000)
    await context.close()
    print(f"warm-up: every page opened once in {time.perf_counter() - start:.0f} s", flush=True)


async def sample_memory(pid: int | None, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    start = time.monotonic()
    while pid is not None and not stop.is_set():
        samples.append((time.monotonic() - start, tree_usage(pid)[0]))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


def cpu_seconds(server_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by the server's process tree and by this benchmark's own (browser included)."""
    ours = tree_usage(os.getpid())[1]
    server = tree_usage(server_pid)[1] if server_pid else 0.0
    mine = ours - server if server_pid in process_tree(os.getpid()) else ours
    return {"server": server, "browser": mine}


async def run_load(url: str, pid: int | None, args) -> tuple[Tally, list[tuple[float, float]]]:
    from playwright.async_api import async_playwright

    tally, samples, stop = Tally(), [], asyncio.Event()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        if not args.cold:
            await warm_up(browser, url, args)
        memory = asyncio.create_task(sample_memory(pid, samples, stop))
        cpu_before = cpu_seconds(pid)
        stop_at = time.monotonic() + args.seconds
        await asyncio.gather(*(student(browser, url, i, args, tally, stop_at) for i in range(args.sessions)))
        tally.cpu = {k: after - cpu_before[k] for k, after in cpu_seconds(pid).items()}
        stop.set()
        await memory
        await browser.close()
    return tally, samples


# --- the report -----------------------------------------------------------------------------------------------


def summarise(tally: Tally, samples: list[tuple[float, float]], args) -> dict[str, float]:
    kinds = {
        kind: [ms for name, values in tally.ms.items() if name.startswith(kind + " ") for ms in values]
        for kind in ("slider", "picker", "open")
    }
    actions, opens = kinds["slider"] + kinds["picker"], kinds["open"]
    pct = lambda values, q, scale=1.0: round(float(np.percentile(values, q)) / scale, 2) if values else None
    after = [rss for t, rss in samples if t >= args.warmup_s] or [rss for _, rss in samples] or [0.0]
    result = {
        "load_sessions": args.sessions,
        "load_seconds": args.seconds,
        "load_errors": sum(len(v) for k, v in tally.errors.items() if not k.startswith("ignored")),
        "load_interactions": len(actions),
        "load_interaction_p50_ms": pct(actions, 50),
        "load_interaction_p95_ms": pct(actions, 95),
        "load_slider_p95_ms": pct(kinds["slider"], 95),
        "load_picker_p95_ms": pct(kinds["picker"], 95),
        "load_page_open_p50_s": pct(opens, 50, 1000),
        "load_page_open_p95_s": pct(opens, 95, 1000),
        "load_rss_start_mb": round(after[0], 1),
        "load_rss_end_mb": round(after[-1], 1),
        "load_rss_max_mb": round(max(after), 1),
        "load_server_cpu_share": round(tally.cpu.get("server", 0) / args.seconds / len(args.cpus), 2),
        "load_browser_cpu_share": round(tally.cpu.get("browser", 0) / args.seconds / len(args.cpus), 2),
    }
    result.update({f"load_errors_{kind}": len(values) for kind, values in sorted(tally.errors.items())})
    return result


def print_report(tally: Tally, result: dict[str, float]) -> None:
    print(f"{'action':28s} {'count':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    for kind in sorted(tally.ms):
        ms = np.array(tally.ms[kind])
        print(f"{kind:28s} {len(ms):6d} {np.percentile(ms, 50):8.0f} {np.percentile(ms, 95):8.0f} {ms.max():8.0f}")
    print(", ".join(f"{n} {what}" for what, n in sorted(tally.counts.items())))
    for kind, details in sorted(tally.errors.items()):
        print(f"{len(details)} {kind} error(s), e.g.:", *sorted(set(details))[:5], sep="\n  ")
    print(
        f"CPU used: server {result['load_server_cpu_share']:.0%}, browsers {result['load_browser_cpu_share']:.0%} "
        "of the cores the run could use"
    )
    print(
        f"server memory after warm-up: {result['load_rss_start_mb']} MB -> {result['load_rss_end_mb']} MB "
        f"(max {result['load_rss_max_mb']} MB)"
    )
    print(json.dumps(result))


def cpu_list(text: str) -> set[int]:
    """'0,1' or '2-5' or '0,2-3' -> a set of core numbers."""
    cores = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    return cores


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--url", help="a server already running on this machine (default: start one)")
    parser.add_argument("--server-pid", type=int, help="with --url: its process id, to sample its memory")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--actions", type=int, default=4, help="actions per page visit")
    parser.add_argument("--think-s", type=float, default=1.0, help="mean pause between actions")
    parser.add_argument("--ramp-s", type=float, default=10.0, help="sessions arrive over this many seconds")
    parser.add_argument("--warmup-s", type=float, default=30.0, help="memory is judged after this")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold", action="store_true", help="no warm-up visit of every page before the clock")
    parser.add_argument(
        "--server-cpus",
        help="e.g. 0,1: pin the server to these cores (students' browsers are "
        "on their own laptops; pin the benchmark's browser elsewhere)",
    )
    parser.add_argument("--browser-cpus", help="e.g. 2-7: pin this benchmark and its browser to these cores")
    args = parser.parse_args(argv)
    args.cpus = os.sched_getaffinity(0)
    if args.browser_cpus:
        os.sched_setaffinity(0, cpu_list(args.browser_cpus))  # inherited by Playwright's driver and Chromium
    if not 1 <= args.sessions <= MAX_SESSIONS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--sessions must be 1..{MAX_SESSIONS} and --seconds 1..{MAX_SECONDS}")
    if args.url and urllib.parse.urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a server on this machine (localhost)")
    with tempfile.TemporaryDirectory(prefix="aeviz-load-") as home:
        server_cpus = cpu_list(args.server_cpus) if args.server_cpus else args.cpus
        proc, url = (None, args.url.rstrip("/")) if args.url else start_server(Path(home), server_cpus)
        pid = proc.pid if proc is not None else args.server_pid
        try:
            tally, samples = asyncio.run(run_load(url, pid, args))
        finally:
            if proc is not None:
                stop_server(proc)
    result = summarise(tally, samples, args)
    print_report(tally, result)
    return result


if __name__ == "__main__":
    main()
