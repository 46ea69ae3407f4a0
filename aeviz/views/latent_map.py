"""The latent map page's pieces: a clickable map figure, decode-anywhere, selections and galleries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics import decode_all, reconstruct_and_score
from ..projection import NEIGHBOURS, LatentMap
from ..walks import manifold_grid
from . import figures
from .lettering import Fit

GRID = 30  # click targets per side: a click anywhere on the map lands within 1/60 of its width of one


@dataclass(frozen=True)
class Extent:
    """A square window on a map (equal axes keep decoded tiles square): centre and half the side."""

    cx: float
    cy: float
    half: float

    @property
    def x(self) -> tuple[float, float]:
        return self.cx - self.half, self.cx + self.half

    @property
    def y(self) -> tuple[float, float]:
        return self.cy - self.half, self.cy + self.half

    def grid(self, n: int) -> np.ndarray:
        """n*n cell centres, (n*n, 2) float32, row-major with the top row (largest y) first."""
        step = 2 * self.half / n
        lo = (self.x[0] + step / 2, self.y[0] + step / 2)
        hi = (self.x[1] - step / 2, self.y[1] - step / 2)
        return manifold_grid(n, lo=lo, hi=hi, gaussian=False).numpy()


def map_extent(points: np.ndarray, margin: float = 0.06) -> Extent:
    """The square around the central 99 % of the points (a few outliers must not shrink the rest)."""
    lo, hi = np.percentile(np.asarray(points, np.float64), [0.5, 99.5], axis=0)  # (2,) each
    half = max(float((hi - lo).max()) / 2, 1e-6) * (1 + margin)
    return Extent(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2, half)


def map_figure(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    index: np.ndarray | None = None,
    extent: Extent | None = None,
    grid: int = GRID,
    backdrop: np.ndarray | None = None,
    highlight: np.ndarray | None = None,
    height: int = 620,
):
    """A Scattergl map, one trace per class, each point's global index in customdata.

    `grid`: an invisible n x n lattice of click targets (customdata -1-g), so a click on an empty spot
    selects the nearest lattice point: plotly reports clicks on points only. `backdrop`: a picture laid
    under the points across `extent`. `highlight`: global indices shown selected (for a linked map).
    """
    import plotly.graph_objects as go

    points = np.asarray(points, np.float32)  # float32 halves the figure's payload; screens need no more
    fig = figures.scatter_map(points, labels, class_names, customdata=index)
    for trace in fig.data:
        trace.unselected.marker.opacity = 0.25  # a click on an empty spot must not fade the whole map away
    extent = extent or map_extent(points)
    if grid:
        # Under the points, so a selected lattice (box or lasso over an area) reads as a light hatch behind them;
        # a single clicked spot shows as a small cross.
        spots = extent.grid(grid)
        lattice = go.Scattergl(
            x=spots[:, 0],
            y=spots[:, 1],
            mode="markers",
            name="decode here",
            showlegend=False,
            customdata=-1 - np.arange(len(spots)),
            hovertemplate="click: decode here<extra></extra>",
            marker=dict(size=8, opacity=0, color="black"),
            selected=dict(marker=dict(opacity=0.4, size=6, color="#888")),
            unselected=dict(marker=dict(opacity=0)),
        )
        fig = go.Figure(data=[lattice, *fig.data], layout=fig.layout)
        fig.update_traces(marker_symbol="x", selector=dict(name="decode here"))
    if backdrop is not None:
        fig.add_layout_image(
            source=figures.png_data_uri(_grey_ink(backdrop) if np.ndim(backdrop) == 2 else backdrop),
            xref="x",
            yref="y",
            x=extent.x[0],
            y=extent.y[1],
            sizex=2 * extent.half,
            sizey=2 * extent.half,
            sizing="stretch",
            layer="below",
            opacity=0.7,
        )
    if highlight is not None:
        chosen = np.asarray(highlight)
        for trace in fig.data:
            if trace.name != "decode here":
                trace.selectedpoints = np.flatnonzero(np.isin(np.asarray(trace.customdata), chosen))
    fig.update_layout(height=height, legend=dict(itemsizing="constant"))  # background: the viewer's theme
    # No drag mode of our own: Streamlit then pans on drag and selects on click. In lasso or box mode it
    # turns click-to-select off (clickmode "event"), and a click on the map must decode that spot.
    fig.layout.dragmode = None
    # constrain="domain": equal axes shrink the plot area instead of widening a range, so the square extent
    # (and its lattice of click targets) is exactly what is on screen.
    fig.update_xaxes(range=list(extent.x), showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=list(extent.y), showgrid=False, zeroline=False, constrain="domain")
    return fig


def _grey_ink(backdrop: np.ndarray) -> np.ndarray:
    """Dark-on-white tiles as mid-grey ink on transparency (H,W,4): they read on a light and a dark page alike,
    where a white picture would be a bright square on the dark theme."""
    rgba = np.full((*backdrop.shape, 4), 128, np.uint8)
    rgba[..., 3] = 255 - np.asarray(backdrop, np.uint8)
    return rgba


@dataclass(frozen=True)
class Selection:
    """What a plotly selection picked: data points by global index, and empty spots by map position."""

    indices: np.ndarray  # (N,) int64, unique, in the order plotly reported them
    spots: np.ndarray  # (M, 2) float32 map positions of the clicked lattice points


def read_selection(points: Sequence[dict], extent: Extent, grid: int = GRID, count: int | None = None) -> Selection:
    """Split `selection.points` into data points and lattice points (customdata >= 0 or < 0); indices not
    below `count` (a selection left over from a bigger map) are dropped."""
    found: list[int] = []
    for p in points:
        value = p.get("customdata")
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            found.append(int(value))
    values = np.array(found, dtype=np.int64)
    data = values[(values >= 0) & (values < (np.iinfo(np.int64).max if count is None else count))]
    _, first = np.unique(data, return_index=True)
    lattice = -1 - values[values < 0]
    spots = extent.grid(grid)[lattice[lattice < grid * grid]] if grid else np.zeros((0, 2), np.float32)
    return Selection(data[np.sort(first)], spots.reshape(-1, 2))


def nearest(points: np.ndarray, spot: np.ndarray, count: int = 8) -> np.ndarray:
    """Positions (into `points`) of the `count` map points closest to `spot`, closest first."""
    d = ((np.asarray(points, np.float32) - np.asarray(spot, np.float32)) ** 2).sum(axis=1)  # (N,)
    count = min(count, len(d))
    part = np.argpartition(d, count - 1)[:count]
    return part[np.argsort(d[part])]


def decode_at(latent_map: LatentMap, model, spots: np.ndarray) -> np.ndarray:
    """What the decoder draws at map positions (M,2): (M,C,H,W) in [0,1] (see LatentMap.inverse)."""
    return decode_all(model, latent_map.inverse(spots))


def backdrop(latent_map: LatentMap, model, extent: Extent, n: int = 20) -> np.ndarray:
    """The decoded manifold over a map: n x n decoded tiles, (n*H, n*W) uint8 dark ink on white for grey
    images, (n*H, n*W, 3) uint8 in their own colours for colour ones."""
    tiles = figures.channels_last(decode_at(latent_map, model, extent.grid(n)))  # (n*n,H,W) or (n*n,H,W,3)
    h, w = tiles.shape[1:3]
    rows = tiles.reshape(n, n, h, w, -1).transpose(0, 2, 1, 3, 4)  # (n,H,n,W,C): rows of tiles
    picture = rows.reshape(n * h, n * w, -1)
    return figures.to_uint8(1.0 - picture[..., 0]) if picture.shape[-1] == 1 else figures.to_uint8(picture)


def gallery(
    rows: Sequence[tuple[str, np.ndarray, Sequence[str]]],
    per_row: int = 12,
    cell: int = 84,
    theme: str = "light",
    fit: Fit | None = None,
) -> np.ndarray:
    """One picture of labelled rows (label, images (N,C,H,W), captions), wrapped every `per_row` images:
    originals above their reconstructions, block after block; cells about `cell` pixels (8x8 digits too), or
    as large as `fit` allows (the box on screen, text at the body size)."""
    n = len(rows[0][1])
    hw = np.asarray(rows[0][1]).shape[-2:]
    scale = max(1, cell // hw[-1])
    if fit is not None:  # fewer images a row where the column is narrow: each cell at least 3.5 text lines wide
        labels = [r[0] for r in rows]
        size = lambda k: fit.scale(hw, len(rows) * -(-n // k), min(n, k), row_labels=labels)
        per_row = next((k for k in range(per_row, 1, -1) if size(k) * hw[-1] >= 3.5 * fit.text_px), 1)
        scale = size(per_row)
    blocks, labels, captions = [], [], []
    for start in range(0, n, per_row):
        for label, images, texts in rows:
            blocks.append(np.asarray(images)[start : start + per_row])
            labels.append(label)
            captions.append(list(texts[start : start + per_row]))
    text = None if fit is None else fit.text_px
    return figures.compose_grid(blocks, row_labels=labels, cell_labels=captions, scale=scale, theme=theme, text_px=text)


DECODE_NOTE = {
    "raw": "exact: the code is the position itself.",
    "pca": "a projection, not a code of any image: the point of the PCA plane through the codes, with the other "
    "{rest} PCA coordinates held at their mean (0). The plane keeps {kept:.0f} % of the code variance, so a "
    "point's own position decodes to something other than its reconstruction.",
    "umap": f"approximate: the distance-weighted mean of the {NEIGHBOURS} nearest codes on the map. "
    "(UMAP's own `inverse_transform` needs the pickled fitted model and takes seconds per call.)",
}
DECODE_NOTE["tsne"] = DECODE_NOTE["umap"].split(" (")[0] + " (t-SNE has no inverse at all.)"


def decode_note(latent_map: LatentMap) -> str:
    """How exact decoding a map position is, for this map's method and code size."""
    if latent_map.method == "pca" and latent_map.q == 2:
        return "exact: with a 2-d code the PCA plane is the whole code space."
    return DECODE_NOTE[latent_map.method].format(rest=latent_map.q - 2, kept=100 * (latent_map.kept_variance or 0.0))


