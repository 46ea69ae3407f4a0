"""The PCA baseline of every code size q: fitted once on a train split, cached on disk, shipped with the zoo."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoints import zoo_dir
from .data import DATASETS, data_dir, fingerprint, load_dataset
from .diskcache import cache_key, cached_arrays, save_arrays
from .errors import one_line
from .sidecars import floats, integers, load_sidecar, text

MAX_COMPONENTS = 64  # grey images of up to 1024 pixels: the zoo's grey models stop at q = 64
WIDE_COMPONENTS = 256  # larger inputs (colour: 3072 values at 32x32): the colour zoo goes to q = 256
SIZES = (2, 4, 8, 16, 32, 64, 128, 256)  # the q's measured, as far as a fit has components
EIGH_MAX_PIXELS = 4096  # above this a randomized solver: see fit_pca
_VERSION = 1  # bump when the fit or the stored arrays change


@dataclass(frozen=True)
class PCABaseline:
    """PCA fitted on a train split: the best linear encoder and decoder of each size q, nested (the first q)."""

    dataset: str
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (K,D) orthonormal rows, by decreasing variance
    sizes: np.ndarray  # (S,) the q's measured on the test split
    test_mse: np.ndarray  # (S,) mean squared error per pixel of the clipped test reconstructions

    @property
    def max_q(self) -> int:
        return len(self.components)

    def reconstruct(self, images: np.ndarray, q: int) -> np.ndarray:
        """(N,C,H,W) in [0,1] -> their reconstructions from the first q components, clipped to [0,1]."""
        if not 1 <= q <= self.max_q:
            raise ValueError(f"PCA of {self.dataset} has 1..{self.max_q} components, not {q}")
        images = np.asarray(images, dtype=np.float32)
        return _project(images.reshape(len(images), -1), self.mean, self.components[:q]).reshape(images.shape)

    def mse(self, q: int) -> float | None:
        """Test-set MSE at q, or None where it was not measured."""
        hit = np.flatnonzero(self.sizes == q)
        return float(self.test_mse[hit[0]]) if len(hit) else None


def _project(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(N,D) -> (N,D): onto the span of `components` (q,D) around `mean`, clipped to the pixel range."""
    return np.clip((x - mean) @ components.T @ components + mean, 0, 1)


def max_components(pixels: int) -> int:
    """How many components a baseline of `pixels`-value images keeps (every q the pages compare at)."""
    return MAX_COMPONENTS if pixels <= 1024 else WIDE_COMPONENTS


def fit_pca(
    train_x: np.ndarray, test_x: np.ndarray, k: int | None = None, sizes=SIZES, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Fit k components (default max_components(D)) on (N,D) train pixels once; the test MSE of every q in
    `sizes` comes from slicing them.

    Up to EIGH_MAX_PIXELS values an image, one DxD eigendecomposition of the covariance: exact and
    deterministic; well under a second for MNIST (D = 784), about 10 s for CIFAR-10 (D = 3072, 50,000
    images, 2 cores). Beyond (64x64 colour: D = 12,288, a 600 MB covariance whose eigendecomposition takes
    minutes), or with fewer images than values, a seeded randomized SVD of the top k only (Halko et al.)."""
    from sklearn.decomposition import PCA

    images, pixels = train_x.shape
    k = min(k if k is not None else max_components(pixels), images, pixels)
    if pixels <= EIGH_MAX_PIXELS and images >= pixels:  # with fewer images than values the DxD route is waste
        pca = PCA(n_components=k, svd_solver="covariance_eigh")
    else:
        pca = PCA(n_components=k, svd_solver="randomized", random_state=seed)
    pca.fit(train_x)
    mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
    qs = np.array([q for q in sizes if q <= k], dtype=np.int64)
    mse = [float(((_project(test_x, mean, components[:q]) - test_x) ** 2).mean()) for q in qs]
    return {"mean": mean, "components": components, "sizes": qs, "test_mse": np.array(mse, np.float64)}


def pca_baseline(dataset: str) -> PCABaseline:
    """The PCA baseline of a dataset: the zoo's shipped one when it was fitted on this very data, else fitted
    on its train split once and read from the on-disk cache."""
    arrays = load_shipped_pca(dataset)
    if arrays is None:
        key = cache_key(dataset=dataset, root=str(data_dir()), k=_components(dataset), sizes=SIZES, version=_VERSION)
        arrays = cached_arrays("pca-baseline", key, lambda: _fit_dataset(dataset))
    for a in arrays.values():
        a.flags.writeable = False  # shared by every session of the app
    return PCABaseline(dataset, arrays["mean"], arrays["components"], arrays["sizes"], arrays["test_mse"])


def _components(dataset: str) -> int:
    return max_components(int(np.prod(DATASETS[dataset].shape))) if dataset in DATASETS else MAX_COMPONENTS


def _fit_dataset(dataset: str) -> dict[str, np.ndarray]:
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    return fit_pca(train.images.flatten(1).numpy(), test.images.flatten(1).numpy())


# --- shipped with the zoo: checkpoints/<dataset>.pca.npz, so a cold server never fits one on a page's time ------

_FITTED = ("mean", "components", "sizes", "test_mse")
_SHIPPED = {
    "mean": floats("D"),
    "components": floats("K", "D"),
    "sizes": integers("S"),
    "test_mse": floats("S"),
    "version": integers(),
    "data": text(),
    "digest": text(),
}


def shipped_pca_path(dataset: str) -> Path:
    return zoo_dir() / f"{dataset}.pca.npz"


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the fitted arrays (names, dtypes, shapes, bytes): a file edited by hand no longer matches."""
    digest = hashlib.sha256()
    for name in _FITTED:
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype}|{a.shape}|".encode())
        digest.update(a.data)
    return digest.hexdigest()


