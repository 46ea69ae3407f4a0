"""The VAE page's 2-d code plane: the decoder's manifold under the test codes, and how the codes fill the prior."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..metrics import decode_all
from ..models import VAE
from ..walks import manifold_grid
from . import figures
from .vae import SPAN


def manifold(vae: VAE, n: int = 20, span: float = SPAN, gaussian: bool = True) -> np.ndarray:
    """Decoded images on an n×n grid of a 2-d code, row-major, up is +z2: at normal quantiles of
    linspace(0.05, 0.95, n) (equal prior mass per cell, Kingma & Welling's figure) or linear over ±span."""
    if vae.bottleneck != 2:
        raise ValueError(f"the manifold needs a 2-d code, this model has {vae.bottleneck}")
    grid = manifold_grid(n) if gaussian else manifold_grid(n, lo=-span, hi=span, gaussian=False)
    return decode_all(vae, grid)


def prior_cdf(codes) -> np.ndarray:
    """Φ(z): a code's place on the prior's quantile scale, where equal areas hold equal prior mass."""
    return torch.special.ndtr(torch.as_tensor(np.asarray(codes, dtype=np.float64))).numpy()


def cell_counts(codes, n: int = 10) -> np.ndarray:
    """(n, n) how many codes fall in each of the n×n equal-prior-mass cells of a 2-d code plane."""
    u, v = prior_cdf(codes).T
    return np.histogram2d(u, v, bins=n, range=[[0, 1], [0, 1]])[0].astype(np.int64)


def underfilled(counts: np.ndarray) -> int:
    """Cells holding fewer than half the codes they would hold if the codes followed the prior. Counting empty
    cells said "0 hold none" of a plane whose cells held 7 to 369 codes against 100 expected."""
    return int((counts < counts.sum() / counts.size / 2).sum())


def expected_underfilled(count: int, n: int = 10) -> float:
    """How many cells `count` codes drawn from the prior itself would leave that under-filled, on average: n²
    times P(Binomial(count, 1/n²) < count / (2n²))."""
    p, below = 1 / (n * n), count / (2 * n * n)
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.exp(
            math.lgamma(count + 1) - math.lgamma(k + 1) - math.lgamma(count - k + 1) + k * log_p + (count - k) * log_q
        )
        for k in range(math.ceil(below))
    ]
    return n * n * math.fsum(terms)


def fill_note(counts: np.ndarray) -> str:
    """The code plane's coverage in one sentence, from the counts (cell_counts)."""
    total, cells = int(counts.sum()), counts.size
    expected, under = total / cells, underfilled(counts)
    side = int(round(math.sqrt(cells)))
    return (
        f"Of the {side}×{side} cells of equal prior mass each would hold about {expected:,.0f} of the {total:,} "
        f"test codes if they followed the prior; **{under}** hold fewer than half that (the emptiest "
        f"{counts.min():,}, the fullest {counts.max():,}), where as many codes drawn from the prior would leave "
        f"about {expected_underfilled(total, side):.0f} so under-filled."
    )


def manifold_figure(
    decoded: np.ndarray,
    codes,
    labels,
    class_names: Sequence[str],
    *,
    span: float = SPAN,
    gaussian: bool = True,
    max_points: int = 2000,
    seed: int = 0,
):
    """The decoded manifold as the background of the code plane, with test codes as class-coloured dots. A
    quantile grid is drawn on the Φ(z) scale (its cells are equal there), axes labelled in z."""
    n = int(round(np.sqrt(len(decoded))))
    scale = max(1, int(np.ceil(600 / (n * decoded.shape[-2]))))  # browsers blur small pictures they stretch
    picture = figures.compose_grid(list(np.asarray(decoded).reshape(n, n, *decoded.shape[-3:])), scale=scale, pad=0)
    # grid points are cell centres: the picture reaches half a cell further
    lo, hi = (
        (0.05 - 0.45 / (n - 1), 0.95 + 0.45 / (n - 1)) if gaussian else (-span - span / (n - 1), span + span / (n - 1))
    )
    codes, labels = np.asarray(codes), np.asarray(labels)
    keep = np.sort(np.random.default_rng(seed).permutation(len(codes))[:max_points])
    fig = figures.scatter_map(
        prior_cdf(codes[keep]) if gaussian else codes[keep], labels[keep], class_names, customdata=keep
    )
    fig.add_layout_image(
        source=figures.png_data_uri(picture),
        xref="x",
        yref="y",
        x=lo,
        y=hi,
        sizex=hi - lo,
        sizey=hi - lo,
        sizing="stretch",
        layer="below",
    )
    fig.update_traces(marker=dict(size=5, opacity=0.55))
    ticks = (
        dict(tickvals=prior_cdf(np.arange(-2, 3)).tolist(), ticktext=[f"{z:+d}" for z in range(-2, 3)])
        if gaussian
        else {}
    )
    suffix = " (prior-quantile scale)" if gaussian else ""
    edges = [0, 1] if gaussian else [lo, hi]
    fig.update_xaxes(range=edges, title="z1" + suffix, showgrid=False, zeroline=False, constrain="domain", **ticks)
    fig.update_yaxes(range=edges, title="z2" + suffix, showgrid=False, zeroline=False, **ticks)
    fig.update_layout(
        height=640, dragmode="pan", plot_bgcolor="black", margin=dict(l=40, r=10, t=figures.MODEBAR_CLEARANCE, b=40)
    )
    return fig


def plane_figure(vae: VAE, codes: np.ndarray, test, gaussian: bool):
    """The decoded 2-d code plane under the test codes, coloured by the classes of `test` (a Dataset)."""
    return manifold_figure(
        manifold(vae, gaussian=gaussian), codes, test.labels.numpy(), test.classes, gaussian=gaussian
    )
