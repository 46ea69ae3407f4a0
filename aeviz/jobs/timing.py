"""How long a training run takes, phase by phase, from rates measured on this server (never a constant).

One model of the time for the Train page before a run, for the job while it runs, and for the CLI: a training
process starts (Python, torch and aeviz imported), reads its data, probes a few steps, trains its epochs (each
ending with the test curve, the preview and the code map of a fixed test sample), evaluates the model (every
test image reconstructed and encoded, the training images encoded, a kNN of the codes) and saves it.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..fitplan import steps_per_epoch

PHASES = ("starting", "loading data", "estimating", "training", "evaluating", "saving")
MIN_TIMED_S = 0.3  # each timed batch size runs for this long (3 steps at least): one step is too noisy
MAP_SAMPLE = 2000  # test images mapped after every epoch (replay.SAMPLE) and whose loss is the test curve
KNN_BRUTE_DIMS = 15  # sklearn's "auto" kNN goes brute force above this many code dimensions (metrics.knn_accuracy)


@dataclass(frozen=True)
class Rates:
    """What a run's time rests on, measured on this server with the trainer's own step."""

    step_fixed_s: float  # seconds a step takes whatever its batch (Python, optimizer, kernel launches)
    step_image_s: float  # and per image in the batch
    infer_image_s: float  # seconds per image encoded and reconstructed in inference mode
    knn_unit_s: float  # seconds per unit of kNN work (see knn_work)
    save_s: float  # the checkpoint's bytes built (safetensors, content hash)
    probe_s: float = 0.0  # the measurement itself (a job runs it before training)

    def step_s(self, batch: int) -> float:
        return self.step_fixed_s + self.step_image_s * batch


@dataclass(frozen=True)
class Plan:
    """Predicted seconds of each phase (PHASES), and the work they stand for."""

    seconds: dict[str, float]
    epochs: int
    steps: int  # per epoch
    train_images: int
    test_images: int

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    def left_after(self, phase: str) -> float:
        """Seconds of the phases after `phase`."""
        later = PHASES[PHASES.index(phase) + 1 :] if phase in PHASES else ()
        return sum(self.seconds.get(p, 0.0) for p in later)

    def summary(self) -> str:
        """'about 31 s: 6 s to start, 18 s for 10 epochs, 5 s to evaluate, 1 s to save'."""
        s = self.seconds
        start = s.get("starting", 0) + s.get("loading data", 0) + s.get("estimating", 0)
        parts = [
            f"{_duration(start)} to start" if start else "",
            f"{_duration(s['training'])} for {self.epochs} epoch{'s' * (self.epochs != 1)} of {self.steps:,} "
            f"step{'s' * (self.steps != 1)}",
            f"{_duration(s['evaluating'])} to evaluate on {self.test_images:,} test images",
            f"{_duration(s['saving'])} to save",
        ]
        return f"about {_duration(self.total_s)}: " + ", ".join(filter(None, parts))


def timeline_text(timeline, plan: Plan | None, active: bool = True) -> str:
    """Every phase of a run in one line: those over with their measured seconds, the current one with its
    seconds so far against the prediction, the later ones predicted ('✓ starting 4.1 s · ● training 9 s of
    about 18 s · evaluating about 5 s · saving about 0.2 s')."""
    seen = {phase: (spent, predicted) for phase, spent, predicted in timeline}
    current = timeline[-1][0] if timeline and active else None
    parts = []
    for phase in PHASES:
        predicted = plan.seconds.get(phase) if plan is not None else None
        if phase == current:
            spent, predicted = seen[phase][0], seen[phase][1] if seen[phase][1] is not None else predicted
            against = f" of about {_duration(predicted)}" if predicted is not None else ""
            parts.append(f"● **{phase}** {_duration(spent)}{against}")
        elif phase in seen:
            parts.append(f"✓ {phase} {_duration(seen[phase][0])}")
        elif predicted is not None and active:
            parts.append(f"{phase} about {_duration(predicted)}")
    return " · ".join(parts)


def knn_work(train_codes: int, test_codes: int, dims: int) -> float:
    """kNN-7's work in units its measured rate is per: brute force compares every pair; a k-d tree (up to
    KNN_BRUTE_DIMS) walks about log2(train) nodes per query."""
    per_query = train_codes if dims > KNN_BRUTE_DIMS else math.log2(max(2, train_codes)) * 64
    return test_codes * per_query / 1e6


def plan(
    rates: Rates, train_images: int, test_images: int, epochs: int, batch: int, dims: int, started: dict | None = None
) -> Plan:
    """Seconds of every phase of a run of `epochs` over `train_images` at `batch`; `started` holds the measured
    seconds of the phases already known (starting, loading data, estimating), else nothing is assumed for them."""
    steps = steps_per_epoch(train_images, batch)
    last = train_images - (steps - 1) * batch
    epoch_s = (steps - 1) * rates.step_s(batch) + rates.step_s(last)
    mapped = min(MAP_SAMPLE, test_images)
    per_epoch_extra = 2 * mapped * rates.infer_image_s  # the test curve's losses and the code map's codes
    evaluate_s = (train_images + 2 * test_images) * rates.infer_image_s + rates.knn_unit_s * knn_work(
        train_images, test_images, dims
    )
    seconds = {phase: float(s) for phase, s in (started or {}).items() if phase in PHASES[:3]}
    seconds |= {
        "training": epochs * (epoch_s + per_epoch_extra) + mapped * rates.infer_image_s,
        "evaluating": evaluate_s,
        "saving": rates.save_s,
    }
    return Plan(seconds, epochs, steps, train_images, test_images)


def plan_before(rates: Rates, startup: dict, train_images: int, test_images: int, epochs: int, batch: int, dims: int):
    """A run's plan before it starts: its first phases as a fresh process took them here (measure_startup), then
    the job's own probe (a fresh process's first step, and the measurement), then `plan`."""
    started = {
        "starting": startup["starting"],
        "loading data": startup["loading data"],
        "estimating": startup["warmup"] + rates.probe_s,
    }
    return plan(rates, train_images, test_images, epochs, batch, dims, started)


def measure(model, images, batch: int, min_s: float = MIN_TIMED_S) -> Rates:
    """Rates of a copy of `model` (itself untouched) on `images` (N,C,H,W) on the model's device: the trainer's
    own step (train.prepare / train.step) at `batch` and a quarter of it, inference, a kNN and the save."""
    import numpy as np

    from ..checkpoints import checkpoint_bytes
    from ..devices import memory_format
    from ..metrics import encode_all, knn_accuracy, reconstruct_all
    from ..train import prepare, timed_step

    measuring = time.perf_counter()
    trial = copy.deepcopy(model).train()
    optimizer = prepare(trial, 1e-3)
    layout = memory_format(trial)
    timed_step(trial, optimizer, images[: max(1, min(batch, len(images)))].contiguous(memory_format=layout))
    points = []
    for size in sorted({max(1, min(batch // 4, len(images))), max(1, min(batch, len(images)))}):
        x = images[:size].contiguous(memory_format=layout)
        times: list[float] = []
        begun = time.perf_counter()
        while len(times) < 3 or time.perf_counter() - begun < min_s:
            times.append(timed_step(trial, optimizer, x))
        points.append((size, statistics.median(times)))
    (b1, t1), (b2, t2) = points[0], points[-1]
    per_image = max(0.0, (t2 - t1) / (b2 - b1)) if b2 > b1 else 0.0
    fixed = max(0.0, t2 - per_image * b2)
    trial.eval()
    sample = images[:256]
    begun = time.perf_counter()
    encode_all(trial, sample)
    reconstruct_all(trial, sample)
    infer = (time.perf_counter() - begun) / len(sample)
    dims = trial.bottleneck
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(4000, dims)).astype(np.float32), rng.integers(0, 10, 4000)
    knn_s = knn_accuracy(codes[:3000], labels[:3000], codes[3000:], labels[3000:])[1]
    begun = time.perf_counter()
    checkpoint_bytes(trial.cpu())
    save_s = time.perf_counter() - begun
    knn_unit = knn_s / max(knn_work(3000, 1000, dims), 1e-9)
    return Rates(fixed, per_image, infer, knn_unit, save_s, time.perf_counter() - measuring)


def measure_startup(dataset: str, subset: int | None, threads: int = 1, timeout: float = 300.0) -> dict[str, float]:
    """Seconds a fresh training process takes to start (Python, torch, aeviz imported), to load `dataset` and
    to take its first training step, measured by running one: what every job pays before its first epoch."""
    root = str(Path(__file__).resolve().parents[2])
    code = (
        "import os, sys; os.nice(5); sys.path.insert(0, sys.argv[1]); "  # a job's process is niced as much
        "from aeviz.jobs.timing import _startup_child; _startup_child(*sys.argv[2:])"
    )
    begun = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, root, dataset, str(subset or 0), str(threads)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    found["starting"] = max(0.0, time.perf_counter() - begun - found["loading data"] - found["warmup"])
    return found


def _startup_child(dataset: str, subset: str, threads: str) -> None:
    import torch

    from ..data import load_dataset
    from ..models import build_model, make_config
    from ..train import prepare, timed_step

    torch.set_num_threads(int(threads))  # a job's (worker.job_threads)
    begun = time.perf_counter()
    train_set = load_dataset(dataset, "train", limit=int(subset) or None)
    test_set = load_dataset(dataset, "test")
    loaded = time.perf_counter()
    model = build_model("dense", make_config("dense", input_shape=train_set.shape))
    timed_step(model, prepare(model, 1e-3), train_set.images[:16])
    warmup = time.perf_counter() - loaded
    sizes = {"train_images": len(train_set), "test_images": len(test_set)}
    print(json.dumps({"loading data": loaded - begun, "warmup": warmup, **sizes}))


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "…"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
