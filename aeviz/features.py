"""A code's units as features (the feature dashboard's analysis): which fire, how often, how strongly, on which
images, what each draws, dead units, and the sparsity-vs-error frontier. Plain functions over arrays: codes
are (N,q) activations of N images, a unit is one of the q columns."""

from __future__ import annotations

import numpy as np

SIGMOID_FIRES_ABOVE = 0.5  # a sigmoid unit fires nearer 1 than 0 (Ng's "active" unit, near 1; "inactive", near 0)


def firing_threshold(code_activation: str) -> float:
    """The |activation| a unit must exceed to fire: 0 for ReLU, TopK and linear codes (exact zeros are silent),
    0.5 for a sigmoid code, which is never exactly 0."""
    return SIGMOID_FIRES_ABOVE if code_activation == "sigmoid" else 0.0


def _codes(codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, q), not of shape {codes.shape}")
    return codes


def firing(codes, threshold: float = 0.0) -> np.ndarray:
    """(N,q) bool: which units fire on which images."""
    return np.abs(_codes(codes)) > threshold


def firing_rates(codes, threshold: float = 0.0) -> np.ndarray:
    """(q,) the share of images each unit fires on."""
    fires = firing(codes, threshold)
    return fires.mean(axis=0) if len(fires) else np.zeros(fires.shape[1])


def l0(codes, threshold: float = 0.0) -> float:
    """Units firing per image, on average: the code's L0 "norm"."""
    return float(firing(codes, threshold).sum(axis=1).mean()) if len(codes) else 0.0


def dead_mask(codes, threshold: float = 0.0) -> np.ndarray:
    """(q,) bool: units that fire on none of the images (dead on a held-out set: their decoder atoms are unused)."""
    return np.logical_not(firing(codes, threshold).any(axis=0))


def dead_units(codes, threshold: float = 0.0) -> int:
    return int(dead_mask(codes, threshold).sum())


def top_activating(codes, unit: int, n: int = 16) -> np.ndarray:
    """Indices of the n images on which `unit` is largest, largest first (ties: the earlier image first)."""
    column = _codes(codes)[:, unit]
    return np.argsort(-column, kind="stable")[:n]


def activation_histogram(codes, unit: int, threshold: float = 0.0, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The unit's activations on the images it fires on: (counts, edges) of `bins` equal bins; empty arrays
    for a dead unit."""
    column = _codes(codes)[:, unit]
    fired = column[np.abs(column) > threshold]
    if len(fired) == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.histogram(fired, bins=bins)


def log_densities(codes, threshold: float = 0.0) -> np.ndarray:
    """log10 of each live unit's firing rate, (live units,): the spread of the dictionary's feature densities
    (a unit firing on every image at 0, on one in a thousand at -3). Dead units have none and are left out."""
    rates = firing_rates(codes, threshold)
    return np.log10(rates[rates > 0])


def typical_activation(codes, threshold: float = 0.0) -> np.ndarray:
    """(q,) each unit's mean activation over the images it fires on; 1 for a dead unit (it has none)."""
    codes = _codes(codes)
    fires = np.abs(codes) > threshold
    counts = fires.sum(axis=0)
    sums = np.where(fires, codes, 0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)


def unit_codes(q: int, units, values) -> np.ndarray:
    """(len(units), q) float32 codes with only `units[i]` set, to `values[i]`: decoded, and minus the decoded
    zero code, each is the unit's decoder atom (what turning it on adds to the picture)."""
    units = np.asarray(units, dtype=np.int64)
    codes = np.zeros((len(units), q), np.float32)
    codes[np.arange(len(units)), units] = np.asarray(values, dtype=np.float32)
    return codes


def pareto_front(l0s, errors) -> np.ndarray:
    """(n,) bool: the models no other model beats on both sparsity and error (an L0 and an error no larger,
    one of them smaller): the frontier of the L0-vs-error plane."""
    l0s, errors = np.asarray(l0s, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    no_worse = (l0s[None, :] <= l0s[:, None]) & (errors[None, :] <= errors[:, None])  # [i, j]: j is no worse than i
    better = (l0s[None, :] < l0s[:, None]) | (errors[None, :] < errors[:, None])
    return ~(no_worse & better).any(axis=1)
