"""The Error gallery's figures: ranked galleries, score histograms, ROC, per-class boxes and the upload map."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import images as imaging
from .. import scores
from ..data import DATASETS
from ..metrics import reconstruct_and_score
from ..scores import Detection
from . import figures
from .lettering import Fit

_LOG_FLOOR = 1e-12  # a perfect reconstruction has error 0; its log must stay finite
_MIN_SPREAD = 1e-6


def pick_classes(labels: np.ndarray, classes: Sequence[int], n: int, seed: int) -> np.ndarray:
    """Sorted indices of up to n items drawn (seeded, without replacement) from the given classes."""
    pool = np.flatnonzero(np.isin(np.asarray(labels), list(classes)))
    take = min(int(n), len(pool))
    return np.sort(np.random.default_rng(seed).choice(pool, size=take, replace=False)) if take else pool[:0]


def fit_to(batch: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A (N,C,h,w) batch resized (antialiased) to another dataset's (C',H,W), so it can be injected there: grey
    into a colour set as grey RGB (a digit among photographs); colour into a grey set refused."""
    batch = np.asarray(batch, np.float32)
    channels, h, w = shape
    if batch.shape[1] != channels and not (batch.shape[1] == 1 and channels == 3):
        raise ValueError(f"cannot inject colour images {batch.shape} into a grey set of {tuple(shape)}")
    if batch.shape[-2:] != (h, w):
        if batch.shape[1] != 1:
            raise ValueError(f"can only resize greyscale images, got {batch.shape} for {tuple(shape)}")
        out = np.stack([imaging.resize_to(b[0], (h, w)) for b in batch]) if len(batch) else np.zeros((0, h, w))
        batch = out[:, None].astype(np.float32)
    return np.repeat(batch, channels // batch.shape[1], axis=1)


def gallery(
    originals: np.ndarray,
    recons: np.ndarray,
    captions: Sequence[Sequence[str]],
    scale: int = 4,
    theme: str = "light",
    fit: Fit | None = None,
):
    """Originals, reconstructions and |difference| heat maps as one picture, a caption row under each; as large
    as `fit` allows (the box on screen, text at the body size), else at `scale`."""
    rows = [np.asarray(originals), np.asarray(recons), figures.diff_heatmap(originals, recons)]
    labels = ["input", "output", "|diff|"]
    if fit is not None:
        scale = fit.scale(rows[0].shape[-2:], 3, len(rows[0]), row_labels=labels)
    text = None if fit is None else fit.text_px
    return figures.compose_grid(rows, row_labels=labels, cell_labels=captions, scale=scale, theme=theme, text_px=text)


# --- figures (plotly is imported lazily: the core must import without it) ----------------------------------

_IN, _STAR = figures.PALETTE[0], "#ffd400"
_OUT = "#c51b7d"  # magenta: no class uses it, so injected images never pass for class 2 (red)


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (log10) and labels at 1, 2, 5 x 10^k between lo and hi (both > 0)."""
    values = [
        m * 10.0**k
        for k in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
        for m in (1, 2, 5)
        if lo <= m * 10.0**k <= hi
    ]
    return [float(np.log10(v)) for v in values], [f"{v:g}" for v in values]


def histogram_spec(scores_in: np.ndarray, *, xlabel: str, scores_out=None, out_name: str = "") -> dict:
    """The histogram without its threshold line, as a plotly spec: built once, then marked per slider move.

    Positive scores (raw errors) are binned on a log scale: errors span decades, and on a linear axis the
    whole test set would sit in the first few bins, next to the far-off injected images. The bars are drawn
    at log10 positions on a linear axis (labelled in error units), which keeps every bin the same width.
    """
    import plotly.graph_objects as go

    has_out = scores_out is not None and len(scores_out) > 0
    both = np.r_[scores_in, scores_out] if has_out else np.asarray(scores_in, np.float64)
    log_x = bool(both.min() > 0)
    pos = np.log10 if log_x else (lambda v: np.asarray(v, np.float64))
    edges = np.histogram_bin_edges(pos(both), bins=60)
    bar = dict(
        x=(edges[:-1] + edges[1:]) / 2,
        width=np.diff(edges),
        customdata=10 ** edges[:-1] if log_x else edges[:-1],
        hovertemplate="%{y} images from %{customdata:.3g}<extra>%{fullData.name}</extra>",
    )
    fig = go.Figure(go.Bar(y=np.histogram(pos(scores_in), edges)[0], name="test images", marker_color=_IN, **bar))
    if has_out:
        fig.add_trace(
            go.Bar(
                y=np.histogram(pos(scores_out), edges)[0],
                name=out_name or "injected",
                marker_color=_OUT,
                opacity=0.85,
                **bar,
            )
        )
    fig.update_layout(
        barmode="overlay",
        height=360,
        xaxis_title=xlabel + (" (log scale)" if log_x else ""),
        yaxis_title="images (log scale)",
        margin=dict(l=50, r=10, t=40, b=50),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
        meta={"log_x": log_x},
    )
    fig.update_yaxes(type="log", dtick=1)
    if log_x:
        ticks, labels = _log_ticks(float(both.min()), float(both.max()))
        fig.update_xaxes(tickvals=ticks, ticktext=labels)
    return fig.to_dict()


def with_threshold(spec: dict, threshold: float):
    """The histogram `spec` with a dashed line (and its label) at `threshold`; `spec` is left as it was."""
    from .figures import fast_figure

    x = float(np.log10(threshold) if spec["layout"]["meta"]["log_x"] else threshold)
    line = dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=dict(dash="dash", color="#888888"))
    label = dict(text="threshold", x=x, xref="x", y=1, yref="y domain", xanchor="left", yanchor="top", showarrow=False)
    return fast_figure({**spec, "layout": {**spec["layout"], "shapes": [line], "annotations": [label]}})


def roc_spec(det: Detection) -> dict:
    """The ROC curve and the chance diagonal as a plotly spec, built once per detection result."""
    import plotly.graph_objects as go

    fig = go.Figure(
        [
            go.Scatter(
                x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#888"), name="chance", hoverinfo="skip"
            ),
            go.Scatter(
                x=det.fpr,
                y=det.tpr,
                mode="lines",
                line=dict(color=_OUT, width=3),
                name=f"AUROC {scores.fraction_text(det.auroc)}",
            ),
        ]
    )
    fig.update_layout(
        height=360,
        xaxis_title="false positive rate (test images flagged)",
        yaxis_title="true positive rate (injected found)",
        margin=dict(l=50, r=10, t=30, b=50),
        legend=dict(x=0.45, y=0.08),
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig.to_dict()


def with_point(spec: dict, point: tuple[float, float] | None):
    """The ROC `spec` with the current threshold marked at (fpr, tpr); `spec` is left as it was."""
    from .figures import fast_figure

    marker = (
        [
            dict(
                type="scatter",
                x=[point[0]],
                y=[point[1]],
                mode="markers",
                name="threshold",
                marker=dict(size=13, color="#888888", symbol="x"),
            )
        ]
        if point is not None
        else []
    )
    return fast_figure({**spec, "data": [*spec["data"], *marker]})


def _box_stats(values: np.ndarray) -> dict:
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    reach = 1.5 * (q3 - q1)  # Tukey's whiskers, clipped to the data
    return dict(
        q1=[q1],
        median=[med],
        q3=[q3],
        lowerfence=[max(values.min(), q1 - reach)],
        upperfence=[min(values.max(), q3 + reach)],
    )


def class_box_figure(
    scores: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    ylabel: str,
    scores_out=None,
    out_name: str = "injected",
):
    """Per-class box plot of scores from precomputed quartiles (a few numbers per box, not 10k points)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for c, name in enumerate(class_names):
        values = np.asarray(scores)[np.asarray(labels) == c]
        if len(values):
            fig.add_trace(
                go.Box(x=[str(name)], name=str(name), marker_color=figures.PALETTE[c % 10], **_box_stats(values))
            )
    if scores_out is not None and len(scores_out):
        fig.add_trace(go.Box(x=[out_name], name=out_name, marker_color=_OUT, **_box_stats(np.asarray(scores_out))))
    fig.update_layout(height=360, showlegend=False, yaxis_title=ylabel, margin=dict(l=50, r=10, t=30, b=40))
    fig.update_xaxes(type="category")  # class names like "0".."9" would otherwise make a numeric axis
    if np.min(scores) > 0 and (scores_out is None or len(scores_out) == 0 or np.min(scores_out) > 0):
        fig.update_yaxes(type="log", dtick=1, title=f"{ylabel} (log scale)")  # injected errors: often 10x the rest
    return fig


def percentile_figure(names: Sequence[str], percentiles: np.ndarray, errors: np.ndarray, *, metric: str):
    """Horizontal bars: how unusual one image is for each model, as a percentile of its test errors."""
    import plotly.graph_objects as go

    bands = [(_IN, "below 90", 0), (figures.PALETTE[1], "90 to 99", 90), (_OUT, "99 and above", 99)]
    colours = [next(c for c, _, low in reversed(bands) if p >= low) for p in percentiles]
    fig = go.Figure(
        go.Bar(
            y=list(names),
            x=percentiles,
            orientation="h",
            marker_color=colours,
            text=[f"{p:.1f} %" for p in percentiles],
            textposition="outside",
            customdata=np.asarray(errors),
            cliponaxis=False,
            showlegend=False,
            hovertemplate="%{y}: more unusual than %{x:.1f} % of test images<br>"
            f"{metric.upper()} "
            "%{customdata:.4f}<extra></extra>",
        )
    )
    for colour, label, _ in bands:  # legend entries only: what each bar colour means
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=label,
                hoverinfo="skip",
                marker=dict(symbol="square", size=12, color=colour),
            )
        )
    # The legend goes under the axis title, at the figure's bottom edge: up top it would meet the toolbar.
    fig.update_layout(
        height=max(270, 26 * len(names) + 150),
        xaxis_title="percentile of the test errors",
        legend=dict(
            orientation="h", xref="container", x=0, yref="container", y=0, yanchor="bottom", title_text="percentile:"
        ),
        margin=dict(l=10, r=40, t=figures.MODEBAR_CLEARANCE, b=100),
    )
    fig.update_xaxes(range=[0, 108])
    fig.update_yaxes(autorange="reversed")
    return fig


