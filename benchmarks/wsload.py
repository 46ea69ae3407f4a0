"""A lecture's load on the server alone: N students speaking Streamlit's websocket protocol, no browsers.

Run: `AEVIZ_DATA_DIR=... python benchmarks/wsload.py [--sessions 30] [--seconds 120] [--placement both]`.
`load.py` drives real Chromium tabs, but on the lecture server's 2 cores 30 headless browsers use most of
the CPU themselves (in a lecture they run on the students' laptops). Here each student is a websocket
client that does what the browser's script runner does: it opens a page (a rerun request with the page's
hash and a query string), waits for the run's `script_finished`, then moves sliders it was sent (a rerun
with the new widget value) with about a second of thinking in between, and now and then opens another page.
A slider inside a fragment is rerun as a whole page here, so the figures are an upper bound. Prints a table
and a final JSON line: errors (exception elements, runs that never finished), p50/p95 per kind of action,
and the server's memory after warm-up and at the end.

Cold start (`--cold-servers 3 --sessions 12`): a class opening the app at the same moment on a freshly started
server. For each of that many fresh servers, `--sessions` students connect, then all ask for a chart page in the
same instant, with no visit before them; it prints each server's error pages (exception elements, runs that never
finished) and a JSON line with their total. `--slow-import pandas=12` stretches that package's import on the
server to 12 s, as a loaded machine would, so that a race on it shows every time rather than now and then.

Replicas (`--replicas 1,2,4 --sessions 100,300`): the scale-out recipe of deploy/ (issue 32). For each replica
count, that many servers sharing one AEVIZ_HOME and cookie secret behind nginx (deploy/nginx.conf), every page of
each opened once beforehand; then each class size in turn through nginx. Prints slider and page-open p50/p95,
errors, each replica's memory and CPU seconds, and CPU seconds per interaction, and one JSON line per run.

Placement: on one machine the load generator takes CPU from the server. `--server-cpus 0 --client-cpus 1`
pins the server (as `taskset -c 0` would; its helper processes inherit it) and this process to cores of their
own, so the figures are the server's on that core; `--placement shared` runs both on every core (the default
runs them unpinned, as before), and `--placement both` runs shared then split back to back, each on a fresh
server, and prints both tables and one JSON line with `shared.` and `split.` keys.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_TESTS = Path(__file__).resolve().parent.parent / "tests" / "e2e"
sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO_TESTS)]
from load import Tally, free_port, start_server, stop_server, tree_usage  # noqa: E402
from wsclient import Student, cold_class  # noqa: E402

PAGES = ("", "reconstructions", "latent_map", "denoising", "vae", "anomalies", "your_images", "train", "reproduce")


async def student(url: str, index: int, args, tally: Tally, stop_at: float) -> None:
    import websockets

    rng = random.Random(args.seed + index)
    await asyncio.sleep(rng.uniform(0, args.ramp_s))  # the class does not all arrive in the same second
    uri = url.replace("http://", "ws://") + "/_stcore/stream"
    try:
        connection = await websockets.connect(
            uri, subprotocols=["streamlit"], max_size=2**26, open_timeout=args.timeout_s
        )
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:  # a server too busy to take the student
        tally.error("connect", f"{type(exc).__name__}: {exc}"[:200])
        return
    try:
        async with connection as ws:
            await _session(Student(ws, f"dataset={args.dataset}"), rng, tally, args, stop_at)
    except websockets.ConnectionClosed as exc:  # the server (or nginx) dropped the student: an error, not a crash
        tally.error("dropped", f"{type(exc).__name__}: {exc}"[:200])


async def _session(me: Student, rng: random.Random, tally: Tally, args, stop_at: float) -> None:
    page = await open_page(me, rng.choice(PAGES), tally, args)
    while time.monotonic() < stop_at:
        await asyncio.sleep(rng.expovariate(1 / args.think_s))
        if rng.random() < 1 / args.actions:
            page = await open_page(me, rng.choice(PAGES), tally, args)
            continue
        move = me.slider_move(rng)
        if move is None:
            tally.count("nothing to change")
            continue
        await timed(me, f"slider {page or 'home'}", tally, args, page_name=page, widgets=move)


async def open_page(me: Student, page: str, tally: Tally, args) -> str:
    me.sliders.clear()
    await timed(me, f"open {page or 'home'}", tally, args, page_name=page)
    return page


SLOW: list[tuple[float, float, str]] = []  # (start s, ms, action) of runs over 2 s: do they cluster in time?


async def timed(me: Student, kind: str, tally: Tally, args, **request) -> None:
    try:
        started = time.monotonic()
        ms, errors = await me.run(timeout_s=args.timeout_s, **request)
        tally.time(kind, ms)
        if ms > 2000:
            SLOW.append((started, ms, kind))
        for message in errors:
            tally.error("exception", f"{kind}: {message}")
    except (asyncio.TimeoutError, TimeoutError):
        tally.error("timeout", f"{kind}: no end of the run after {args.timeout_s:.0f} s")


async def sample_memory(pid: int, samples: list[tuple[float, float]], start: float, stop_at: float) -> None:
    while time.monotonic() < stop_at:
        samples.append((time.monotonic() - start, tree_usage(pid)[0]))
        await asyncio.sleep(2)


async def run(url: str, pid: int, args) -> tuple[Tally, list[tuple[float, float]], float]:
    tally, samples = Tally(), []
    start = time.monotonic()
    stop_at = start + args.seconds
    cpu_before = tree_usage(pid)[1]
    await asyncio.gather(
        sample_memory(pid, samples, start, stop_at),
        *(student(url, i, args, tally, stop_at) for i in range(args.sessions)),
    )
    return tally, samples, tree_usage(pid)[1] - cpu_before


def report(tally: Tally, samples, cpu_s: float, args) -> dict:
    pct = lambda v, q: round(float(np.percentile(v, q)), 1) if v else None
    by_kind = {
        k: [ms for name, values in tally.ms.items() if name.startswith(k) for ms in values] for k in ("slider", "open")
    }
    after = [rss for t, rss in samples if t >= args.warmup_s] or [rss for _, rss in samples] or [0.0]
    result = {
        "wsload_sessions": args.sessions,
        "wsload_seconds": args.seconds,
        "wsload_errors": sum(len(v) for v in tally.errors.values()),
        "wsload_slider_reruns": len(by_kind["slider"]),
        "wsload_slider_p50_ms": pct(by_kind["slider"], 50),
        "wsload_slider_p95_ms": pct(by_kind["slider"], 95),
        "wsload_page_open_p50_ms": pct(by_kind["open"], 50),
        "wsload_page_open_p95_ms": pct(by_kind["open"], 95),
        "wsload_rss_after_warmup_mb": round(after[0], 1),
        "wsload_rss_end_mb": round(after[-1], 1),
        "wsload_rss_max_mb": round(max(after), 1),
        "wsload_server_cpu_s": round(cpu_s, 1),
    }
    print(f"{'action':28s} {'count':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    for kind in sorted(tally.ms):
        ms = np.array(tally.ms[kind])
        print(f"{kind:28s} {len(ms):6d} {np.percentile(ms, 50):8.0f} {np.percentile(ms, 95):8.0f} {ms.max():8.0f}")
    for kind, details in sorted(tally.errors.items()):
        print(f"{len(details)} {kind} error(s), e.g.:", *sorted(set(details))[:5], sep="\n  ")
    if SLOW:
        first = min(t for t, _, _ in SLOW)
        print(
            "runs over 2 s (start s after the first, ms, action):",
            "; ".join(f"{t - first:.1f} {ms:.0f} {kind}" for t, ms, kind in sorted(SLOW)[:30]),
            f"... ({len(SLOW)} in all)" if len(SLOW) > 30 else "",
        )
    print(
        f"server: {cpu_s:.0f} CPU seconds in {args.seconds:.0f} s; memory after warm-up {after[0]:.0f} MB, "
        f"at the end {after[-1]:.0f} MB (max {max(after):.0f} MB)"
    )
    return result


def measure_cold(args) -> dict:
    """`args.cold_servers` fresh servers, each opened by a whole class at once: error pages per server."""
    per_server = []
    for n in range(args.cold_servers):
        with tempfile.TemporaryDirectory(prefix="aeviz-wsload-cold-") as home:
            launcher = ("-m", "streamlit")
            if args.slow_import:  # e.g. pandas=12: a loaded machine's import, stretched (tests/e2e/slow_imports.py)
                launcher = (str(REPO_TESTS / "slow_imports.py"), *args.slow_import, "--")
            proc, url = start_server(Path(home), launcher=launcher)
            try:
                visits = asyncio.run(cold_class(url, args.sessions, args.dataset, args.timeout_s))
            finally:
                stop_server(proc)
        failed = [v for v in visits if v.errors]
        per_server.append(len(failed))
        print(
            f"server {n + 1}: {args.sessions} sessions opened chart pages at once: {len(failed)} error page(s); "
            f"slowest page {max(v.ms for v in visits) / 1000:.1f} s"
        )
        for visit in failed:
            print(f"  {visit.page}: {visit.errors[0]}")
    result = {
        "wsload_cold_sessions": args.sessions,
        "wsload_cold_servers": args.cold_servers,
        "wsload_cold_error_pages": sum(per_server),
        "wsload_cold_servers_with_errors": sum(e > 0 for e in per_server),
    }
    print(json.dumps(result))
    return result


def cpu_set(text: str | None) -> set[int] | None:
    """'0', '0,1' or '0-3' as a set of core numbers (None stays None: unpinned)."""
    if text is None:
        return None
    cores: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cores |= set(range(int(low), int(high or low) + 1))
    return cores


def placements(args) -> list[tuple[str, set[int] | None, set[int] | None]]:
    """(name, server cores, load generator cores) of each run the arguments ask for."""
    every = os.sched_getaffinity(0)
    server, client = cpu_set(args.server_cpus), cpu_set(args.client_cpus)
    for cores in (server, client):
        if cores and not cores <= every:
            raise SystemExit(f"cores {sorted(cores)} are not all available here (this process may use {sorted(every)})")
    split = ("split", server or {min(every)}, client or {max(every)})
    if split[1] & split[2]:
        raise SystemExit("a split placement needs two cores (or disjoint --server-cpus and --client-cpus)")
    chosen = {
        "none": [("unpinned", server, client)],
        "shared": [("shared", every, every)],
        "split": [split],
        "both": [("shared", every, every), split],
    }
    return chosen[args.placement]


def measure(name: str, server_cpus, client_cpus, args) -> dict:
    """One run on a fresh server: warm-up visit, the class, the report (its keys as `report` returns them)."""
    SLOW.clear()
    os.sched_setaffinity(0, client_cpus or os.sched_getaffinity(0))  # threads started later (asyncio's) inherit it
    cpu_before = os.times()
    with tempfile.TemporaryDirectory(prefix="aeviz-wsload-") as home:
        proc, url = start_server(Path(home), cpus=server_cpus)
        try:
            asyncio.run(_visit_all(url, args))  # as a lecturer does before class: every page once, caches warm
            cpu_before = os.times()
            tally, samples, cpu_s = asyncio.run(run(url, proc.pid, args))
        finally:
            stop_server(proc)
    client_cpu_s = sum(os.times()[:2]) - sum(cpu_before[:2])
    where = lambda cores: ",".join(map(str, sorted(cores))) if cores else "any"
    print(f"\n== placement {name}: server on cores {where(server_cpus)}, load generator on {where(client_cpus)}")
    print(f"load generator: {client_cpu_s:.0f} CPU seconds in {args.seconds:.0f} s")
    extra = {
        "wsload_placement": name,
        "wsload_server_cpus": where(server_cpus),
        "wsload_client_cpus": where(client_cpus),
        "wsload_client_cpu_s": round(client_cpu_s, 1),
    }
    result = {**report(tally, samples, cpu_s, args), **extra}
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", dest="sessions_text", default="30", help="students; with --replicas: 100,300")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--think-s", type=float, default=1.0, help="mean pause between actions")
    parser.add_argument("--actions", type=int, default=6, help="mean actions per page before opening another")
    parser.add_argument("--ramp-s", type=float, default=10.0, help="students arrive over this many seconds")
    parser.add_argument("--warmup-s", type=float, default=30.0, help="memory is judged after this")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--server-cpus", help="cores of the server, e.g. 0 (as taskset -c); implies split")
    parser.add_argument("--client-cpus", help="cores of this load generator, e.g. 1; implies split")
    parser.add_argument(
        "--placement",
        choices=["none", "shared", "split", "both"],
        help="none: unpinned (default); shared: both on every core; split: each on its own; both: shared, then split",
    )
    parser.add_argument(
        "--cold-servers", type=int, default=0, help="instead: this many fresh servers, each opened by a class at once"
    )
    parser.add_argument(
        "--slow-import", action="append", default=[], help="with --cold-servers: e.g. pandas=12 (seconds)"
    )
    parser.add_argument(
        "--replicas", type=lambda t: [int(n) for n in t.split(",")], help="e.g. 1,2,4: replicas behind nginx"
    )
    args = parser.parse_args()
    args.sessions = int(args.sessions_text.split(",")[0])
    if args.replicas:
        args.sessions_list = [int(n) for n in str(args.sessions_text).split(",")]
        measure_replicas(args)
        return
    if args.cold_servers:
        measure_cold(args)
        return
    if args.placement is None:
        args.placement = "split" if args.server_cpus or args.client_cpus else "none"
    runs = [(name, measure(name, server, client, args)) for name, server, client in placements(args)]
    if len(runs) > 1:
        print("\n== placements side by side")
        keys = ("slider_p50_ms", "slider_p95_ms", "page_open_p50_ms", "page_open_p95_ms", "errors")
        print(f"{'placement':12s}", *(f"{k:>17s}" for k in keys), f"{'RSS warm/end MB':>17s}")
        for name, result in runs:
            rss = f"{result['wsload_rss_after_warmup_mb']:.0f}/{result['wsload_rss_end_mb']:.0f}"
            print(f"{name:12s}", *(f"{result['wsload_' + k]!s:>17s}" for k in keys), f"{rss:>17s}")
        print(json.dumps({f"{name}.{k}": v for name, result in runs for k, v in result.items()}))


def measure_replicas(args) -> list[dict]:
    """Each replica count of `--replicas` behind nginx, each class size of `--sessions` against it."""
    import secrets
    import shutil
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))
    from nginxconf import render

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    results = []
    for replicas in args.replicas:
        with tempfile.TemporaryDirectory(prefix="aeviz-wsload-replicas-") as tmp:
            run_dir, shared = Path(tmp), Path(tmp) / "home"
            env = {"AEVIZ_HOME": str(shared), "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
            homes = [run_dir / f"replica{i}" for i in range(replicas)]
            for home in homes:
                home.mkdir()
            with ThreadPoolExecutor(replicas) as pool:
                servers = list(pool.map(lambda home, env=env: start_server(home, **env), homes))
            listen = f"127.0.0.1:{free_port()}"
            conf = render(run_dir, listen, [url.removeprefix("http://") for _, url in servers])
            proxy = subprocess.Popen([nginx, "-p", str(run_dir), "-c", str(conf), "-g", "daemon off;"])
            try:
                for _, url in servers:  # as a lecturer does before class: every page once on every replica
                    asyncio.run(_visit_all(url, args))
                for sessions in args.sessions_list:
                    results.append(_replica_run(f"http://{listen}", [p.pid for p, _ in servers], sessions, args))
            finally:
                proxy.terminate()
                proxy.wait(10)
                for proc, _ in servers:
                    stop_server(proc)
    print("\n== replicas side by side (this machine's cores run the replicas, nginx and the students)")
    keys = ("slider_p50_ms", "slider_p95_ms", "page_open_p50_ms", "page_open_p95_ms", "errors")
    heads = (*(f"{k:>17s}" for k in keys), f"{'MB/replica':>11s} {'CPU ms/act':>10s}")
    print(f"{'replicas':>8s} {'students':>8s}", *heads)
    for r in results:
        print(
            f"{r['wsload_replicas']:8d} {r['wsload_sessions']:8d}",
            *(f"{r['wsload_' + k]!s:>17s}" for k in keys),
            f"{r['wsload_rss_per_replica_mb']:11.0f} {r['wsload_cpu_ms_per_action']:10.0f}",
        )
    return results


def _replica_run(url: str, pids: list[int], sessions: int, args) -> dict:
    SLOW.clear()
    args.sessions = sessions
    cpu_before = [tree_usage(pid)[1] for pid in pids]
    tally, samples, _ = asyncio.run(run(url, pids[0], args))
    usage = [tree_usage(pid) for pid in pids]
    cpu = [after - before for (_, after), before in zip(usage, cpu_before, strict=True)]
    print(f"\n== {len(pids)} replica(s) behind nginx, {sessions} students for {args.seconds:.0f} s")
    result = report(tally, samples, sum(cpu), args)
    actions = result["wsload_slider_reruns"] + sum(len(v) for k, v in tally.ms.items() if k.startswith("open"))
    result.update(
        wsload_replicas=len(pids),
        wsload_rss_per_replica_mb=round(sum(rss for rss, _ in usage) / len(pids), 1),
        wsload_rss_replicas_mb=[round(rss) for rss, _ in usage],
        wsload_cpu_s_replicas=[round(c, 1) for c in cpu],
        wsload_cpu_ms_per_action=round(1000 * sum(cpu) / max(1, actions), 1),
    )
    print(json.dumps(result))
    return result


async def _visit_all(url: str, args) -> None:
    import websockets

    async with websockets.connect(
        url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"], max_size=2**26
    ) as ws:
        me = Student(ws, f"dataset={args.dataset}")
        for page in PAGES:
            await me.run(page_name=page, timeout_s=300)


if __name__ == "__main__":
    main()
