"""One process-wide cache for pages: keyed by checkpoints' content hashes and small plain values, results read-only."""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from ..checkpoints import CheckpointInfo
from .caches import get_model

_PLAIN = (str, int, float, bool, bytes, type(None), enum.Enum)


def key_of(value: Any) -> Any:
    """A small hashable stand-in for an argument: a checkpoint by its weights' hash (and file), an array by a
    digest of its bytes (pass small ones: a few images, not a dataset); anything else must be a plain value, or a
    frozen dataclass, list, tuple or dict of such values."""
    if isinstance(value, CheckpointInfo):
        return ("checkpoint", value.metadata["hash"], str(value.path))
    if isinstance(value, np.ndarray):
        digest = hashlib.blake2b(np.ascontiguousarray(value).view(np.uint8).data, digest_size=16).hexdigest()
        return ("array", value.dtype.str, value.shape, digest)
    if isinstance(value, (list, tuple)):
        return tuple(key_of(v) for v in value)
    if isinstance(value, dict):
        return ("dict", tuple((key_of(k), key_of(v)) for k, v in value.items()))
    if isinstance(value, _PLAIN):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and value.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return (type(value).__qualname__, *(key_of(getattr(value, f.name)) for f in dataclasses.fields(value)))
    raise TypeError(f"per_model cannot key on a {type(value).__name__}: pass a checkpoint, an array or plain values")


def _loaded(value: Any, models: bool) -> Any:
    """The argument as the function gets it: each checkpoint as its shared model (when `models`)."""
    if isinstance(value, CheckpointInfo):
        return get_model(value) if models else value
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_loaded(v, models) for v in value)
    if isinstance(value, dict):
        return {k: _loaded(v, models) for k, v in value.items()}
    return value


def frozen(value: Any) -> Any:
    """The result, its arrays made read-only: one copy is shared by every session, an in-place edit must raise."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (list, tuple)):
        for v in value:
            frozen(v)
    elif isinstance(value, dict):
        for v in value.values():
            frozen(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            frozen(getattr(value, field.name))
    return value


def per_model(
    fn: Callable | None = None,
    *,
    spinner: str | bool = False,
    max_entries: int = 64,
    ttl: float | None = None,
    models: bool = True,
) -> Callable:
    """Cache `fn` for every session: call it with CheckpointInfos and plain values (small arrays allowed).

    The key is the checkpoints' content hashes plus the other arguments (see key_of); the function receives each
    checkpoint as its model, loaded by get_model (with models=False: the CheckpointInfo itself, for a function
    that also needs its cached codes or errors). A keyword argument whose name starts with "_" is passed but not
    keyed, as in Streamlit's own caches: an object the other arguments already identify. Use as
    `@ui.per_model(spinner="…")` or `ui.per_model(fn)`.
    """
    if fn is None:
        return functools.partial(per_model, spinner=spinner, max_entries=max_entries, ttl=ttl, models=models)

    def compute(key: tuple, _call: Callable) -> Any:
        return frozen(_call())

    # Streamlit names a cache by its function's module and qualname: one cache per decorated function
    compute.__qualname__ = f"per_model[{fn.__code__.co_filename}:{fn.__qualname__}]"
    cached = st.cache_resource(show_spinner=spinner, max_entries=max_entries, ttl=ttl)(compute)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        keyed = {k: v for k, v in sorted(kwargs.items()) if not k.startswith("_")}  # as Streamlit's caches do
        key = (key_of(args), key_of(keyed))
        return cached(key, lambda: fn(*_loaded(args, models), **_loaded(kwargs, models)))

    call.clear = cached.clear  # type: ignore[attr-defined]  # a function attribute, as st.cache_* gives
    return call
