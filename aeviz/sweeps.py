"""Noise sweeps: every level of a noise slider reconstructed in one batched pass, and PSNR-vs-level curves."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import diskcache
from .metrics import psnr, reconstruct_all
from .models import Codec
from .noise import NOISE_KINDS, noise_frames

SCRUB_STEPS = 21  # slider positions shipped to the browser
CURVE_STEPS = 11
CURVE_IMAGES = 300  # MNIST-sized pictures; larger ones get fewer, the same pixels in all (curve_images)


def curve_images(shape: tuple[int, ...]) -> int:
    """How many test images of `shape` (C,H,W) the PSNR curves average: CURVE_IMAGES of 784 values or fewer, else
    as many as hold as many values, at least 50 (CIFAR-10's 3,072: 76 photos; 300 took a cold server 5.8 s)."""
    values = math.prod(shape)
    return CURVE_IMAGES if values <= 784 else max(50, CURVE_IMAGES * 784 // values)


def levels(kind: str, steps: int = SCRUB_STEPS) -> np.ndarray:
    """`steps` evenly spaced levels over the kind's slider range, (L,) float64."""
    spec = NOISE_KINDS[kind]
    return np.round(np.linspace(spec.min, spec.max, steps), 6)


@dataclass(frozen=True)
class Sweep:
    """Clean images, their noisy versions at every level and each model's output, with PSNR against clean."""

    levels: np.ndarray  # (L,)
    clean: np.ndarray  # (N,C,H,W)
    noisy: np.ndarray  # (L,N,C,H,W)
    outputs: dict[str, np.ndarray]  # model label -> (L,N,C,H,W)
    psnr: dict[str, np.ndarray]  # "noisy" and each model label -> (L,N) dB


def sweep(models: Mapping[str, Codec], x, kind: str, level_values: Sequence[float] | np.ndarray, *, seed: int) -> Sweep:
    """Corrupt x (N,C,H,W) at every level from one random field and reconstruct all levels in one pass."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    noisy = noise_frames(x, kind, [float(v) for v in level_values], seed=seed)  # (L,N,C,H,W)
    flat = noisy.flatten(0, 1)  # (L*N,C,H,W): the whole slider in one forward pass per model
    outputs = {label: reconstruct_all(model, flat).reshape(noisy.shape) for label, model in models.items()}
    target = x.expand_as(noisy).flatten(0, 1)
    shape = noisy.shape[:2]
    scores = {"noisy": psnr(target, flat).reshape(shape).numpy()}
    scores |= {
        label: psnr(target, torch.from_numpy(out).flatten(0, 1)).reshape(shape).numpy()
        for label, out in outputs.items()
    }
    return Sweep(np.asarray(level_values, np.float64), x.numpy(), noisy.numpy(), outputs, scores)


def psnr_curves(
    models: Mapping[str, Codec], x, kind: str, *, steps: int = CURVE_STEPS, seed: int = 0
) -> dict[str, np.ndarray]:
    """The mean of per-image PSNR at each level: 'levels' (L,), 'noisy' (L,) and one (L,) per model."""
    result = sweep(models, x, kind, levels(kind, steps), seed=seed)
    return {"levels": result.levels, **{k: v.mean(axis=1) for k, v in result.psnr.items()}}


def cached_psnr_curves(
    models: Mapping[str, Codec], x, kind: str, *, steps: int = CURVE_STEPS, seed: int = 0
) -> dict[str, np.ndarray]:
    """psnr_curves, computed once and kept on disk under the models' content hashes and the images' hash."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    labels = list(models)
    key = diskcache.cache_key(
        models=[[k, m.metadata.get("hash", "")] for k, m in models.items()],
        images=hashlib.sha256(x.tobytes()).hexdigest(),
        shape=list(x.shape),
        kind=kind,
        steps=steps,
        seed=seed,
    )

    def compute():
        curves = psnr_curves(models, x, kind, steps=steps, seed=seed)
        # npz member names stay plain: model labels may hold any character
        return {
            "levels": curves["levels"],
            "noisy": curves["noisy"],
            **{f"model{i}": curves[k] for i, k in enumerate(labels)},
        }

    stored = diskcache.cached_arrays("psnr_curves", key, compute)
    return {
        "levels": stored["levels"],
        "noisy": stored["noisy"],
        **{k: stored[f"model{i}"] for i, k in enumerate(labels)},
    }
