"""3-D maps of codes for the view that rotates in the browser: PCA or UMAP to three dimensions, cached on disk."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .diskcache import cache_dir, cache_key, cached_arrays, load_arrays

METHODS = ("pca", "umap")
FORMAT = 1  # bump when fit_3d's output for the same inputs changes, to retire cached 3-D maps


@dataclass(frozen=True)
class Map3D:
    """`points[i]` (N,3) is where code i lies; `kept` the share of the code variance PCA's three axes carry
    (None for UMAP, whose axes are no linear function of the code)."""

    method: str
    points: np.ndarray
    kept: float | None
    seconds: float


def fit_3d(codes: np.ndarray, method: str, *, seed: int = 0) -> Map3D:
    """Fit a 3-D `method` map of `codes` (N,q), q >= 3, deterministically for a given seed."""
    if method not in METHODS:
        raise ValueError(f"unknown 3-D map method {method!r}; choose from {METHODS}")
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2 or codes.shape[1] < 3 or len(codes) < 4:
        raise ValueError(f"a 3-D map needs at least 4 codes of 3 or more dimensions, got {codes.shape}")
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or infinite values")
    start = time.perf_counter()
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=3, random_state=seed).fit(codes.astype(np.float64))
        points, kept = pca.transform(codes.astype(np.float64)), float(pca.explained_variance_ratio_.sum())
    else:
        import umap  # lazily: heavy (numba), and aeviz imports without it

        # random_state makes UMAP single-threaded and reproducible; n_jobs=1 said so it does not warn
        reducer = umap.UMAP(n_components=3, n_neighbors=min(15, len(codes) - 1), random_state=seed, n_jobs=1)
        points, kept = reducer.fit_transform(codes), None
    return Map3D(method, np.asarray(points, np.float32), kept, round(time.perf_counter() - start, 3))


def _key(codes: np.ndarray, method: str, key: str, seed: int) -> str:
    return cache_key(key=key, method=method, seed=seed, shape=np.shape(codes), dims=3, v=FORMAT)


def _arrays(found: Map3D) -> dict[str, np.ndarray]:
    kept = np.nan if found.kept is None else found.kept
    return {"method": np.array(found.method), "points": found.points, "kept": np.array(kept)}


def _from_arrays(arrays: dict[str, np.ndarray]) -> Map3D:
    kept = float(arrays["kept"])
    return Map3D(str(arrays["method"]), np.asarray(arrays["points"], np.float32), None if np.isnan(kept) else kept, 0.0)


def cached_3d(codes: np.ndarray, method: str, *, key: str, seed: int = 0) -> Map3D:
    """fit_3d through the on-disk cache; `key` names the codes (checkpoint hash, dataset and split)."""
    return _from_arrays(
        cached_arrays("maps3d", _key(codes, method, key, seed), lambda: _arrays(fit_3d(codes, method, seed=seed)))
    )


def find_cached_3d(codes: np.ndarray, method: str, *, key: str, seed: int = 0) -> Map3D | None:
    """The 3-D map cached_3d would return if it is on disk already, else None: never fits."""
    arrays = load_arrays(cache_dir() / "maps3d" / f"{_key(codes, method, key, seed)}.npz")
    return None if arrays is None else _from_arrays(arrays)
