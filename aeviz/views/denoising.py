"""Denoising views: every level of a noise slider reconstructed in one batched pass, and PSNR-vs-level curves."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import cache, figures
from .checkpoints import CheckpointInfo
from .metrics import reconstruct_all
from .models import AutoEncoder
from .noise import NOISE_KINDS, noise_frames, psnr
from .scrub import cell_scale, compose_frames, grey

SCRUB_STEPS = 21  # slider positions shipped to the browser
CURVE_STEPS = 11
CURVE_IMAGES = 300
EXACT = 99.0  # PSNR at or above this (psnr caps identical images at 100) reads "exact"
PLAIN_FAMILIES = ("dense", "conv")


def levels(kind: str, steps: int = SCRUB_STEPS) -> np.ndarray:
    """`steps` evenly spaced levels over the kind's slider range, (L,) float64."""
    spec = NOISE_KINDS[kind]
    return np.round(np.linspace(spec.min, spec.max, steps), 6)


def level_label(kind: str, level: float) -> str:
    """'0.50' for Gaussian sigma; fractions of pixels or of the area read as percentages ('3.5 %', '35 %')."""
    return f"{level:.2f}" if kind == "gaussian" else f"{round(100 * level, 1):g} %"


@dataclass(frozen=True)
class Sweep:
    """Clean images, their noisy versions at every level and each model's output, with PSNR against clean."""

    levels: np.ndarray  # (L,)
    clean: np.ndarray  # (N,C,H,W)
    noisy: np.ndarray  # (L,N,C,H,W)
    outputs: dict[str, np.ndarray]  # model label -> (L,N,C,H,W)
    psnr: dict[str, np.ndarray]  # "noisy" and each model label -> (L,N) dB


def sweep(models: Mapping[str, AutoEncoder], x, kind: str, level_values: Sequence[float], *, seed: int) -> Sweep:
    """Corrupt x (N,C,H,W) at every level from one random field and reconstruct all levels in one pass."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    noisy = noise_frames(x, kind, [float(v) for v in level_values], seed=seed)  # (L,N,C,H,W)
    flat = noisy.flatten(0, 1)  # (L*N,C,H,W): the whole slider in one forward pass per model
    outputs = {label: reconstruct_all(model, flat).reshape(noisy.shape) for label, model in models.items()}
    target = x.expand_as(noisy).flatten(0, 1)
    shape = noisy.shape[:2]
    scores = {"noisy": psnr(target, flat).reshape(shape).numpy()}
    scores |= {label: psnr(target, torch.from_numpy(out).flatten(0, 1)).reshape(shape).numpy()
               for label, out in outputs.items()}
    return Sweep(np.asarray(level_values, np.float64), x.numpy(), noisy.numpy(), outputs, scores)


def db(value: float) -> str:
    return "exact" if value >= EXACT else f"{value:.1f} dB"


def sweep_frames(result: Sweep, *, scale: int | None = None, theme: str = "light") -> np.ndarray:
    """One composed picture per level, (L,H',W') uint8: rows clean, noisy, each model; PSNR under each cell."""
    labels = list(result.outputs)
    scale = scale or cell_scale(result.clean.shape[-2], 112)  # captions of 24 px: readable when shown smaller
    rows = [grey(result.clean), grey(result.noisy)] + [grey(result.outputs[k]) for k in labels]
    n = result.clean.shape[0]
    captions = [[[""] * n] + [[db(v) for v in result.psnr[k][f]] for k in ["noisy", *labels]]
                for f in range(len(result.levels))]
    return compose_frames(rows, row_labels=["clean", "noisy", *labels], cell_labels=captions, scale=scale, theme=theme)


def scrub(result: Sweep, kind: str, *, theme: str = "light"):
    """A plotly figure whose own slider scrubs the levels in the browser, opening at the kind's usual level."""
    fig = figures.scrub_figure(sweep_frames(result, theme=theme), labels=[level_label(kind, v) for v in result.levels])
    start = int(np.argmin(np.abs(result.levels - NOISE_KINDS[kind].default)))
    slider = fig.layout.sliders[0]
    slider.active = start
    slider.currentvalue.update(prefix=f"{NOISE_KINDS[kind].label} {NOISE_KINDS[kind].param} = ", font=dict(size=18))
    fig.data[0].source = fig.frames[start].data[0].source  # what shows before the first drag
    return fig


def psnr_curves(models: Mapping[str, AutoEncoder], x, kind: str, *, steps: int = CURVE_STEPS,
                seed: int = 0) -> dict[str, np.ndarray]:
    """The mean of per-image PSNR at each level: 'levels' (L,), 'noisy' (L,) and one (L,) per model."""
    result = sweep(models, x, kind, levels(kind, steps), seed=seed)
    return {"levels": result.levels, **{k: v.mean(axis=1) for k, v in result.psnr.items()}}


