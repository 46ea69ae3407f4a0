"""Which back-end runs training jobs: this server's own processes, or a Ray cluster (AEVIZ_RAY_ADDRESS)."""

from __future__ import annotations

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
    try:
        from .cluster import RayJobManager
    except ImportError as exc:
        raise settings.SettingsError(
            f"AEVIZ_RAY_ADDRESS is set ({address!r}) but Ray is not installed here ({exc}): "
            'pip install "aeviz[cluster]", or unset AEVIZ_RAY_ADDRESS to train on this machine.'
        ) from None
    return RayJobManager(address, **options)
