"""Training jobs on Ray against local child processes: start overhead, whole-job time and Cancel, in one run.

Run: `AEVIZ_DATA_DIR=... python benchmarks/ray_jobs.py [--jobs 3]` (needs `pip install -e ".[cluster]"`). Starts
a Ray head and one worker node with `ray start` (tests/raycluster.py), then for each back-end trains `--jobs` tiny
jobs one after another (dense, 8x8 digits, 1 epoch) and reports, per back-end, the median seconds from submit()
to the first progress report (the start overhead: a process, torch, the data, the probe; on Ray also the actor's
placement) and to the saved model; then cancels a running job and times until its process has gone. Prints a
table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from raycluster import RayCluster


def timed_job(manager, name: str) -> tuple[float, float]:
    from aeviz.jobs import JobSpec, State
    from aeviz.models import make_config
    from aeviz.train import TrainConfig

    spec = JobSpec("dense", make_config("dense"), "digits", TrainConfig(epochs=1, batch_size=64), name, "")
    start = time.monotonic()
    job = manager.submit(spec, f"session-{name}", f"browser-{name}")
    first = None
    while (snap := manager.snapshot(job.id)).active:
        if first is None and snap.steps:
            first = time.monotonic() - start
        time.sleep(0.02)
    if snap.state != State.DONE:
        raise SystemExit(f"{name}: {snap.state} {snap.message}")
    return first or time.monotonic() - start, time.monotonic() - start


def cancel_time(manager) -> float:
    from aeviz.jobs import JobSpec
    from aeviz.models import make_config
    from aeviz.train import TrainConfig

    spec = JobSpec("conv", make_config("conv"), "digits", TrainConfig(epochs=100, batch_size=16), "cancel", "")
    job = manager.submit(spec, "session-cancel", "browser-cancel")
    while not manager.snapshot(job.id).steps:
        time.sleep(0.05)
    pid = manager.get(job.id).pid
    start = time.monotonic()
    manager.cancel(job.id)
    while os.path.exists(f"/proc/{pid}") and "zombie" not in _state(pid):
        time.sleep(0.01)
    return time.monotonic() - start


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(AEVIZ_HOME=tempfile.mkdtemp(prefix="aeviz-rayjobs-"), AEVIZ_JOB_THREADS="1")
    os.environ["AEVIZ_JOB_MEMORY_MB"] = "2000"
    cluster = RayCluster(workers=1, cpus=2).start()
    results = {}
    try:
        from aeviz.jobs import JobManager
        from aeviz.jobs.cluster import RayJobManager

        for name, manager in (("local", JobManager()), ("ray", RayJobManager(cluster.address))):
            runs = [timed_job(manager, f"{name}-{n}") for n in range(args.jobs)]
            results[name] = {
                "first_progress_s": round(statistics.median(r[0] for r in runs), 2),
                "saved_s": round(statistics.median(r[1] for r in runs), 2),
                "cancel_to_gone_s": round(cancel_time(manager), 2),
            }
            manager.shutdown()
    finally:
        cluster.stop()
    print(f"{'back-end':10s} {'submit->1st progress s':>24s} {'submit->saved s':>16s} {'cancel->gone s':>15s}")
    for name, r in results.items():
        print(f"{name:10s} {r['first_progress_s']:24.2f} {r['saved_s']:16.2f} {r['cancel_to_gone_s']:15.2f}")
    print(json.dumps({f"{k}.{m}": v for k, r in results.items() for m, v in r.items()}))


if __name__ == "__main__":
    main()
