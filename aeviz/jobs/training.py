"""A training job: what to train (JobSpec), its progress as the training process reports it, and its Snapshot."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..models import AEConfig, make_config, model_slug
from ..names import default_name
from ..train import Progress, TrainConfig
from .base import Job, State, describe  # noqa: F401 - re-exported
from .timing import PHASES, Plan
from .worker import Estimate

MAX_POINTS = 1000  # loss-curve points kept per job; thinned beyond, so an hour-long job stays small
RATE_WINDOW_S = 20.0  # the time left is the work left at the speed of the last this many seconds


class JobRejected(RuntimeError):
    """A job the manager will not take: the queue is full or its browser already has its jobs; `job_id` names
    that browser's job when it is the reason (a page offers to show it)."""

    def __init__(self, message: str, job_id: str = "") -> None:
        super().__init__(message)
        self.job_id = job_id


class JobFailed(RuntimeError):
    """A job that ended without a model: its message is what the page shows."""


@dataclass(frozen=True)
class JobSpec:
    """What to train: the arguments of `aeviz.train.train`, plus the checkpoint's file stem."""

    family: str
    config: AEConfig
    dataset: str
    train_config: TrainConfig
    name: str
    folder: str = ""  # where the checkpoint goes: a session's workspace, or "" for the server's shared folder
    plan: Plan | None = field(default=None, compare=False)  # the page's estimate before the run (timing.plan_before)


def small_model_job(dataset: str, q: int, folder) -> JobSpec:
    """A small dense autoencoder for a dataset without models, trained into `folder`. A brisk learning rate:
    digits in ~2 s, a 30k MNIST-like subset in ~15 s on one core, near the zoo's error."""
    recipe = (
        TrainConfig(epochs=30, batch_size=64, lr=3e-3)
        if dataset == "digits"
        else TrainConfig(epochs=6, batch_size=128, lr=3e-3, subset=30000)
    )
    config = make_config("dense", bottleneck=q)
    return JobSpec("dense", config, dataset, recipe, default_name(dataset, model_slug("dense", config)), str(folder))


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's state for a page to draw (no locks needed, nothing shared)."""

    id: str
    owner: str
    spec: JobSpec
    state: State
    phase: str  # what a running job does: 'loading data', 'training', 'evaluating', 'saving'
    epoch: int
    epochs: int
    fraction: float
    elapsed: float
    eta: float
    steps: tuple[tuple[float, dict[str, float]], ...]  # (fractional epoch, running train losses)
    tests: tuple[tuple[int, dict[str, float]], ...]  # (epoch, test losses)
    previews: tuple[tuple[int, np.ndarray], ...]  # (epoch, (8,C,H,W) uint8 reconstructions of fixed test images)
    message: str
    path: Path | None
    metrics: dict[str, float] | None
    queue_position: int = 0
    estimate: Estimate | None = None  # what the probe of a few steps predicted (memory, time)
    maps: tuple[tuple[int, np.ndarray], ...] = field(default=(), repr=False)  # (epoch, (N,2) float16 map of a
    # fixed test sample, replay.CodeWatch); epoch 0 is the untrained encoder's
    map_labels: np.ndarray | None = field(default=None, repr=False)  # (N,) that sample's classes
    timeline: tuple[tuple[str, float, float | None], ...] = ()  # (phase, seconds in it, predicted seconds)
    notes: tuple[str, ...] = ()  # what the trainer changed or warns of (aeviz.fitplan)

    @property
    def active(self) -> bool:
        return self.state.active

    @property
    def overdue(self) -> float:
        """Seconds the current phase has run past its prediction (0 when within it or unknown)."""
        for phase, spent, predicted in self.timeline[-1:]:
            if phase == self.phase_group and predicted is not None:
                return max(0.0, spent - predicted)
        return 0.0

    @property
    def phase_group(self) -> str:
        return phase_group(self.phase)


def phase_group(phase: str) -> str:
    """The PHASES entry a phase's text belongs to (a folder's 'reading 120 of 400 images' is 'loading data')."""
    if phase in PHASES or phase in ("waiting", "done", "diverged"):
        return phase
    return "loading data"


