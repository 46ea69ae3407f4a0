"""On-disk .npz array cache: atomic writes, no pickle, one computation per key per process."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import settings
from .atomic import atomic_write

# A corrupt or truncated .npz surfaces as one of these, depending on where the damage is.
_CORRUPT_ERRORS = (ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, OSError)

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def cache_dir() -> Path:
    """`$AEVIZ_CACHE_DIR`, else `$XDG_CACHE_HOME/aeviz` (default `~/.cache/aeviz`); created on demand."""
    explicit = settings.current().cache_dir
    if explicit:
        root = explicit
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(base).expanduser() / "aeviz"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _canonical(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    # Anything else (arrays, objects) has no stable text form: refuse rather than hash a repr.
    raise TypeError(f"cache_key: unsupported value of type {type(value).__name__}: {value!r}")


def cache_key(**parts: object) -> str:
    """First 24 hex chars of the sha256 of a canonical JSON of `parts` (sorted keys)."""
    text = json.dumps(_canonical(parts), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Write `arrays` to `path` (.npz) atomically: readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"save_arrays: {name!r} has dtype object, which would need pickle")
    # object dtypes were refused above, so np.savez needs no pickle
    # the ignore: numpy's stub matches the unpacked arrays against savez's allow_pickle: bool keyword
    atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def load_arrays(path: Path, *, delete_corrupt: bool = True) -> dict[str, np.ndarray] | None:
    """The arrays in the .npz at `path`, or None if it is missing or unreadable (then deleted)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            opened = os.fstat(f.fileno())
            try:
                with np.load(f, allow_pickle=False) as npz:
                    return {name: npz[name] for name in npz.files}
            except _CORRUPT_ERRORS:
                pass
    except FileNotFoundError:
        return None
    if delete_corrupt:
        _unlink_if_same(path, opened)
    return None


def _unlink_if_same(path: Path, opened: os.stat_result) -> None:
    # Another process may have atomically replaced the bad file with a good one meanwhile: keep that one.
    with contextlib.suppress(OSError):
        now = os.stat(path)
        if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino):
            os.unlink(path)


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), threading.Lock())


def _check_component(name: str, what: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"cached_arrays: {what} {name!r} is not a plain file name")


def cached_arrays(namespace: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Load `cache_dir()/namespace/key.npz`, or call `compute()` once, store its arrays and return them.

    Threads asking for the same key wait for one computation. Separate processes may both compute a
    missing key; the atomic write makes that wasteful but harmless (last identical result wins).
    """
    _check_component(namespace, "namespace")
    _check_component(key, "key")
    path = cache_dir() / namespace / f"{key}.npz"
    with _lock_for(path):
        hit = load_arrays(path)
        if hit is not None:
            return hit
        result = {name: np.asarray(a) for name, a in compute().items()}
        try:
            save_arrays(path, **result)
        except OSError as exc:
            # A full or read-only disk costs recomputation later, not a failure now.
            warnings.warn(f"aeviz cache: could not write {path}: {exc}", RuntimeWarning, stacklevel=2)
        return result
