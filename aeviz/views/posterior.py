"""One image's posterior under a VAE, as VAE Explainer shows it and past it: mean and standard deviation per
code dimension, its 1σ and 2σ ellipses on a 2-d code plane over the training codes, samples z ~ q(z|x)
decoded beside the mean's decoding, and the two terms of the loss over training with a sentence from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import decode_all, device_of
from . import figures
from .scrub import cell_scale

SAMPLES = 8  # draws from q(z|x) decoded beside the mean's decoding
SETTLED = 0.05  # the KL term has settled once every later epoch stays within 5 % of its last value


@dataclass(frozen=True)
class Posterior:
    """q(z|x) = N(mean, diag(std²)) of one image: (q,) each."""

    mean: np.ndarray
    std: np.ndarray

    @property
    def kl(self) -> np.ndarray:
        """KL(q(z|x) || N(0, I)) per dimension, (q,) nats."""
        var = self.std.astype(np.float64) ** 2
        return 0.5 * (self.mean.astype(np.float64) ** 2 + var - 1.0 - np.log(var))


def posterior(vae, image: np.ndarray) -> Posterior:
    """The encoder's Gaussian for one image (C,H,W): its mean and standard deviation exp(logvar / 2)."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, *np.shape(image)[-3:])
    with torch.inference_mode():
        mean, logvar = vae.encode_stats(x.to(device_of(vae)))  # (1,q) each
    return Posterior(mean[0].double().cpu().numpy(), torch.exp(0.5 * logvar[0]).double().cpu().numpy())


