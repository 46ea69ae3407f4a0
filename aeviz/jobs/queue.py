"""Slow work off the lecture's critical path: a process-wide queue of in-process jobs (map fits, kNN runs)."""

from __future__ import annotations

import queue
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import one_line
from .base import Job, State


class Timings:
    """How long finished jobs of each kind took on this server, per unit of their size (e.g. per code fitted):
    a progress bar promises what was measured here, never a figure from another machine or a quiet one (a
    'UMAP: about 7 s' measured on an idle box took 109 s behind training jobs and the helper's compile)."""

    def __init__(self) -> None:
        self._per_unit: dict[str, float] = {}

    def record(self, kind: str, size: float, seconds: float) -> None:
        self._per_unit[kind] = seconds / max(size, 1e-9)

    def estimate(self, kind: str, size: float) -> float | None:
        per_unit = self._per_unit.get(kind)
        return None if per_unit is None else per_unit * size


@dataclass(eq=False)
class QueueJob(Job):
    """One piece of slow work (a UMAP fit, a kNN run), its id the key it was asked for under. Its fields are
    written by the worker thread only; it ends done or failed (nothing cancels it).

    A job of a `kind` is timed (from `begin`, or its start) and its time, per unit of `size`, estimates the
    next one of that kind; `expected_s` is None until one has been measured, or a fixed figure given."""

    label: str
    expected_s: float | None
    fn: Callable[[QueueJob], Any] = field(repr=False)
    size: float = 1.0
    timings: Timings | None = field(default=None, repr=False)
    stage: str = "waiting for the worker"
    error: str = ""
    result: Any = field(default=None, repr=False)
    submitted: float = field(default_factory=time.monotonic)
    clock: float | None = None  # when the timed part of the work began

    def left(self) -> float | None:
        """Seconds still to go by the measured estimate (negative once overrun), None without an estimate."""
        if self.expected_s is None or self.clock is None or self.ended:
            return None
        return self.expected_s - (time.monotonic() - self.clock)

    def progress(self) -> float:
        """0..1 for a progress bar: the timed part over its estimate, held below 1 until the job has ended.

        The fits themselves report no progress; a job that overruns its estimate creeps towards 0.99 rather
        than sitting at 100 % while still working, and one without an estimate creeps without promising.
        """
        if self.ended:
            return 1.0
        if self.clock is None:
            return 0.0
        spent = time.monotonic() - self.clock
        if self.expected_s is None:
            return 0.9 * spent / (spent + 30.0)
        ratio = spent / max(self.expected_s, 1e-3)
        return 0.9 * ratio if ratio < 1 else 0.99 - 0.09 / ratio

    def set_stage(self, text: str) -> None:
        self.stage = text

    def begin(self, text: str) -> None:
        """The timed work starts now (what came before, e.g. waiting for a compiler, is not part of it)."""
        self.stage, self.clock = text, time.monotonic()
        if self.kind and self.timings is not None:
            self.expected_s = self.timings.estimate(self.kind, self.size) or self.expected_s

    def _record(self) -> None:
        if self.kind and self.timings is not None and self.state == State.DONE and self.clock is not None:
            self.timings.record(self.kind, self.size, (self.finished or time.monotonic()) - self.clock)


class Jobs:
    """A FIFO of jobs run by `workers` daemon threads; asking twice for the same key shares one job.

    One worker by default: a lecture server's cores belong to the students' reruns, so slow work waits
    its turn instead of running several fits at once. Failed jobs stay visible until resubmitted.
    """

    def __init__(self, workers: int = 1, keep: int = 256) -> None:
        self._jobs: dict[str, QueueJob] = {}
        self._queue: queue.Queue[QueueJob] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._workers, self._keep = workers, keep
        self.timings = Timings()

    def submit(
        self,
        key: str,
        fn: Callable[[QueueJob], Any],
        *,
        label: str,
        expected_s: float | None = 10.0,
        kind: str = "",
        size: float = 1.0,
    ) -> QueueJob:
        """The job for `key`: the existing one unless it failed, else a new one queued to run `fn(job)`.

        With a `kind`, the job is timed and estimated from the last finished job of that kind (see Job)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != State.FAILED:
                return job
            job = QueueJob(
                label,
                None if expected_s is None else float(expected_s),
                fn,
                id=key,
                kind=kind,
                size=size,
                timings=self.timings,
            )
            self._jobs[key] = job
            self._prune()
            self._start_workers()
        self._queue.put(job)
        return job

    def get(self, key: str) -> QueueJob | None:
        return self._jobs.get(key)

    def ahead_of(self, job: QueueJob) -> int:
        """How many jobs must start or end before `job` can start: 0 once it runs."""
        if job.state != State.QUEUED:
            return 0
        with self._lock:
            earlier = sum(1 for j in self._jobs.values() if j.state == State.QUEUED and j.submitted < job.submitted)
            running = sum(1 for j in self._jobs.values() if j.state == State.RUNNING)
        return earlier + max(0, running - self._workers + 1)

    def _prune(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.ended), key=lambda j: j.finished or 0)
        for job in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job.id]

    def _start_workers(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name=f"aeviz-jobs-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            job.started, job.state = time.monotonic(), State.RUNNING
            job.begin("starting")
            try:
                job.result = job.fn(job)
                job.state = State.DONE
            except Exception as exc:  # a failed job must not kill the worker serving everyone else
                job.error = one_line(exc, limit=500)
                job.state = State.FAILED
                warnings.warn(
                    f"aeviz job {job.label!r} failed:\n{traceback.format_exc()}", RuntimeWarning, stacklevel=1
                )
            finally:
                job.finished = time.monotonic()
                job.stage = "finished" if job.state == State.DONE else "failed"
                job._record()