def cached_psnr_curves(models: Mapping[str, AutoEncoder], x, kind: str, *, steps: int = CURVE_STEPS,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """psnr_curves, computed once and kept on disk under the models' content hashes and the images' hash."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    labels = list(models)
    key = cache.cache_key(models=[[k, m.metadata.get("hash", "")] for k, m in models.items()],
                          images=hashlib.sha256(x.tobytes()).hexdigest(), shape=list(x.shape),
                          kind=kind, steps=steps, seed=seed)

    def compute():
        curves = psnr_curves(models, x, kind, steps=steps, seed=seed)
        # npz member names stay plain: model labels may hold any character
        return {"levels": curves["levels"], "noisy": curves["noisy"],
                **{f"model{i}": curves[k] for i, k in enumerate(labels)}}

    stored = cache.cached_arrays("psnr_curves", key, compute)
    return {"levels": stored["levels"], "noisy": stored["noisy"],
            **{k: stored[f"model{i}"] for i, k in enumerate(labels)}}


def curve_figure(curves: Mapping[str, np.ndarray], kind: str, *, trained_at: float | None = None):
    """Mean PSNR against noise level, one line per model and a dashed one for the noisy input."""
    import plotly.graph_objects as go

    spec = NOISE_KINDS[kind]
    scale = 1 if kind == "gaussian" else 100
    x = curves["levels"] * scale
    fig = go.Figure()
    names = [k for k in curves if k != "levels"]
    for i, name in enumerate(names):
        y = np.where(curves[name] >= EXACT, np.nan, curves[name])  # noise-free input is exact: no point
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers",
                                 line=dict(color="#888888" if name == "noisy" else figures.PALETTE[(i - 1) % 10],
                                           dash="dash" if name == "noisy" else "solid", width=3)))
    if trained_at is not None:
        fig.add_vline(x=trained_at * scale, line=dict(color="#888888", dash="dot"),
                      annotation_text="training noise", annotation_position="top")
    unit = "" if kind == "gaussian" else " (%)"
    fig.update_layout(xaxis_title=f"{spec.label} {spec.param}{unit}",
                      yaxis_title="mean per-image PSNR (dB), higher is better", height=420,
                      margin=dict(l=50, r=10, t=30, b=50), legend=dict(orientation="h", y=-0.2))
    return fig


# --- which models to compare ------------------------------------------------------------------------------

def arch_of(info: CheckpointInfo) -> str:
    """'dense' or 'conv', from a checkpoint's config."""
    return info.metadata.get("config", {}).get("arch", "dense")


def plain_twin(info: CheckpointInfo, infos: Sequence[CheckpointInfo], *,
               same_size: bool = True) -> CheckpointInfo | None:
    """The plain autoencoder most like `info`: same dataset and architecture, the same code size (or, with
    same_size=False, the nearest one), then the same loss and layers. None when there is none."""
    config = info.metadata.get("config", {})
    candidates = [c for c in infos if c.family in PLAIN_FAMILIES and c.dataset == info.dataset
                  and arch_of(c) == arch_of(info) and (c.bottleneck == info.bottleneck or not same_size)]

    def distance(c: CheckpointInfo) -> tuple:
        other = c.metadata.get("config", {})
        hidden, mine = list(other.get("hidden", [])), list(config.get("hidden", []))
        return (abs(np.log2(c.bottleneck / info.bottleneck)), other.get("loss") != config.get("loss"),
                abs(len(hidden) - len(mine)), hidden != mine, other.get("channels") != config.get("channels"),
                -c.bottleneck, c.name)

    return min(candidates, key=distance, default=None)


def denoisers(infos: Sequence[CheckpointInfo]) -> dict[str, list[CheckpointInfo]]:
    """Denoising models by architecture ('dense', 'conv'), the one with the code size closest to 32 first."""
    found: dict[str, list[CheckpointInfo]] = {}
    for info in infos:
        if info.family == "denoising":
            found.setdefault(arch_of(info), []).append(info)
    return {arch: sorted(group, key=lambda c: (abs(np.log2(c.bottleneck / 32)), c.name))
            for arch, group in sorted(found.items(), key=lambda kv: kv[0] != "dense")}


def trained_noise(info: CheckpointInfo) -> tuple[str, float] | None:
    """(kind, level) a denoising model was trained with, from its config."""
    from .noise import parse_noise

    text = info.metadata.get("config", {}).get("noise")
    if not text:
        return None
    spec = parse_noise(text)
    return spec.kind, spec.level
