"""What the worst training jobs cost the server: the probe's verdict, memory, and time from Cancel to stop.

    python benchmarks/job_limits.py            # MNIST when available (AEVIZ_DATA_DIR), else the 8x8 digits

Prints a table and a final JSON line. The worst job the Train page's form can start is a contractive
autoencoder with a conv body, q=256 and batch 1024 (its conv Jacobian needs ~16-25 MB per image per step).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aeviz.data import available_datasets
from aeviz.jobs import JobManager, JobSpec
from aeviz.jobs.worker import _status_mb, rss_mb
from aeviz.models import make_config
from aeviz.train import TrainConfig


def run(jm: JobManager, spec: JobSpec, *, cancel_when=None) -> dict:
    """Run one job; with `cancel_when(snapshot)`, cancel it once that holds and time the stop."""
    job, child_peak, asked = jm.submit(spec, owner="bench"), 0.0, None
    while (snap := jm.snapshot(job.id)).active:
        if job.pid:
            child_peak = max(child_peak, _status_mb(job.pid, "VmHWM") or 0.0)
        if cancel_when is not None and asked is None and cancel_when(snap):
            asked = time.monotonic()
            jm.cancel(job.id)
        time.sleep(0.02)
    stopped = time.monotonic()
    return {
        "state": snap.state,
        "message": snap.message,
        "child_peak_mb": round(child_peak),
        "cancel_to_stop_s": round(stopped - asked, 3) if asked else None,
        "estimate_mb": round(snap.estimate.peak_mb) if snap.estimate else None,
    }


def slow_folder(root: Path, count: int = 3000) -> Path:
    ramp = np.tile(np.arange(2000) % 256, (2000, 1)).astype(np.uint8)
    Image.fromarray(ramp).save(root / "0.png")
    for i in range(1, count):
        os.link(root / "0.png", root / f"{i}.png")
    return root


def main() -> None:
    dataset = "mnist" if available_datasets()["mnist"] is None else "digits"
    shape = (1, 28, 28) if dataset == "mnist" else (1, 8, 8)
    jm = JobManager(alive=lambda owner: True)
    server_before = rss_mb()
    worst = make_config("contractive", bottleneck=256, arch="conv", input_shape=shape)
    results = {
        "worst job (refused by the probe)": run(
            jm, JobSpec("contractive", worst, dataset, TrainConfig(epochs=30, batch_size=1024), "worst")
        )
    }
    long_steps = make_config("contractive", bottleneck=64, arch="conv", input_shape=shape)
    results["cancel during a long step"] = run(
        JobManager(alive=lambda owner: True, memory_mb=1e9, max_s=1e9),
        JobSpec("contractive", long_steps, dataset, TrainConfig(epochs=5, batch_size=512), "long-steps"),
        cancel_when=lambda s: s.phase == "training" and s.elapsed > 5,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = JobSpec(
            "dense",
            make_config("dense", bottleneck=4),
            f"folder:{slow_folder(Path(tmp))}",
            TrainConfig(epochs=1),
            "folder",
        )
        results["cancel during a folder scan"] = run(
            jm, folder, cancel_when=lambda s: s.phase.startswith("reading images")
        )
    results["server RSS MB before / after"] = f"{server_before:.0f} / {rss_mb():.0f}"
    print(f"dataset: {dataset}, memory budget {jm.memory_mb:,.0f} MB per job")
    for name, value in results.items():
        print(f"{name:34s} {value}")
    print(json.dumps({"dataset": dataset, "budget_mb": round(jm.memory_mb), **results}))


if __name__ == "__main__":
    main()