def save_shipped_pca(dataset: str, folder: Path | None = None) -> Path:
    """Fit the dataset's baseline and write it, with the fingerprint of the data it was fitted on."""
    path = (folder or zoo_dir()) / f"{dataset}.pca.npz"
    fitted = _fit_dataset(dataset)
    save_arrays(
        path,
        **fitted,
        version=np.array(_VERSION),
        data=np.array(fingerprint(dataset)),
        digest=np.array(_digest(fitted)),
    )
    return path


def load_shipped_pca(dataset: str, path: Path | None = None) -> dict[str, np.ndarray] | None:
    """The shipped baseline's arrays; None when there is none, it was fitted on other data or by another
    version (stale: fitted afresh), or it fails its checks (damaged or edited: refused with a warning)."""
    path = path or shipped_pca_path(dataset)
    if dataset not in DATASETS:
        return None
    pixels = int(np.prod(DATASETS[dataset].shape))
    dims: dict[str, int | range] = {"D": pixels, "K": max_components(pixels), "S": range(len(SIZES) + 1)}
    arrays = load_sidecar(path, _SHIPPED, dims=dims, instead="fitting the PCA baseline afresh")
    if arrays is None:
        return None
    try:
        if int(arrays["version"]) != _VERSION or str(arrays["data"]) != fingerprint(dataset):
            return None
        problem = _check_shipped(arrays, int(np.prod(DATASETS[dataset].shape)))
    except (KeyError, TypeError, ValueError) as exc:
        problem = f"unreadable ({one_line(exc)})"
    if problem:
        warnings.warn(f"{path}: refused ({problem}); fitting the PCA baseline afresh", RuntimeWarning, stacklevel=2)
        return None
    return {name: arrays[name] for name in _FITTED}


def _check_shipped(arrays: dict[str, np.ndarray], pixels: int) -> str:
    """What is wrong with a shipped baseline's arrays ('' when nothing)."""
    if str(arrays["digest"]) != _digest(arrays):
        return "its arrays do not match the digest it was written with"
    mean, components, sizes, mse = (arrays[name] for name in _FITTED)
    k = min(max_components(pixels), pixels)
    if mean.shape != (pixels,) or components.shape != (k, pixels) or sizes.tolist() != [q for q in SIZES if q <= k]:
        return f"shapes {mean.shape}, {components.shape}, sizes {sizes.tolist()} are not those of {pixels} pixels"
    if mse.shape != sizes.shape or not all(np.isfinite(a).all() for a in (mean, components, mse)) or (mse < 0).any():
        return "not finite or negative values"
    if np.abs(components @ components.T - np.eye(k)).max() > 1e-3:
        return "its components are not orthonormal"
    return ""
