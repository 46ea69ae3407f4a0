"""What a training job is made of before it runs: allowed folders, a time estimate."""

from __future__ import annotations

import time
from pathlib import Path

from .. import settings
from ..archives import kind_of
from ..models import AEConfig


def folder_roots() -> list[Path]:
    """Server folders a page may train on: AEVIZ_TRAIN_FOLDERS (an os.pathsep list), none when unset.

    None by default: any folder a browser may name is readable by every visitor of a shared server, so the
    operator opts in; students upload their images into a training set of their own session instead."""
    return [root.resolve() for root in settings.current().train_folders]


def folder_dataset(path: str) -> str:
    """'folder:<resolved path>' for a folder or an archive under an allowed root; ValueError says what is wrong."""
    folder = Path(path.strip() or ".").expanduser().resolve()
    roots = folder_roots()
    if not any(folder == root or root in folder.parents for root in roots):
        allowed = ", ".join(map(str, roots)) or "none (set AEVIZ_TRAIN_FOLDERS)"
        raise ValueError(f"{folder} is outside the folders this server trains on: {allowed}")
    if not (folder.is_dir() or (folder.is_file() and kind_of(folder.name) in ("zip", "tar"))):
        raise ValueError(f"{folder} is not a folder or an archive (.zip, .tar, .tar.gz) on this server")
    return f"folder:{folder}"


def images_per_second(
    family: str, config: AEConfig, batch_size: int = 256, device: str = "auto", steps: int = 3
) -> float:
    """Training throughput of the trainer's own step on a few random batches: what the time estimate before a
    job rests on."""
    import torch

    from ..devices import memory_format, pick_device
    from ..models import build_model
    from ..train import prepare, timed_step

    dev = pick_device(device)
    model = build_model(family, config).to(dev)
    optimizer = prepare(model, 1e-3)
    x = torch.rand((batch_size, *config.input_shape), generator=torch.Generator().manual_seed(0)).to(dev)
    x = x.contiguous(memory_format=memory_format(model))
    timed_step(model, optimizer, x)  # the first step warms up allocators and kernels and is not counted
    elapsed = sum(timed_step(model, optimizer, x) for _ in range(steps))
    return steps * batch_size / max(elapsed, 1e-9)


class Throughput:
    """Training speed per (family, input shape), timed once on a thread of its own, so that no page run waits
    for it (timing the steps made the Train page's first visit take 9-14 s on a loaded 2-core server)."""

    def __init__(self, probe=None) -> None:
        import queue
        import threading

        self._probe = probe or (lambda family, shape: images_per_second(family, _config(family, shape)))
        self._rates: dict[tuple, float] = {}
        self._asked: set[tuple] = set()
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def rate(self, family: str, shape: tuple) -> float | None:
        """Images per second, or None while it is being timed (asking starts that, once per key)."""
        import threading

        key = (family, tuple(shape))
        with self._lock:
            if key in self._rates:
                return self._rates[key]
            if key not in self._asked:
                self._asked.add(key)
                self._queue.put(key)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="aeviz-throughput", daemon=True)
                    self._thread.start()
        return None

    def wait(self, family: str, shape: tuple, timeout: float) -> float | None:
        """The rate, asking for it and waiting up to `timeout` seconds (for start-up work, never a page)."""
        key, deadline = (family, tuple(shape)), time.monotonic() + timeout
        self.rate(family, shape)
        with self._changed:
            while key not in self._rates and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return self._rates.get(key)

    def _work(self) -> None:
        while True:
            family, shape = key = self._queue.get()
            try:
                rate = float(self._probe(family, shape))
            except Exception:  # an untimeable model says so on the page (nan) instead of "measuring" forever
                rate = float("nan")
            with self._changed:
                self._rates[key] = rate
                self._changed.notify_all()


def _config(family: str, shape: tuple) -> AEConfig:
    from ..models import make_config

    return make_config(family, input_shape=tuple(shape))