def selection_gallery(
    images: np.ndarray,
    indices,
    labels: np.ndarray,
    classes: Sequence[str],
    models,
    per_row: int,
    theme: str,
    fit: Fit | None = None,
) -> np.ndarray:
    """Originals of the selected points above their reconstructions by each (model, info), with class and MSE."""
    rows = [("input", images, [str(classes[labels[i]]) for i in indices])]
    for model, shown in models:
        recon, errors = reconstruct_and_score(model, images)
        rows.append(
            (
                f"q={shown.bottleneck}" if len(models) == 1 else f"{shown.family} q={shown.bottleneck}",
                recon,
                [f"{e:.3f}" for e in errors],  # the MSE: the caption under the gallery says so
            )
        )
    return gallery(rows, per_row=per_row, theme=theme, fit=fit)


def representative(indices, labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` of the selected `indices` (all when fewer), classes in proportion to their share of the selection
    (largest remainders round up), drawn at random within each class (seeded), the most frequent class first.

    Plotly reports a selection trace by trace, one trace per class: the first 24 of a lasso around the 7s
    were 0s, 2s and 3s from its fringe."""
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) <= count:
        return indices
    classes = np.asarray(labels)[indices]
    values, counts = np.unique(classes, return_counts=True)
    quota = counts * count / len(indices)
    take = np.floor(quota).astype(int)
    take[np.argsort(-(quota - take), kind="stable")[: count - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            np.sort(rng.choice(indices[classes == values[c]], take[c], replace=False))
            for c in np.argsort(-counts, kind="stable")
            if take[c]
        ]
    )


def selection_summary(indices, labels: np.ndarray, classes: Sequence[str], top: int = 4) -> str:
    """The most frequent classes of a selection: 'seven ×12, one ×3'."""
    counts = np.bincount(labels[indices], minlength=len(classes))
    return ", ".join(f"{classes[c]} ×{counts[c]}" for c in np.argsort(-counts)[:top] if counts[c])


def spot_of(latent_map: LatentMap, picked: Selection) -> np.ndarray:
    """The one map position picked: a clicked empty spot, else the selected point's position."""
    return picked.spots[0] if len(picked.spots) else latent_map.points[picked.indices[0]]


def shared_selection(indices: np.ndarray, same_split: bool, n_test: int) -> np.ndarray:
    """The selected indices that the other map also has (only test images when it shows the test set alone)."""
    return indices if same_split else indices[indices < n_test]