def map_figure(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    stars: np.ndarray,
    star_names: Sequence[str],
    *,
    title: str = "",
):
    """The test set's latent map with the user's images as big stars on top."""
    import plotly.graph_objects as go

    fig = figures.scatter_map(points, labels, class_names, title=title)
    # WebGL like the dots: an SVG trace would be drawn underneath the WebGL canvas, hidden by the dots
    fig.add_trace(
        go.Scattergl(
            x=stars[:, 0],
            y=stars[:, 1],
            mode="markers+text",
            name="your images",
            text=[str(i + 1) for i in range(len(stars))],
            textposition="top center",
            textfont=dict(size=16),
            hovertext=[html.escape(str(n)) for n in star_names],
            hovertemplate="%{hovertext}<extra></extra>",
            marker=dict(symbol="star", size=24, color=_STAR, line=dict(width=1.5, color="#222")),
        )
    )
    fig.update_layout(height=520, dragmode="pan")
    return fig


def comparison_grid(
    image: np.ndarray,
    recons: np.ndarray,
    names: Sequence[str],
    notes: Sequence[str],
    *,
    per_row: int = 8,
    scale: int = 5,
    theme: str = "light",
) -> np.ndarray:
    """One image (H,W) and its reconstructions by many models (M,H,W): the image on top, then for each
    block of `per_row` models a row of reconstructions captioned by `names` and a row of |difference|
    heat maps captioned by `notes`."""
    image, recons = np.asarray(image, np.float32), np.asarray(recons, np.float32)
    rows, captions = [image[None]], [["your image"]]
    for start in range(0, len(recons), per_row):
        block = recons[start : start + per_row]
        rows += [block, figures.diff_heatmap(np.broadcast_to(image, block.shape), block)]
        captions += [list(names[start : start + per_row]), list(notes[start : start + per_row])]
    return figures.compose_grid(rows, cell_labels=captions, scale=scale, theme=theme)


