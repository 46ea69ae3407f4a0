"""beta-VAE views: what moves as beta grows (KL per dimension, active units, samples beside reconstructions, the
2-d plane's coverage), with the sentences that say it from the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..collapse import Collapse, posterior_collapse
from ..metrics import reconstruct_all
from ..models import VAE
from . import figures
from .scrub import cell_scale
from .vae import sample
from .vaeplane import expected_underfilled

SHOWN = 8  # test images (and prior samples) in the samples-vs-reconstructions picture
ACTIVE, INERT = "#e4572e", "#9aa0a6"


@dataclass(frozen=True)
class BetaRow:
    """One VAE of the family: its beta, code size, active units, KL in nats per image, test MSE, its recipe,
    and how many of the 100 equal-prior-mass cells its 2-d sibling at this beta leaves under-filled (fewer than
    half the codes the prior would put there, vaeplane.underfilled; None: no sibling)."""

    name: str
    beta: float
    q: int
    active: int
    kl_total: float
    mse: float
    epochs: int
    train_images: int
    empty: int | None = None


def row(name: str, beta: float, collapse: Collapse, metadata: dict, empty: int | None = None) -> BetaRow:
    training = metadata.get("training", {})
    return BetaRow(
        name,
        beta,
        len(collapse.kl),
        collapse.active_units,
        collapse.kl_total,
        float(metadata.get("metrics", {}).get("mse", float("nan"))),
        int(training.get("epochs", 0)),
        int(metadata.get("train_images", 0)),
        empty,
    )


def dataset_collapse(vae: VAE, test) -> Collapse:
    """KL per dimension and active units over a whole test split (an aeviz.data.Dataset)."""
    return posterior_collapse(vae, test.images)


def collapse_figure(collapse: Collapse, rows: Sequence[BetaRow], beta: float, *, height: int = 300) -> go.Figure:
    """Left: the chosen VAE's KL per dimension, largest first, active ones coloured. Right: active units by beta."""
    fig = make_subplots(1, 2, column_widths=[0.6, 0.4], horizontal_spacing=0.16)
    order = np.argsort(-collapse.kl, kind="stable")
    fig.add_bar(
        x=[f"z{d}" for d in order],
        y=collapse.kl[order],
        marker_color=[ACTIVE if collapse.active[d] else INERT for d in order],
        customdata=collapse.variance[order],
        hovertemplate="%{x}: KL %{y:.3f} nats, variance of the mean %{customdata:.4f}<extra></extra>",
        row=1,
        col=1,
    )
    betas = [r.beta for r in rows]
    fig.add_scatter(
        x=betas,
        y=[r.active for r in rows],
        mode="lines+markers",
        marker={"size": [14 if b == beta else 7 for b in betas], "color": ACTIVE},
        customdata=[[r.kl_total, r.mse] for r in rows],
        hovertemplate="β %{x:g}: %{y} active, KL %{customdata[0]:.1f} nats, MSE %{customdata[1]:.4f}<extra></extra>",
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="code dimension (largest KL first)", row=1, col=1)
    fig.update_yaxes(title_text="KL to the prior (nats)", row=1, col=1)
    fig.update_xaxes(title_text="β", type="log", tickvals=betas, ticktext=[f"{b:g}" for b in betas], row=1, col=2)
    fig.update_yaxes(title_text="active units", rangemode="tozero", row=1, col=2)
    fig.update_layout(height=height, showlegend=False, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def samples_beside_reconstructions(vae: VAE, images, *, seed: int = 0) -> np.ndarray:
    """(3, SHOWN, C,H,W): test images, their reconstructions, and images decoded from prior samples."""
    shown = np.asarray(images[:SHOWN], dtype=np.float32)
    return np.stack([shown, reconstruct_all(vae, torch.from_numpy(shown)), sample(vae, len(shown), seed=seed)])


def samples_png(vae: VAE, images, theme: str) -> bytes:
    rows = samples_beside_reconstructions(vae, images)
    return figures.png_bytes(
        figures.compose_grid(
            list(rows),  # each (SHOWN,C,H,W): colour stays colour
            row_labels=["test", "rebuilt", "sampled"],
            scale=cell_scale(rows.shape[-2], 64),
            theme=theme,
        )
    )


def chosen_sentence(r: BetaRow) -> str:
    return (
        f"At **β = {r.beta:g}**, **{r.active} of {r.q}** code dimensions are active (the variance over the test "
        f"images of their posterior mean exceeds 0.01, Burda et al.'s criterion); the code carries "
        f"**{r.kl_total:.1f} nats** per image (its KL to the prior) and the test MSE is **{r.mse:.4f}**."
    )


def trend_sentence(rows: Sequence[BetaRow]) -> str:
    """From the smallest beta to the largest: active units, KL and MSE, in words the numbers support."""
    if len(rows) < 2:
        return "Only one β of this VAE is here: train the same net at another β to compare."
    lo, hi = rows[0], rows[-1]
    worse = "worse" if hi.mse > lo.mse else "no worse"
    return (
        f"From β = {lo.beta:g} to β = {hi.beta:g} the active dimensions go from {lo.active} to {hi.active} and "
        f"the KL from {lo.kl_total:.1f} to {hi.kl_total:.1f} nats, while the test MSE goes from {lo.mse:.4f} to "
        f"{hi.mse:.4f} ({hi.mse / lo.mse:.1f}×, {worse}): a stronger pull to the prior buys codes that look "
        "more like it at the price of the reconstructions."
    )


def coverage_sentence(rows: Sequence[BetaRow], tests: int) -> str | None:
    """The 2-d siblings' under-filled cells by beta, beside what the prior itself would leave under-filled."""
    known = [r for r in rows if r.empty is not None]
    if not known:
        return None
    cells = ", ".join(f"β = {r.beta:g}: **{r.empty}**" for r in known)
    return (
        f"The 2-d VAEs of the same net leave this many of the 100 cells of equal prior mass under-filled (fewer "
        f"than half the test codes the prior would put there): {cells}; {tests:,} codes drawn from the prior "
        f"itself would leave about {expected_underfilled(tests):.0f}."
    )


def recipe_sentence(rows: Sequence[BetaRow]) -> str | None:
    """Say so when the models compared were trained differently (epochs or training images)."""
    recipes = {(r.epochs, r.train_images) for r in rows}
    if len(recipes) < 2:
        return None
    parts = "; ".join(
        f"β = {', '.join(f'{r.beta:g}' for r in rows if (r.epochs, r.train_images) == (e, n))}: {e} epochs on "
        f"{n:,} images"
        for e, n in sorted(recipes, reverse=True)
    )
    return f"Trained differently ({parts}): differences in MSE are partly the recipe's."


def inert_dims(collapse: Collapse) -> tuple[int, int] | None:
    """The most informative and the least informative dimension (by KL), to traverse side by side."""
    if len(collapse.kl) < 2:
        return None
    order = np.argsort(-collapse.kl, kind="stable")
    return int(order[0]), int(order[-1])
