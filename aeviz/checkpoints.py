"""Checkpoints: safetensors weights plus JSON metadata, written atomically and validated on load."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from . import settings
from .atomic import atomic_write
from .headers import FORMAT, CheckpointError, check_fits, read_header  # CheckpointError: re-exported
from .models import AutoEncoder, Codec, series_of
from .places import sessions_dir, user_dir  # re-exported: where checkpoints live

SUFFIX = ".safetensors"
VIRTUAL_SUFFIX = ".adapter"  # an adapter model's path (aeviz.foreign.adapters): a name beside its file, never on disk

_SHIPPED_ZOO = Path(__file__).resolve().parent.parent / "checkpoints"  # resolved once: pages ask on every run


def zoo_dir() -> Path:
    """The shipped model zoo (the repository's checkpoints/ folder), overridable by AEVIZ_ZOO_DIR."""
    return settings.current().zoo_dir or _SHIPPED_ZOO


def shipped_path(checkpoint: str | Path, kind: str) -> Path:
    """Where the zoo ships precomputed test-set arrays of a checkpoint: `<name>.<kind>.npz` beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / f"{checkpoint.name.removesuffix(SUFFIX)}.{kind}.npz"


def maps_path(checkpoint: str | Path) -> Path:
    """The shipped 2-D maps of the test codes (see projection.save_maps)."""
    return shipped_path(checkpoint, "maps")


ERROR_METRICS = ("mse", "bce")


def save_test_errors(checkpoint: str | Path, content: str, errors: dict[str, np.ndarray]) -> None:
    """Ship per-image test errors beside a zoo checkpoint, so a cold server ranks images at once."""
    from .diskcache import save_arrays

    save_arrays(
        shipped_path(checkpoint, "errors"),
        content_hash=np.array(content),
        **{m: np.asarray(e, np.float32) for m, e in errors.items()},
    )


def load_test_errors(checkpoint: str | Path, content: str, metric: str, n: int) -> np.ndarray | None:
    """The shipped per-image test errors (n,) under `metric`; None if missing, stale or for another split."""
    from .sidecars import floats, load_sidecar, text

    expect = {"content_hash": text(), **{m: floats("N", required=False) for m in ERROR_METRICS}}
    arrays = load_sidecar(shipped_path(checkpoint, "errors"), expect, content_hash=content, max_mb=4)
    if arrays is None or metric not in arrays:
        return None
    return arrays[metric] if arrays[metric].shape == (n,) else None


def content_hash(state: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the tensors: identifies the weights themselves."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        # flat first: a channels_last 1x1 conv weight counts as contiguous with a last stride of C, not 1
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import numpy

    from . import __version__

    return {
        "aeviz": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def machine(**extra) -> dict:
    """What a timing was measured on: CPU model, logical CPUs this process may use, torch's threads."""
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:  # not Linux: platform's (vaguer) name
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "logical_cpus": usable, "torch_threads": torch.get_num_threads(), **extra}


def save_checkpoint(path: str | Path, model: AutoEncoder, metadata: dict[str, Any] | None = None) -> Path:
    """Write weights + metadata atomically: a crash at any point leaves the previous file intact. (A trained
    model with its replay: aeviz.saving.save_trained, which writes both or neither.)"""
    blob, meta = checkpoint_bytes(model, metadata)
    atomic_write(path, blob)
    model.metadata = meta
    return Path(path)


