"""2-D maps of latent codes (PCA, UMAP, t-SNE, raw): fit, cache, place new codes, decode anywhere."""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .diskcache import Spec, cache_dir, cache_key, cached_arrays, load_arrays, save_arrays
from .sidecars import floats, integers, load_sidecar, text

METHODS = ("pca", "umap", "tsne", "raw")
MAP_FORMAT = 1  # bump when fit_map's output for the same inputs changes, to retire cached maps
_SEP = "__"  # separates map name and field in a maps file: "umap__points"
_NEIGHBOR_METHODS = ("umap", "tsne")
NEIGHBOURS = 10  # umap/tsne: new codes are placed, and map positions decoded, from this many nearest neighbours


def _as_2d(x: object, name: str, *, cols: int | None = None, min_rows: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2 or a.shape[0] < min_rows or a.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array with at least {min_rows} row(s), got shape {a.shape}")
    if cols is not None and a.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got {a.shape[1]}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _idw(index: Any, queries: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Inverse-distance-weighted average of `values` at the k nearest neighbours of each query."""
    dist, idx = index.kneighbors(queries, n_neighbors=min(k, len(values)))
    # An exact hit (distance 0) gets a weight so large that its value is returned unchanged.
    w = 1.0 / np.maximum(dist, 1e-12)
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("mk,mkd->md", w, values[idx].astype(np.float64)).astype(np.float32)


def _nn_index(data: np.ndarray) -> object:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors().fit(data)


@dataclass(eq=False)
class LatentMap:
    """A 2-D map of `codes` (N,q): `points[i]` is where `codes[i]` lies on the map.

    UMAP and t-SNE maps keep no fitted model: new codes are placed, and map positions decoded, by
    inverse-distance weighting over the k nearest stored neighbours. Storing the fitted UMAP would mean
    pickle (unsafe to load from untrusted files) and a large object; t-SNE has no transform at all. The
    interpolation is an approximation, but instant and deterministic.
    """

    method: str
    points: np.ndarray
    codes: np.ndarray
    params: dict = field(default_factory=dict)
    mean: np.ndarray | None = None  # PCA only: the code mean, (q,)
    components: np.ndarray | None = None  # PCA only: orthonormal rows spanning the plane, (2,q)
    _code_index: object = field(default=None, init=False, repr=False)
    _point_index: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown map method {self.method!r}; choose from {METHODS}")
        self.points = _as_2d(self.points, "points", cols=2)
        self.codes = _as_2d(self.codes, "codes")
        if len(self.codes) != len(self.points):
            raise ValueError(f"{len(self.codes)} codes but {len(self.points)} points")
        if self.method == "pca":
            if self.mean is None or self.components is None:
                raise ValueError("a PCA map needs mean and components")
            self.mean = np.asarray(self.mean, dtype=np.float64).reshape(self.q)
            self.components = np.asarray(self.components, dtype=np.float64).reshape(2, self.q)
        if self.method == "raw" and self.q != 2:
            raise ValueError(f"a raw map needs 2-d codes, got q={self.q}")

    @property
    def q(self) -> int:
        return int(self.codes.shape[1])

    @property
    def kept_variance(self) -> float | None:
        """The share of the codes' total variance the map's two axes carry: PCA's plane (1.0 for a 2-d code),
        raw 1.0; None for UMAP/t-SNE, whose axes are no linear function of the code."""
        if self.method not in ("pca", "raw"):
            return None
        total = float(self.codes.astype(np.float64).var(axis=0).sum())
        return 1.0 if total == 0 else float(self.points.astype(np.float64).var(axis=0).sum()) / total

    def transform(self, new_codes: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
        """Map positions (M,2) of `new_codes` (M,q): projected for pca, as is for raw, interpolated for umap/tsne."""
        c = _as_2d(new_codes, "new_codes", cols=self.q)
        if self.method == "pca":
            assert self.mean is not None and self.components is not None  # __post_init__ refuses a PCA map without
            return ((c - self.mean) @ self.components.T).astype(np.float32)
        if self.method == "raw":
            return c.copy()
        if self._code_index is None:
            self._code_index = _nn_index(self.codes)
        return _idw(self._code_index, c, self.points, k)

    def inverse(self, points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
        """Codes (M,q) for map positions (M,2), for decode-anywhere.

        PCA: the point of the code plane, the other q-2 PCA coordinates at their mean (0); raw: the position
        itself; UMAP/t-SNE: an approximation,
        the inverse-distance-weighted mean code of the k nearest map points (UMAP's own
        inverse_transform needs the fitted model and takes seconds per call).
        """
        p = _as_2d(points, "points", cols=2)
        if self.method == "pca":
            return (self.mean + p @ self.components).astype(np.float32)
        if self.method == "raw":
            return p.copy()
        if self._point_index is None:
            self._point_index = _nn_index(self.points)
        return _idw(self._point_index, p, self.codes, k)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects) for np.savez/save_arrays; params travel as a JSON string."""
        out = {
            "method": np.array(self.method),
            "points": self.points,
            "codes": self.codes,
            "params": np.array(json.dumps(self.params, sort_keys=True)),
        }
        if self.method == "pca":
            assert self.mean is not None and self.components is not None  # __post_init__ refuses a PCA map without
            out["mean"], out["components"] = self.mean, self.components
        return out

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> LatentMap:
        """Inverse of to_arrays (also accepts an open NpzFile)."""
        return cls(
            method=str(d["method"]),
            points=d["points"],
            codes=d["codes"],
            params=json.loads(str(d["params"])),
            mean=d.get("mean"),
            components=d.get("components"),
        )


def _method_params(method: str, n_neighbors: int, min_dist: float, perplexity: float) -> dict:
    """The parameters that matter to `method` (so irrelevant ones do not split the cache)."""
    if method == "umap":
        return {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist)}
    if method == "tsne":
        return {"perplexity": float(perplexity)}
    return {}


def fit_map(
    codes: np.ndarray,
    method: str,
    *,
    seed: int = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    perplexity: float = 30.0,
) -> LatentMap:
    """Fit a 2-D `method` map of `codes` (N,q), deterministically for a given seed."""
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r}; choose from {METHODS}")
    codes = _as_2d(codes, "codes", min_rows=3)
    n, q = codes.shape
    params = {"seed": int(seed), **_method_params(method, n_neighbors, min_dist, perplexity)}
    start = time.perf_counter()
    extra: dict = {}
    if method == "raw":
        if q != 2:
            raise ValueError(f"the 'raw' map is the code plane itself and needs q == 2, got q={q}")
        points = codes.copy()
    elif method == "pca":
        points, extra = _fit_pca(codes, seed)
    elif method == "umap":
        points = _fit_umap(codes, seed, params)
    else:
        points = _fit_tsne(codes, seed, params)
    params["fit_seconds"] = round(time.perf_counter() - start, 3)
    return LatentMap(method, points.astype(np.float32), codes, params, **extra)