@dataclass(eq=False)
class TrainingJob(Job):
    """One training job; the worker writes it under its lock, pages read it through `snapshot()`."""

    spec: JobSpec
    owner: str
    kind: str = field(default="training", kw_only=True)
    phase: str = "waiting"
    last_seen: float = field(default_factory=time.monotonic)
    message: str = ""
    path: Path | None = None
    metrics: dict[str, float] | None = None
    latest: Progress | None = field(default=None, repr=False)
    estimate: Estimate | None = None
    pid: int | None = None  # of the training process while it runs
    browser: str = ""  # the owner's browser (a reloaded page of it takes the job back), "" when unknown
    steps: list = field(default_factory=list, repr=False)
    tests: list = field(default_factory=list, repr=False)
    previews: list = field(default_factory=list, repr=False)
    maps: list = field(default_factory=list, repr=False)  # 8 kB an epoch: 100 epochs take 800 kB
    map_labels: np.ndarray | None = field(default=None, repr=False)
    pace: list = field(default_factory=list, repr=False)  # (monotonic time, fraction) of recent reports
    began: dict = field(default_factory=dict, repr=False)  # phase group -> monotonic time it began
    notes: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def touch(self) -> None:
        """A page showed this job: it is not abandoned."""
        self.last_seen = time.monotonic()

    def request_stop(self, reason: str) -> None:
        with self.lock:
            if not self.stop.is_set() and self.active:
                self.message = reason
                self.stop.set()

    def receive(self, kind: str, payload: Any) -> None:
        """A message from the training process: progress, the phase it is in, or the probe's estimate."""
        if kind == "progress":
            self.record(payload)
        elif kind == "estimate":
            with self.lock:
                self.estimate = payload
        elif kind == "phase":
            with self.lock:
                self._enter(payload)
        elif kind == "note":
            with self.lock:
                self.notes.append(str(payload))

    def _enter(self, phase: str) -> None:
        """Under the lock: the job is in `phase` now; the time its group began is kept for the timeline."""
        self.phase = phase
        self.began.setdefault(phase_group(phase), time.monotonic())

    def record(self, p: Progress) -> None:
        """The trainer's callback (worker thread): keep what the page draws."""
        with self.lock:
            self.latest = p
            now = time.monotonic()
            self.pace = [(t, f) for t, f in self.pace if now - t <= RATE_WINDOW_S] + [(now, p.fraction)]
            if p.code_map is not None:
                self.maps.append((0 if p.event == "start" else p.epoch, p.code_map))
            if p.code_labels is not None:
                self.map_labels = p.code_labels
            if p.event == "step":
                self.steps.append((p.epoch - 1 + p.step / p.steps, dict(p.losses)))
            elif p.event == "epoch":
                self.steps.append((float(p.epoch), dict(p.losses)))
                if p.test_losses is not None:
                    self.tests.append((p.epoch, dict(p.test_losses)))
                if p.preview is not None:  # uint8: 100 epochs of 8 MNIST previews take 600 kB
                    self.previews.append((p.epoch, np.round(np.clip(p.preview, 0, 1) * 255).astype(np.uint8)))
            last = p.event == "epoch" and p.epoch == p.epochs
            self._enter("saving" if p.event == "done" else "evaluating" if last else "training")
            if len(self.steps) > MAX_POINTS:
                self.steps = self.steps[::2]

    def snapshot(self, queue_position: int = 0) -> Snapshot:
        with self.lock:
            p = self.latest
            fraction = 1.0 if self.state == State.DONE else p.fraction if p else 0.0
            return Snapshot(
                self.id,
                self.owner,
                self.spec,
                self.state,
                self.phase,
                p.epoch if p else 0,
                self.spec.train_config.epochs,
                fraction,
                self.elapsed(),
                self._eta(),
                tuple(self.steps),
                tuple(self.tests),
                tuple(self.previews),
                self.message,
                self.path,
                self.metrics,
                queue_position,
                self.estimate,
                tuple(self.maps),
                self.map_labels,
                self._timeline(),
                tuple(self.notes),
            )

    def _plan(self) -> Plan | None:
        """The job's own probe's plan once it has one, the page's before."""
        own = self.estimate.plan if self.estimate is not None else None
        return own or self.spec.plan

    def _timeline(self) -> tuple[tuple[str, float, float | None], ...]:
        """(phase, seconds spent in it, predicted seconds) of every phase begun so far, in order."""
        plan, now = self._plan(), time.monotonic()
        begun = sorted(self.began.items(), key=lambda item: item[1])
        ends = [t for _, t in begun[1:]] + [self.finished or now]
        predicted = plan.seconds if plan is not None else {}
        return tuple((phase, end - t, predicted.get(phase)) for (phase, t), end in zip(begun, ends))

    def _eta(self) -> float:
        """Seconds until the model is saved: what is left of the current phase and all of the later ones, from
        the plan (the page's before the job's own probe); the epochs at the speed measured over the last
        RATE_WINDOW_S once training runs, so a job slowed down by another says so within seconds."""
        plan, group = self._plan(), phase_group(self.phase)
        if plan is None or group not in PHASES:
            return self._epochs_left() if group == "training" else float("nan")
        spent = time.monotonic() - self.began.get(group, time.monotonic())
        if group == "training":
            left = self._epochs_left()
            if not np.isfinite(left):
                left = max(0.0, plan.seconds["training"] - spent)
        else:
            left = max(0.0, plan.seconds.get(group, 0.0) - spent)
        return left + plan.left_after(group)

    def _epochs_left(self) -> float:
        p = self.latest
        if p is None or p.event == "start":
            return float("nan")
        (t0, f0), (t1, f1) = self.pace[0], self.pace[-1]
        if t1 - t0 < 0.5 * RATE_WINDOW_S or f1 <= f0:
            return p.eta
        return (1 - f1) * (t1 - t0) / (f1 - f0)  # as of the last report, like the whole run's

    def set(self, state: State, **fields: Any) -> None:
        with self.lock:
            self.state = state
            for name, value in fields.items():
                setattr(self, name, value)
            if "phase" in fields:
                self._enter(fields["phase"])
