"""Training jobs on a Ray cluster (AEVIZ_RAY_ADDRESS): the JobManager's interface, each job a detached Ray actor.

A job is an actor of its own on whichever node has its resources free (the CPUs of a job's torch threads, its
memory budget, a GPU when the cluster has one); until one has, the job waits (queued). The actor trains as a
local job's process does (`worker._train`: the probe, the budget, the time limit), stops itself when no replica
has shown the job for AEVIZ_JOB_IDLE_S, saves through the same `save_result` into the shared AEVIZ_HOME, and
writes the job's record in the shared store (`store.JobStore`). A replica keeps a mirror of each job a page
asked about and polls the actor for its progress (the same Snapshot a local job gives): any replica shows any
job, and a job outlives the replica that started it. Cancel kills the actor (`ray.kill`): its process ends at
once, whatever it is doing. A node that dies takes its actors with it; the job then fails with a message
saying so (it is not retried: it would start again from scratch on a busy cluster, unasked).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError

from .. import settings
from .base import State
from .manager import KEEP_FINISHED, JobManager
from .remote import TrainingActor
from .store import JobStore
from .training import JobRejected, JobSpec, Snapshot, TrainingJob, describe
from .worker import MB, job_threads

NAMESPACE = "aeviz"
POLL_S = 0.5  # how often a replica asks a running job's actor for its progress
SEEN_S = 5.0  # a page that showed the job this recently keeps it alive (a page polls it every 0.5-1 s)
LOST = (
    "The cluster worker running this job stopped before it finished (its node died or its process was "
    "killed). Nothing was saved; start it again."
)
_log = logging.getLogger(__name__)


def actor_name(job_id: str) -> str:
    return f"aeviz-job-{job_id}"


_RemoteActor: Any = ray.remote(TrainingActor)


def _apply(job: TrainingJob, update: dict[str, Any], *, whole: bool = False) -> None:
    """Copy an actor's poll (or, `whole`, an ended job's record) into a replica's mirror of the job."""
    now = time.monotonic()
    with job.lock:
        previous = job.latest
        for name in ("state", "phase", "message", "path", "metrics", "pid", "latest", "estimate", "steps", "tests"):
            if name in update:
                setattr(job, name, update[name])
        if whole:
            job.previews, job.maps = list(update.get("previews") or ()), list(update.get("maps") or ())
        else:
            job.previews.extend(update.get("previews") or ())
            job.maps.extend(update.get("maps") or ())
        if update.get("map_labels") is not None:
            job.map_labels = update["map_labels"]
        if update.get("elapsed"):
            job.started = now - update["elapsed"]
        if job.latest is not None and job.latest is not previous:  # the pace of this mirror's own clock
            job.pace = [(t, f) for t, f in job.pace if now - t <= 20.0] + [(now, job.latest.fraction)]
        if not job.state.active and job.finished is None:
            job.finished = now


def _mirror(record: dict[str, Any]) -> TrainingJob:
    job = TrainingJob(record["spec"], record["owner"], browser=record["browser"], id=record["id"])
    _apply(job, record, whole=True)
    if record["state"].active and record.get("started_wall"):
        job.started = time.monotonic() - (time.time() - record["started_wall"])
    return job


