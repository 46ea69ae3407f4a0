"""The one bridge to Streamlit: process-wide caches, URL-synced widgets and the shared sidebar."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from . import cache, checkpoints, data, images, projection
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


@dataclass(frozen=True)
class Picked:
    """Images chosen on a page: (N,C,H,W) floats in [0,1], a caption each, test-set indices when from it."""

    images: np.ndarray
    captions: tuple[str, ...]
    indices: np.ndarray | None


def image_picker(ctx: Context, key: str = "img", count: int = 8) -> Picked:
    """Choose test images at random, by class, by index or from the user's own; the choice is in the URL."""
    modes = ["random", "by class", "by index"] + (["your images"] if user_images() else [])
    mode = url_radio("Images", modes, f"{key}_mode", horizontal=True)
    if mode == "your images":
        own = user_images()[:count]
        return Picked(user_image_batch(ctx.test.shape, own), tuple(p.name or "yours" for p in own), None)
    indices = _pick_indices(ctx, mode, key, count)
    labels = ctx.test.labels.numpy()[indices]
    captions = tuple(f"#{i} · {ctx.test.classes[c]}" for i, c in zip(indices, labels, strict=True))
    return Picked(ctx.test.images[torch.as_tensor(indices)].numpy(), captions, indices)


def _pick_indices(ctx: Context, mode: str, key: str, count: int) -> np.ndarray:
    n = len(ctx.test)
    if mode == "by class":
        cls = url_selectbox("Class", list(range(len(ctx.test.classes))), f"{key}_class",
                            format_func=lambda i: ctx.test.classes[i])
        seed = url_slider("Draw", 0, 99, 0, f"{key}_seed")
        pool = np.flatnonzero(ctx.test.labels.numpy() == cls)
        return np.sort(np.random.default_rng(seed).choice(pool, size=min(count, len(pool)), replace=False))
    if mode == "by index":
        current = ",".join(map(str, url_ints(f"{key}_idx", list(range(count)))))
        text = st.text_input("Indices (comma separated)", current, key=f"w_{key}_idx")
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


# --- the user's own images: kept in this session only, never written to disk, never shared ----------------

_USER_IMAGES = "aeviz_user_images"
MAX_USER_IMAGES = 32


def user_images() -> list[images.Preprocessed]:
    """This session's uploaded, drawn or sent images (28x28 MNIST-style), newest last."""
    return st.session_state.setdefault(_USER_IMAGES, [])


def add_user_images(items: list[images.Preprocessed]) -> int:
    """Add images to this session's collection (identical pictures once); returns how many were new."""
    own = user_images()
    seen = {p.image.tobytes() for p in own}
    fresh = [p for p in items if p.image.tobytes() not in seen]
    own.extend(fresh)
    del own[:-MAX_USER_IMAGES]  # keep the newest: a long lecture must not grow one session's memory
    return len(fresh)


def send_image(image: np.ndarray, name: str) -> None:
    """Hand one image (H,W) or (1,H,W) in [0,1] to the other pages, via this session's own images."""
    picture = np.asarray(image, dtype=np.float32).reshape(np.shape(image)[-2:])
    if add_user_images([images.Preprocessed(picture, (), False, name)]):
        st.toast(f"Sent **{name}** to your images: pick *your images* on any page.", icon="📤")


def user_image_batch(shape: tuple[int, int, int], items: list[images.Preprocessed] | None = None) -> np.ndarray:
    """The user's images resized to a dataset's (C,H,W), stacked as (N,C,H,W) float32."""
    items = user_images() if items is None else items
    _, h, w = shape
    if not items:
        return np.zeros((0, *shape), np.float32)
    return np.stack([images.resize_to(p.image, (h, w)) for p in items])[:, None]
