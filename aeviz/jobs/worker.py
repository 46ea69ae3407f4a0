"""A training job in its own process: its out-of-memory kill or endless step ends that process, never the server."""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings
from .timing import Plan, Rates, measure, plan

MB = 2**20
PROBE_BATCHES = (2, 10)  # two small batches give memory and time per image; a warm-up step comes first


class JobTooBig(RuntimeError):
    """A job whose probe says it would exceed the memory budget or the time limit: refused before training."""


def memory_budget_mb() -> float:
    """Peak memory one job may use: AEVIZ_JOB_MEMORY_MB, default a quarter of this machine's memory.

    A quarter leaves the server's own ~2 GB and a class's sessions room on a small lecture machine.
    """
    configured = settings.current().job_memory_mb
    if configured is not None:
        return configured
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume a small machine
        total = 8 * 2**30
    return total / 4 / MB


def job_threads() -> int:
    """Torch threads of a training process: AEVIZ_JOB_THREADS, default half the cores (the rest serve pages)."""
    configured = settings.current().job_threads
    return int(configured) if configured else max(1, (os.cpu_count() or 2) // 2)


def _status_mb(pid: int | str, field: str) -> float | None:
    """A memory figure (VmRSS, VmHWM) of a process from /proc, in MB; None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb(pid: int | str = "self") -> float | None:
    return _status_mb(pid, "VmRSS")


@dataclass(frozen=True)
class Estimate:
    """What a probe of a few training steps predicts for the whole job."""

    peak_mb: float  # resident memory of the training process at the job's batch size
    step_s: float  # seconds per step at that batch size
    total_s: float  # every phase still ahead: the epochs, the evaluation and the save (plan.total_s)
    mb_per_image: float
    base_mb: float  # before any step: the process, torch, the data and the model
    plan: Plan | None = None  # the phases' predicted seconds, those already over as measured
    rates: Rates | None = None  # what the plan rests on, measured in the job's own process on its own images

    def largest_batch(self, budget_mb: float, offered=(16, 32, 64, 128, 256, 512, 1024)) -> int | None:
        """The largest offered batch size whose predicted peak fits the budget."""
        fits = [b for b in offered if self.base_mb + self.mb_per_image * b <= budget_mb]
        return max(fits) if fits else None


def _reset_peak() -> bool:
    """Reset this process's peak-RSS counter (Linux: writing 5 to clear_refs); False where impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def probe(
    model,
    train_x,
    batch_size: int,
    epochs: int,
    test_images: int = 0,
    started: dict | None = None,
    budget_mb: float | None = None,
) -> Estimate:
    """Measure the memory of a few steps of a copy of `model` on real images (the model itself is untouched),
    and time the trainer's own step, inference, kNN and saving (timing.measure) for every phase's seconds.
    A job predicted over `budget_mb` is not timed: timing takes a step at its full batch, which would not fit."""
    from ..devices import memory_format
    from ..train import prepare, step

    batch_size = max(1, min(batch_size, len(train_x)))  # a set smaller than a batch is one batch
    trial = copy.deepcopy(model).train()
    optimizer = prepare(trial, 1e-3)
    sizes = [max(1, min(b, batch_size, len(train_x))) for b in PROBE_BATCHES]
    batches = [train_x[:b].contiguous(memory_format=memory_format(trial)) for b in sizes]
    base = rss_mb() or 0.0
    step(trial, optimizer, batches[0])  # allocator, kernels and Adam's state, counted in the base
    points = []
    for b, batch in zip(sizes, batches):
        measured = _reset_peak()
        step(trial, optimizer, batch)
        peak = _status_mb("self", "VmHWM") if measured else rss_mb()
        points.append((b, (peak or base) - base))
    (b1, m1), (b2, m2) = points
    per_image_mb = max(0.0, (m2 - m1) / (b2 - b1)) if b2 > b1 else max(0.0, m2 / b2)
    base_mb = base + max(m1, 0.0)
    peak_mb = base_mb + per_image_mb * max(0, batch_size - b1)
    if budget_mb is not None and peak_mb > budget_mb:  # refused on memory by check_estimate, before any full step
        return Estimate(peak_mb, 0.0, 0.0, per_image_mb, base_mb)
    rates = measure(model, train_x, batch_size)
    phases = plan(rates, len(train_x), test_images, epochs, batch_size, model.bottleneck, started)
    ahead = phases.seconds["training"] + phases.seconds["evaluating"] + phases.seconds["saving"]
    return Estimate(peak_mb, rates.step_s(batch_size), ahead, per_image_mb, base_mb, phases, rates)


