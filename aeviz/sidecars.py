"""Arrays kept beside a checkpoint or in the zoo (test errors, maps, replays, PCA baselines): one loader for all.

Each kind declares what its arrays must be (diskcache.Spec: dtype kinds, and shapes whose sizes are fixed or
named); the loader checks every array's .npy header against that, and the file's total against a cap, before it
reads any data; object arrays (pickles) and records are refused. A file that fails is treated as missing, with a
warning naming it: the feature it feeds is recomputed or hidden for that model only, never an error on a page.
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .diskcache import BadArrays, Expect, Spec, read_checked
from .errors import one_line

MAX_MB = 32  # the largest the zoo writes: CIFAR-10's PCA baseline, 64 x 3072 float32, is 0.8 MB


def load_sidecar(
    path: str | Path,
    expect: Expect,
    *,
    content_hash: str | None = None,
    dims: Mapping[str, int | range] | None = None,
    max_mb: float = MAX_MB,
    instead: str = "treated as missing",
) -> dict[str, np.ndarray] | None:
    """The arrays of a sidecar file as `expect` declares them, or None when it is missing, stale (its
    `content_hash` array is not this one) or unusable (then a RuntimeWarning says why, and what happens
    `instead`). The file is never deleted: beside a checkpoint, it is the user's."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            arrays = read_checked(f, expect, dims or {}, max_mb)
    except FileNotFoundError:
        return None
    except (BadArrays, MemoryError, ValueError, EOFError, KeyError, OSError, zipfile.BadZipFile, zlib.error) as exc:
        warnings.warn(f"{path}: refused ({one_line(exc)}); {instead}", RuntimeWarning, stacklevel=2)
        return None
    if content_hash is not None and str(arrays.get("content_hash", "")) != content_hash:
        return None
    return arrays


def text(shape: tuple = ()) -> Spec:
    return Spec("U", shape)


def integers(*shape: int | str) -> Spec:
    return Spec("iu", shape)


def floats(*shape: int | str, required: bool = True) -> Spec:
    return Spec("f", shape, required)
