"""Reconstructions across bottleneck sizes: the PCA baseline and the zoo's series of models by code size q."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cache import cache_key, cached_arrays, load_arrays, save_arrays
from .checkpoints import ORIGINS, ZOO, CheckpointInfo, zoo_dir
from .data import DATASETS, data_dir, fingerprint, load_dataset
from .metrics import image_errors, reconstruct_all
from .models import AutoEncoder

MAX_COMPONENTS = 64
SIZES = (2, 4, 8, 16, 32, 64)
FAMILIES = ("dense", "conv", "vae")  # the families trained at several bottleneck sizes
LOSSES = ("bce", "mse")
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


def fit_pca(train_x: np.ndarray, test_x: np.ndarray, k: int = MAX_COMPONENTS, sizes=SIZES) -> dict[str, np.ndarray]:
    """Fit k components on (N,D) train pixels once; the test MSE of every q in `sizes` comes from slicing them."""
    from sklearn.decomposition import PCA

    k = min(k, *train_x.shape)
    # covariance_eigh: one DxD eigendecomposition, deterministic and well under a second for MNIST
    pca = PCA(n_components=k, svd_solver="covariance_eigh").fit(train_x)
    mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
    qs = np.array([q for q in sizes if q <= k], dtype=np.int64)
    mse = [float(((_project(test_x, mean, components[:q]) - test_x) ** 2).mean()) for q in qs]
    return {"mean": mean, "components": components, "sizes": qs, "test_mse": np.array(mse, np.float64)}


def pca_baseline(dataset: str) -> PCABaseline:
    """The PCA baseline of a dataset: the zoo's shipped one when it was fitted on this very data, else fitted
    on its train split once and read from the on-disk cache."""
    arrays = load_shipped_pca(dataset)
    if arrays is None:
        key = cache_key(dataset=dataset, root=str(data_dir()), k=MAX_COMPONENTS, sizes=SIZES, version=_VERSION)
        arrays = cached_arrays("pca-baseline", key, lambda: _fit_dataset(dataset))
    for a in arrays.values():
        a.flags.writeable = False  # shared by every session of the app
    return PCABaseline(dataset, arrays["mean"], arrays["components"], arrays["sizes"], arrays["test_mse"])


def _fit_dataset(dataset: str) -> dict[str, np.ndarray]:
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    return fit_pca(train.images.flatten(1).numpy(), test.images.flatten(1).numpy())


# --- shipped with the zoo: checkpoints/<dataset>.pca.npz, so a cold server never fits one on a page's time ------

_FITTED = ("mean", "components", "sizes", "test_mse")


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
    save_arrays(path, **fitted, version=np.array(_VERSION), data=np.array(fingerprint(dataset)),
                digest=np.array(_digest(fitted)))
    return path


def load_shipped_pca(dataset: str, path: Path | None = None) -> dict[str, np.ndarray] | None:
    """The shipped baseline's arrays; None when there is none, it was fitted on other data or by another
    version (stale: fitted afresh), or it fails its checks (damaged or edited: refused with a warning)."""
    path = path or shipped_pca_path(dataset)
    arrays = load_arrays(path, delete_corrupt=False)  # shipped: never delete
    if arrays is None or dataset not in DATASETS:
        return None
    try:
        if int(arrays["version"]) != _VERSION or str(arrays["data"]) != fingerprint(dataset):
            return None
        problem = _check_shipped(arrays, int(np.prod(DATASETS[dataset].shape)))
    except (KeyError, TypeError, ValueError) as exc:
        problem = f"unreadable ({type(exc).__name__}: {exc})"
    if problem:
        warnings.warn(f"{path}: refused ({problem}); fitting the PCA baseline afresh", RuntimeWarning, stacklevel=2)
        return None
    return {name: arrays[name] for name in _FITTED}


def _check_shipped(arrays: dict[str, np.ndarray], pixels: int) -> str:
    """What is wrong with a shipped baseline's arrays ('' when nothing)."""
    if str(arrays["digest"]) != _digest(arrays):
        return "its arrays do not match the digest it was written with"
    mean, components, sizes, mse = (arrays[name] for name in _FITTED)
    k = min(MAX_COMPONENTS, pixels)
    if mean.shape != (pixels,) or components.shape != (k, pixels) or sizes.tolist() != [q for q in SIZES if q <= k]:
        return f"shapes {mean.shape}, {components.shape}, sizes {sizes.tolist()} are not those of {pixels} pixels"
    if mse.shape != sizes.shape or not all(np.isfinite(a).all() for a in (mean, components, mse)) or (mse < 0).any():
        return "not finite or negative values"
    if np.abs(components @ components.T - np.eye(k)).max() > 1e-3:
        return "its components are not orthonormal"
    return ""