def _fit_pca(codes: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    from sklearn.decomposition import PCA

    if codes.shape[1] < 2:
        raise ValueError("a PCA map needs codes with at least 2 dimensions")
    # float64 so that transform() of the fitted codes reproduces the points to float32 precision.
    pca = PCA(n_components=2, random_state=seed).fit(codes.astype(np.float64))
    extra = {"mean": pca.mean_, "components": pca.components_}
    return (codes - pca.mean_) @ pca.components_.T, extra


def _fit_umap(codes: np.ndarray, seed: int, params: dict) -> np.ndarray:
    import umap  # lazily: heavy import (numba), and aeviz must import without it

    params["n_neighbors"] = min(params["n_neighbors"], len(codes) - 1)
    # random_state makes UMAP single-threaded but reproducible: the same model gives the same map.
    # n_jobs=1 is said explicitly so UMAP does not warn that it overrides it.
    reducer = umap.UMAP(
        n_components=2, n_neighbors=params["n_neighbors"], min_dist=params["min_dist"], random_state=seed, n_jobs=1
    )
    return reducer.fit_transform(codes)


def _fit_tsne(codes: np.ndarray, seed: int, params: dict) -> np.ndarray:
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    # scikit-learn requires perplexity < n_samples; clamp so tiny subsets still get a map.
    params["perplexity"] = min(params["perplexity"], (len(codes) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=params["perplexity"], init="pca", random_state=seed)
    # t-SNE syncs its OpenMP threads 1000 times; if any core is busy (training, other users) a spinning
    # thread loses its time slice at each sync. Measured on 2 cores under load: digits 45 s with
    # 2 threads vs 5 s with 1. Half the cores keeps most of the speed-up on big machines.
    with threadpool_limits(max(1, (os.cpu_count() or 2) // 2), user_api="openmp"):
        return tsne.fit_transform(codes)


def _map_cache_key(codes: np.ndarray, method: str, key: str, seed: int, params: dict) -> str:
    defaults = {"n_neighbors": 15, "min_dist": 0.1, "perplexity": 30.0}
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"cached_map: unknown parameter(s) {sorted(unknown)}")
    relevant = _method_params(method, **{**defaults, **params})
    # The shape guards against a caller reusing one key for a different subset of the codes.
    return cache_key(key=key, method=method, seed=seed, shape=np.shape(codes), v=MAP_FORMAT, **relevant)


def cached_map(codes: np.ndarray, method: str, *, key: str, seed: int = 0, **params) -> LatentMap:
    """fit_map through the on-disk cache; `key` names the codes (checkpoint hash + dataset/split)."""
    codes = np.asarray(codes)
    ck = _map_cache_key(codes, method, key, seed, params)
    arrays = cached_arrays("maps", ck, lambda: fit_map(codes, method, seed=seed, **params).to_arrays())
    return LatentMap.from_arrays(arrays)


def find_cached_map(codes: np.ndarray, method: str, *, key: str, seed: int = 0, **params) -> LatentMap | None:
    """The map cached_map would return if it is already on disk, else None: never fits."""
    arrays = load_arrays(cache_dir() / "maps" / f"{_map_cache_key(codes, method, key, seed, params)}.npz")
    return None if arrays is None else LatentMap.from_arrays(arrays)


def trustworthiness(
    codes: np.ndarray, points: np.ndarray, k: int = 10, *, max_points: int = 5000, seed: int = 0
) -> float:
    """sklearn's trustworthiness of the map, on at most `max_points` rows (it needs N x N distances)."""
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    codes, points = np.asarray(codes), np.asarray(points)
    if len(codes) > max_points:
        rows = np.random.default_rng(seed).choice(len(codes), max_points, replace=False)
        codes, points = codes[rows], points[rows]
    return float(sk_trustworthiness(codes, points, n_neighbors=k))


def save_maps(path: Path, maps: dict[str, LatentMap], content_hash: str) -> None:
    """Store `maps` compactly next to a checkpoint (`<stem>.maps.npz`), tagged with its content hash.

    Codes are not stored (the checkpoint recomputes them in about a second); PCA keeps only its plane
    (points follow exactly from the codes), neighbour maps keep their points as float16: 40 KB for
    10,000 points, and a hundredth of a map unit is far below what a screen shows.
    """
    shapes = {m.codes.shape for m in maps.values()}
    if len(shapes) > 1:
        raise ValueError(f"maps stored together must share their codes, got shapes {sorted(shapes)}")
    arrays: dict[str, np.ndarray] = {
        "content_hash": np.array(content_hash),
        "codes_shape": np.array(shapes.pop() if shapes else (0, 0)),
    }
    for name, latent_map in maps.items():
        if not name or _SEP in name:
            raise ValueError(f"map name {name!r} must be non-empty and not contain {_SEP!r}")
        fields = {k: v for k, v in latent_map.to_arrays().items() if k != "codes"}
        if latent_map.method in ("pca", "raw"):
            del fields["points"]
        else:
            fields["points"] = latent_map.points.astype(np.float16)
        arrays.update({f"{name}{_SEP}{k}": v for k, v in fields.items()})
    save_arrays(Path(path), **arrays)


_MAP_FIELDS = {
    "method": text(),
    "params": text(),
    "points": floats("N", 2),
    "mean": floats("Q"),
    "components": floats(2, "Q"),
}


def _map_array(name: str) -> Spec | None:
    """What each array of a maps file must be (None: not one this version reads)."""
    if name in ("content_hash", "codes_shape"):
        return text() if name == "content_hash" else integers(2)
    _, sep, part = name.partition(_SEP)
    return _MAP_FIELDS.get(part) if sep else None


def load_maps(path: Path, content_hash: str, codes: np.ndarray) -> dict[str, LatentMap]:
    """Maps saved by save_maps for `codes` (N,q); {} if missing, unreadable, stale or for other codes."""
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2:
        return {}
    dims = {"N": len(codes), "Q": codes.shape[1]}
    arrays = load_sidecar(Path(path), _map_array, content_hash=content_hash, dims=dims, max_mb=16)
    if arrays is None or tuple(arrays.get("codes_shape", ())) != codes.shape:
        return {}
    groups: dict[str, dict[str, np.ndarray]] = {}
    for full, value in arrays.items():
        name, sep, part = full.partition(_SEP)
        if sep:
            groups.setdefault(name, {})[part] = value
    maps = {}
    for name, group in groups.items():
        try:
            maps[name] = _restore(group, codes)
        except (KeyError, ValueError) as exc:
            warnings.warn(f"{path}: skipping map {name!r}: {exc}", RuntimeWarning, stacklevel=2)
    return maps


def _restore(group: dict[str, np.ndarray], codes: np.ndarray) -> LatentMap:
    method = str(group["method"])
    if method == "pca":
        mean, components = group["mean"].astype(np.float64), group["components"].astype(np.float64)
        points = (codes - mean) @ components.T
    else:
        points = codes if method == "raw" else group["points"].astype(np.float32)
    return LatentMap.from_arrays({**group, "points": points, "codes": codes})
