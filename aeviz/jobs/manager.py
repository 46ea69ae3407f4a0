"""The server's training-job manager: a bounded queue, each job trained in its own process and watched."""

from __future__ import annotations

import errno
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import settings, workspaces
from ..atomic import shared_lock, sweep_temp_files
from ..checkpoints import SESSION, SUFFIX, origin_of, user_dir
from ..models import build_model
from ..saving import save_trained
from ..train import TrainingCancelled
from .base import State
from .training import JobFailed, JobRejected, JobSpec, Snapshot, TrainingJob, describe
from .worker import TrainProcess, memory_budget_mb

_SAVES = threading.Lock()
KEEP_FINISHED = 32  # finished jobs remembered for their pages; older ones are forgotten (memory stays bounded)
_log = logging.getLogger(__name__)


class JobManager:
    """A bounded queue of training jobs served by `workers` threads; one per server, shared by all sessions.

    Defaults from the environment: AEVIZ_MAX_JOBS workers (1), AEVIZ_MAX_QUEUED waiting jobs (8),
    AEVIZ_BROWSER_MAX_JOBS running or waiting jobs per browser (1),
    AEVIZ_JOB_IDLE_S (120) and AEVIZ_JOB_MAX_S (3600). A job is cancelled when no page has shown it for
    idle_s while `alive(owner)` says its owner's browser is gone, or once it has run max_s.
    `on_finish(job)` runs in the worker after every job, however it ended.
    """

    def __init__(
        self,
        workers: int | None = None,
        max_queued: int | None = None,
        idle_s: float | None = None,
        max_s: float | None = None,
        alive: Callable[[str], bool] | None = None,
        on_finish: Callable[[TrainingJob], None] | None = None,
        memory_mb: float | None = None,
    ) -> None:
        configured = settings.current()
        self.workers = max(1, int(workers or configured.max_jobs))
        self.max_queued = int(max_queued if max_queued is not None else configured.max_queued)
        self.per_browser = configured.browser_max_jobs  # all of a browser's tabs together
        self.idle_s = idle_s if idle_s is not None else configured.job_idle_s
        self.max_s = max_s if max_s is not None else configured.job_max_s
        self.memory_mb = memory_mb if memory_mb is not None else memory_budget_mb()
        self._alive, self._on_finish = alive or (lambda owner: False), on_finish
        self._queue: queue.Queue[TrainingJob | None] = queue.Queue()
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        sweep_temp_files(user_dir())

    def submit(self, spec: JobSpec, owner: str, browser: str = "") -> TrainingJob:
        """Queue a job; JobRejected when its browser (all its tabs together) already has as many as
        AEVIZ_BROWSER_MAX_JOBS allows, or when too many wait.

        `browser` identifies the owner's browser across tabs and reloads ("": unknown, then the session alone
        counts); see `claim`."""
        self._reap()
        with self._lock:
            waiting = sum(j.state == State.QUEUED for j in self._jobs.values())
            self._admit(self._active(owner, browser), waiting)
            job = TrainingJob(spec, owner, browser=browser)
            self._jobs[job.id] = job
            while len(self._threads) < self.workers:  # lazily: a server that never trains starts no thread
                self._threads.append(
                    threading.Thread(target=self._work, daemon=True, name=f"aeviz-train-{len(self._threads)}")
                )
                self._threads[-1].start()
        self._queue.put(job)
        return job

    def _admit(self, mine: list, waiting: int) -> None:
        """JobRejected when the browser's jobs (`mine`, any with an `id`) are at its limit or `waiting` jobs fill
        the queue: the one check of both back-ends."""
        limit = self.per_browser
        if len(mine) >= limit:
            raise JobRejected(
                f"This browser already has {len(mine)} training job{'s' * (len(mine) != 1)}, in this tab or "
                f"another (this server allows {limit} per browser): cancel it or wait until it finishes.",
                mine[0].id,
            )
        if waiting >= self.max_queued:
            raise JobRejected(f"The server is busy: {waiting} jobs are waiting. Try again in a few minutes.")

    def get(self, job_id: str | None) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(job_id or "")

    def jobs(self, owner: str | None = None) -> list[TrainingJob]:
        """Jobs in submission order (every owner's unless one is named)."""
        with self._lock:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def snapshot(self, job_id: str | None) -> Snapshot | None:
        """The job's state, with its place in the queue (1 = next) while it waits."""
        job = self.get(job_id)
        if job is None:
            return None
        waiting = [j.id for j in self.jobs() if j.state == State.QUEUED]
        return job.snapshot(waiting.index(job.id) + 1 if job.id in waiting else 0)

    def cancel(self, job_id: str, reason: str = "Cancelled: nothing was saved.") -> bool:
        """Stop a job: a waiting one at once, a running one within 0.1 s (its training process is ended)."""
        job = self.get(job_id)
        if job is None or job.ended:
            return False
        job.request_stop(reason)
        if job.state == State.QUEUED:  # frees its place at once; the worker skips it when its turn comes
            job.set(State.CANCELLED, finished=time.monotonic())
        return True

    def active(self, owner: str, browser: str = "") -> list[TrainingJob]:
        """The jobs of this session's browser (all its tabs; the session alone when the browser is unknown)
        that still run or wait: each will save a model into its workspace."""
        with self._lock:
            return self._active(owner, browser)

    def _active(self, owner: str, browser: str) -> list[TrainingJob]:
        return [j for j in self._jobs.values() if j.active and self._same_browser(j, owner, browser)]

    @staticmethod
    def _same_browser(job: TrainingJob, owner: str, browser: str) -> bool:
        return job.owner == owner or (bool(browser) and job.browser == browser)

    def controls(self, job_id: str, owner: str, browser: str = "") -> bool:
        """Whether this session may cancel the job: it started it, or another tab of its browser did."""
        job = self.get(job_id)
        return job is not None and self._same_browser(job, owner, browser)

    def claim(self, job_id: str, owner: str, browser: str = "") -> bool:
        """Give a job back to its browser's new session (a reloaded page); True if `owner` has it now.

        Only the browser that started the job may take it over, only once that session is gone, and only
        when the new session has no other job: anyone else with the link watches but cannot cancel it."""
        job = self.get(job_id)
        with self._lock:
            if (
                job is not None
                and job.owner != owner
                and job.browser
                and browser == job.browser
                and not self._alive(job.owner)
                and job.active
                and not any(j.owner == owner and j.active for j in self._jobs.values())
            ):
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

    def _run(self, job: TrainingJob) -> None:
        if job.ended or self._should_stop(job):  # cancelled (or abandoned) while it waited
            job.set(State.CANCELLED, finished=job.finished or time.monotonic())
            return
        job.set(State.RUNNING, phase="starting", started=time.monotonic())
        try:
            result = self._train_in_child(job)
            job.set(State.RUNNING, phase="saving")
            path = save_result(job.spec, result)
            job.set(
                State.DONE,
                phase="done",
                path=path,
                metrics=result["metadata"].get("metrics"),
                message=f"Saved as {path.stem}.",
                finished=time.monotonic(),
            )
        except TrainingCancelled as exc:
            job.set(State.CANCELLED, message=job.message or str(exc), finished=time.monotonic())
        except JobFailed as exc:
            job.set(State.FAILED, message=str(exc), finished=time.monotonic())
        except Exception as exc:  # anything else is this job's failure, never the server's
            _log.warning("training job %s failed", job.id, exc_info=True)
            job.set(State.FAILED, message=describe(exc), finished=time.monotonic())

    def _train_in_child(self, job: TrainingJob) -> dict[str, Any]:
        """Train in a process of its own, watched from here: a cancel, the limits or the memory budget end it
        at once, whatever it is doing (a long step, a folder scan), and its out-of-memory death is only its own."""
        child = TrainProcess({"spec": job.spec, "budget_mb": self.memory_mb, "max_s": self.max_s})
        job.set(State.RUNNING, pid=child.pid)
        try:
            while True:
                for message in child.messages(timeout=0.1):
                    if message is None:
                        code = child.kill()
                        raise JobFailed(
                            f"The training process ended unexpectedly (exit code {code}"
                            f"{', probably out of memory' if code in (-9, 137) else ''}). "
                            "Nothing was saved."
                        )
                    kind, payload = message
                    if kind == "result":
                        return payload
                    if kind in ("refused", "error"):
                        raise JobFailed(payload)
                    if kind == "diverged":
                        job.set(State.RUNNING, phase="diverged")  # the page says so, in the trainer's words
                        raise JobFailed(payload)
                    job.receive(kind, payload)
                if self._should_stop(job):
                    raise TrainingCancelled(job.message)
                rss = child.rss_mb()
                if rss is not None and rss > self.memory_mb:
                    raise JobFailed(
                        f"Stopped: the job used {rss:,.0f} MB, more than this server's budget of "
                        f"{self.memory_mb:,.0f} MB per job (AEVIZ_JOB_MEMORY_MB). Try a smaller batch "
                        "or model. Nothing was saved."
                    )
        finally:
            child.kill()

    def _should_stop(self, job: TrainingJob) -> bool:
        """Polled every 0.1 s while a job runs: a cancel, an abandoned page or the time limit."""
        if not job.stop.is_set():
            now = time.monotonic()
            if self._alive(job.owner):
                job.touch()
            if now - job.last_seen > self.idle_s:
                job.request_stop(
                    f"Cancelled: no page showed this job for {self.idle_s:g} s and its browser "
                    "is gone. Nothing was saved."
                )
            elif job.started is not None and now - job.started > self.max_s:
                job.request_stop(f"Cancelled at the limit of {self.max_s:g} s per job. Nothing was saved.")
        return job.stop.is_set()

    def _reap(self) -> None:
        """Cancel abandoned jobs still in the queue (freeing their place); forget old finished jobs."""
        for job in self.jobs():
            if job.state == State.QUEUED and self._should_stop(job):
                job.set(State.CANCELLED, finished=time.monotonic())
        with self._lock:
            for job in [j for j in self._jobs.values() if j.ended][:-KEEP_FINISHED]:
                del self._jobs[job.id]