# --- the series: models that differ only in their bottleneck size --------------------------------------

@dataclass(frozen=True)
class Series:
    """One architecture and loss trained at several q, e.g. arch 'dense-h256x128' with loss 'bce'."""

    name: str  # the checkpoints' series, e.g. 'dense-h256x128-bce'
    arch: str
    loss: str
    models: tuple[CheckpointInfo, ...]  # one per q, ascending

    @property
    def label(self) -> str:
        return arch_label(self.arch) + ("" if self.loss == "bce" else f" ({self.loss.upper()})")

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(m.bottleneck for m in self.models)

    def at(self, q: int) -> CheckpointInfo | None:
        return next((m for m in self.models if m.bottleneck == q), None)

    def row_label(self, q: int) -> str:
        """'dense q=8', and where its checkpoint comes from when that is not the zoo ('dense q=8 · yours')."""
        info = self.at(q)
        return f"{self.label} q={q}" + ("" if info is None or info.origin == ZOO else f" · {info.where}")


def arch_label(arch: str) -> str:
    """'dense' -> 'dense', 'dense-h256x128' -> 'dense 256-128', 'vae-conv' -> 'VAE conv'."""
    words = {"vae": "VAE"}
    parts = [words.get(p, p[1:].replace("x", "-") if p[:1] == "h" and p[1:2].isdigit() else p)
             for p in arch.split("-")]
    return " ".join(parts)


def split_series(series: str) -> tuple[str, str]:
    """'dense-h256x128-bce' -> ('dense-h256x128', 'bce'); the loss is whichever part names one."""
    parts = series.split("-")
    loss = next((p for p in parts if p in LOSSES), "")
    return "-".join(p for p in parts if p != loss), loss


def group_series(infos, families=FAMILIES, prefer=ORIGINS) -> list[Series]:
    """The series of `families` among checkpoints, dense first. Where several checkpoints of a series share a q
    (a model trained here under the zoo's recipe), the one whose origin comes first in `prefer` is used: the
    zoo's unless the caller asks otherwise."""
    by_name: dict[str, dict[int, CheckpointInfo]] = {}
    rank = {origin: i for i, origin in enumerate(prefer)}
    for info in infos:
        if info.family in families:
            sizes = by_name.setdefault(info.series, {})
            held = sizes.get(info.bottleneck)
            if held is None or rank.get(info.origin, len(rank)) < rank.get(held.origin, len(rank)):
                sizes[info.bottleneck] = info
    found = [Series(name, *split_series(name), tuple(models[q] for q in sorted(models)))
             for name, models in by_name.items()]
    return sorted(found, key=lambda s: (families.index(s.models[0].family), s.loss != "bce", len(s.arch), s.arch))


def contested(infos, families=FAMILIES) -> bool:
    """Whether a checkpoint not from the zoo shares a series and q with another one (so `prefer` matters)."""
    seen: dict[tuple[str, int], set[str]] = {}
    for info in infos:
        if info.family in families:
            seen.setdefault((info.series, info.bottleneck), set()).add(info.origin)
    return any(len(origins) > 1 for origins in seen.values())


