"""One training job as a Ray actor runs it on a worker node (aeviz.jobs.cluster makes it remote; no Ray here)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..train import TrainingCancelled
from .base import State
from .manager import save_result
from .store import JobStore
from .training import JobFailed, TrainingJob, describe
from .worker import JobTooBig, _train, rss_mb

LINGER_S = 60.0  # an ended actor waits this long for a replica's last poll, then exits by itself
SERIES = ("latest", "estimate", "steps", "tests", "previews", "maps", "map_labels")  # what a page draws
_log = logging.getLogger(__name__)


class TrainingActor:
    """One job on a Ray worker: trains, saves into the shared AEVIZ_HOME, writes its record, answers polls."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.job = TrainingJob(request["spec"], request["owner"], browser=request["browser"], id=request["id"])
        self.store = JobStore(Path(request["store"]))
        self.seen = time.monotonic()

    def run(self) -> str:
        job = self.job
        job.set(State.RUNNING, phase="starting", started=time.monotonic(), pid=os.getpid())
        self.store.update(job.id, unless_ended=True, state=State.RUNNING, started_wall=time.time(), pid=os.getpid())
        try:
            result = _train(self.request, job.receive, self._should_stop)
            job.set(State.RUNNING, phase="saving")
            path = save_result(job.spec, result)
            metrics = result["metadata"].get("metrics")
            end = dict(state=State.DONE, phase="done", path=path, metrics=metrics, message=f"Saved as {path.stem}.")
        except TrainingCancelled as exc:
            end = dict(state=State.CANCELLED, message=job.message or str(exc))
        except (JobFailed, JobTooBig) as exc:
            end = dict(state=State.FAILED, message=str(exc))
        except Exception as exc:  # anything else is this job's failure, never the cluster's
            _log.warning("training job %s failed", job.id, exc_info=True)
            end = dict(state=State.FAILED, message=describe(exc))
        with job.lock:
            series = {name: getattr(job, name) for name in SERIES}
        # the record first: a replica that sees the job ended reads it at once
        self.store.update(job.id, unless_ended=True, **end, **series, elapsed=job.elapsed(), finished_wall=time.time())
        job.set(end.pop("state"), finished=time.monotonic(), **end)
        threading.Timer(LINGER_S, os._exit, (0,)).start()  # unless a replica's watcher kills it first
        return str(job.state)

    def poll(self, seen: bool, previews: int, maps: int) -> dict[str, Any]:
        """The job's progress for a replica's mirror, previews and maps after the first `previews` and `maps`."""
        if seen:
            self.seen = time.monotonic()
        job = self.job
        with job.lock:
            return dict(
                state=job.state,
                phase=job.phase,
                message=job.message,
                path=job.path,
                metrics=job.metrics,
                pid=job.pid,
                elapsed=job.elapsed(),
                latest=job.latest,
                estimate=job.estimate,
                steps=list(job.steps),
                tests=list(job.tests),
                previews=job.previews[previews:],
                maps=job.maps[maps:],
                map_labels=job.map_labels,
            )

    def _should_stop(self) -> bool:
        """Asked at every step: an abandoned page, the time limit, or memory beyond the job's budget."""
        job, now, request = self.job, time.monotonic(), self.request
        if now - self.seen > request["idle_s"]:
            job.request_stop(
                f"Cancelled: no page showed this job for {request['idle_s']:g} s and its browser is gone. "
                "Nothing was saved."
            )
        elif job.started is not None and now - job.started > request["max_s"]:
            job.request_stop(f"Cancelled at the limit of {request['max_s']:g} s per job. Nothing was saved.")
        rss = rss_mb()
        if rss is not None and rss > request["budget_mb"]:
            raise JobFailed(
                f"Stopped: the job used {rss:,.0f} MB, more than this server's budget of "
                f"{request['budget_mb']:,.0f} MB per job (AEVIZ_JOB_MEMORY_MB). Try a smaller batch "
                "or model. Nothing was saved."
            )
        return job.stop.is_set()
