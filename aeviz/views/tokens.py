"""VQ-VAE views: an image as a grid of codebook tokens, that grid edited and decoded, codebook usage over training,
and the test images that use a token most."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from ..models import VQVAE
from ..vq import codebook_usage
from . import figures
from .scrub import cell_scale

DIM = 0.3  # brightness of the cells that do not hold the token, in the token's images


def tokens_of(vq: VQVAE, images, batch: int = 1024) -> np.ndarray:
    """(N,C,H,W) images -> (N,h,w) int64 codebook indices."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    with torch.inference_mode():
        parts = [vq.tokens(x[i : i + batch]).cpu() for i in range(0, len(x), batch)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, *vq.config.grid), np.int64)


def dataset_tokens(vq: VQVAE, test) -> np.ndarray:
    """Every test image's token grid (an aeviz.data.Dataset)."""
    return tokens_of(vq, test.images)


def decode_grid(vq: VQVAE, grid) -> np.ndarray:
    """(h,w) token indices -> the decoded image (C,H,W) in [0, 1]."""
    with torch.inference_mode():
        image = vq.decode_tokens(torch.as_tensor(np.asarray(grid, dtype=np.int64))[None]).clamp(0, 1)
    return image[0].float().numpy()


def apply_edits(grid: np.ndarray, edits: Sequence[int], size: int) -> np.ndarray:
    """The grid with each (cell, token) pair of the flat list `edits` put in place; pairs out of range are skipped
    (a URL may hold anything)."""
    edited = np.array(grid, dtype=np.int64)
    flat = edited.reshape(-1)
    for cell, token in zip(edits[::2], edits[1::2], strict=False):
        if 0 <= cell < flat.size and 0 <= token < size:
            flat[cell] = token
    return edited


def grid_figure(grid: np.ndarray, original: np.ndarray, chosen: int, *, height: int = 340) -> go.Figure:
    """The token grid as clickable cells, each labelled with its token; edited cells outlined, the chosen one
    filled. Point i of the only trace is cell i (row-major)."""
    h, w = grid.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    edited = (grid != original).reshape(-1)
    colour = np.where(np.arange(h * w) == chosen, "#e4572e", np.where(edited, "#f4a259", "#d9dde3"))
    fig = go.Figure(
        go.Scatter(
            x=cols,
            y=rows,
            mode="markers+text",
            text=[str(t) for t in grid.reshape(-1)],
            textfont={"size": max(8, 180 // max(h, w))},
            marker={"symbol": "square", "size": max(10, (height - 40) // (h + 1)), "color": colour},
            customdata=np.stack([rows, cols], 1),
            hovertemplate="row %{customdata[0]}, column %{customdata[1]}: token %{text}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, range=[-0.6, w - 0.4], fixedrange=True)
    fig.update_yaxes(visible=False, range=[h - 0.4, -0.6], fixedrange=True, scaleanchor="x")
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, dragmode=False, clickmode="event+select")
    return fig


def edit_picture(image, decoded: np.ndarray, edited: np.ndarray, theme: str = "light") -> np.ndarray:
    """The image, its tokens decoded, the edited tokens decoded, and where the two decodings differ."""
    cells = np.stack([np.asarray(image, dtype=np.float32), decoded, edited])  # (3,C,H,W)
    difference = np.abs(np.asarray(edited) - np.asarray(decoded)).mean(axis=-3, keepdims=True)  # (1,H,W)
    change = np.broadcast_to(difference / max(float(difference.max()), 1e-6), cells.shape[1:])  # grey in C channels
    return figures.compose_grid(
        [[*cells, change]],
        col_labels=["image", "its tokens", "edited", "change"],
        scale=cell_scale(cells.shape[-2], 96),
        theme=theme,
    )


def token_images(tokens: np.ndarray, images, token: int, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the n test images using `token` in the most cells (ties by index) and those counts."""
    counts = (tokens == token).reshape(len(tokens), -1).sum(1)  # (N,)
    order = np.argsort(-counts, kind="stable")[:n]
    order = order[counts[order] > 0]
    return order, counts[order]


def token_picture(tokens: np.ndarray, images, token: int, theme: str = "light", n: int = 12) -> np.ndarray | None:
    """The test images that use `token` most, the cells without it dimmed, each captioned with its count."""
    order, counts = token_images(tokens, images, token, n)
    if len(order) == 0:
        return None
    pictures = np.asarray(images[torch.as_tensor(order)] if torch.is_tensor(images) else images[order], np.float32)
    h, w = tokens.shape[1:]
    mask = (tokens[order] == token).astype(np.float32)  # (n,h,w)
    rep = (pictures.shape[-2] // h, pictures.shape[-1] // w)
    mask = np.kron(mask, np.ones(rep, np.float32))  # (n,H,W) when the grid divides the image
    fits = mask.shape == (len(pictures), *pictures.shape[-2:])
    shown = pictures * np.where(mask > 0, 1.0, DIM)[:, None] if fits else pictures  # (n,C,H,W), every channel dimmed
    return figures.compose_grid(
        [list(shown)],
        cell_labels=[[f"#{i}: {c}" for i, c in zip(order, counts, strict=True)]],
        scale=cell_scale(pictures.shape[-2], 64),
        theme=theme,
    )


def usage_over_training(history: Sequence[dict]) -> list[tuple[int, float, float]]:
    """(epoch, perplexity, dead codes) from a checkpoint's history, where the trainer recorded them."""
    found = []
    for entry in history:
        seen = entry.get("diagnostics") or {}
        if "perplexity" in seen and "dead_codes" in seen:
            found.append((int(entry["epoch"]), float(seen["perplexity"]), float(seen["dead_codes"])))
    return found


def usage_figure(points: Sequence[tuple[int, float, float]], size: int, *, height: int = 240) -> go.Figure:
    epochs, perplexity, dead = (list(v) for v in zip(*points, strict=True))
    fig = go.Figure()
    fig.add_scatter(x=epochs, y=perplexity, mode="lines+markers", name="perplexity")
    fig.add_scatter(x=epochs, y=dead, mode="lines+markers", name="dead codes", yaxis="y2")
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "epoch", "dtick": 1},
        yaxis={"title": f"perplexity (of {size})", "rangemode": "tozero"},
        yaxis2={"title": "dead codes", "overlaying": "y", "side": "right", "rangemode": "tozero", "tickformat": "d"},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def usage_sentence(tokens: np.ndarray, size: int, points: Sequence[tuple[int, float, float]]) -> str:
    """How the codebook is used on the test set now, and how that came about in training."""
    now = codebook_usage(tokens, size)
    text = (
        f"On the {len(tokens):,} test images the {tokens[0].size} cells pick codes with perplexity "
        f"**{now['perplexity']:.1f}** of {size} (as spread as {now['perplexity']:.0f} equally used codes); "
        f"**{now['dead_codes']:.0f}** codes are picked by no cell."
    )
    if points:
        first, last = points[0], points[-1]
        text += (
            f" In training (on held-out images) the perplexity went from {first[1]:.1f} after epoch {first[0]} to "
            f"{last[1]:.1f} after epoch {last[0]}, the dead codes from {first[2]:.0f} to {last[2]:.0f}."
        )
    return text


def grid_sentence(grid: np.ndarray, original: np.ndarray, size: int) -> str:
    h, w = grid.shape
    changed = int((grid != original).sum())
    bits = h * w * np.log2(size)
    return (
        f"The encoder turns this image into {h}×{w} = {h * w} tokens, each one of {size} codebook vectors: at most "
        f"{bits:.0f} bits. {changed} cell{'s' if changed != 1 else ''} edited."
    )
