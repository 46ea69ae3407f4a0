"""The Denoising page's figures: the noise-level scrub (PSNR under each cell) and PSNR-vs-level curves."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import sweeps
from ..models import Codec
from ..noise import NOISE_KINDS
from ..sweeps import Sweep
from . import figures
from .lettering import Fit, font, text_width
from .scrub import cell_scale, compose_frames, scrub_at

EXACT = 99.0  # PSNR at or above this (psnr caps identical images at 100) reads "exact"


def level_label(kind: str, level: float) -> str:
    """'0.50' for Gaussian sigma; fractions of pixels or of the area read as percentages ('3.5 %', '35 %')."""
    return f"{level:.2f}" if kind == "gaussian" else f"{round(100 * level, 1):g} %"


def db(value: float, unit: bool = True) -> str:
    return "exact" if value >= EXACT else f"{value:.1f}" + (" dB" if unit else "")


def sweep_frames(result: Sweep, *, fit: Fit | None = None, theme: str = "light") -> np.ndarray:
    """One composed picture per level, (L,H',W') uint8 ((L,H',W',3) in colour): rows clean, noisy, each model,
    each row's label with its mean PSNR at that level; each cell's own PSNR under it where `fit` (the box on
    screen, text at the body size) leaves room for a line of captions, and always without it (112 px cells)."""
    labels = list(result.outputs)
    rows = [result.clean, result.noisy] + [result.outputs[k] for k in labels]  # (N,C,H,W), then (L,N,C,H,W)
    n, levels = result.clean.shape[0], range(len(result.levels))
    named = [["clean"] + [f"{k}  {db(float(result.psnr[k][f].mean()))}" for k in ["noisy", *labels]] for f in levels]
    captions: list | None
    if fit is None:
        scale, text = cell_scale(result.clean.shape[-2], 112), None
        captions = cell_captions(result, labels, None, None)
    else:
        layout = dict(row_labels=[t for frame in named for t in frame])
        tight, text = fit.scale(result.clean.shape[-2:], len(rows), n, captions=False, **layout), fit.text_px
        scale = fit.scale(result.clean.shape[-2:], len(rows), n, captions=True, **layout)
        captions = cell_captions(result, labels, result.clean.shape[-1] * scale, text)
        if captions is None or scale < min(tight, 3):  # a line of numbers would cost the pictures their size
            scale, captions = tight, None
    return compose_frames(rows, frame_labels=named, cell_labels=captions, scale=scale, theme=theme, text_px=text)


def cell_db(value: float, digits: int) -> str:
    """A cell's PSNR, no unit; an exact copy reads 'exact', or 'inf' in whole dB (the font has no infinity sign)."""
    return ("inf" if digits == 0 else "exact") if value >= EXACT else f"{value:.{digits}f}"


CAPTION_GAP = 4  # pixels between two cells' numbers, so that "11.9" and "11.1" never read as "11.911.1"


def cell_captions(result: Sweep, labels: list[str], cell_w: int | None, text_px: int | None) -> list | None:
    """Each cell's PSNR, frame by frame ([f][row][cell]; the clean row blank): to a tenth of a dB where that fits
    under a cell `cell_w` wide in text of `text_px`, else whole dB, else None (the row labels keep the means)."""
    n = result.clean.shape[0]
    for digits in (1, 0):
        captions = [
            [[""] * n] + [[cell_db(v, digits) for v in result.psnr[k][f]] for k in ["noisy", *labels]]
            for f in range(len(result.levels))
        ]
        if cell_w is None or text_px is None:
            return captions
        widest = max(text_width(t, font(text_px)) for frame in captions for row in frame for t in row)
        if widest + CAPTION_GAP <= cell_w:
            return captions
    return None


def scrub(result: Sweep, kind: str, *, theme: str = "light", fit: Fit | None = None):
    """A plotly figure whose own slider scrubs the levels in the browser, opening at the kind's usual level;
    with `fit`, the pictures and the slider under them fill that box."""
    spec = NOISE_KINDS[kind]
    text = fit.text_px if fit is not None else 14
    room = round(figures.SLIDER_LINES * text)
    return scrub_at(
        sweep_frames(result, theme=theme, fit=None if fit is None else fit.shorter(room)),
        labels=[level_label(kind, v) for v in result.levels],
        start=int(np.argmin(np.abs(result.levels - spec.default))),
        prefix=f"{spec.label} {spec.param} = ",
        text_px=text,
    )


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
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=name,
                mode="lines+markers",
                line=dict(
                    color="#888888" if name == "noisy" else figures.PALETTE[(i - 1) % 10],
                    dash="dash" if name == "noisy" else "solid",
                    width=3,
                ),
            )
        )
    if trained_at is not None:
        fig.add_vline(
            x=trained_at * scale,
            line=dict(color="#888888", dash="dot"),
            annotation_text="training noise",
            annotation_position="top",
        )
    unit = "" if kind == "gaussian" else " (%)"
    fig.update_layout(
        xaxis_title=f"{spec.label} {spec.param}{unit}",
        yaxis_title="mean per-image PSNR (dB), higher is better",
        height=420,
        margin=dict(l=50, r=10, t=30, b=50),
        legend=dict(x=1.02, y=1, xanchor="left", yanchor="top"),
    )
    return fig


def scrub_for(
    models: Mapping[str, Codec], images: np.ndarray, kind: str, seed: int, theme: str, fit: Fit | None = None
):
    """The scrub figure for one choice of models (row label -> model), images, noise and seed."""
    return scrub(sweeps.sweep(models, images, kind, sweeps.levels(kind), seed=seed), kind, theme=theme, fit=fit)


def curves_for(models: Mapping[str, Codec], test, kind: str, mark: float | None):
    """The PSNR-vs-level figure over the first sweeps.curve_images of `test` (a Dataset), computed once on disk."""
    images = test.images[: sweeps.curve_images(tuple(test.shape))].numpy()
    return curve_figure(sweeps.cached_psnr_curves(models, images, kind), kind, trained_at=mark)


def imputation_for(models: Mapping[str, Codec], test, pca) -> str:
    """The imputation sentence (aeviz.imputation) over the first sweeps.curve_images of `test` (a Dataset), the
    hidden block scored against each model's fill and the mean training image (the PCA baseline's mean: the
    train split's, without loading it)."""
    from ..imputation import fill_errors, imputation_sentence

    images = test.images[: sweeps.curve_images(tuple(test.shape))]
    return imputation_sentence(fill_errors(models, images, pca.mean))
