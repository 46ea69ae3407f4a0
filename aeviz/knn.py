"""kNN quality of a code: k-nearest-neighbour test accuracy on raw pixels, PCA codes and each model's code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .cache import cache_key, cached_arrays
from .metrics import knn_accuracy

K = 7
MATCH = 0.005  # PCA within half a point of an autoencoder "matches" it: runs of the same recipe differ by more
# The one article every published kNN figure below comes from (its Tables 1-2: MNIST, Fashion-MNIST); its title
# was not recorded with the figures. Figures from anywhere else (our own reference runs) never go in PUBLISHED.
ARTICLE = ("the source article comparing kNN on raw pixels with kNN on dense-autoencoder codes (its Tables 1-2: "
           "MNIST, Fashion-MNIST)")
ARTICLE_SHORT = "article, Tables 1-2"
# Published kNN-7 test accuracies: raw pixels and the article's dense autoencoder codes, by code size.
PUBLISHED: dict[str, dict[str, float]] = {
    "mnist": {"raw": 0.964, "8": 0.89},
    "fashion-mnist": {"raw": 0.854, "8": 0.799, "16": 0.836},
}
PUBLISHED_SECONDS = {"mnist": {"8": 1.1}}  # the article's wall time (its machine, not ours)
PUBLISHED_SERIES = "dense-bce"  # the only zoo series built on the article's recipe
SOURCES = {"shipped": "shipped run", "checkpoint": "at training", "computed": "this server", "pending": "pending"}


@dataclass(frozen=True)
class KnnRow:
    """One line of the panel: what was classified, how well and how fast, and where the number came from."""

    name: str
    series: str  # "pixels", "pca" or a model series
    dims: int
    accuracy: float | None  # None while it is still being computed
    seconds: float | None
    source: str  # a key of SOURCES
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


@dataclass(frozen=True)
class Shipped:
    """The kNN figures of one dataset measured together in the shipped run (checkpoints/reproduce.json)."""

    raw: tuple[float, float] | None
    pca: dict[int, tuple[float, float]]
    models: dict[str, tuple[float, float]]  # by checkpoint content hash
    machine: str


def shipped(dataset: str) -> Shipped:
    """What the shipped run measured for a dataset, so a server need not redo the 15-25 s brute-force run on
    the lecture's cores and every time shown was taken on one machine in one run; empty where not measured."""
    from .reproduce import describe_machine, load_results

    results = load_results() or {}
    rows = ((results.get("datasets") or {}).get(dataset) or {}).get("knn", [])
    pair = lambda r: (float(r["accuracy"]), float(r["seconds"]))  # noqa: E731
    raw = next((pair(r) for r in rows if r.get("features") == "raw pixels"), None)
    pca = {int(r["dims"]): pair(r) for r in rows if r.get("series") == "pca"}
    models = {r["hash"]: pair(r) for r in rows if r.get("hash")}
    where = describe_machine(results.get("machine")) or "an unrecorded machine"
    return Shipped(raw, pca, models, f"{where}, {results.get('measured', 'undated')}" if rows else "")


def shipped_raw(dataset: str) -> tuple[float, float] | None:
    return shipped(dataset).raw


def raw_pixels_knn(dataset: str, k: int = K) -> tuple[float, float]:
    """kNN-k accuracy and seconds on the raw pixels of a dataset (train -> test), cached on disk."""
    from .data import load_dataset

    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    return cached_knn(f"pixels|{dataset}|{train.source}", train.images.numpy(), train.labels.numpy(),
                      test.images.numpy(), test.labels.numpy(), k)


def pca_sizes(models, pixels: int) -> list[int]:
    """The code sizes PCA is shown at: every size among the models that PCA can have and that is a reduction."""
    from .baselines import MAX_COMPONENTS

    return sorted({int(m.bottleneck) for m in models if 0 < m.bottleneck < pixels and m.bottleneck <= MAX_COMPONENTS})


def pca_codes(dataset: str, split: str, q: int) -> np.ndarray:
    """(N,q) PCA codes of a split: projections on the first q components of the train-split fit."""
    from .baselines import pca_baseline
    from .data import load_dataset

    pca = pca_baseline(dataset)
    x = load_dataset(dataset, split).images.flatten(1).numpy()
    return (x - pca.mean) @ pca.components[:q].T


def pca_knn(dataset: str, q: int, k: int = K) -> tuple[float, float]:
    """kNN-k on the q-d PCA codes (train codes from the train split, test codes projected), cached on disk."""
    from .baselines import pca_baseline
    from .data import load_dataset

    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    fit = pca_baseline(dataset).components[:q]
    tag = f"pca|{dataset}|{train.source}|{q}|{hashlib.sha256(np.ascontiguousarray(fit).data).hexdigest()[:16]}"
    return cached_knn(tag, pca_codes(dataset, "train", q), train.labels.numpy(), pca_codes(dataset, "test", q),
                      test.labels.numpy(), k)


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


def _pick(*candidates: tuple[str, tuple[float, float] | None]) -> tuple[float | None, float | None, str]:
    """The first candidate that has a figure: (accuracy, seconds, source), else pending."""
    return next(((*pair, source) for source, pair in candidates if pair is not None), (None, None, "pending"))


