"""The feature dashboard's figures: one unit's atom, its top-activating test images and its activation density;
the dictionary's dead units; the L0-vs-error frontier of the sparse models, each sentence from the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import features as ft
from ..metrics import decode_all
from . import figures

TOP_IMAGES = 16
MODE_LABELS = {"l1": "L1", "kl": "KL", "topk": "TopK"}


@dataclass(frozen=True)
class Dictionary:
    """A model's code units over the test set: what every view of one unit needs, computed once per model."""

    threshold: float  # |activation| above which a unit fires
    rates: np.ndarray  # (q,) share of test images each unit fires on
    order: np.ndarray  # (q,) units, the most often firing first (dead ones last)
    typical: np.ndarray  # (q,) mean activation when firing (1 for a dead unit)
    alone: np.ndarray  # (q,C,H,W) each unit alone at its typical activation, decoded
    blank: np.ndarray  # (C,H,W) the zero code decoded: what every atom is drawn on
    l0: float
    dead: int

    @property
    def units(self) -> int:
        return len(self.rates)


def dictionary(model, codes: np.ndarray, code_activation: str) -> Dictionary:
    """The Dictionary of `model` from its test codes (N,q) (a sigmoid code fires above 0.5, others above 0)."""
    threshold = ft.firing_threshold(code_activation)
    rates, typical = ft.firing_rates(codes, threshold), ft.typical_activation(codes, threshold)
    q = codes.shape[1]
    alone = decode_all(model, ft.unit_codes(q, np.arange(q), typical))  # (q,C,H,W)
    blank = decode_all(model, np.zeros((1, q), np.float32))[0]
    order = np.argsort(-rates, kind="stable")
    return Dictionary(threshold, rates, order, typical, alone, blank, ft.l0(codes, threshold), int((rates == 0).sum()))


def atom_picture(d: Dictionary, unit: int, *, side: int = 168, theme: str = "light") -> np.ndarray:
    """The unit drawn alone, and what it adds to the zero code's picture (red brighter, blue darker), each about
    `side` pixels wide whatever the image size."""
    scale = max(1, side // d.blank.shape[-1])
    added = (d.alone[unit] - d.blank).mean(axis=0)  # (H,W), channels averaged for a colour image
    peak = max(float(np.abs(added).max()), 1e-6)
    t = added / peak
    diverging = np.stack([1 - np.clip(-t, 0, 1), 1 - np.abs(t), 1 - np.clip(t, 0, 1)], axis=-1)  # white at 0
    alone = d.alone[unit]
    alone = alone[0] if alone.shape[0] == 1 else alone.transpose(1, 2, 0)
    alone = np.repeat(alone[..., None], 3, axis=-1) if alone.ndim == 2 else alone
    return figures.compose_grid([np.stack([alone, diverging])], col_labels=["alone", "adds"], scale=scale, theme=theme)


def top_picture(d: Dictionary, codes: np.ndarray, images: np.ndarray, unit: int, *, theme: str = "light"):
    """The test images that turn `unit` on most, largest first, each captioned with its activation; None for a
    dead unit (no image turns it on)."""
    top = ft.top_activating(codes, unit, TOP_IMAGES)
    top = top[np.abs(codes[top, unit]) > d.threshold]
    if len(top) == 0:
        return None
    rows = [top[i : i + 8] for i in range(0, len(top), 8)]
    return figures.compose_grid(
        [images[r] for r in rows],
        cell_labels=[[f"{codes[i, unit]:.2f}" for i in r] for r in rows],
        scale=3 if images.shape[-1] >= 28 else 8,
        theme=theme,
    )


def density_figure(codes: np.ndarray, d: Dictionary, unit: int, *, height: int = 200):
    """Histogram of the unit's activations on the images it fires on."""
    import plotly.graph_objects as go

    counts, edges = ft.activation_histogram(codes, unit, d.threshold)
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2 if len(counts) else [],
            y=counts,
            width=np.diff(edges) if len(counts) else None,
            marker_color=figures.PALETTE[0],
            hovertemplate="activation %{x:.2f}: %{y} images<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=0),
        title=f"Unit {unit}: how strongly it fires",
        xaxis_title="activation",
        yaxis_title="test images",
        bargap=0,
    )
    return fig


