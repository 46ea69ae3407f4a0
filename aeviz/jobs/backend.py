"""Which back-end runs jobs: this server's own processes, or a Ray cluster (AEVIZ_RAY_ADDRESS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import settings
from .manager import JobManager


def make_manager(**options: Any) -> JobManager:
    """The server's training-job manager: on the Ray cluster AEVIZ_RAY_ADDRESS names (aeviz.jobs.cluster, the
    `cluster` extra), else this process's own (each job a child process). Pages and the CLI see one interface;
    without the setting, Ray is never imported."""
    address = settings.current().ray_address
    if not address:
        return JobManager(**options)
    _require_ray(address)
    from .cluster import RayJobManager

    return RayJobManager(address, **options)


def make_runner(local: Callable[[], Any], cpus: float = 1.0) -> Any:
    """Where a map fit or kNN run computes: `local()` (a HelperProcess, or None for the job's own thread), or with
    AEVIZ_RAY_ADDRESS a Ray task of `cpus` CPUs per call (aeviz.jobs.raytasks.RayTasks, HelperProcess's `call`).
    The queue's job waits for the result either way, so pages poll the same job."""
    address = settings.current().ray_address
    if not address:
        return local()
    _require_ray(address)
    from .raytasks import RayTasks

    return RayTasks(address, cpus)


def _require_ray(address: str) -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise settings.SettingsError(
            f"AEVIZ_RAY_ADDRESS is set ({address!r}) but Ray is not installed here ({exc}): "
            'pip install "aeviz[cluster]", or unset AEVIZ_RAY_ADDRESS to train on this machine.'
        ) from None