def build_rows(dataset: str, pixels: int, models, raw: tuple[float, float] | None,
               computed: dict[str, tuple[float, float]], pca: dict[int, tuple[float, float]] | None = None,
               ship: Shipped | None = None) -> list[KnnRow]:
    """The panel's rows: raw pixels, PCA at every size of the models, then each model (CheckpointInfo-like: key,
    label, series, bottleneck, metrics, metadata). Each figure comes from the shipped run where it was measured
    there (one machine, one run: comparable times), else its checkpoint, else this server (`raw`, `pca`,
    `computed` by key), else it is pending."""
    ship, pca = ship or Shipped(None, {}, {}, ""), pca or {}
    rows = [KnnRow("raw pixels", "pixels", pixels, *_pick(("shipped", ship.raw), ("computed", raw)),
                   published(dataset, "raw"))]
    rows += [KnnRow(f"PCA-{q}", "pca", q, *_pick(("shipped", ship.pca.get(q)), ("computed", pca.get(q))))
             for q in pca_sizes(models, pixels)]
    for m in sorted(models, key=lambda m: (m.series, m.bottleneck)):
        content = (getattr(m, "metadata", None) or {}).get("hash")
        figure = _pick(("shipped", ship.models.get(content)), ("checkpoint", from_metadata(m.metrics)),
                       ("computed", computed.get(m.key)))
        pub = published(dataset, m.bottleneck) if m.series == PUBLISHED_SERIES else None
        name = m.label.removeprefix(f"{dataset}-")  # the panel is per dataset already; 'name · yours' if not zoo
        rows.append(KnnRow(name, m.series, m.bottleneck, *figure, pub))
    return rows


def pca_verdict(rows: list[KnnRow], against: str = PUBLISHED_SERIES) -> str:
    """One sentence, from the numbers, on whether PCA of the same size matches or beats the dense autoencoder."""
    pairs = [(p, a) for p in rows if p.series == "pca" and p.accuracy is not None
             for a in [next((r for r in rows if r.series == against and r.dims == p.dims and r.accuracy is not None),
                            None)] if a is not None]
    if not pairs:
        return ""
    fmt = lambda p, a: f"PCA-{p.dims} {100 * p.accuracy:.1f} % vs {100 * a.accuracy:.1f} %"  # noqa: E731
    level = [(p, a) for p, a in pairs if p.accuracy >= a.accuracy - MATCH]
    ahead = [(p, a) for p, a in pairs if p.accuracy < a.accuracy - MATCH]
    parts = []
    if level:
        parts.append(f"PCA of the same size matches (within {100 * MATCH:.1f} points) or beats the dense "
                     f"autoencoder at q = {', '.join(str(p.dims) for p, _ in level)} ("
                     f"{'; '.join(fmt(p, a) for p, a in level)}): at these sizes the speed-up over raw pixels "
                     "comes from the lower dimension, not from the autoencoder.")
    if ahead:
        parts.append(f"The dense autoencoder is ahead at q = {', '.join(str(p.dims) for p, _ in ahead)} ("
                     f"{'; '.join(fmt(p, a) for p, a in ahead)}).")
    return " ".join(parts)


def table(rows: list[KnnRow]) -> dict[str, list]:
    """Columns for st.dataframe: accuracies in %, seconds rounded, the article's figure beside ours."""
    pct = lambda v: None if v is None else round(100 * v, 1)  # noqa: E731
    columns = {
        "codes of": [r.name for r in rows],
        "dims": [r.dims for r in rows],
        "kNN-7 %": [pct(r.accuracy) for r in rows],
        f"published % ({ARTICLE_SHORT})": [pct(r.published) for r in rows],
        "time s": [None if r.seconds is None else round(r.seconds, 2) for r in rows],
        "from": [SOURCES[r.source] for r in rows],
    }
    if all(r.published is None for r in rows):  # no published figure for this dataset: no column of blanks
        del columns[f"published % ({ARTICLE_SHORT})"]
    return columns


def figure(rows: list[KnnRow], title: str = ""):
    """Accuracy per bottleneck size, one bar group per series (PCA first, in grey); raw pixels as a dashed line,
    the article's figures as grey diamonds. Hover shows the wall time."""
    import plotly.graph_objects as go

    from .figures import PALETTE

    fig = go.Figure()
    codes = [r for r in rows if r.series != "pixels" and r.accuracy is not None]
    dims = sorted({r.dims for r in codes})
    labels = {d: f"q={d}" for d in dims}
    models = [s for s in dict.fromkeys(r.series for r in codes) if s != "pca"]
    for series in (["pca"] if any(r.series == "pca" for r in codes) else []) + models:
        mine = [r for r in codes if r.series == series]
        j = models.index(series) if series in models else None
        fig.add_trace(go.Bar(x=[labels[r.dims] for r in mine], y=[100 * r.accuracy for r in mine],
                             name="PCA" if j is None else series, customdata=[r.seconds for r in mine],
                             marker_color="#9a9a9a" if j is None else PALETTE[j % len(PALETTE)],
                             marker_pattern_shape="/" if j is not None and j >= len(PALETTE) else "",  # hatch
                             hovertemplate="%{y:.1f} % in %{customdata:.2f} s<extra>%{fullData.name}</extra>"))
    pub = [r for r in rows if r.published is not None and r.series != "pixels" and r.dims in labels]
    if pub:
        fig.add_trace(go.Scatter(x=[labels[r.dims] for r in pub], y=[100 * r.published for r in pub],
                                 mode="markers", name="published (dense AE)",
                                 marker=dict(symbol="diamond", size=11, color="#555555")))
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