def unit_sentence(d: Dictionary, unit: int, n_images: int) -> str:
    rank = int(np.flatnonzero(d.order == unit)[0]) + 1
    fired = int(round(d.rates[unit] * n_images))
    if fired == 0:
        return (
            f"**Unit {unit}** fires on none of the {n_images:,} test images: a **dead unit**. Its atom is what "
            f"it would draw at activation {d.typical[unit]:g}, but no test image ever asks for it."
        )
    often = "more often than any other unit" if rank == 1 else f"the {_ordinal(rank)} most often of {d.units:,} units"
    return (
        f"**Unit {unit}** fires on {fired:,} of the {n_images:,} test images ({100 * d.rates[unit]:.2f} %), "
        f"{often}; where it fires its mean activation is {d.typical[unit]:.3g}."
    )


def dictionary_sentence(d: Dictionary, pixels: int) -> str:
    size = {1: "overcomplete: more units than the", 0: "as many units as the", -1: "fewer units than the"}[
        int(np.sign(d.units - pixels))
    ]
    dead = "none is dead" if d.dead == 0 else f"**{d.dead:,} are dead** (they fire on no test image)"
    return (
        f"This code has {d.units:,} units ({size} {pixels:,} pixels); of them {dead}. An image turns on "
        f"**{d.l0:.1f} units** on average (the code's L0)."
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Point:
    """One model on the L0-vs-error plane."""

    name: str
    label: str  # 'TopK k=32', 'L1 λ=0.0001', 'KL ρ=0.05', or the family for others
    mode: str  # 'topk', 'l1', 'kl', or the family
    l0: float
    mse: float


def point_label(family: str, config: dict) -> tuple[str, str]:
    mode = config.get("sparsity", "l1") if family == "sparse" else family
    """('TopK k=32', 'topk'), ('L1 λ=0.0001', 'l1'), ('KL ρ=0.05', 'kl'); ('dense', 'dense') for others."""
    detail = {"topk": ("k", "topk"), "l1": ("λ", "l1"), "kl": ("ρ", "kl_target")}
    if mode not in detail:
        return family, mode
    symbol, field = detail[mode]
    return f"{MODE_LABELS[mode]} {symbol}={config.get(field, float('nan')):g}", mode


def frontier_figure(points: Sequence[Point], highlight: str = "", *, height: int = 360):
    """Test MSE against L0 per model, one colour per sparsity mode; the frontier (no model beats these on both)
    joined by a line."""
    import plotly.graph_objects as go

    on = ft.pareto_front([p.l0 for p in points], [p.mse for p in points])
    fig = go.Figure()
    front = sorted((p for p, f in zip(points, on, strict=True) if f), key=lambda p: p.l0)
    fig.add_trace(go.Scatter(x=[p.l0 for p in front], y=[p.mse for p in front], mode="lines", name="frontier",
                             line=dict(color="#999", dash="dot"), hoverinfo="skip"))  # fmt: skip
    for i, mode in enumerate(dict.fromkeys(p.mode for p in points)):
        mine = [p for p in points if p.mode == mode]
        fig.add_trace(
            go.Scatter(
                x=[p.l0 for p in mine],
                y=[p.mse for p in mine],
                mode="markers+text",
                name=MODE_LABELS.get(mode, mode),
                text=[p.label for p in mine],
                textposition="top center",
                marker=dict(size=[14 if p.name == highlight else 9 for p in mine], color=figures.PALETTE[i % 10]),
                hovertemplate="%{text}<br>L0 %{x:.1f}, test MSE %{y:.4f}<extra></extra>",
            )
        )
    fig.update_xaxes(type="log", title="active units per image (L0)")
    fig.update_yaxes(title="test MSE")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title="Sparsity against error")
    return fig


def frontier_sentence(points: Sequence[Point]) -> str:
    """Which models are on the frontier, and for each model off it, one that beats it on both counts."""
    if len(points) < 2:
        return "Train a second sparse model (another mode or weight) to compare sparsity with error."
    on = ft.pareto_front([p.l0 for p in points], [p.mse for p in points])
    front = [p.label for p, f in zip(points, on, strict=True) if f]
    text = f"On the frontier: {', '.join(front)}."
    for p, f in zip(points, on, strict=True):
        if not f:
            b = min(
                (o for o in points if o.l0 <= p.l0 and o.mse <= p.mse and (o.l0, o.mse) != (p.l0, p.mse)),
                key=lambda o: (o.mse, o.l0),
            )
            text += (
                f" {p.label} is beaten by {b.label}: {b.l0:.1f} active units against {p.l0:.1f}, "
                f"test MSE {b.mse:.4f} against {p.mse:.4f}."
            )
    return text
