"""The Reconstructions page: each series' reconstructions by code size beside PCA's, the rate-distortion chart
and the sentences computed from its numbers (a series against PCA or against another)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import image_errors, reconstruct_all
from ..models import Codec
from ..pca import PCABaseline
from ..zoo.series import Series
from .lettering import Fit


@dataclass(frozen=True)
class Grid:
    """What compose_grid needs: rows of (N,C,H,W) images, a label per row and a caption per cell."""

    rows: list[np.ndarray]
    row_labels: list[str]
    cell_labels: list[list[str]]


def reconstruction_grid(
    images: np.ndarray, captions, series: Series, models: dict[int, Codec | None], pca: PCABaseline | None, sizes
) -> Grid:
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


def grid_png(
    images: np.ndarray,
    captions,
    series: Series,
    models: dict[int, Codec | None],
    pca: PCABaseline | None,
    sizes,
    *,
    fit: Fit,
    theme: str,
    across: bool = False,
) -> bytes:
    """The reconstruction grid as PNG bytes (encoded once, for the page and the download alike), sized to `fit`
    (the box on screen, text at the body size). `across`: one row per image and a column per model, for a wide
    screen (lecture mode), where thirteen rows of sizes cannot fit its height."""
    from . import figures

    grid = reconstruction_grid(images, captions, series, models, pca, sizes)
    if across:
        grid, heads = _across(grid)
    else:
        heads = None
    rows, cols = len(grid.rows), max(len(r) for r in grid.rows)
    scale = fit.scale(images.shape[-2:], rows, cols, row_labels=grid.row_labels, header=heads is not None)
    picture = figures.compose_grid(
        grid.rows,
        row_labels=grid.row_labels,
        col_labels=heads,
        cell_labels=grid.cell_labels,
        scale=scale,
        theme=theme,
        text_px=fit.text_px,
    )
    return figures.png_bytes(picture)


def rows_that_fit(fit: Fit, image_hw: tuple[int, int], cols: int, labels, most: int = 8) -> int:
    """How many images the across grid shows: as many rows as fit without shrinking its cells (at least one)."""
    scale = lambda n: fit.scale(image_hw, n, cols, row_labels=labels, header=True)
    widest = scale(1)
    return max([n for n in range(1, most + 1) if scale(n) == widest] + [1])


def _across(grid: Grid) -> tuple[Grid, list[str]]:
    """The grid turned a quarter: a row per image, a column per model ('q=8' the series, then 'PCA' at that
    size; 'input' the originals), a model without reconstructions an even grey cell captioned '—'."""
    originals = grid.rows[0]
    blank = np.full_like(originals[:1], 0.5)
    sizes = [label.split(" q=")[1].split(" ")[0].rstrip(":") for label in grid.row_labels[1:]]
    heads = ["input"] + [
        "PCA" if label.startswith("PCA ") else f"q={q}" for q, label in zip(sizes, grid.row_labels[1:], strict=True)
    ]
    rows, texts = [], []
    for i in range(len(originals)):
        cells = [r[i : i + 1] if len(r) > i else blank for r in grid.rows]
        rows.append(np.concatenate(cells))
        errors = [f"{float(t[i]):.3f}" if len(t) > i else "—" for t in grid.cell_labels[1:]]  # 3 decimals: narrow
        texts.append(["", *errors])
    return Grid(rows, [grid.cell_labels[0][i] for i in range(len(originals))], texts), heads


def _add(grid: Grid, recon: np.ndarray, label: str, errors) -> None:
    grid.rows.append(recon)
    grid.row_labels.append(label)
    grid.cell_labels.append([f"{e:.4f}" for e in errors])


def _short(text: str, limit: int = 14) -> str:
    """Cell captions must fit under a ~84 px cell."""
    return text if len(text) <= limit else text[: limit - 2] + ".."


def rate_distortion_figure(
    series: list[Series], pca: PCABaseline | None, highlight: str | None = None, metric: str = "mse"
):
    """Test error against q for each series (from checkpoint metadata) and the PCA baseline, log-log."""
    import plotly.graph_objects as go

    from .figures import PALETTE

    fig = go.Figure()
    for i, s in enumerate(series):
        points = [(m.bottleneck, m.metrics[metric]) for m in s.models if metric in m.metrics]
        if points:
            q, err = zip(*points)
            bold = s.name == highlight
            fig.add_trace(
                go.Scatter(
                    x=q,
                    y=err,
                    mode="lines+markers",
                    name=s.label,
                    line=dict(color=PALETTE[i % len(PALETTE)], width=4 if bold else 2),
                    marker=dict(size=10 if bold else 7),
                    hovertemplate=f"{s.label} q=%{{x}}: %{{y:.4f}}<extra></extra>",
                )
            )
    ticks = {q for s in series for q in s.sizes}
    if pca is not None and metric == "mse":
        # only up to the largest trained q, and short of all the pixels: there PCA is lossless (an MSE of 1e-15
        # would stretch the log axis twelve decades down)
        keep = (pca.sizes <= max(ticks, default=pca.max_q)) & (pca.sizes < pca.mean.size)
        ticks |= set(pca.sizes[keep].tolist())
        fig.add_trace(
            go.Scatter(
                x=pca.sizes[keep],
                y=pca.test_mse[keep],
                mode="lines+markers",
                name="PCA",
                line=dict(color="#888888", dash="dash", width=2),
                marker=dict(symbol="x", size=8),
                hovertemplate="PCA q=%{x}: %{y:.4f}<extra></extra>",
            )
        )
    tickvals = sorted(ticks)
    fig.update_xaxes(type="log", tickvals=tickvals, ticktext=[str(t) for t in tickvals], title="bottleneck size q")
    levels = [0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5]  # no minor-digit clutter
    fig.update_yaxes(
        type="log", tickvals=levels, ticktext=[f"{v:g}" for v in levels], title=f"test {metric.upper()} per pixel"
    )
    fig.update_layout(
        title="Test error vs bottleneck size",
        height=420,
        hovermode="closest",
        # beside the plot: under it the legend sat on the x-axis title, inside it on the lines at lecture size
        legend=dict(x=1.02, y=1, xanchor="left", yanchor="top"),
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return fig


# --- verdicts-----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duel:
    """Test MSE of `name` against `rival` at every q both have: (q, own, rival's) where own is lower, and the rest."""

    name: str
    rival: str
    wins: tuple[tuple[int, float, float], ...]
    losses: tuple[tuple[int, float, float], ...]


def series_errors(series: Series, metric: str = "mse") -> dict[int, float]:
    return {m.bottleneck: float(m.metrics[metric]) for m in series.models if metric in m.metrics}


def pca_errors(pca: PCABaseline) -> dict[int, float]:
    return {int(q): float(e) for q, e in zip(pca.sizes, pca.test_mse, strict=True)}


def duel(name: str, errors: dict[int, float], rival: str, rival_errors: dict[int, float]) -> Duel:
    shared = sorted(set(errors) & set(rival_errors))
    rows = [(q, errors[q], rival_errors[q]) for q in shared]
    return Duel(name, rival, tuple(r for r in rows if r[1] < r[2]), tuple(r for r in rows if r[1] >= r[2]))


def _by(ratio: float) -> str:
    """2.17 -> '2.2×'; 1.04 -> '4 %' (a '1.0×' would read as no difference)."""
    return f"{ratio:.1f}×" if ratio >= 1.095 else f"{ratio - 1:.0%}".replace("%", " %")


def _qs(rows) -> str:
    return ", ".join(str(r[0]) for r in rows)


def _at(rows, q: int, first: float, second: float) -> str:
    """'(q = 8: 0.0036 vs 0.0078)', without the q where there is only the one."""
    return f"({'' if len(rows) == 1 else f'q = {q}: '}{first:.4f} vs {second:.4f})"


def sentence(d: Duel) -> str:
    """'**a** beats b at q = 4, 8, by up to 2.2× (q = 8: 0.0036 vs 0.0078); b does as well or better at q = 2
    (0.0532 vs 0.0549).' The largest gap either way is quoted, b's error first after the semicolon; '' when the
    two share no q."""
    if not d.wins and not d.losses:
        return ""
    if d.wins:
        q, own, other = max(d.wins, key=lambda r: r[2] / max(r[1], 1e-12))
        head = (
            f"**{d.name}** beats {d.rival} at q = {_qs(d.wins)}, by {'up to ' * (len(d.wins) > 1)}"
            f"{_by(other / max(own, 1e-12))} {_at(d.wins, q, own, other)}"
        )
    else:
        head = f"**{d.name}** never beats {d.rival}"
    if not d.losses:
        return head + "."
    q, own, other = max(d.losses, key=lambda r: r[1] / max(r[2], 1e-12))
    return head + f"; {d.rival} does as well or better at q = {_qs(d.losses)} {_at(d.losses, q, other, own)}."


def versus_pca(series: Series, pca: PCABaseline) -> str:
    return sentence(duel(series.label, series_errors(series), "PCA", pca_errors(pca)))


def versus_plain(series: list[Series]) -> list[str]:
    """Each deeper dense (hidden layers) or conv series against the plain dense one of the same loss."""
    plain = {s.loss: s for s in series if s.arch == "dense"}
    out = []
    for s in series:
        rival = plain.get(s.loss)
        if rival is not None and (s.arch.startswith("dense-") or s.arch == "conv"):
            text = sentence(duel(s.label, series_errors(s), rival.label, series_errors(rival)))
            out += [text] if text else []
    return out


def plain_is_affine(series: list[Series]) -> bool:
    """Whether the plain dense series has no hidden layer and a linear code: an affine encoder, like PCA's."""
    plain = [m for s in series if s.arch == "dense" for m in s.models]
    configs = [m.config for m in plain]
    return bool(configs) and all(
        not c.get("hidden") and c.get("code_activation", "linear") == "linear" for c in configs
    )
