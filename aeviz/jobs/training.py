"""Training jobs for the UI: a bounded queue, each job trained in its own process, with progress snapshots."""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoints import SUFFIX, save_checkpoint, user_dir
from .data import DatasetUnavailable
from .models import AEConfig, build_model
from .train import Progress, TrainConfig, TrainingCancelled
from .trainworker import Estimate, TrainProcess, memory_budget_mb

ACTIVE, FINISHED = ("queued", "running"), ("done", "failed", "cancelled")
KEEP_FINISHED = 32  # finished jobs remembered for their pages; older ones are forgotten (memory stays bounded)
MAX_POINTS = 1000  # loss-curve points kept per job; thinned beyond, so an hour-long job stays small
RATE_WINDOW_S = 20.0  # the time left is the work left at the speed of the last this many seconds
_log = logging.getLogger(__name__)


class JobRejected(RuntimeError):
    """A job the manager will not take: the queue is full or its owner already has one."""


class JobFailed(RuntimeError):
    """A job that ended without a model: its message is what the page shows."""


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def sweep_temp_files(folder: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Delete temp files a killed save left behind (never listed as models, but they take space).

    A temp file whose writer process is gone goes at once; one without a readable writer (or whose pid is
    alive, perhaps reused) only once older than `older_than_s`.
    """
    removed = []
    for tmp in Path(folder).glob(f".*{SUFFIX}.*.tmp"):
        match = _WRITER.search(tmp.name)
        try:
            if (match and not _pid_alive(int(match.group(1)))) or time.time() - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # another process finished or removed it meanwhile
    return removed


_WRITER = re.compile(re.escape(SUFFIX) + r"\.(\d+)-[^.]*\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a number we cannot check: keep the file
    return True


@dataclass(frozen=True)
class JobSpec:
    """What to train: the arguments of `aeviz.train.train`, plus the checkpoint's file stem."""

    family: str
    config: AEConfig
    dataset: str
    train_config: TrainConfig
    name: str
    folder: str = ""  # where the checkpoint goes: a session's workspace, or "" for the server's shared folder


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's state for a page to draw (no locks needed, nothing shared)."""

    id: str
    owner: str
    spec: JobSpec
    state: str  # queued, running, done, failed, cancelled
    phase: str  # what a running job does: 'loading data', 'training', 'evaluating', 'saving'
    epoch: int
    epochs: int
    fraction: float
    elapsed: float
    eta: float
    steps: tuple[tuple[float, dict[str, float]], ...]  # (fractional epoch, running train losses)
    tests: tuple[tuple[int, dict[str, float]], ...]  # (epoch, test losses)
    previews: tuple[tuple[int, np.ndarray], ...]  # (epoch, (8,H,W) uint8 reconstructions of fixed test images)
    message: str
    path: Path | None
    metrics: dict[str, float] | None
    queue_position: int = 0
    estimate: Estimate | None = None  # what the probe of a few steps predicted (memory, time)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass(eq=False)
class Job:
    """One training job; the worker writes it under its lock, pages read it through `snapshot()`."""

    spec: JobSpec
    owner: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "queued"
    phase: str = "waiting"
    last_seen: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
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
    pace: list = field(default_factory=list, repr=False)  # (monotonic time, fraction) of recent reports
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def touch(self) -> None:
        """A page showed this job: it is not abandoned."""
        self.last_seen = time.monotonic()

    def request_stop(self, reason: str) -> None:
        with self.lock:
            if not self.stop.is_set() and self.state not in FINISHED:
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
                self.phase = payload

    def record(self, p: Progress) -> None:
        """The trainer's callback (worker thread): keep what the page draws."""
        with self.lock:
            self.latest = p
            now = time.monotonic()
            self.pace = [(t, f) for t, f in self.pace if now - t <= RATE_WINDOW_S] + [(now, p.fraction)]
            if p.event == "step":
                self.steps.append((p.epoch - 1 + p.step / p.steps, dict(p.losses)))
            elif p.event == "epoch":
                self.steps.append((float(p.epoch), dict(p.losses)))
                if p.test_losses is not None:
                    self.tests.append((p.epoch, dict(p.test_losses)))
                if p.preview is not None:  # uint8: 100 epochs of 8 MNIST previews take 600 kB
                    self.previews.append((p.epoch, np.round(np.clip(p.preview, 0, 1) * 255).astype(np.uint8)))
            last = p.event == "epoch" and p.epoch == p.epochs
            self.phase = "saving" if p.event == "done" else "evaluating" if last else "training"
            if len(self.steps) > MAX_POINTS:
                self.steps = self.steps[::2]

    def snapshot(self, queue_position: int = 0) -> Snapshot:
        with self.lock:
            p = self.latest
            elapsed = (self.finished or time.monotonic()) - self.started if self.started else 0.0
            return Snapshot(self.id, self.owner, self.spec, self.state, self.phase, p.epoch if p else 0,
                            self.spec.train_config.epochs, 1.0 if self.state == "done" else p.fraction if p else 0.0,
                            elapsed, self._eta(), tuple(self.steps),
                            tuple(self.tests), tuple(self.previews), self.message, self.path, self.metrics,
                            queue_position, self.estimate)

    def _eta(self) -> float:
        """Seconds left at the speed measured over the last RATE_WINDOW_S (the whole run's until then): a job
        slowed down by a second one, or by a class on the server, says so within seconds; nan before any."""
        p = self.latest
        if p is None or p.event == "start":
            return float("nan")
        (t0, f0), (t1, f1) = self.pace[0], self.pace[-1]
        if t1 - t0 < 0.5 * RATE_WINDOW_S or f1 <= f0:
            return p.eta
        return (1 - f1) * (t1 - t0) / (f1 - f0)  # as of the last report, like the whole run's

    def set(self, state: str, **fields: Any) -> None:
        with self.lock:
            self.state = state
            for name, value in fields.items():
                setattr(self, name, value)


def describe(exc: BaseException) -> str:
    """A message a user can act on: our own errors verbatim, anything else with its type."""
    if isinstance(exc, (DatasetUnavailable, ValueError, KeyError, FileNotFoundError)) and exc.args:
        return str(exc.args[0])
    return f"{type(exc).__name__}: {exc}"[:500]


class JobManager:
    """A bounded queue of training jobs served by `workers` threads; one per server, shared by all sessions.

    Defaults from the environment: AEVIZ_MAX_JOBS workers (1), AEVIZ_MAX_QUEUED waiting jobs (8),
    AEVIZ_JOB_IDLE_S (120) and AEVIZ_JOB_MAX_S (3600). A job is cancelled when no page has shown it for
    idle_s while `alive(owner)` says its owner's browser is gone, or once it has run max_s.
    `on_finish(job)` runs in the worker after every job, however it ended.
    """

    def __init__(self, workers: int | None = None, max_queued: int | None = None, idle_s: float | None = None,
                 max_s: float | None = None, alive: Callable[[str], bool] | None = None,
                 on_finish: Callable[[Job], None] | None = None, memory_mb: float | None = None) -> None:
        self.workers = max(1, int(workers or _env("AEVIZ_MAX_JOBS", 1)))
        self.max_queued = int(max_queued if max_queued is not None else _env("AEVIZ_MAX_QUEUED", 8))
        self.idle_s = idle_s if idle_s is not None else _env("AEVIZ_JOB_IDLE_S", 120)
        self.max_s = max_s if max_s is not None else _env("AEVIZ_JOB_MAX_S", 3600)
        self.memory_mb = memory_mb if memory_mb is not None else memory_budget_mb()
        self._alive, self._on_finish = alive or (lambda owner: False), on_finish
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: dict[str, Job] = {}
        self._lock, self._save_lock = threading.Lock(), threading.Lock()
        self._threads: list[threading.Thread] = []
        sweep_temp_files(user_dir())

    def submit(self, spec: JobSpec, owner: str, browser: str = "") -> Job:
        """Queue a job; JobRejected when its owner already has one or too many wait.

        `browser` identifies the owner's browser across reloads (see `claim`)."""
        self._reap()
        with self._lock:
            if any(j.owner == owner and j.state in ACTIVE for j in self._jobs.values()):
                raise JobRejected("You already have a training job: cancel it or wait until it finishes.")
            waiting = sum(j.state == "queued" for j in self._jobs.values())
            if waiting >= self.max_queued:
                raise JobRejected(f"The server is busy: {waiting} jobs are waiting. Try again in a few minutes.")
            job = Job(spec, owner, browser=browser)
            self._jobs[job.id] = job
            while len(self._threads) < self.workers:  # lazily: a server that never trains starts no thread
                self._threads.append(threading.Thread(target=self._work, daemon=True,
                                                      name=f"aeviz-train-{len(self._threads)}"))
                self._threads[-1].start()
        self._queue.put(job)
        return job

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id or "")

    def jobs(self, owner: str | None = None) -> list[Job]:
        """Jobs in submission order (every owner's unless one is named)."""
        with self._lock:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def snapshot(self, job_id: str | None) -> Snapshot | None:
        """The job's state, with its place in the queue (1 = next) while it waits."""
        job = self.get(job_id)
        if job is None:
            return None
        waiting = [j.id for j in self.jobs() if j.state == "queued"]
        return job.snapshot(waiting.index(job.id) + 1 if job.id in waiting else 0)

    def cancel(self, job_id: str, reason: str = "Cancelled: nothing was saved.") -> bool:
        """Stop a job: a waiting one at once, a running one within 0.1 s (its training process is ended)."""
        job = self.get(job_id)
        if job is None or job.state in FINISHED:
            return False
        job.request_stop(reason)
        if job.state == "queued":  # frees its place at once; the worker skips it when its turn comes
            job.set("cancelled", finished=time.monotonic())
        return True

    def claim(self, job_id: str, owner: str, browser: str = "") -> bool:
        """Give a job back to its browser's new session (a reloaded page); True if `owner` has it now.

        Only the browser that started the job may take it over, only once that session is gone, and only
        when the new session has no other job: anyone else with the link watches but cannot cancel it."""
        job = self.get(job_id)
        with self._lock:
            if job is not None and job.owner != owner and job.browser and browser == job.browser \
                    and not self._alive(job.owner) and job.state in ACTIVE \
                    and not any(j.owner == owner and j.state in ACTIVE for j in self._jobs.values()):
                job.owner = owner
        return job is not None and job.owner == owner

    def shutdown(self, wait: bool = True) -> None:
        """Cancel every job and stop the workers (tests; a server just exits, its threads are daemons)."""
        for job in self.jobs():
            self.cancel(job.id, "Cancelled: the server is shutting down.")
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads if wait else []:
            thread.join(60)

    # --- the worker side -----------------------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._run(job)
            finally:
                try:
                    if self._on_finish is not None:
                        self._on_finish(job)
                except Exception:  # a page-side hook must never kill the worker
                    _log.exception("on_finish hook failed for job %s", job.id)

    def _run(self, job: Job) -> None:
        if job.state in FINISHED or self._should_stop(job):  # cancelled (or abandoned) while it waited
            job.set("cancelled", finished=job.finished or time.monotonic())
            return
        job.set("running", phase="starting", started=time.monotonic())
        try:
            result = self._train_in_child(job)
            job.set("running", phase="saving")
            model = build_model(result["family"], result["config"])
            model.load_state_dict(result["state"])
            path = self._save(job.spec, model, result["metadata"])
            job.set("done", phase="done", path=path, metrics=result["metadata"].get("metrics"),
                    message=f"Saved as {path.stem}.", finished=time.monotonic())
        except TrainingCancelled as exc:
            job.set("cancelled", message=job.message or str(exc), finished=time.monotonic())
        except JobFailed as exc:
            job.set("failed", message=str(exc), finished=time.monotonic())
        except Exception as exc:  # anything else is this job's failure, never the server's
            _log.warning("training job %s failed", job.id, exc_info=True)
            job.set("failed", message=describe(exc), finished=time.monotonic())

    def _train_in_child(self, job: Job) -> dict[str, Any]:
        """Train in a process of its own, watched from here: a cancel, the limits or the memory budget end it
        at once, whatever it is doing (a long step, a folder scan), and its out-of-memory death is only its own."""
        child = TrainProcess({"spec": job.spec, "budget_mb": self.memory_mb, "max_s": self.max_s})
        job.set("running", pid=child.pid)
        try:
            while True:
                for message in child.messages(timeout=0.1):
                    if message is None:
                        code = child.kill()
                        raise JobFailed(f"The training process ended unexpectedly (exit code {code}"
                                        f"{', probably out of memory' if code in (-9, 137) else ''}). "
                                        "Nothing was saved.")
                    kind, payload = message
                    if kind == "result":
                        return payload
                    if kind in ("refused", "error"):
                        raise JobFailed(payload)
                    job.receive(kind, payload)
                if self._should_stop(job):
                    raise TrainingCancelled(job.message)
                rss = child.rss_mb()
                if rss is not None and rss > self.memory_mb:
                    raise JobFailed(f"Stopped: the job used {rss:,.0f} MB, more than this server's budget of "
                                    f"{self.memory_mb:,.0f} MB per job (AEVIZ_JOB_MEMORY_MB). Try a smaller batch "
                                    "or model. Nothing was saved.")
        finally:
            child.kill()

    def _should_stop(self, job: Job) -> bool:
        """Polled every 0.1 s while a job runs: a cancel, an abandoned page or the time limit."""
        if not job.stop.is_set():
            now = time.monotonic()
            if self._alive(job.owner):
                job.touch()
            if now - job.last_seen > self.idle_s:
                job.request_stop(f"Cancelled: no page showed this job for {self.idle_s:g} s and its browser "
                                 "is gone. Nothing was saved.")
            elif job.started is not None and now - job.started > self.max_s:
                job.request_stop(f"Cancelled at the limit of {self.max_s:g} s per job. Nothing was saved.")
        return job.stop.is_set()

    def _reap(self) -> None:
        """Cancel abandoned jobs still in the queue (freeing their place); forget old finished jobs."""
        for job in self.jobs():
            if job.state == "queued" and self._should_stop(job):
                job.set("cancelled", finished=time.monotonic())
        with self._lock:
            for job in [j for j in self._jobs.values() if j.state in FINISHED][:-KEEP_FINISHED]:
                del self._jobs[job.id]

    def _save(self, spec: JobSpec, model, metadata: dict[str, Any]) -> Path:
        """Atomic save under a file name nobody has (two queued jobs may have asked for the same)."""
        name = spec.name
        with self._save_lock:
            folder = Path(spec.folder) if spec.folder else user_dir()
            path, n = folder / f"{name}{SUFFIX}", 2
            while path.exists():
                path, n = folder / f"{name}-{n}{SUFFIX}", n + 1
            save_checkpoint(path, model.cpu(), {**metadata, "name": path.stem})
        return path
