"""The code space during training: one epoch's map of a fixed test sample, and every epoch's as a replay."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .figures import MODEBAR_CLEARANCE, PALETTE, marker_size

LIVE, REPLAY = "aeviz-code-map", "aeviz-code-replay"  # layout.meta: how a browser test finds each figure


def extent(maps: Sequence[np.ndarray], pad: float = 0.05) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) holding every point of every map: fixed axes, so the picture does not jump as it grows."""
    pts = np.concatenate([np.asarray(m, np.float32).reshape(-1, 2) for m in maps]) if len(maps) else np.zeros((1, 2))
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = (pts.min(axis=0), pts.max(axis=0)) if len(pts) else (np.zeros(2), np.zeros(2))
    margin = np.maximum((hi - lo) * pad, 1e-3)
    return float(lo[0] - margin[0]), float(hi[0] + margin[0]), float(lo[1] - margin[1]), float(hi[1] + margin[1])


def _traces(points: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> list[dict]:
    """One scattergl trace per class present (a stable order, so frames line up trace by trace)."""
    points = np.asarray(points, np.float32)
    out = []
    for c in np.unique(labels):
        mask = labels == c
        name = str(classes[c]) if 0 <= c < len(classes) else "unknown"
        out.append(
            dict(
                type="scattergl",
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=name,
                hoverinfo="name",
                marker=dict(
                    size=marker_size(len(points)),
                    color=PALETTE[c % len(PALETTE)] if c >= 0 else "#888888",
                    opacity=0.75,
                    line=dict(width=0),
                ),
            )
        )
    return out


def _layout(box: tuple[float, float, float, float], height: int, meta: str) -> dict:
    x0, x1, y0, y1 = box
    axis = dict(showticklabels=False, zeroline=False, showgrid=False, fixedrange=True)
    return dict(
        meta=meta,
        height=height,
        xaxis=dict(range=[x0, x1], **axis),
        yaxis=dict(range=[y0, y1], scaleanchor="x", scaleratio=1, **axis),  # a map: one unit is one unit
        legend=dict(itemsizing="constant"),
        hovermode="closest",
        dragmode=False,
        margin=dict(l=10, r=10, t=MODEBAR_CLEARANCE, b=10),
    )


def live_figure(points, labels, classes: Sequence[str], box, *, height: int = 380) -> dict:
    """The latest epoch's map, coloured by class, inside the fixed `box` (see extent), as a plotly figure spec."""
    labels = np.asarray(labels, np.int64)
    return dict(data=_traces(points, labels, classes), layout=_layout(box, height, LIVE))


def replay_figure(epochs: Sequence[int], points, labels, classes: Sequence[str], *, height: int = 440) -> dict:
    """Every epoch's map as a plotly frame and a slider that swaps them in the browser (no Streamlit rerun),
    opened at the last epoch. `points` is (E,N,2), one map per entry of `epochs`.

    A plain figure spec: go.Figure took 2 s over 101 frames even unvalidated, st.plotly_chart validates a
    dict in a third of that."""
    points, labels = np.asarray(points, np.float32), np.asarray(labels, np.int64)
    if points.ndim != 3 or len(points) != len(epochs) or len(points) == 0 or points.shape[1:] != (len(labels), 2):
        raise ValueError(f"points {points.shape} do not match {len(epochs)} epochs of {len(labels)} labels")
    names = [str(int(e)) for e in epochs]
    frames = [dict(name=n, data=_traces(p, labels, classes)) for n, p in zip(names, points, strict=True)]
    instant = dict(frame=dict(duration=0, redraw=True), transition=dict(duration=0), mode="immediate")
    slider = dict(
        active=len(names) - 1,
        steps=[dict(method="animate", label=n, args=[[n], instant]) for n in names],
        currentvalue=dict(visible=True, prefix="epoch ", xanchor="center"),
        transition=dict(duration=0),
        x=0,
        len=1,
        pad=dict(t=8, b=0),
        tickcolor="#888888",  # plotly's #333 vanishes on a dark page
    )
    layout = _layout(extent(points), height, REPLAY) | dict(sliders=[slider], updatemenus=[])
    return dict(data=frames[-1]["data"], layout=layout, frames=frames)


def caption(n: int, epochs: Sequence[int], q: int) -> str:
    """What the map shows, from the numbers: how many images, which epochs, which plane."""
    first, last = int(min(epochs)), int(max(epochs))
    span = f"epoch {last}" if first == last else f"epoch {first}{' (untrained)' if first == 0 else ''} to {last}"
    plane = "the raw 2-d codes" if q == 2 else f"PCA of the {q}-d codes per epoch, aligned to the previous epoch's axes"
    return f"{n:,} test images, {span}; {plane}"