def beats_pca(series: Series, pca: PCABaseline) -> tuple[list[int], list[int]]:
    """The q's where the series' test MSE is below PCA's, and those where PCA does at least as well."""
    wins, losses = [], []
    for m in series.models:
        baseline = pca.mse(m.bottleneck)
        if baseline is not None and "mse" in m.metrics:
            (wins if m.metrics["mse"] < baseline else losses).append(m.bottleneck)
    return wins, losses


@dataclass(frozen=True)
class Grid:
    """What compose_grid needs: rows of (N,C,H,W) images, a label per row and a caption per cell."""

    rows: list[np.ndarray]
    row_labels: list[str]
    cell_labels: list[list[str]]


def reconstruction_grid(images: np.ndarray, captions, series: Series, models: dict[int, AutoEncoder | None],
                        pca: PCABaseline | None, sizes) -> Grid:
    """Originals, then per q the series' model's reconstructions (an empty row where there is none) and PCA's."""
    images = np.asarray(images, dtype=np.float32)
    grid = Grid([images], ["original"], [[_short(c) for c in captions]])
    for q in sizes:
        model = models.get(q)
        if model is None:
            _add(grid, images[:0], f"{series.label} q={q}: not trained", [])
        else:
            recon = reconstruct_all(model, torch.from_numpy(images))
            _add(grid, recon, series.row_label(q), image_errors(images, recon, "mse"))
        if pca is not None and q <= pca.max_q:
            recon = pca.reconstruct(images, q)
            _add(grid, recon, f"PCA q={q}", image_errors(images, recon, "mse"))
    return grid


def _add(grid: Grid, recon: np.ndarray, label: str, errors) -> None:
    grid.rows.append(recon)
    grid.row_labels.append(label)
    grid.cell_labels.append([f"{e:.4f}" for e in errors])


def _short(text: str, limit: int = 14) -> str:
    """Cell captions must fit under a ~84 px cell."""
    return text if len(text) <= limit else text[:limit - 2] + ".."


def rate_distortion_figure(series: list[Series], pca: PCABaseline | None, highlight: str | None = None,
                           metric: str = "mse"):
    """Test error against q for each series (from checkpoint metadata) and the PCA baseline, log-log."""
    import plotly.graph_objects as go

    from .figures import PALETTE

    fig = go.Figure()
    for i, s in enumerate(series):
        points = [(m.bottleneck, m.metrics[metric]) for m in s.models if metric in m.metrics]
        if points:
            q, err = zip(*points)
            bold = s.name == highlight
            fig.add_trace(go.Scatter(x=q, y=err, mode="lines+markers", name=s.label,
                                     line=dict(color=PALETTE[i % len(PALETTE)], width=4 if bold else 2),
                                     marker=dict(size=10 if bold else 7),
                                     hovertemplate=f"{s.label} q=%{{x}}: %{{y:.4f}}<extra></extra>"))
    ticks = {q for s in series for q in s.sizes}
    if pca is not None and metric == "mse":
        # only up to the largest trained q: beyond it PCA runs away to lossless (q = all pixels, for digits)
        keep = pca.sizes <= max(ticks, default=pca.max_q)
        ticks |= set(pca.sizes[keep].tolist())
        fig.add_trace(go.Scatter(x=pca.sizes[keep], y=pca.test_mse[keep], mode="lines+markers", name="PCA",
                                 line=dict(color="#888888", dash="dash", width=2), marker=dict(symbol="x", size=8),
                                 hovertemplate="PCA q=%{x}: %{y:.4f}<extra></extra>"))
    ticks = sorted(ticks)
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], title="bottleneck size q")
    levels = [0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5]  # no minor-digit clutter
    fig.update_yaxes(type="log", tickvals=levels, ticktext=[f"{v:g}" for v in levels],
                     title=f"test {metric.upper()} per pixel")
    fig.update_layout(title="Test error vs bottleneck size", height=420, hovermode="closest",
                      legend=dict(orientation="h", yanchor="top", y=-0.18), margin=dict(l=10, r=10, t=50, b=10))
    return fig
