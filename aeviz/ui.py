"""The one bridge to Streamlit: process-wide caches, URL-synced widgets and the shared sidebar."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from . import cache, checkpoints, data
from .checkpoints import CheckpointError, CheckpointInfo
from .metrics import encode_all, image_errors, reconstruct_all
from .train import device_name, pick_device

# One intra-op thread per request: with many sessions on few cores, OpenMP threads fighting over the
# same cores made elementwise ops hundreds of times slower here. Override with AEVIZ_TORCH_THREADS.
torch.set_num_threads(int(os.environ.get("AEVIZ_TORCH_THREADS", "1")))

DEFAULT_DATASETS = ("mnist", "fashion-mnist", "digits")


@dataclass(frozen=True)
class Context:
    """What the sidebar chose, shared by every page of one run."""

    dataset: str
    test: data.Dataset
    models: tuple[CheckpointInfo, ...]


# --- caches shared by every session (read-only by contract, and enforced where cheap) ---------------------

@st.cache_resource(show_spinner="Loading dataset…")
def get_dataset(name: str, split: str = "test") -> data.Dataset:
    return data.load_dataset(name, split)


@st.cache_resource(show_spinner=False, max_entries=64)
def _load_model(path: str, stamp: tuple[int, int]):
    return checkpoints.load_checkpoint(path)


def get_model(info: CheckpointInfo):
    """The shared model for a checkpoint; a file changed on disk is reloaded (and re-validated)."""
    stat = Path(info.path).stat()  # FileNotFoundError -> handled by callers via model_or_message
    return _load_model(str(info.path), (stat.st_mtime_ns, stat.st_size))


def model_or_message(info: CheckpointInfo):
    """The model, or None after showing a clear message (deleted, corrupted or mismatched file)."""
    try:
        return get_model(info)
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        st.warning(f"Model **{info.name}** cannot be used: {exc}", icon="⚠️")
        return None


@st.cache_data(ttl=5, show_spinner=False)
def _scan() -> tuple[list[CheckpointInfo], list[str]]:
    return checkpoints.scan_checkpoints()


def list_models(dataset: str | None = None) -> list[CheckpointInfo]:
    infos, _ = _scan()
    return [c for c in infos if dataset is None or c.dataset == dataset]


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared between sessions: any in-place edit raises instead of leaking
    return array


@st.cache_resource(show_spinner=False, max_entries=128)
def _codes(path: str, content_hash: str, dataset: str, split: str) -> np.ndarray:
    def compute():
        return {"codes": encode_all(_load_model_by_path(path), get_dataset(dataset, split).images)}
    key = cache.cache_key(hash=content_hash, dataset=dataset, split=split)
    return _readonly(cache.cached_arrays("codes", key, compute)["codes"])


@st.cache_resource(show_spinner=False, max_entries=128)
def _errors(path: str, content_hash: str, dataset: str, split: str, metric: str) -> np.ndarray:
    def compute():
        test = get_dataset(dataset, split).images
        return {"errors": image_errors(test, reconstruct_all(_load_model_by_path(path), test), metric)}
    key = cache.cache_key(hash=content_hash, dataset=dataset, split=split, metric=metric)
    return _readonly(cache.cached_arrays("errors", key, compute)["errors"])


def _load_model_by_path(path: str):
    stat = Path(path).stat()
    return _load_model(path, (stat.st_mtime_ns, stat.st_size))


def get_codes(info: CheckpointInfo, split: str = "test") -> np.ndarray:
    """Codes (N,q) of a dataset split under a model: computed once, kept on disk by content hash."""
    return _codes(str(info.path), info.metadata["hash"], info.dataset, split)


def get_errors(info: CheckpointInfo, metric: str = "mse", split: str = "test") -> np.ndarray:
    """Per-image reconstruction errors (N,) of a split under a model, cached like the codes."""
    return _errors(str(info.path), info.metadata["hash"], info.dataset, split, metric)


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    return device_name(pick_device())


# --- URL-synced widgets: a link reopens the same view ---------------------------------------------------

def _from_url(key: str, default, cast):
    raw = st.query_params.get(key)
    if raw is None:
        return default
    try:
        return cast(raw)
    except (TypeError, ValueError):
        return default


def _to_url(key: str, value) -> None:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def url_selectbox(label: str, options: list, key: str, default=None, **kwargs):
    """A selectbox whose choice round-trips through the URL query string under `key`."""
    options = list(options)
    if not options:
        return None
    by_text = {str(o): o for o in options}
    initial = by_text.get(_from_url(key, None, str), default if default in options else options[0])
    value = st.selectbox(label, options, index=options.index(initial), key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def url_radio(label: str, options: list, key: str, default=None, **kwargs):
    options = list(options)
    by_text = {str(o): o for o in options}
    initial = by_text.get(_from_url(key, None, str), default if default in options else options[0])
    value = st.radio(label, options, index=options.index(initial), key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def url_slider(label: str, min_value, max_value, default, key: str, step=None, **kwargs):
    cast = type(default)
    initial = min(max(_from_url(key, default, cast), min_value), max_value)
    value = st.slider(label, min_value, max_value, initial, step=step, key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def url_ints(key: str, default: list[int]) -> list[int]:
    return _from_url(key, default, lambda s: [int(v) for v in s.split(",") if v.strip()])


def set_url_ints(key: str, values) -> None:
    _to_url(key, [int(v) for v in values])


# --- shared sidebar and pickers --------------------------------------------------------------------------

def _dataset_choices() -> list[str]:
    with_models = {c.dataset for c in list_models()}
    status = _offline_status()
    return [d for d in DEFAULT_DATASETS if status.get(d) is None or d in with_models]


@st.cache_data(ttl=60, show_spinner=False)
def _offline_status() -> dict[str, str | None]:
    return data.available_datasets()


def sidebar() -> Context | None:
    """Dataset picker, what is loaded, available models and device; stores the Context for the pages."""
    with st.sidebar:
        choices = _dataset_choices()
        default = "mnist" if "mnist" in choices else choices[0]
        titles = {name: info.title for name, info in data.DATASETS.items()}
        name = url_selectbox("Dataset", choices, "dataset", default, format_func=lambda n: titles.get(n, n))
        try:
            test = get_dataset(name, "test")
        except data.DatasetUnavailable as exc:
            st.error(str(exc))
            return None
        models = tuple(list_models(name))
        st.caption(f"**{len(test):,}** test images from `{test.source}` · **{len(models)}** models · "
                   f"device: {device_label()}")
        missing = [d for d, why in _offline_status().items() if why]
        if missing:
            st.caption("Not available offline: " + ", ".join(missing) + " (set `AEVIZ_DATA_DIR`).")
    ctx = Context(name, test, models)
    st.session_state["aeviz_context"] = ctx
    return ctx


def context() -> Context | None:
    """The Context the sidebar stored in this run (None when no dataset could be loaded)."""
    ctx = st.session_state.get("aeviz_context")
    if ctx is None:
        st.info("No dataset is available. Pick another one in the sidebar.")
    return ctx


def image_picker(ctx: Context, key: str = "img", count: int = 8) -> np.ndarray:
    """Choose test images at random, by class or by index; the choice is kept in the URL."""
    mode = url_radio("Images", ["random", "by class", "by index"], f"{key}_mode", horizontal=True)
    n = len(ctx.test)
    if mode == "by class":
        cls = url_selectbox("Class", list(range(len(ctx.test.classes))), f"{key}_class",
                            format_func=lambda i: ctx.test.classes[i])
        pool = np.flatnonzero(ctx.test.labels.numpy() == cls)
        return pool[:count]
    if mode == "by index":
        current = ",".join(map(str, url_ints(f"{key}_idx", list(range(count)))))
        text = st.text_input("Indices (comma separated)", current)
        try:
            picked = [int(v) for v in text.replace(" ", "").split(",") if v]
        except ValueError:
            st.warning("Indices must be whole numbers separated by commas.")
            picked = list(range(count))
        picked = [i for i in picked if 0 <= i < n][:32] or [0]
        set_url_ints(f"{key}_idx", picked)
        return np.array(picked)
    seed = url_slider("Random draw", 0, 99, 0, f"{key}_seed")
    return np.random.default_rng(seed).choice(n, size=min(count, n), replace=False)