def short_name(name: str, dataset: str) -> str:
    """A model's name short enough for a caption under a small picture: 'mnist-dense-h256x128-q8-bce' -> 'deep-q8'."""
    info = DATASETS.get(dataset)
    usual = "-mse" if info is not None and info.shape[0] == 3 else "-bce"  # the zoo's loss for colour, for grey
    name = name.removeprefix(f"{dataset}-").replace(usual, "").replace("dense-h256x128", "deep")
    name = re.sub(r"^sparse-(q\d+)-kl[0-9.e-]+", r"sparse-kl-\1", name)  # the target rate is in the full name
    name = re.sub(r"^vae-(?:h\d+|conv)-(q\d+)-beta", r"vae-\1-beta", name)  # a beta-VAE: its beta says more
    name = re.sub(r"^sparse-(q\d+)-top(\d+)$", r"topk\2-\1", name)  # a TopK dictionary: its k first
    name = re.sub(r"-gaussian[0-9.]+$", "", name)  # the zoo's usual training noise
    name = re.sub(r"-(occlusion|masking|salt_pepper)[0-9.]+$", lambda m: "-" + NOISE_TAGS[m[1]], name)
    name = re.sub(r"-mse-(linear|relu)$", lambda m: f"-{OUTPUT_TAGS[m[1]]}out", name)  # another output layer
    name = re.sub(r"^dense-(q\d+)(-mse)?-(\w+)code$", r"\3-\1\2", name)  # a ReLU code: 'relu-q64-mse'
    name = re.sub(r"-l2[0-9.e-]+$", "-l2", name)  # its weight decay is in the full name
    name = re.sub(r"-outliers([0-9.]+)$", lambda m: f"-anom{100 * float(m[1]):g}%", name)  # anomalies trained on
    return name.replace("denoising", "denoise")


