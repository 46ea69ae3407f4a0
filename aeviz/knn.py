"""kNN quality of a code: k-nearest-neighbour test accuracy on raw pixels, PCA codes and each model's code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import cast

import numpy as np

from .diskcache import cache_key, cached_arrays
from .metrics import knn_accuracy
from .zoo.references import PUBLISHED, describe_machine, load_results

K = 7
MATCH = 0.005  # PCA within half a point of an autoencoder "matches" it: runs of the same recipe differ by more
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
    return PUBLISHED["knn"].get(dataset, {}).get(str(dims))


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
    results = load_results() or {}
    rows = ((results.get("datasets") or {}).get(dataset) or {}).get("knn", [])
    pair = lambda r: (float(r["accuracy"]), float(r["seconds"]))
    raw = next((pair(r) for r in rows if r.get("features") == "raw pixels"), None)
    pca = {int(r["dims"]): pair(r) for r in rows if r.get("series") == "pca"}
    models = {r["hash"]: pair(r) for r in rows if r.get("hash")}
    where = describe_machine(results.get("machine")) or "an unrecorded machine"
    return Shipped(raw, pca, models, f"{where}, {results.get('measured', 'undated')}" if rows else "")


def raw_pixels_knn(dataset: str, k: int = K) -> tuple[float, float]:
    """kNN-k accuracy and seconds on the raw pixels of a dataset (train -> test), cached on disk."""
    from .data import load_dataset

    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    return cached_knn(
        f"pixels|{dataset}|{train.source}",
        train.images.numpy(),
        train.labels.numpy(),
        test.images.numpy(),
        test.labels.numpy(),
        k,
    )


def pca_sizes(models, pixels: int) -> list[int]:
    """The code sizes PCA is shown at: every size among the models that PCA can have and that is a reduction."""
    from .pca import max_components

    most = max_components(pixels)
    return sorted({int(m.bottleneck) for m in models if 0 < m.bottleneck < pixels and m.bottleneck <= most})


def pca_codes(dataset: str, split: str, q: int) -> np.ndarray:
    """(N,q) PCA codes of a split: projections on the first q components of the train-split fit."""
    from .data import load_dataset
    from .pca import pca_baseline

    pca = pca_baseline(dataset)
    x = load_dataset(dataset, split).images.flatten(1).numpy()
    return (x - pca.mean) @ pca.components[:q].T


def pca_knn(dataset: str, q: int, k: int = K) -> tuple[float, float]:
    """kNN-k on the q-d PCA codes (train codes from the train split, test codes projected), cached on disk."""
    from .data import load_dataset
    from .pca import pca_baseline

    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    fit = pca_baseline(dataset).components[:q]
    tag = f"pca|{dataset}|{train.source}|{q}|{hashlib.sha256(np.ascontiguousarray(fit).data).hexdigest()[:16]}"
    return cached_knn(
        tag, pca_codes(dataset, "train", q), train.labels.numpy(), pca_codes(dataset, "test", q), test.labels.numpy(), k
    )


def pca_knn_sizes(dataset: str, sizes: tuple[int, ...], k: int = K) -> dict[int, tuple[float, float]]:
    """pca_knn for each code size: {q: (accuracy, seconds)}."""
    return {q: pca_knn(dataset, q, k) for q in sizes}


def from_metadata(metrics: dict) -> tuple[float, float] | None:
    """(accuracy, seconds) recorded in a checkpoint at training time (evaluate() uses k=7), if any."""
    if metrics.get("knn7") is None:
        return None
    return float(metrics["knn7"]), float(metrics.get("knn7_seconds", float("nan")))


def codes_knn(model, content_hash: str, train, test, k: int = K) -> tuple[float, float]:
    """kNN-k on a model's codes of two Dataset splits (for checkpoints trained without evaluate())."""
    from .metrics import encode_all

    return cached_knn(
        f"codes|{content_hash}|{test.name}",
        encode_all(model, train.images),
        train.labels.numpy(),
        encode_all(model, test.images),
        test.labels.numpy(),
        k,
    )


def _pick(*candidates: tuple[str, tuple[float, float] | None]) -> tuple[float | None, float | None, str]:
    """The first candidate that has a figure: (accuracy, seconds, source), else pending."""
    return next(((*pair, source) for source, pair in candidates if pair is not None), (None, None, "pending"))


def build_rows(
    dataset: str,
    pixels: int,
    models,
    raw: tuple[float, float] | None,
    computed: dict[str, tuple[float, float]],
    pca: dict[int, tuple[float, float]] | None = None,
    ship: Shipped | None = None,
) -> list[KnnRow]:
    """The panel's rows: raw pixels, PCA at every size of the models, then each model (CheckpointInfo-like: key,
    label, series, bottleneck, metrics, metadata). Each figure comes from the shipped run where it was measured
    there (one machine, one run: comparable times), else its checkpoint, else this server (`raw`, `pca`,
    `computed` by key), else it is pending."""
    ship, pca = ship or Shipped(None, {}, {}, ""), pca or {}
    rows = [
        KnnRow(
            "raw pixels", "pixels", pixels, *_pick(("shipped", ship.raw), ("computed", raw)), published(dataset, "raw")
        )
    ]
    rows += [
        KnnRow(f"PCA-{q}", "pca", q, *_pick(("shipped", ship.pca.get(q)), ("computed", pca.get(q))))
        for q in pca_sizes(models, pixels)
    ]
    for m in sorted(models, key=lambda m: (m.series, m.bottleneck)):
        content = (getattr(m, "metadata", None) or {}).get("hash") or ""  # "": no hash, so not shipped
        figure = _pick(
            ("shipped", ship.models.get(content)),
            ("checkpoint", from_metadata(m.metrics)),
            ("computed", computed.get(m.key)),
        )
        pub = published(dataset, m.bottleneck) if m.series == PUBLISHED_SERIES else None
        name = m.label.removeprefix(f"{dataset}-")  # the panel is per dataset already; 'name · yours' if not zoo
        rows.append(KnnRow(name, m.series, m.bottleneck, *figure, pub))
    return rows


