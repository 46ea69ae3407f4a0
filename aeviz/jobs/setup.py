"""What a training job is made of before it runs: allowed folders, measured rates for its time."""

from __future__ import annotations

import time
import weakref
from pathlib import Path

from .. import settings
from ..archives import kind_of
from ..models import AEConfig
from ..ownformat import GREY28, Format, own_name
from .timing import Rates, measure, measure_startup


def folder_roots() -> list[Path]:
    """Server folders a page may train on: AEVIZ_TRAIN_FOLDERS (an os.pathsep list), none when unset.

    None by default: any folder a browser may name is readable by every visitor of a shared server, so the
    operator opts in; students upload their images into a training set of their own session instead."""
    return [root.resolve() for root in settings.current().train_folders]


def folder_dataset(path: str, fmt: Format = GREY28) -> str:
    """'folder:<resolved path>' ('folder@rgb32:…' read at another format) for a folder or an archive under an
    allowed root; ValueError says what is wrong."""
    folder = Path(path.strip() or ".").expanduser().resolve()
    roots = folder_roots()
    if not any(folder == root or root in folder.parents for root in roots):
        allowed = ", ".join(map(str, roots)) or "none (set AEVIZ_TRAIN_FOLDERS)"
        raise ValueError(f"{folder} is outside the folders this server trains on: {allowed}")
    if not (folder.is_dir() or (folder.is_file() and kind_of(folder.name) in ("zip", "tar"))):
        raise ValueError(f"{folder} is not a folder or an archive (.zip, .tar, .tar.gz) on this server")
    return own_name("folder", str(folder), fmt)


def rates_of(family: str, config: AEConfig, batch_size: int = 256, device: str = "auto") -> Rates:
    """The trainer's own step, inference, kNN and saving timed on random images of the model's input shape:
    what the time estimate before a job rests on (timing.measure, as a job's own probe measures them)."""
    import torch

    from ..devices import pick_device
    from ..models import build_model

    dev = pick_device(device)
    model = build_model(family, config).to(dev)
    x = torch.rand((batch_size, *config.input_shape), generator=torch.Generator().manual_seed(0)).to(dev)
    return measure(model, x, batch_size)


def _measure(key: tuple):
    """What a Throughput key asks for: ('rates', family, config) or ('startup', dataset, subset)."""
    if key[0] == "startup":
        from .worker import job_threads

        return measure_startup(key[1], key[2], job_threads())
    return rates_of(key[1], key[2])


class Throughput:
    """Training speed per model config, and a training process's start per dataset, each measured once on a
    thread of its own, so that no page run waits for it (timing the steps made the Train page's first visit take
    9-14 s on a loaded 2-core server)."""

    def __init__(self, probe=None) -> None:
        import queue
        import threading

        self._probe = probe or _measure
        self._found: dict[tuple, object] = {}
        self._asked: set[tuple] = set()
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        _EVERY.add(self)

    def idle(self, timeout: float) -> bool:
        """Whether every measurement asked for is made within `timeout` seconds (they build and step models on
        torch's global RNG, in this process: a test of seeded training waits for them)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._asked - self._found.keys():
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    return False
        return True

    def get(self, key: tuple):
        """The measurement, FAILED if it could not be made, or None while it is being made (asking starts that,
        once per key)."""
        import threading

        with self._lock:
            if key in self._found:
                return self._found[key]
            if key not in self._asked:
                self._asked.add(key)
                self._queue.put(key)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="aeviz-throughput", daemon=True)
                    self._thread.start()
        return None

    def wait(self, key: tuple, timeout: float):
        """The measurement, asking for it and waiting up to `timeout` seconds (for start-up work, never a page)."""
        deadline = time.monotonic() + timeout
        self.get(key)
        with self._changed:
            while key not in self._found and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return self._found.get(key)

    def learn(self, key: tuple, found) -> None:
        """A measurement made elsewhere (a finished job's own): it replaces this key's, asked or not."""
        with self._changed:
            self._asked.add(key)
            self._found[key] = found
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            key = self._queue.get()
            try:
                found = self._probe(key)
            except Exception:  # an untimeable model says so on the page instead of "measuring" forever
                found = FAILED
            with self._changed:
                self._found[key] = found
                self._changed.notify_all()


FAILED = "failed"  # a measurement that could not be made
_EVERY: weakref.WeakSet[Throughput] = weakref.WeakSet()  # this process's probes (Throughput.idle)


def all_idle(timeout: float) -> bool:
    """Whether every Throughput of this process has made all it was asked within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    return all(probe.idle(max(0.0, deadline - time.monotonic())) for probe in list(_EVERY))


def _config(family: str, shape: tuple) -> AEConfig:
    from ..models import make_config

    return make_config(family, input_shape=tuple(shape))
