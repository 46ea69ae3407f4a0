"""Slow work off the lecture's critical path: a process-wide job queue, and a helper process for GIL-bound fits."""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


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
class Job:
    """One piece of slow work (a UMAP fit, a kNN run). Its fields are written by the worker thread only.

    A job of a `kind` is timed (from `begin`, or its start) and its time, per unit of `size`, estimates the
    next one of that kind; `expected_s` is None until one has been measured, or a fixed figure given."""

    key: str
    label: str
    expected_s: float | None
    fn: Callable[[Job], Any] = field(repr=False)
    kind: str = ""
    size: float = 1.0
    timings: Timings | None = field(default=None, repr=False)
    state: str = QUEUED
    stage: str = "waiting for the worker"
    error: str = ""
    result: Any = field(default=None, repr=False)
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    clock: float | None = None  # when the timed part of the work began
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.state in (DONE, FAILED)

    def elapsed(self) -> float:
        """Seconds since the job started running (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def left(self) -> float | None:
        """Seconds still to go by the measured estimate (negative once overrun), None without an estimate."""
        if self.expected_s is None or self.clock is None or self.done:
            return None
        return self.expected_s - (time.monotonic() - self.clock)

    def progress(self) -> float:
        """0..1 for a progress bar: the timed part over its estimate, held below 1 until the job has ended.

        The fits themselves report no progress; a job that overruns its estimate creeps towards 0.99 rather
        than sitting at 100 % while still working, and one without an estimate creeps without promising.
        """
        if self.done:
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
        if self.kind and self.timings is not None and self.state == DONE and self.clock is not None:
            self.timings.record(self.kind, self.size, (self.finished or time.monotonic()) - self.clock)


class Jobs:
    """A FIFO of jobs run by `workers` daemon threads; asking twice for the same key shares one job.

    One worker by default: a lecture server's cores belong to the students' reruns, so slow work waits
    its turn instead of running several fits at once. Failed jobs stay visible until resubmitted.
    """

    def __init__(self, workers: int = 1, keep: int = 256) -> None:
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._workers, self._keep = workers, keep
        self.timings = Timings()

    def submit(self, key: str, fn: Callable[[Job], Any], *, label: str, expected_s: float | None = 10.0,
               kind: str = "", size: float = 1.0) -> Job:
        """The job for `key`: the existing one unless it failed, else a new one queued to run `fn(job)`.

        With a `kind`, the job is timed and estimated from the last finished job of that kind (see Job)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != FAILED:
                return job
            job = Job(key, label, None if expected_s is None else float(expected_s), fn, kind, size, self.timings)
            self._jobs[key] = job
            self._prune()
            self._start_workers()
        self._queue.put(job)
        return job

    def get(self, key: str) -> Job | None:
        return self._jobs.get(key)

    def ahead_of(self, job: Job) -> int:
        """How many jobs must start or end before `job` can start: 0 once it runs."""
        if job.state != QUEUED:
            return 0
        with self._lock:
            earlier = sum(1 for j in self._jobs.values() if j.state == QUEUED and j.submitted < job.submitted)
            running = sum(1 for j in self._jobs.values() if j.state == RUNNING)
        return earlier + max(0, running - self._workers + 1)

    def _prune(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.done), key=lambda j: j.finished or 0)
        for job in finished[:max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job.key]

    def _start_workers(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name=f"aeviz-jobs-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            job.started, job.state = time.monotonic(), RUNNING
            job.begin("starting")
            try:
                job.result = job.fn(job)
                job.state = DONE
            except Exception as exc:  # a failed job must not kill the worker serving everyone else
                job.error = f"{type(exc).__name__}: {exc}"
                job.state = FAILED
                warnings.warn(f"aeviz job {job.label!r} failed:\n{traceback.format_exc()}", RuntimeWarning,
                              stacklevel=1)
            finally:
                job.finished = time.monotonic()
                job.stage = "finished" if job.state == DONE else "failed"
                job._record()



# --- a helper process: numba holds the GIL --------------------------------------------------------------
# Measured on 2 cores: a warm UMAP fit of 10k codes in a server thread held the GIL for up to 100 ms at a
# time (p99 of a 1 ms sleep in another thread: 55-76 ms), and the JIT warm-up for 750 ms: every other
# session's rerun would stall behind it. In a separate process the server's threads are untouched.
# A plain subprocess rather than multiprocessing's spawn, which re-runs the parent's __main__ (a pytest,
# benchmark or notebook) in the child. Messages are pickles between our own two processes only.

class WorkerError(RuntimeError):
    """The helper process died (killed, out of memory) or could not start; the next call restarts it."""


class Worker:
    """One low-priority helper process running module-level functions one call at a time.

    `initializer` runs in the helper as soon as it starts (e.g. warming numba). Calls from several threads
    queue on a lock. The helper ends when the server does (its stdin closes).
    """

    def __init__(self, initializer: Callable[[], Any] | None = None, nice: int = 5) -> None:
        self._initializer, self._nice = initializer, nice
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._replies_due = 0  # replies to read before the next call's own (the initializer's)

    def start(self) -> None:
        """Start the helper now (idempotent), so its initializer runs before the first request."""
        with self._lock:
            self._ensure_started()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def warming(self) -> bool:
        """Whether the initializer is still running (its reply has not arrived yet)."""
        process = self._process
        if not self._replies_due or process is None:
            return False
        readable, _, _ = select.select([process.stdout], [], [], 0)
        return not readable

    def _ensure_started(self) -> None:
        if self.alive:
            return
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from aeviz.background import _serve; _serve({self._nice})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._replies_due = 0
        if self._initializer is not None:
            self._send((self._initializer, (), {}))
            self._replies_due = 1

    def _send(self, message: tuple) -> None:
        blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)  # fails here, not half-way into the pipe
        self._process.stdin.write(blob)
        self._process.stdin.flush()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in the helper; its exceptions come back as RuntimeError with their text."""
        with self._lock:
            self._ensure_started()
            try:
                self._send((fn, args, kwargs))
                for _ in range(self._replies_due):
                    pickle.load(self._process.stdout)  # the initializer's: a failure there only costs speed
                self._replies_due = 0
                ok, value = pickle.load(self._process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                code = self._stop()
                raise WorkerError(f"the helper process ended (exit code {code}): {exc}") from None
        if not ok:
            raise RuntimeError(value)
        return value

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        with contextlib.suppress(OSError):
            process.kill()
        return process.wait(5)


def _exit_with_parent() -> None:
    """End this helper as soon as its server is gone, even in the middle of a long fit.

    A closed stdin is only noticed between requests; a server killed (or a test ending) during a
    minutes-long warm-up or fit would otherwise leave an orphan burning a core.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="aeviz-parent-watch", daemon=True).start()


def _serve(nice: int) -> None:
    """The helper's loop: read (fn, args, kwargs) pickles from stdin, write (ok, value) pickles to stdout."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the replies
    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)  # the students' reruns come first
    _exit_with_parent()
    requests = sys.stdin.buffer
    while True:
        try:
            fn, args, kwargs = pickle.load(requests)
        except (EOFError, OSError):
            return  # the server went away
        try:
            reply = (True, fn(*args, **kwargs))
        except Exception as exc:
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
            replies.flush()
        except OSError:
            return  # the server went away while we worked


def in_cache_dir(cache_root: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) with AEVIZ_CACHE_DIR set: the helper's environment was fixed when it started,
    and the server (or a test) may use another cache folder by now."""
    os.environ["AEVIZ_CACHE_DIR"] = cache_root
    return fn(*args, **kwargs)