def check_estimate(estimate: Estimate, batch_size: int, budget_mb: float, max_s: float) -> None:
    """Refuse a job that would not fit: say what it needs, what the server allows, and what would fit."""
    if estimate.peak_mb > budget_mb:
        fits = estimate.largest_batch(budget_mb)
        advice = f"a batch size of {fits} or less would fit" if fits else "choose a smaller model"
        raise JobTooBig(
            f"This job would need about {_size(estimate.peak_mb)} of memory at batch size "
            f"{batch_size}; this server allows {_size(budget_mb)} per job (AEVIZ_JOB_MEMORY_MB): "
            f"{advice}. Nothing was trained."
        )
    if estimate.total_s > max_s:
        raise JobTooBig(
            f"This job would take about {_duration(estimate.total_s)} ({estimate.step_s:.2g} s per "
            f"step), beyond this server's limit of {_duration(max_s)} per job (AEVIZ_JOB_MAX_S): "
            "choose fewer epochs, fewer images or a smaller model. Nothing was trained."
        )


def _size(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


# --- the parent's side -------------------------------------------------------------------------------------


class TrainProcess:
    """One child process training one job; its messages arrive through `messages()`.

    A plain subprocess rather than multiprocessing's spawn, which re-runs the parent's __main__ (a server,
    pytest or notebook) in the child. Messages are pickles between our own two processes only.
    """

    def __init__(self, request: dict[str, Any]) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from aeviz.jobs.worker import _serve; _serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._inbox: queue.Queue = queue.Queue()
        self._process.stdin.write(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        self._process.stdin.close()
        threading.Thread(target=self._read, name="aeviz-train-reader", daemon=True).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _read(self) -> None:
        with contextlib.suppress(EOFError, OSError, pickle.UnpicklingError, ValueError):
            while True:
                self._inbox.put(pickle.load(self._process.stdout))
        self._process.stdout.close()  # the only reader: closed here, not left to the garbage collector
        self._inbox.put(None)  # the child has ended (or closed its end)

    def messages(self, timeout: float) -> list:
        """The messages that arrived, waiting up to `timeout` for the first; None marks the child's end."""
        try:
            found = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                found.append(self._inbox.get_nowait())
            except queue.Empty:
                return found

    def rss_mb(self) -> float | None:
        return rss_mb(self._process.pid)

    def kill(self) -> int | None:
        """End the child at once (a long step or a folder scan never delays a cancel); its exit code."""
        with contextlib.suppress(OSError):
            self._process.kill()
        try:
            return self._process.wait(10)
        except subprocess.TimeoutExpired:
            return None


# --- the child's side --------------------------------------------------------------------------------------


def _serve() -> None:
    """Read one job request from stdin, train it, and write (kind, payload) pickles to stdout."""
    from ..devices import keep_freed_memory
    from ..train import TrainingDiverged
    from .helper import exit_with_parent

    keep_freed_memory()  # this process's allocator, as every entry point that trains sets it

    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the messages
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)  # the students' page reruns come first
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")  # if memory runs out, the kernel ends this job first
    exit_with_parent()
    try:
        request = pickle.load(sys.stdin.buffer)
    except EOFError:  # the server closed the pipe before asking anything (it was shutting down): nothing to do
        return
    lock = threading.Lock()

    def send(kind: str, payload: Any = None) -> None:
        blob = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        with lock:
            replies.write(blob)
            replies.flush()

    try:
        send("result", _train(request, send))
    except JobTooBig as exc:
        send("refused", str(exc))
    except TrainingDiverged as exc:  # the trainer's own words: what happened, and that nothing was kept
        send("diverged", str(exc))
    except BaseException as exc:
        from .base import describe

        send("error", describe(exc))
    replies.close()


def _train(request: dict[str, Any], send, should_stop=None) -> dict[str, Any]:
    """Train `request["spec"]`, reporting through `send(kind, payload)`: here in the job's own process, and in a
    Ray actor (aeviz.jobs.cluster), which also passes `should_stop` (nobody kills it from the same machine)."""
    import torch

    from .. import ownformat, uploadsets
    from ..data import DatasetUnavailable
    from ..train import train

    torch.set_num_threads(request.get("threads") or job_threads())
    send("phase", "loading data")
    spec = request["spec"]
    cfg = spec.train_config
    if ownformat.is_upload(spec.dataset):  # decoded here (at the set's format), under this process's memory budget
        try:
            uploadsets.decode(spec.dataset, progress=lambda text: send("phase", text))
        except uploadsets.ImageSetError as exc:
            raise DatasetUnavailable(str(exc)) from None

    def before_fit(model, train_x, test_images: int, adapted) -> None:
        send("phase", "estimating")
        budget = request["budget_mb"]
        estimate = probe(model, train_x, adapted.batch_size, adapted.epochs, test_images, budget_mb=budget)
        send("estimate", estimate)
        check_estimate(estimate, adapted.batch_size, budget, request["max_s"])
        send("phase", "training")

    result = train(
        spec.family,
        spec.config,
        spec.dataset,
        cfg,
        callback=lambda p: send("progress", p),
        should_stop=should_stop,
        save=False,
        on_loading=lambda text: send("phase", text),
        before_fit=before_fit,
        on_note=lambda text: send("note", text),
    )
    model = result.model.cpu()
    return {
        "family": spec.family,
        "config": model.config,
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "metadata": result.metadata,
        "replay": result.replay,  # a few float16 arrays: the parent saves it beside the checkpoint
    }
