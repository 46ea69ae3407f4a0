"""Process-wide caches shared by every session: datasets, models, codes, errors, maps, the PCA baseline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from .. import checkpoints, data, diskcache, projection, settings
from ..checkpoints import CheckpointError, CheckpointInfo
from ..devices import device_name, keep_freed_memory, pick_device
from ..foreign import adapters
from ..metrics import encode_all, image_errors, reconstruct_all
from .widgets import literal


@st.cache_resource(show_spinner=False)
def configure_server() -> bool:
    """The server's settings, once per process (the sidebar calls it first), never as a side effect of an import.

    One intra-op thread per request: with many sessions on few cores, OpenMP threads fighting over the same cores
    made elementwise ops hundreds of times slower here (override with AEVIZ_TORCH_THREADS). And the app never
    downloads a dataset (a firewall can leave a download hanging for minutes): it runs on what is on disk and the
    sidebar names what is missing."""
    torch.set_num_threads(settings.current().torch_threads)
    keep_freed_memory()  # the allocator of a process that may time training steps (jobs/setup.Throughput)
    data.allow_downloads(False)
    return True


@st.cache_resource(show_spinner="Measuring distances among random points (once)…")
def curse_table() -> list:
    """The curse-of-dimensionality table (aeviz.lessons), once per process: every session reads the same rows."""
    from ..lessons import curse_table as measure

    return measure()


@st.cache_resource(show_spinner="Loading dataset…")
def get_dataset(name: str, split: str = "test") -> data.Dataset:
    return data.load_dataset(name, split)


@st.cache_data(show_spinner=False, max_entries=8)
def first_test_images(dataset: str, count: int = 8) -> np.ndarray:
    """The first `count` test images of a dataset, (count,C,H,W) in [0, 1], grey or colour: what a training
    preview sits beside."""
    return get_dataset(dataset, "test").images[:count].numpy()


@dataclass(frozen=True)
class _Refused:
    """Why a checkpoint cannot be used, cached in place of its model (only the text: an exception would keep
    its traceback's frames, and whatever they held, alive in the shared cache)."""

    message: str


# Your images runs every model of a dataset on each upload: an LRU smaller than the model count misses on every
# one (108 models under 64 entries: a rerun 0.64 s, not 0.06). The zoo's models are 0.6 MB on average, 2 MB at most.
@st.cache_resource(show_spinner=False, max_entries=256)
def _load_model(path: str, stamp: tuple[int, int]):
    """The model, or a _Refused: st.cache_resource does not cache exceptions, and without this a link naming a
    bad file would re-read (and re-refuse) it on every rerun of every session."""
    try:
        return checkpoints.load_checkpoint(path)
    except CheckpointError as exc:
        return _Refused(str(exc))


def _model_at(path: str):
    if path.endswith(checkpoints.VIRTUAL_SUFFIX):  # an adapter's model: held by the discovery, not in a file
        model = adapter_scan().model_at(path)
        if model is None:
            raise CheckpointError(f"{Path(path).name}: no adapter offers this model any more")
        return model
    stat = Path(path).stat()  # FileNotFoundError -> handled by callers via model_or_message
    loaded = _load_model(path, (stat.st_mtime_ns, stat.st_size))
    if isinstance(loaded, _Refused):
        raise CheckpointError(loaded.message)
    return loaded


def get_model(info: CheckpointInfo):
    """The shared model for a checkpoint; a file changed on disk is reloaded (and re-validated)."""
    return _model_at(str(info.path))


def model_or_message(info: CheckpointInfo):
    """The model, or None after showing a clear message (deleted, corrupted or mismatched file)."""
    try:
        return get_model(info)
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        st.warning(
            f"Model **{literal(info.label)}** cannot be used: {literal(str(exc), 300)}", icon=":material/warning:"
        )
        return None


def scan_models() -> tuple[list[CheckpointInfo], list[str]]:
    """Every checkpoint of the zoo and the user's folder, read again only when a folder changes, then the
    operator's adapter models (see adapter_scan).

    Saving (an atomic rename), adding or deleting a checkpoint changes its folder's mtime; a file damaged in
    place is caught when its model loads (get_model re-validates on any change of the file itself).
    Re-reading 66 headers every few seconds cost ~7 % of the server's CPU under a class's load.
    """
    found = _scan_folders(tuple(_stamp(folder) for folder in (checkpoints.zoo_dir(), checkpoints.user_dir())))
    scan = adapter_scan()
    if not scan.models and not scan.errors:
        return found
    return [*found[0], *scan.infos], [*found[1], *scan.errors]


def adapter_scan() -> adapters.Scan:
    """The operator's adapter models (`aeviz.adapters` entry points, AEVIZ_ADAPTERS files), found again only when
    AEVIZ_ADAPTERS or a file changes: a rerun costs one stat per file; entry points are read once per process
    (installing a package restarts)."""
    return _discover_adapters(adapters.stamp())


@st.cache_resource(show_spinner="Checking the adapter models…", max_entries=2)
def _discover_adapters(stamp: tuple) -> adapters.Scan:
    return adapters.discover()


def _stamp(folder: Path) -> tuple[str, int]:
    try:
        return str(folder), folder.stat().st_mtime_ns
    except OSError:
        return str(folder), 0  # no such folder (yet): the user has trained nothing


@st.cache_resource(show_spinner=False, max_entries=4, ttl=300)  # shared, not copied: ~50 ms a rerun to unpickle
def _scan_folders(stamps: tuple[tuple[str, int], ...]) -> tuple[list[CheckpointInfo], list[str]]:
    return checkpoints.scan_checkpoints([Path(folder) for folder, _ in stamps])


def list_models(dataset: str | None = None, workspaces: tuple[str, ...] = (), own: str = "") -> list[CheckpointInfo]:
    """The zoo's and the server's models, then those of the given session workspaces (only the browser that
    owns a workspace, or a session that opened its share link, passes its token); those of any workspace but
    `own` are marked `shared`, never "yours"."""
    infos = list(scan_models()[0])
    for token in workspaces:
        found = _scan_workspace(_stamp(checkpoints.sessions_dir() / token))
        infos += found if token == own else [replace(c, shared=True) for c in found]
    return [c for c in infos if dataset is None or c.dataset == dataset]


@st.cache_resource(show_spinner=False, max_entries=256, ttl=300)
def _scan_workspace(stamp: tuple[str, int]) -> list[CheckpointInfo]:
    """A workspace's checkpoints, read again when its folder changes (its damaged files are skipped)."""
    return checkpoints.scan_checkpoints([Path(stamp[0])])[0] if stamp[1] else []


def readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared between sessions: any in-place edit raises instead of leaking
    return array


@st.cache_resource(show_spinner=False, max_entries=128)
def _codes(path: str, content_hash: str, dataset: str, split: str) -> np.ndarray:
    def compute():
        return {"codes": encode_all(_model_at(path), get_dataset(dataset, split).images)}

    key = diskcache.cache_key(hash=content_hash, dataset=dataset, split=split)
    return readonly(diskcache.cached_arrays("codes", key, compute)["codes"])


@st.cache_resource(show_spinner=False, max_entries=512)  # 40 kB each: every model under both metrics
def _errors(path: str, content_hash: str, dataset: str, split: str, metric: str) -> np.ndarray:
    if split == "test":
        shipped = checkpoints.load_test_errors(path, content_hash, metric, len(get_dataset(dataset, split)))
        if shipped is not None:
            return readonly(shipped)

    def compute():
        test = get_dataset(dataset, split).images
        return {"errors": image_errors(test, reconstruct_all(_model_at(path), test), metric)}

    key = diskcache.cache_key(hash=content_hash, dataset=dataset, split=split, metric=metric)
    return readonly(diskcache.cached_arrays("errors", key, compute)["errors"])


def get_codes(info: CheckpointInfo, split: str = "test") -> np.ndarray:
    """Codes (N,q) of a dataset split under a model: computed once, kept on disk by content hash."""
    return _codes(str(info.path), info.metadata["hash"], info.dataset, split)


def get_errors(info: CheckpointInfo, metric: str = "mse", split: str = "test") -> np.ndarray:
    """Per-image reconstruction errors (N,) of a split under a model, cached like the codes."""
    return _errors(str(info.path), info.metadata["hash"], info.dataset, split, metric)


@st.cache_resource(show_spinner=False, max_entries=256)
def _map(path: str, content_hash: str, dataset: str, split: str, method: str) -> projection.LatentMap:
    codes = _codes(path, content_hash, dataset, split)
    if split == "test":
        shipped = projection.load_maps(checkpoints.maps_path(path), content_hash, codes)
        if method in shipped:
            return shipped[method]
    return projection.cached_map(codes, method, key=f"{content_hash}|{dataset}|{split}", seed=0)


def get_map(info: CheckpointInfo, method: str = "pca", split: str = "test") -> projection.LatentMap:
    """A seeded 2-D map of a split's codes: shipped with the zoo, else fitted once and cached on disk."""
    return _map(str(info.path), info.metadata["hash"], info.dataset, split, method)


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    return device_name(pick_device())


@st.cache_resource(show_spinner="Loading the PCA baseline…", max_entries=8)
def get_pca(dataset: str):
    """The dataset's PCA baseline (aeviz.pca.PCABaseline): shipped with the zoo, else fitted once; read-only."""
    from .. import pca

    return pca.pca_baseline(dataset)


def refresh_models() -> None:
    """Forget the cached checkpoint listing, so a model saved just now shows up on the next run."""
    _scan_folders.clear()
    _scan_workspace.clear()


@st.cache_data(ttl=60, show_spinner=False)
def offline_status() -> dict[str, str | None]:
    """Each registered dataset: None when it loads offline, else why not (checked once a minute)."""
    return data.available_datasets()