def checkpoint_bytes(model: AutoEncoder, metadata: dict[str, Any] | None = None) -> tuple[bytes, dict[str, Any]]:
    """The checkpoint file's bytes (safetensors, the metadata in its header) and that metadata."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        **(metadata or {}),
        "format": FORMAT,
        "family": model.family,
        "config": model.config.to_dict(),
        "hash": content_hash(state),
        "versions": versions(),
        "created": (metadata or {}).get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return save(state, metadata={"aeviz": json.dumps(meta)}), meta


def save_imported(path: str | Path, programs: dict[str, bytes], metadata: dict[str, Any]) -> Path:
    """Write an imported model (its torch.export programs' bytes, as uint8 tensors) like any checkpoint."""
    from safetensors.torch import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: torch.frombuffer(bytearray(blob), dtype=torch.uint8) for key, blob in programs.items()}
    meta = {
        **metadata,
        "format": FORMAT,
        "hash": content_hash(state),
        "versions": versions(),
        "created": metadata.get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write(path, save(state, metadata={"aeviz": json.dumps(meta)}))
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata from the header alone (cheap: no weights are read), checked against its schema."""
    return read_header(path)[0]


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Codec:
    """A validated model in eval mode with gradients off, its metadata in `model.metadata` (an imported model:
    an ImportedModel, which offers the same encode, decode and reconstruct)."""
    from safetensors.torch import load_file

    path = Path(path)
    meta, shapes = read_header(path)
    skeleton = check_fits(path.name, meta, shapes)  # before anything is allocated: a config may claim gigabytes
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged body
        raise CheckpointError(f"{path.name}: weights are unreadable or truncated ({exc})") from None
    if content_hash(state) != meta.get("hash"):
        raise CheckpointError(f"{path.name}: weights do not match their recorded hash (modified or damaged)")
    if "interface" in meta:  # a model trained elsewhere: its programs, not aeviz's layers
        from .foreign.model import from_state

        imported = from_state(path.name.removesuffix(SUFFIX), state, meta, device)
        imported.metadata = {**meta, "path": str(path)}
        return imported
    try:
        # the checked meta-device model takes the loaded tensors as they are: building a second one on the CPU
        # drew random initial weights only to overwrite them (~40 % of loading a zoo model)
        model = cast(AutoEncoder, skeleton)
        wanted = model.state_dict()
        model.load_state_dict({k: v.to(wanted[k].dtype) for k, v in state.items()}, strict=True, assign=True)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: weights do not fit the recorded config ({exc})") from None
    model.metadata = {**meta, "path": str(path)}
    model.requires_grad_(False)
    return model.eval().to(device)


# Where a checkpoint comes from: shipped with aeviz, trained or imported on this server (CLI, operator, shared
# with every session), or trained from one browser session (seen only by it and by its share links).
ZOO, SERVER, SESSION = "zoo", "server", "session"


ORIGINS = (ZOO, SERVER, SESSION)  # the order pickers list them in: the zoo first


def _rank(origin: str) -> int:
    return ORIGINS.index(origin) if origin in ORIGINS else len(ORIGINS)


def origin_of(folder: str | Path) -> str:
    """ZOO for the zoo folder, SESSION for a session's workspace, SERVER for any other (the user folder)."""
    folder = Path(folder).resolve()
    if folder == zoo_dir().resolve():
        return ZOO
    return SESSION if folder.parent == sessions_dir().resolve() else SERVER


def device_words(metadata: dict) -> str:
    """The device a model was trained on as its metadata says ('' if unrecorded); older trainers' 'CPU (1 threads)'
    reads 'CPU (1 thread)'."""
    return str(metadata.get("device") or "").replace("(1 threads)", "(1 thread)")


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint found on disk, described from its header."""

    path: Path
    metadata: dict[str, Any]
    origin: str = ""  # ZOO, SERVER (or another origin's name); found from the file's folder when not given
    shared: bool = False  # a SESSION model of someone else's workspace, listed through a share link (`?ws=`)

    def __post_init__(self) -> None:
        if not self.origin:
            object.__setattr__(self, "origin", origin_of(self.path.parent))

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(SUFFIX).removesuffix(VIRTUAL_SUFFIX)

    @property
    def key(self) -> str:
        """Unique across folders: a zoo model by its bare name (so links made before keep working), any other as
        'origin:name', e.g. 'server:mnist-dense-q16-bce' for a model trained here under a zoo model's name; a
        session's as 'session-<token>:name', so a share link names the workspace it opens."""
        if self.origin == ZOO:
            return self.name
        workspace = f"-{self.path.parent.name}" if self.origin == SESSION else ""
        return f"{self.origin}{workspace}:{self.name}"

    def __str__(self) -> str:  # how a chosen model appears in the URL
        return self.key

    @property
    def label(self) -> str:
        """How pickers show it: the name, and where it comes from unless it is shipped with the zoo."""
        return self.name if self.origin == ZOO else f"{self.name} · {self.where}"

    @property
    def trained_on(self) -> str:
        """The device it was trained on, as its metadata says."""
        return device_words(self.metadata) or "an unrecorded device"

    @property
    def where(self) -> str:
        """Where it comes from, in words a page can print: 'zoo', 'server', 'yours', 'shared' (a model of a link
        someone sent), or 'imported (pythae)'."""
        if self.imported:
            return f"imported ({self.imported})"
        if self.origin == SESSION:
            return "shared" if self.shared else "yours"
        return self.origin

    @property
    def imported(self) -> str:
        """How a model trained elsewhere came in ('torch.export', 'pythae', 'adapter'); '' for aeviz's own."""
        interface = self.metadata.get("interface")
        return str(interface.get("source", "")) if isinstance(interface, dict) else ""

    @property
    def family(self) -> str:
        return self.metadata["family"]

    @property
    def dataset(self) -> str:
        return self.metadata.get("dataset", "?")

    @property
    def config(self) -> dict[str, Any]:
        return self.metadata.get("config", {})

    @property
    def arch(self) -> str:
        """'dense' or 'conv' (the config's default when a config leaves it out)."""
        return self.config.get("arch", "dense")

    @property
    def bottleneck(self) -> int:
        return int(self.metadata["config"]["bottleneck"])

    @property
    def metrics(self) -> dict[str, float]:
        return self.metadata.get("metrics", {})

    @property
    def series(self) -> str:
        """The slug without the bottleneck: models that differ only in q form one series."""
        return self.metadata.get("series") or series_of(self.metadata.get("slug", self.name))


def list_checkpoints(dirs: list[Path] | None = None, dataset: str | None = None) -> list[CheckpointInfo]:
    """Every valid checkpoint in the zoo and the user folder (bad files are skipped, see `scan_errors`)."""
    found, _ = scan_checkpoints(dirs)
    return [c for c in found if dataset is None or c.dataset == dataset]


def scan_checkpoints(dirs: list[Path] | None = None) -> tuple[list[CheckpointInfo], list[str]]:
    """(valid checkpoints sorted by dataset, series, q, the zoo's first; messages about files that could not be
    read or failed their schema)."""
    infos, errors = [], []
    for folder in dirs if dirs is not None else [zoo_dir(), user_dir()]:
        origin = origin_of(folder)
        for path in sorted(Path(folder).glob(f"*{SUFFIX}")):
            try:
                infos.append(CheckpointInfo(path, read_metadata(path), origin))
            except CheckpointError as exc:
                errors.append(str(exc))
    infos.sort(key=lambda c: (c.dataset, c.series, c.bottleneck, _rank(c.origin)))
    return infos, errors