class RayJobManager(JobManager):
    """JobManager's interface over a Ray cluster; the caps count every replica's jobs (from the shared store)."""

    def __init__(self, address: str, **options: Any) -> None:
        super().__init__(**options)
        self.address, self.store, self.threads = address, JobStore(), job_threads()
        self._problem, self._watched = "", set[str]()
        try:
            if not ray.is_initialized():
                ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
            cpus = ray.cluster_resources().get("CPU", 0)
            self.workers = max(1, int(cpus // self.threads))
            self._gpus = ray.cluster_resources().get("GPU", 0) >= 1
        except Exception as exc:  # an unreachable cluster: the Train page says so, every other page works
            _log.warning("could not connect to the Ray cluster at %s", address, exc_info=True)
            self._problem = f"The training cluster ({address}) cannot be reached: {describe(exc)}"[:400]

    def submit(self, spec: JobSpec, owner: str, browser: str = "") -> TrainingJob:
        if self._problem:
            raise JobRejected(self._problem + ". Try again later.")
        self._reap()
        job = TrainingJob(spec, owner, browser=browser)
        with self.store.locked():  # two replicas admitting one browser's jobs at once count each other's
            records = self.store.records()
            waiting = sum(r["state"] == State.QUEUED for r in records)
            self._admit([_mirror(r) for r in records if r["state"].active and _belongs(r, owner, browser)], waiting)
            self.store.write(
                dict(id=job.id, spec=spec, owner=owner, browser=browser, state=State.QUEUED, created=time.time())
            )
        actor = _RemoteActor.options(
            name=actor_name(job.id),
            lifetime="detached",  # it outlives this replica: another one shows it
            num_cpus=self.threads,
            num_gpus=1 if self._gpus and spec.train_config.device in ("auto", "cuda") else 0,
            memory=int(self.memory_mb * MB),
            max_restarts=0,
            max_concurrency=4,  # polls are answered while `run` trains
            runtime_env={"env_vars": _environment()},
        ).remote(self._request(job))
        actor.run.remote()
        with self._lock:
            self._jobs[job.id] = job
        self._watch(job, actor)
        return job

    def _request(self, job: TrainingJob) -> dict[str, Any]:
        return dict(
            id=job.id,
            spec=job.spec,
            owner=job.owner,
            browser=job.browser,
            store=str(self.store.root),
            budget_mb=self.memory_mb,
            max_s=self.max_s,
            idle_s=self.idle_s,
            threads=self.threads,
        )

    def get(self, job_id: str | None) -> TrainingJob | None:
        """A job of any replica: this one's mirror of it, made from the shared store on first asking (and,
        while the job runs, kept up to date from then on)."""
        job = super().get(job_id)
        if job is not None:
            return job
        record = self.store.read(job_id)
        if record is None:
            return None
        with self._lock:
            job = self._jobs.setdefault(record["id"], _mirror(record))
        if job.active and not self._problem:
            self._watch(job, None)
        return job

    def jobs(self, owner: str | None = None) -> list[TrainingJob]:
        """Every replica's jobs (those still in the shared store), each as this replica's mirror or the record."""
        with self._lock:
            mine = dict(self._jobs)
        found = [mine.get(r["id"]) or _mirror(r) for r in self.store.records()]
        return [j for j in found if owner is None or j.owner == owner]

    def snapshot(self, job_id: str | None) -> Snapshot | None:
        job = self.get(job_id)
        if job is None:
            return None
        waiting = [r["id"] for r in self.store.records() if r["state"] == State.QUEUED] if job.active else []
        return job.snapshot(waiting.index(job.id) + 1 if job.id in waiting else 0)

    def cancel(self, job_id: str, reason: str = "Cancelled: nothing was saved.") -> bool:
        """Stop a job on any node within about a second: its actor's process is killed, wherever it runs."""
        job = self.get(job_id)
        if job is None or job.ended:
            return False
        job.request_stop(reason)
        record = self.store.update(job.id, unless_ended=True, stop_reason=reason)
        if record is None or not record["state"].active:
            return False
        self._kill(job.id)
        record = self.store.update(
            job.id, unless_ended=True, state=State.CANCELLED, message=reason, finished_wall=time.time()
        )
        if record is not None:
            _apply(job, {"state": record["state"], "message": record.get("message", reason)})
        return True

    def _kill(self, job_id: str) -> None:
        with contextlib.suppress(ValueError, RayActorError):  # already gone
            ray.kill(ray.get_actor(actor_name(job_id), namespace=NAMESPACE), no_restart=True)

    def _active(self, owner: str, browser: str) -> list[TrainingJob]:
        return [_mirror(r) for r in self.store.records() if r["state"].active and _belongs(r, owner, browser)]

    def _reap(self) -> None:
        """Forget old ended jobs, in this replica's memory and in the shared store."""
        self.store.prune()
        with self._lock:
            for job in [j for j in self._jobs.values() if j.ended][:-KEEP_FINISHED]:
                del self._jobs[job.id]

    def shutdown(self, wait: bool = True) -> None:
        """Cancel the jobs this replica knows of (tests; a replica that exits leaves its jobs running)."""
        for job in list(self._jobs.values()):
            self.cancel(job.id, "Cancelled: the server is shutting down.")

    # --- a replica's watch over one job ---------------------------------------------------------------------

    def _watch(self, job: TrainingJob, actor) -> None:
        with self._lock:
            if job.id in self._watched:
                return
            self._watched.add(job.id)
        name = f"aeviz-watch-{job.id}"
        threading.Thread(target=self._follow, args=(job, actor), daemon=True, name=name).start()

    def _follow(self, job: TrainingJob, actor) -> None:
        """Poll the job's actor until the job ends; then mirror its record (or record that its node died)."""
        try:
            if actor is None:
                with contextlib.suppress(ValueError):
                    actor = ray.get_actor(actor_name(job.id), namespace=NAMESPACE)
            if actor is not None:
                self._poll_until_ended(job, actor)
            self._ended(job)
        except Exception:  # a replica's watcher never takes the replica down
            _log.exception("watching training job %s failed", job.id)
        finally:
            with self._lock:
                self._watched.discard(job.id)
            with contextlib.suppress(Exception):
                if self._on_finish is not None and job.ended:
                    self._on_finish(job)

    def _poll_until_ended(self, job: TrainingJob, actor) -> None:
        pending = None
        while not job.ended:
            if pending is None:
                seen = self._alive(job.owner) or time.monotonic() - job.last_seen < SEEN_S
                pending = actor.poll.remote(seen, len(job.previews), len(job.maps))
            ready, _ = ray.wait([pending], timeout=POLL_S)
            if not ready:
                continue  # still waiting for a node with room (queued), or a long step
            try:
                update = ray.get(pending)
            except RayActorError:
                return  # killed (a cancel) or its node died: the record says which
            pending = None
            if not update["state"].active:
                return  # its record is written: _ended reads it whole
            _apply(job, update)
            time.sleep(POLL_S)

    def _ended(self, job: TrainingJob) -> None:
        record = self.store.read(job.id)
        if record is not None and record["state"].active:
            stop = record.get("stop_reason")
            record = self.store.update(
                job.id,
                unless_ended=True,
                state=State.CANCELLED if stop else State.FAILED,
                message=stop or LOST,
                finished_wall=time.time(),
            )
        if record is not None:
            _apply(job, record, whole=True)
        self._kill(job.id)  # an ended actor would otherwise linger LINGER_S


def _belongs(record: dict[str, Any], owner: str, browser: str) -> bool:
    return record["owner"] == owner or (bool(browser) and record["browser"] == browser)


def _environment() -> dict[str, str]:
    """What a job's actor runs with: this replica's AEVIZ_* settings (the same shared AEVIZ_HOME, limits and data)
    and its `aeviz` on the path. A multi-host cluster needs the same paths on every node."""
    root = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if k.startswith(settings.PREFIX) and k != "AEVIZ_RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return env