def save_result(spec: JobSpec, result: dict[str, Any]) -> Path:
    """A training process's result saved: the model and its replay, all or nothing, under a file name nobody
    has (two queued jobs may have asked for the same); in a browser's workspace, after making room among all
    workspaces. JobFailed (nothing kept) when the disk refuses. One save at a time for every process sharing
    AEVIZ_HOME (a replica's jobs, a Ray cluster's), so two never pick the same free name or evict together."""
    model = build_model(result["family"], result["config"])
    model.load_state_dict(result["state"])
    folder = Path(spec.folder) if spec.folder else user_dir()
    try:
        with _SAVES, shared_lock(user_dir().parent / ".save.lock"):
            if origin_of(folder) == SESSION:
                for evicted in workspaces.make_room(folder.name):
                    _log.info("all workspaces full: %s made room for a new model", evicted)
            return save_trained(folder / f"{spec.name}{SUFFIX}", model.cpu(), result["metadata"], result.get("replay"))
    except OSError as exc:  # a full disk, a folder gone: one outcome, and nothing was kept
        _log.warning("a training job could not save its model %s", spec.name, exc_info=True)
        raise JobFailed(_unsaved(exc)) from exc


def _unsaved(exc: OSError) -> str:
    """What the page says when the trained model could not be written: why, and that nothing was kept."""
    why = "the server's disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
    return f"the model was trained, but could not be saved ({why}), so nothing was kept. Try again later."