def _pca_pairs(rows: list[KnnRow], against: str) -> list[tuple[KnnRow, KnnRow]]:
    return [
        (p, a)
        for p in rows
        if p.series == "pca" and p.accuracy is not None
        for a in [next((r for r in rows if r.series == against and r.dims == p.dims and r.accuracy is not None), None)]
        if a is not None
    ]


def pca_verdict(rows: list[KnnRow], against: str = PUBLISHED_SERIES) -> str:
    """One sentence, from the numbers, on whether PCA of the same size matches or beats the dense autoencoder
    (on a dataset with no dense series, CIFAR-10's conv zoo, the series with the most sizes measured)."""
    pairs = _pca_pairs(rows, against)
    if not pairs:
        series = {r.series for r in rows if r.series not in ("pixels", "pca")}
        against = max(sorted(series), key=lambda s: len(_pca_pairs(rows, s)), default=against)
        pairs = _pca_pairs(rows, against)
    if not pairs:
        return ""
    what = "dense" if against == PUBLISHED_SERIES else f"{against.rsplit('-', 1)[0]}"
    fmt = lambda p, a: f"PCA-{p.dims} {100 * p.accuracy:.1f} % vs {100 * a.accuracy:.1f} %"
    acc = lambda r: cast(float, r.accuracy)
    level = [(p, a) for p, a in pairs if acc(p) >= acc(a) - MATCH]
    ahead = [(p, a) for p, a in pairs if acc(p) < acc(a) - MATCH]
    parts = []
    if level:
        parts.append(
            f"PCA of the same size matches (within {100 * MATCH:.1f} points) or beats the {what} "
            f"autoencoder at q = {', '.join(str(p.dims) for p, _ in level)} ("
            f"{'; '.join(fmt(p, a) for p, a in level)}): at these sizes the speed-up over raw pixels "
            "comes from the lower dimension, not from the autoencoder."
        )
    if ahead:
        parts.append(
            f"The {what} autoencoder is ahead at q = {', '.join(str(p.dims) for p, _ in ahead)} ("
            f"{'; '.join(fmt(p, a) for p, a in ahead)})."
        )
    return " ".join(parts)


ISLANDS = 0.7  # kNN-7 on the codes at least this: the classes stand apart on a map of them


def islands(rows: list[KnnRow], name: str, classes: int) -> str:
    """Whether a model's classes form islands although it never saw a label, from kNN-7 on its codes against
    chance and PCA of the same size (the panel's rows); '' while its figure is still being computed."""
    mine = next((r for r in rows if r.name == name and r.series not in ("pixels", "pca")), None)
    if mine is None or mine.accuracy is None:
        return ""
    pca = next((r.accuracy for r in rows if r.series == "pca" and r.dims == mine.dims), None)
    chance, acc = 1 / max(classes, 1), mine.accuracy
    figures = f"kNN-7 on its codes {100 * acc:.1f} %, chance {100 * chance:.0f} %" + (
        f", PCA-{mine.dims} {100 * pca:.1f} %" if pca is not None else ""
    )
    if acc >= ISLANDS and (pca is None or acc >= pca - MATCH):
        return f"The classes form islands although the model never saw a label ({figures})."
    if acc >= ISLANDS:
        return f"The classes form islands, though PCA of the same size separates them better ({figures})."
    if acc >= 2 * chance:
        worse = " and PCA of the same size does better" if pca is not None and acc < pca - MATCH else ""
        return f"Some classes stand apart, most overlap{worse} ({figures})."
    return f"The classes overlap: a code's neighbours share its class hardly more often than chance ({figures})."


def pixels_verdict(rows: list[KnnRow], name: str) -> str:
    """How a model's code compares with the raw pixels it was made from, from the panel's rows; '' until both are
    measured."""
    mine = next((r for r in rows if r.name == name and r.series not in ("pixels", "pca")), None)
    pixels = next((r for r in rows if r.series == "pixels"), None)
    if mine is None or pixels is None or mine.accuracy is None or pixels.accuracy is None:
        return ""
    figures = (
        f"{100 * mine.accuracy:.1f} % on its {mine.dims:,} numbers, {100 * pixels.accuracy:.1f} % on the "
        f"{pixels.dims:,} raw pixels"
    )
    if mine.accuracy >= pixels.accuracy - MATCH:
        return f"This model's code knows the class at least as well as the raw pixels do ({figures})."
    kept = mine.accuracy / pixels.accuracy
    return f"This model's code keeps {100 * kept:.0f} % of what the raw pixels know of the class ({figures})."
