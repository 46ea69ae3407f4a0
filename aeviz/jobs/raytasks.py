"""Map fits and kNN runs as Ray tasks (AEVIZ_RAY_ADDRESS): the helper process's `call`, run on the cluster."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ray

from .cluster import NAMESPACE, _environment

_connect_lock = threading.Lock()


@ray.remote(max_retries=0)  # a fit is not retried on another node unasked: its job fails with the reason
def _run(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


class RayTasks:
    """HelperProcess.call's interface over a Ray cluster: each call one task of `cpus` CPUs on whichever node has
    them free, its result (or its exception's text) returned to the caller, i.e. to the queue's job thread, so a
    page polls the same aeviz.jobs.QueueJob as on one machine. Results written to the cache go to the shared
    AEVIZ_CACHE_DIR / AEVIZ_HOME the task inherits (every node must see the same paths)."""

    def __init__(self, address: str, cpus: float = 1.0) -> None:
        self.address, self.cpus = address, cpus

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) on the cluster; its exceptions come back as RuntimeError with their text."""
        with _connect_lock:
            if not ray.is_initialized():
                ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        task = _run.options(num_cpus=self.cpus, runtime_env={"env_vars": _environment()})
        ref = task.remote(fn, args, kwargs)
        try:
            return ray.get(ref, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            raise RuntimeError(f"the cluster task took longer than {timeout:g} s and was stopped") from None
        except ray.exceptions.RayTaskError as exc:  # the function's own error, its text as the helper gives it
            raise RuntimeError(str(exc.cause) if exc.cause is not None else str(exc)) from None
        except ray.exceptions.RayError as exc:  # a node or worker lost mid-task
            raise RuntimeError(f"the cluster worker running this stopped before it finished: {exc}") from None

    def stop(self) -> None:
        """Nothing to stop: tasks end with their calls (HelperProcess's interface)."""
