"""Background jobs, one vocabulary for all: in-process jobs (maps, kNN), training jobs, and the helper process."""

from __future__ import annotations

from .backend import make_manager, make_runner
from .base import ACTIVE, FINISHED, Job, State
from .helper import HelperError, HelperProcess, in_cache_dir, one_thread
from .manager import JobManager, sweep_temp_files
from .queue import Jobs, QueueJob, Timings
from .training import JobFailed, JobRejected, JobSpec, Snapshot, TrainingJob, small_model_job

__all__ = [
    "ACTIVE",
    "FINISHED",
    "HelperError",
    "HelperProcess",
    "Job",
    "JobFailed",
    "JobManager",
    "JobRejected",
    "JobSpec",
    "Jobs",
    "QueueJob",
    "Snapshot",
    "State",
    "Timings",
    "TrainingJob",
    "in_cache_dir",
    "make_manager",
    "make_runner",
    "one_thread",
    "small_model_job",
    "sweep_temp_files",
]