def draws(post: Posterior, n: int, seed: int) -> np.ndarray:
    """n codes z = mean + std * eps with eps ~ N(0, I) from its own generator: (n,q) float32; a seed, the same
    draws (the reparameterisation the VAE trains with)."""
    eps = torch.randn(n, len(post.mean), generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
    mean, std = torch.tensor(post.mean, dtype=torch.float64), torch.tensor(post.std, dtype=torch.float64)
    return (mean + std * eps).float().numpy()


def decoded_draws(vae, image: np.ndarray, n: int = SAMPLES, seed: int = 0) -> tuple[Posterior, np.ndarray]:
    """The posterior, and the decodings (1+n,C,H,W) of its mean (first) and of n seeded draws."""
    post = posterior(vae, image)
    codes = np.concatenate([post.mean[None].astype(np.float32), draws(post, n, seed)])  # (1+n,q)
    return post, decode_all(vae, codes)


def draws_picture(image: np.ndarray, decoded: np.ndarray, theme: str = "light", scale: int | None = None):
    """One row: the input, the mean's decoding, then each draw's: RGB picture."""
    cells = np.concatenate([np.asarray(image, np.float32)[None], decoded])  # (2+n,C,H,W)
    heads = [
        "input",
        "mean",  # Pillow's built-in face has no μ
        *(f"z{i + 1} ~ q" for i in range(len(decoded) - 1)),
    ]
    scale = scale or cell_scale(cells.shape[-2], 84)
    return figures.compose_grid([cells], col_labels=heads, scale=scale, theme=theme)


def posterior_figure(post: Posterior, *, height: int = 300):
    """Per code dimension: the mean with bars of ±1 and ±2 standard deviations, over the prior's ±1 and ±2
    bands (grey); hover gives mean, std and the dimension's KL."""
    import plotly.graph_objects as go

    dims = [f"z{d}" for d in range(len(post.mean))]
    fig = go.Figure()
    for k, shade in ((2, 0.08), (1, 0.14)):
        fig.add_hrect(y0=-k, y1=k, fillcolor="grey", opacity=shade, line_width=0, layer="below")
    for k, width, alpha in ((2, 2, 0.35), (1, 6, 0.8)):
        fig.add_trace(
            go.Scatter(
                x=dims,
                y=post.mean,
                mode="markers",
                marker=dict(size=1, color=figures.PALETTE[0]),
                error_y=dict(type="data", array=k * post.std, thickness=width, width=0, color=figures.PALETTE[0]),
                opacity=alpha,
                name=f"μ ± {k}σ",
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=dims,
            y=post.mean,
            mode="markers",
            marker=dict(size=9, color=figures.PALETTE[1], line=dict(width=1, color="white")),
            name="mean μ",
            customdata=np.stack([post.std, post.kl], axis=1),
            hovertemplate="μ %{y:.3f}, σ %{customdata[0]:.3f}, KL %{customdata[1]:.3f} nats<extra>%{x}</extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=50, r=10, t=10, b=30),
        legend=dict(orientation="h", y=1.12),
        yaxis=dict(title="code value", zeroline=True),
        xaxis=dict(type="category"),
    )
    return fig


def ellipse(center: np.ndarray, std: np.ndarray, k: float, points: int = 121) -> np.ndarray:
    """The curve mean ± k standard deviations of a diagonal 2-d Gaussian: (points, 2), closed."""
    t = np.linspace(0, 2 * np.pi, points)
    return np.stack([center[0] + k * std[0] * np.cos(t), center[1] + k * std[1] * np.sin(t)], axis=1)


def plane_figure(
    codes: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    post: Posterior,
    samples: np.ndarray,
    *,
    height: int = 460,
):
    """The 2-d code plane: training codes (posterior means) as faint class-coloured dots, one image's posterior
    as its 1σ and 2σ ellipses, its mean, and the draws decoded beside it."""
    import plotly.graph_objects as go

    fig = figures.scatter_map(codes, labels, classes)
    fig.update_traces(marker=dict(size=3, opacity=0.35), hoverinfo="skip", hovertemplate=None)
    for k, dash in ((1, None), (2, "dash")):
        ring = ellipse(post.mean, post.std, k)
        fig.add_trace(
            go.Scatter(
                x=ring[:, 0],
                y=ring[:, 1],
                mode="lines",
                name=f"μ ± {k}σ",
                line=dict(color="#111111", width=2.5, dash=dash),
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=samples[:, 0],
            y=samples[:, 1],
            mode="markers+text",
            text=[f"z{i + 1}" for i in range(len(samples))],
            textposition="top center",
            name="draws z ~ q(z|x)",
            marker=dict(symbol="x", size=9, color="#111111"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[post.mean[0]],
            y=[post.mean[1]],
            mode="markers",
            name="mean μ",
            marker=dict(size=14, color=figures.PALETTE[1], line=dict(width=2, color="white")),
        )
    )
    fig.update_layout(height=height, dragmode="pan", legend=dict(itemsizing="constant"))
    fig.update_xaxes(title="z1", zeroline=True)
    fig.update_yaxes(title="z2", zeroline=True)
    return fig


# --- the loss's two terms over training (the checkpoint's per-epoch history) ------------------------------


@dataclass(frozen=True)
class LossTerms:
    """Per epoch (E,): the reconstruction and KL terms on the training batches (with sampled codes, as
    optimised) and on test images (at the posterior mean, after the epoch); test arrays may be empty."""

    epochs: np.ndarray
    recon: np.ndarray
    kl: np.ndarray
    test_recon: np.ndarray
    test_kl: np.ndarray


def loss_terms(history: Sequence[dict] | None) -> LossTerms | None:
    """The terms from a checkpoint's `history` (train.py records every loss part per epoch), or None when it
    holds no epoch with both (an imported model, a checkpoint from before the parts were recorded)."""
    rows = [h for h in history or [] if {"recon", "kl"} <= set((h.get("train") or {}).keys())]
    if not rows:
        return None
    tests = [h for h in rows if {"recon", "kl"} <= set((h.get("test") or {}).keys())]
    value = lambda hs, part, key: np.array([float(h[part][key]) for h in hs])
    return LossTerms(
        np.array([int(h.get("epoch", i + 1)) for i, h in enumerate(rows)]),
        value(rows, "train", "recon"),
        value(rows, "train", "kl"),
        value(tests, "test", "recon") if len(tests) == len(rows) else np.zeros(0),
        value(tests, "test", "kl") if len(tests) == len(rows) else np.zeros(0),
    )


def loss_terms_figure(terms: LossTerms, *, height: int = 300):
    """Both terms per epoch, stacked (their sum is the loss the VAE minimised); test values dotted."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, values, colour in (("KL term", terms.kl, figures.PALETTE[1]), ("reconstruction", terms.recon, None)):
        fig.add_trace(
            go.Scatter(
                x=terms.epochs,
                y=values,
                name=f"{name} (train)",
                mode="lines",
                stackgroup="loss",
                line=dict(color=colour or figures.PALETTE[0], width=2),
                hovertemplate="epoch %{x}: %{y:.4f}<extra>" + name + "</extra>",
            )
        )
    if len(terms.test_recon):
        fig.add_trace(
            go.Scatter(
                x=terms.epochs,
                y=terms.test_recon + terms.test_kl,
                name="loss on test images (at the mean)",
                mode="lines",
                line=dict(color="#777777", dash="dot"),
            )
        )
    fig.update_layout(
        height=height,
        margin=dict(l=50, r=10, t=10, b=40),
        legend=dict(orientation="h", y=1.15),
        xaxis=dict(title="epoch"),
        yaxis=dict(title="loss per pixel", rangemode="tozero"),
    )
    return fig


def settled_epoch(values: np.ndarray, tolerance: float = SETTLED) -> int:
    """The first epoch (1-based position) from which every value stays within `tolerance` of the last one."""
    last = float(values[-1])
    off = np.abs(np.asarray(values, np.float64) - last) > tolerance * max(abs(last), 1e-12)
    return int(np.flatnonzero(off)[-1] + 2) if off.any() else 1


def loss_sentence(terms: LossTerms, beta: float = 1.0) -> str:
    """What the two terms did, from their numbers: which dominates at the end, how each moved, when KL settled."""
    recon, kl, epochs = float(terms.recon[-1]), float(terms.kl[-1]), terms.epochs
    share = kl / (recon + kl) if recon + kl > 0 else 0.0
    bigger = "reconstruction" if recon >= kl else "KL"
    kl_name = "KL term" if beta == 1 else f"KL term (weighted by β = {beta:g})"
    moved = lambda v: "rose" if v[-1] > v[0] else "fell"
    at = settled_epoch(terms.kl)
    when = (
        f"settled by epoch {epochs[at - 1]} (within {SETTLED:.0%} of its last value from then on)"
        if at < len(epochs)
        else "was still moving in the last epoch"
    )
    return (
        f"After {len(epochs)} epochs the reconstruction term is {recon:.4f} and the {kl_name} {kl:.4f} per "
        f"pixel: the {bigger} term dominates, the KL term being {share:.0%} of the loss. The reconstruction term "
        f"{moved(terms.recon)} from {terms.recon[0]:.4f}; the KL term {moved(terms.kl)} from {terms.kl[0]:.4f} and "
        f"{when}."
    )


def train_sample(count: int, most: int = 5000) -> np.ndarray:
    """Which training codes the plane shows: every k-th image, at most `most` (a dense cloud, a light figure)."""
    return np.arange(0, count, max(1, -(-count // most)))
