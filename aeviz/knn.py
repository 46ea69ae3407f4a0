"""kNN quality of a code: k-nearest-neighbour test accuracy on raw pixels vs each model's code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cache import cache_key, cached_arrays
from .metrics import knn_accuracy

K = 7
# Published kNN-7 test accuracies (dense autoencoders), for a sanity check beside our own figures.
PUBLISHED: dict[str, dict[str, float]] = {
    "mnist": {"raw": 0.964, "8": 0.89},
    "fashion-mnist": {"raw": 0.854, "8": 0.799, "16": 0.836},
}


@dataclass(frozen=True)
class KnnRow:
    """One line of the panel: what was classified, how well and how fast, and where the number came from."""

    name: str
    series: str
    dims: int
    accuracy: float | None  # None while it is still being computed
    seconds: float | None
    source: str  # "checkpoint", "computed" or "pending"
    published: float | None = None


def published(dataset: str, dims: int | str) -> float | None:
    return PUBLISHED.get(dataset, {}).get(str(dims))


def cached_knn(tag: str, train_x, train_y, test_x, test_y, k: int = K) -> tuple[float, float]:
    """knn_accuracy of flattened inputs, computed once per `tag` (e.g. dataset or checkpoint hash) and kept
    on disk: raw MNIST pixels take 15-25 s on 2 cores, far too slow to repeat per visit."""
    train_x = np.asarray(train_x, np.float32).reshape(len(train_x), -1)  # (N, D): pixels or codes
    test_x = np.asarray(test_x, np.float32).reshape(len(test_x), -1)
    key = cache_key(tag=tag, k=k, train=train_x.shape, test=test_x.shape)

    def compute() -> dict[str, np.ndarray]:
        accuracy, seconds = knn_accuracy(train_x, np.asarray(train_y), test_x, np.asarray(test_y), k=k)
        return {"accuracy": np.array(accuracy), "seconds": np.array(seconds)}

    out = cached_arrays("knn", key, compute)
    return float(out["accuracy"]), float(out["seconds"])


def shipped_raw(dataset: str) -> tuple[float, float] | None:
    """The raw-pixel figure measured with the zoo (checkpoints/reproduce.json), so a server need not redo
    the 15-25 s brute-force run on the lecture's cores; None where it was not measured."""
    from .reproduce import load_results

    rows = ((load_results() or {}).get("datasets", {}).get(dataset) or {}).get("knn", [])
    raw = next((r for r in rows if r["features"] == "raw pixels"), None)
    return None if raw is None else (float(raw["accuracy"]), float(raw["seconds"]))


def raw_pixels_knn(dataset: str, k: int = K) -> tuple[float, float]:
    """kNN-k accuracy and seconds on the raw pixels of a dataset (train -> test), cached on disk."""
    from .data import load_dataset

    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    return cached_knn(f"pixels|{dataset}|{train.source}", train.images.numpy(), train.labels.numpy(),
                      test.images.numpy(), test.labels.numpy(), k)


def from_metadata(metrics: dict) -> tuple[float, float] | None:
    """(accuracy, seconds) recorded in a checkpoint at training time (evaluate() uses k=7), if any."""
    if metrics.get("knn7") is None:
        return None
    return float(metrics["knn7"]), float(metrics.get("knn7_seconds", float("nan")))


def codes_knn(model, content_hash: str, train, test, k: int = K) -> tuple[float, float]:
    """kNN-k on a model's codes of two Dataset splits (for checkpoints trained without evaluate())."""
    from .metrics import encode_all

    return cached_knn(f"codes|{content_hash}|{test.name}", encode_all(model, train.images), train.labels.numpy(),
                      encode_all(model, test.images), test.labels.numpy(), k)


def build_rows(dataset: str, pixels: int, models, raw: tuple[float, float] | None,
               computed: dict[str, tuple[float, float]]) -> list[KnnRow]:
    """The panel's rows: raw pixels first, then each model (CheckpointInfo-like: key, label, series, bottleneck,
    metrics) from its checkpoint metadata, else from `computed` by key, else pending."""
    rows = [KnnRow("raw pixels", "pixels", pixels, *(raw or (None, None)), "computed" if raw else "pending",
                   published(dataset, "raw"))]
    for m in sorted(models, key=lambda m: (m.series, m.bottleneck)):
        stored, done = from_metadata(m.metrics), computed.get(m.key)
        source = "checkpoint" if stored else "computed" if done else "pending"
        accuracy, seconds = stored or done or (None, None)
        pub = published(dataset, m.bottleneck) if m.series == "dense-bce" else None
        name = m.label.removeprefix(f"{dataset}-")  # the panel is per dataset already; 'name · yours' if not zoo
        rows.append(KnnRow(name, m.series, m.bottleneck, accuracy, seconds, source, pub))
    return rows


def table(rows: list[KnnRow]) -> dict[str, list]:
    """Columns for st.dataframe: accuracies in %, seconds rounded, the published figure beside ours."""
    pct = lambda v: None if v is None else round(100 * v, 1)
    columns = {
        "codes of": [r.name for r in rows],
        "dims": [r.dims for r in rows],
        "kNN-7 %": [pct(r.accuracy) for r in rows],
        "published %": [pct(r.published) for r in rows],
        "time s": [None if r.seconds is None else round(r.seconds, 2) for r in rows],
        "from": [r.source for r in rows],
    }
    if all(r.published is None for r in rows):  # no literature figure for this dataset: no column of blanks
        del columns["published %"]
    return columns


def figure(rows: list[KnnRow], title: str = ""):
    """Accuracy per bottleneck size, one bar group per model series; raw pixels as a dashed line,
    published figures as black diamonds. Hover shows the wall time."""
    import plotly.graph_objects as go

    from .figures import PALETTE

    fig = go.Figure()
    codes = [r for r in rows if r.series != "pixels" and r.accuracy is not None]
    dims = sorted({r.dims for r in codes})
    labels = {d: f"q={d}" for d in dims}
    for i, series in enumerate(dict.fromkeys(r.series for r in codes)):
        mine = [r for r in codes if r.series == series]
        fig.add_trace(go.Bar(x=[labels[r.dims] for r in mine], y=[100 * r.accuracy for r in mine], name=series,
                             marker_color=PALETTE[i % len(PALETTE)], customdata=[r.seconds for r in mine],
                             marker_pattern_shape="/" if i >= len(PALETTE) else "",  # colours ran out: hatch
                             hovertemplate="%{y:.1f} % in %{customdata:.2f} s<extra>%{fullData.name}</extra>"))
    pub = [r for r in rows if r.published is not None and r.series != "pixels" and r.dims in labels]
    if pub:
        fig.add_trace(go.Scatter(x=[labels[r.dims] for r in pub], y=[100 * r.published for r in pub],
                                 mode="markers", name="published", marker=dict(symbol="diamond", size=11,
                                                                               color="#888888")))
    for r in rows:
        if r.series == "pixels" and r.accuracy is not None:
            fig.add_hline(y=100 * r.accuracy, line_dash="dash", line_color="#888888",
                          annotation_text=f"raw pixels {100 * r.accuracy:.1f} % ({r.seconds:.1f} s)",
                          annotation_position="top left")
    low = min([100 * r.accuracy for r in rows if r.accuracy is not None] + [100.0])
    fig.update_layout(barmode="group", title=dict(text=title) if title else None, height=380,
                      yaxis=dict(title="kNN-7 test accuracy (%)", range=[max(0.0, low - 5), 104]),
                      xaxis=dict(categoryorder="array", categoryarray=[labels[d] for d in dims]),
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=50, r=10, t=40 if title else 10, b=10))
    return fig