NOISE_TAGS = {"occlusion": "occl", "masking": "mask", "salt_pepper": "s&p"}  # a caption names the others short
OUTPUT_TAGS = {"linear": "lin", "relu": "relu"}


def take(test: np.ndarray, injected: np.ndarray, indices) -> np.ndarray:
    """Images (K,C,H,W) of a pool made of the test set followed by the injected images, by pool index."""
    n = len(test)
    return np.stack([test[i] if i < n else injected[i - n] for i in np.asarray(indices, np.int64)])


# --- the page's data: injected images and every score, computed once per models, metric and injection ----------


@dataclass(frozen=True)
class Injection:
    """Images drawn from another dataset: which classes, how many, which draw."""

    source: str
    classes: tuple[int, ...]
    count: int
    seed: int


def draw(other, injection: Injection, shape: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """The injected batch, resized to `shape`, and each image's class name (other: an aeviz.data.Dataset)."""
    labels = other.labels.numpy()
    idx = pick_classes(labels, injection.classes, injection.count, injection.seed)
    return fit_to(other.images.numpy()[idx], shape), [other.classes[c] for c in labels[idx]]


@dataclass(frozen=True)
class Scored:
    """Scores of the test images then the injected ones (one pool), their ranks, and the costly figures."""

    batch: np.ndarray  # the injected images (N,C,H,W)
    names: list[str]
    scores_in: np.ndarray
    scores_out: np.ndarray
    scores: np.ndarray  # the pool: test images, then injected
    ranks: np.ndarray
    det: Detection | None
    out_ranks: np.ndarray  # each injected image's rank among the test images alone
    histogram: dict
    roc: dict | None
    box: object


def score_all(refs, models, batch, names, metric: str, how: str, test, *, xlabel: str, out_label: str) -> Scored:
    """Ensemble scores of the test set (refs: its per-model errors) and of the injected batch, and their figures."""
    scores_in = scores.ensemble_scores(refs, refs, how)
    out_errors = [reconstruct_and_score(model, batch, metric)[1] for model in models]
    scores_out = scores.ensemble_scores(out_errors, refs, how) if len(batch) else np.zeros(0, np.float32)
    pool = np.r_[scores_in, scores_out]
    det = scores.detection(scores_in, scores_out) if len(scores_out) else None
    return Scored(
        batch,
        list(names),
        scores_in,
        scores_out,
        pool,
        scores.ranks(pool),
        det,
        scores.rank_among(scores_out, scores_in),
        histogram_spec(scores_in, xlabel=xlabel, scores_out=scores_out, out_name=out_label),
        roc_spec(det) if det is not None else None,
        class_box_figure(
            scores_in, test.labels.numpy(), test.classes, ylabel=xlabel, scores_out=scores_out, out_name=out_label
        ),
    )


def injected_picture(s: Scored, n_test: int, theme: str, fit: Fit | None = None):
    """The injected images, most obvious first: the 12 found first and the 12 hidden best when there are many;
    cells of 84 px at most (a single image is not blown up), smaller where `fit` is narrower."""
    order = np.argsort(-s.scores_out, kind="stable")
    rows = [order[:12], order[-12:]] if len(order) > 24 else [order[i : i + 12] for i in range(0, len(order), 12)]
    labels = ["found first", "hid best"] if len(order) > 24 else None
    scale = max(1, 84 // s.batch.shape[-1])
    if fit is not None:
        box = Fit(fit.width, None, fit.text_px, min(fit.cell_px, 84 * fit.text_px // 16))
        scale = box.scale(s.batch.shape[-2:], len(rows), max(len(r) for r in rows), row_labels=labels or ())
    return figures.compose_grid(
        [s.batch[r] for r in rows],  # (n,C,H,W) each
        scale=scale,
        cell_labels=[[f"#{s.out_ranks[i]:,}" for i in r] for r in rows],
        row_labels=labels,
        theme=theme,
        text_px=None if fit is None else fit.text_px,
    )


def injected_png(s: Scored, n_test: int, theme: str, fit: Fit | None = None) -> bytes:
    """injected_picture as PNG bytes, for a cache: composing and encoding it is most of a slider's rerun."""
    return figures.png_bytes(injected_picture(s, n_test, theme, fit))


def flagged(s: Scored, flag_percent: float) -> tuple[float, int, int]:
    """The threshold flagging the top flag_percent % of test images, and how many test and injected pass it."""
    threshold = scores.threshold_at(s.scores_in, flag_percent)
    return threshold, int((s.scores_in > threshold).sum()), int((s.scores_out > threshold).sum())


def gallery_sets(s: Scored, test, k: int):
    """The k worst and k best of the pool: (title, originals, captions, {choice label: pool index}) each."""
    order, n_test = np.argsort(s.ranks), len(test)
    labels = test.labels.numpy()

    def describe(i):
        return test.classes[labels[i]] if i < n_test else f"{s.names[i - n_test]}*"

    sets = []
    for title, idx in (("Worst: the largest errors", order[:k]), ("Best: the smallest errors", order[::-1][:k])):
        captions = (
            (*(describe(i) for i in idx),),
            (*(f"#{s.ranks[i]:,}" for i in idx),),
            (*(f"{s.scores[i]:.3g}" for i in idx),),
        )
        picks = {
            f"rank {s.ranks[i]:,}: {'test #' + str(i) if i < n_test else 'injected'} ({describe(i)})": int(i)
            for i in idx
        }
        sets.append((title, take(test.images.numpy(), s.batch, idx), captions, picks))
    return sets


def pool_image(s: Scored, test, index: int) -> np.ndarray:
    """One image (C,H,W) of the pool: a test image, or an injected one past the end of the test set."""
    return take(test.images.numpy(), s.batch, [index])[0]


def columns_that_fit(fit: Fit, image_hw: tuple[int, int], most: int = 8, least: int = 3) -> int:
    """How many images a gallery row shows in `fit`: the most whose cells are at least three text lines tall
    (readable images under a readable caption); where the height allows no such cells, the most at the largest
    size it allows (fewer columns would not make them larger: 3 images of 56 px beside room for 8 at 1280x720)."""
    labels = ["input", "output", "|diff|"]
    scales = {k: fit.scale(image_hw, 3, k, row_labels=labels) for k in range(least, most + 1)}
    tall = [k for k, scale in scales.items() if scale * image_hw[0] >= 3 * fit.text_px]
    best = max(scales.values())
    return max(tall) if tall else max(k for k, scale in scales.items() if scale == best)


def gallery_png(model, originals: np.ndarray, captions, metric: str, theme: str, fit: Fit | None = None) -> bytes:
    """Input, output and difference of some images as PNG bytes."""
    recon = reconstruct_and_score(model, originals, metric)[0]
    scale = max(1, 112 // originals.shape[-1])
    return figures.png_bytes(gallery(originals, recon, captions, scale=scale, theme=theme, fit=fit))
