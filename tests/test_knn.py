"""kNN quality panel: real accuracies on digits, the on-disk cache, rows from checkpoint metadata, the figure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aeviz import checkpoints, data, knn
from aeviz.views import knnchart as view
from aeviz.zoo import references


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits", "train"), data.load_dataset("digits", "test")


@pytest.fixture(scope="module")
def zoo_digits():
    return checkpoints.list_checkpoints(dataset="digits")


def test_raw_pixels_knn_on_digits_is_high_and_cached(monkeypatch):
    accuracy, seconds = knn.raw_pixels_knn("digits")
    assert 0.95 < accuracy <= 1.0 and seconds >= 0
    calls = []
    monkeypatch.setattr(knn, "knn_accuracy", lambda *a, **k: calls.append(1))
    assert knn.raw_pixels_knn("digits") == (accuracy, seconds)  # from disk: nothing recomputed
    assert calls == []


def test_cached_knn_keys_on_tag_and_k(digits, monkeypatch):
    train, test = digits
    args = (train.images.numpy(), train.labels.numpy(), test.images.numpy(), test.labels.numpy())
    calls, real = [], knn.knn_accuracy
    monkeypatch.setattr(knn, "knn_accuracy", lambda *a, k: calls.append(k) or real(*a, k=k))
    a7 = knn.cached_knn("pixels-a", *args, k=7)
    knn.cached_knn("pixels-a", *args, k=1)
    assert knn.cached_knn("pixels-a", *args, k=7) == a7 and calls == [7, 1]
    shuffled = np.random.default_rng(0).permutation(args[1])
    chance, _ = knn.cached_knn("pixels-shuffled", args[0], shuffled, args[2], args[3])
    assert chance < 0.3 < a7[0]  # labels that carry no information give chance-level accuracy


def test_codes_knn_of_a_zoo_model_matches_its_metadata(digits, zoo_digits):
    info = next(c for c in zoo_digits if c.series == "dense-bce" and c.bottleneck == 8)
    model = checkpoints.load_checkpoint(info.path)
    accuracy, _ = knn.codes_knn(model, info.metadata["hash"], *digits)
    stored, _ = knn.from_metadata(info.metrics)
    assert abs(accuracy - stored) < 0.02  # the same k-NN on the same codes (train split as at training time)


def test_from_metadata():
    assert knn.from_metadata({"knn7": 0.9, "knn7_seconds": 0.25}) == (0.9, 0.25)
    assert knn.from_metadata({"mse": 0.01}) is None


def test_rows_take_metadata_then_computed_then_pending(zoo_digits):
    class Info:  # what build_rows reads of a CheckpointInfo, for a model trained without evaluate()
        key = label = "digits-mine-q3 · yours"
        series, bottleneck, metrics, metadata = "mine", 3, {}, {"hash": "abc"}

    models = [*zoo_digits, Info()]
    rows = knn.build_rows("digits", 64, models, None, {})
    assert rows[0].name == "raw pixels" and rows[0].dims == 64 and rows[0].source == "pending"
    mine = next(r for r in rows if r.name == "mine-q3 · yours")
    assert mine.source == "pending" and mine.accuracy is None
    assert {r.source for r in rows if r.series not in ("pixels", "pca", "mine")} == {"checkpoint"}
    rows = knn.build_rows("digits", 64, models, (0.98, 0.1), {"digits-mine-q3 · yours": (0.5, 0.2)})
    mine = next(r for r in rows if r.name == "mine-q3 · yours")
    assert (rows[0].accuracy, rows[0].source) == (0.98, "computed") and (mine.accuracy, mine.source) == (
        0.5,
        "computed",
    )


def test_pca_rows_sit_at_every_code_size_of_the_models(zoo_digits):
    rows = knn.build_rows("digits", 64, zoo_digits, (0.98, 0.1), {}, pca={8: (0.97, 0.01)})
    pca = [r for r in rows if r.series == "pca"]
    # every zoo size below the 64 pixels (a 64-d "code" of 8x8 images is no reduction)
    assert [r.dims for r in pca] == sorted({m.bottleneck for m in zoo_digits if m.bottleneck < 64}) == [2, 4, 8, 16]
    assert [r.name for r in pca][2] == "PCA-8" and (pca[2].accuracy, pca[2].source) == (0.97, "computed")
    assert {r.source for r in pca if r.dims != 8} == {"pending"}
    assert "PCA-8" in view.knn_table(rows)["codes of"]
    assert "PCA" in [t.name for t in view.knn_figure(rows).data]


def test_pca_knn_on_digits_is_real_and_cached(monkeypatch):
    accuracy, _ = knn.pca_knn("digits", 8)
    assert 0.9 < accuracy < 1  # 8 principal components of 8x8 digits keep most of the class
    assert knn.pca_knn("digits", 2)[0] < accuracy  # fewer components, less
    monkeypatch.setattr(knn, "knn_accuracy", lambda *a, **k: pytest.fail("recomputed"))
    assert knn.pca_knn("digits", 8)[0] == accuracy


def test_shipped_run_figures_win_over_checkpoint_times(zoo_digits):
    dense8 = next(m for m in zoo_digits if m.series == "dense-bce" and m.bottleneck == 8)
    ship = knn.Shipped((0.97, 9.0), {8: (0.96, 0.2)}, {dense8.metadata["hash"]: (0.95, 0.3)}, "a test machine")
    rows = knn.build_rows("digits", 64, zoo_digits, None, {}, ship=ship)
    by = {r.name: r for r in rows}
    assert (by["raw pixels"].seconds, by["raw pixels"].source) == (9.0, "shipped")
    assert (by["PCA-8"].accuracy, by["PCA-8"].source) == (0.96, "shipped")
    assert (by["dense-q8-bce"].seconds, by["dense-q8-bce"].source) == (0.3, "shipped")
    assert by["conv-q8-bce"].source == "checkpoint"  # not in that run: its training-time figure, so labelled
    assert set(view.knn_table(rows)["from"]) == {"shipped run", "at training", "pending"}


def test_pca_verdict_is_computed_from_the_numbers():
    row = lambda name, series, q, acc: knn.KnnRow(name, series, q, acc, 0.1, "shipped")
    rows = [
        row("PCA-2", "pca", 2, 0.40),
        row("d2", "dense-bce", 2, 0.42),
        row("PCA-8", "pca", 8, 0.899),
        row("d8", "dense-bce", 8, 0.895),
        row("c8", "conv-bce", 8, 0.93),
    ]
    verdict = knn.pca_verdict(rows)
    assert "q = 8 (PCA-8 89.9 % vs 89.5 %)" in verdict and "not from the autoencoder" in verdict
    assert "ahead at q = 2 (PCA-2 40.0 % vs 42.0 %)" in verdict
    assert knn.pca_verdict(rows[2:4]).count("q =") == 1 and knn.pca_verdict(rows[:1]) == ""
    colour = [row("PCA-64", "pca", 64, 0.404), row("conv-q64-mse", "conv-mse", 64, 0.40)]  # CIFAR: no dense series
    assert "matches (within 0.5 points) or beats the conv autoencoder at q = 64" in knn.pca_verdict(colour)


def test_the_code_is_compared_with_the_raw_pixels_from_the_numbers():
    row = lambda name, series, q, acc: knn.KnnRow(name, series, q, acc, 0.1, "shipped")
    pixels = row("raw pixels", "pixels", 3072, 0.34)
    better = knn.pixels_verdict([pixels, row("conv-q64-mse", "conv-mse", 64, 0.40)], "conv-q64-mse")
    assert better.startswith("This model's code knows the class at least as well") and "3,072 raw pixels" in better
    worse = knn.pixels_verdict([row("raw pixels", "pixels", 784, 0.97), row("d2", "dense-bce", 2, 0.485)], "d2")
    assert "keeps 50 % of what the raw pixels know" in worse and "48.5 % on its 2 numbers" in worse
    assert knn.pixels_verdict([pixels, row("d2", "dense-bce", 2, None)], "d2") == ""  # still being measured


def test_published_figures_sit_beside_the_matching_rows():
    class Info:
        def __init__(self, series, q):
            self.key = self.label = f"mnist-{series}-q{q}"
            self.series, self.bottleneck = series, q
            self.metrics, self.metadata = {"knn7": 0.8, "knn7_seconds": 0.1}, {}

    rows = knn.build_rows(
        "mnist", 784, [Info("dense-bce", 8), Info("conv-bce", 8), Info("dense-bce", 2)], (0.969, 20.0), {}
    )
    published = {r.name: r.published for r in rows}
    assert published == {
        "raw pixels": 0.964,
        "PCA-2": None,
        "PCA-8": None,
        "conv-bce-q8": None,
        "dense-bce-q2": None,
        "dense-bce-q8": 0.89,
    }  # no conv or PCA row borrows the dense figure
    assert knn.published("fashion-mnist", 16) == 0.836 and knn.published("digits", "raw") is None
    table = view.knn_table(rows)
    column = f"published % ({references.ARTICLE_SHORT})"  # the column names where its figures were published
    assert len({len(v) for v in table.values()}) == 1 and table["kNN-7 %"][0] == 96.9
    assert table[column] == ["96.4", None, None, None, None, "89"]  # as the article prints them
    digits_rows = knn.build_rows("digits", 64, [Info("dense-bce", 8)], (0.98, 0.1), {})
    assert column not in view.knn_table(digits_rows)  # no literature figure: no column of blanks
    fig = view.knn_figure(rows)
    names = [t.name for t in fig.data]
    assert names == ["conv-bce", "dense-bce", "published (dense AE)"]  # PCA pending here: no bars yet
    assert fig.data[2].offsetgroup == "dense-bce" and fig.data[2].base[0] + fig.data[2].y[0] / 2 == 89.0
    assert fig.layout.shapes and "raw pixels 96.9 %" in fig.layout.annotations[0].text


def test_only_article_figures_are_published():
    flat = {v for figures in references.PUBLISHED["knn"].values() for v in figures.values()}
    assert flat == {0.964, 0.89, 0.854, 0.799, 0.836}  # MNIST raw, 8-d; Fashion raw, 8-d, 16-d: the article's
    assert "Tables 1-2" in references.ARTICLE and "dense-autoencoder codes" in references.ARTICLE


def test_the_figures_shipped_with_the_zoo_are_used(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert knn.shipped("mnist").raw is None and knn.shipped("mnist").machine == ""
    rows = [
        {"features": "raw pixels", "series": "pixels", "dims": 784, "accuracy": 0.969, "seconds": 13.3},
        {"features": "PCA-8", "series": "pca", "dims": 8, "accuracy": 0.899, "seconds": 0.4},
        {"features": "dense-q8-bce", "series": "dense-bce", "dims": 8, "accuracy": 0.895, "seconds": 0.5, "hash": "h8"},
    ]
    machine = {"cpu": "Test CPU", "logical_cpus": 2, "torch_threads": 2, "knn_threads": 1}
    (tmp_path / "reproduce.json").write_text(
        json.dumps({"datasets": {"mnist": {"knn": rows}}, "machine": machine, "measured": "2026-01-02"})
    )
    ship = knn.shipped("mnist")
    assert ship.raw == (0.969, 13.3) and ship.pca == {8: (0.899, 0.4)} and ship.models == {"h8": (0.895, 0.5)}
    assert ship.machine == "Test CPU (2 logical CPUs, torch on 2 threads, kNN on 1 thread), 2026-01-02"
    assert knn.shipped("fashion-mnist").raw is None


def _row(name, series, q, accuracy, published=None):
    return knn.KnnRow(name, series, q, accuracy, 0.1, "shipped", published)


def test_the_chart_draws_one_bar_per_model_and_never_sums_two():
    """A server model of a zoo model's size (README's `aeviz train ... --bottleneck 8 16 64`) and a browser-trained
    q=2 model: each its own bar. One trace holding two rows at one size made plotly stack them (89.5 + 54.3 %)."""
    rows = [
        _row("PCA-8", "pca", 8, 0.899),
        _row("dense-q2-bce", "dense-bce", 2, 0.42),
        _row("dense-q8-bce", "dense-bce", 8, 0.895, published=0.89),
        _row("dense-q8-bce · server", "dense-bce", 8, 0.543, published=0.89),
        _row("dense-q8-bce-2 · server", "dense-bce", 8, 0.347, published=0.89),
        _row("dense-q2-bce · yours", "dense-bce", 2, 0.30),
        _row("dense-h256x128-q8-bce", "dense-h256x128-bce", 8, 0.936),
    ]
    fig = view.knn_figure(rows)
    bars = [t for t in fig.data if t.name != "published (dense AE)"]
    for trace in bars:
        assert len(set(trace.x)) == len(trace.x), f"{trace.name} holds two bars at one size: plotly sums them"
    heights = sorted(round(y, 1) for t in bars for y in t.y)
    assert heights == sorted(round(100 * r.accuracy, 1) for r in rows)  # every model once, none summed
    assert len({t.offsetgroup for t in bars}) == len(bars)
    mark = next(t for t in fig.data if t.name == "published (dense AE)")
    zoo = next(t for t in bars if "q=8" in t.x and 89.5 in [round(y, 1) for y in t.y])
    assert mark.offsetgroup == zoo.offsetgroup == "dense-bce"  # on the zoo dense-bce bar, not the 256-128 one
    assert abs(mark.base[0] + mark.y[0] / 2 - 89.0) < 1e-9 and "89 %" in mark.hovertemplate
    assert [t.name for t in bars] == ["PCA", "dense-bce", "dense-bce · server", "dense-bce · server (2)",
                                      "dense-bce · yours", "dense-h256x128-bce"]  # fmt: skip


def test_the_islands_sentence_is_computed_from_the_models_numbers():
    """The retrained MNIST dense q=2 (kNN 30.6 %, PCA-2 42.8 %) showed one overlapping band under a page that
    said "the classes form islands although the model never saw a label": now said only where it is true."""
    rows = [
        _row("PCA-2", "pca", 2, 0.428),
        _row("dense-q2-bce", "dense-bce", 2, 0.306),
        _row("vae-h256-q2-bce", "vae-h256-bce", 2, 0.70),
        _row("PCA-16", "pca", 16, 0.964),
        _row("dense-q16-bce", "dense-bce", 16, 0.960),
        _row("conv-q16-bce", "conv-bce", 16, 0.971),
        _row("mine-q3 · yours", "mine", 3, 0.12),
        knn.KnnRow("pending-q4", "dense-bce", 4, None, None, "pending"),
    ]
    weak = knn.islands(rows, "dense-q2-bce", 10)
    assert "form islands" not in weak and "Some classes stand apart, most overlap and PCA" in weak
    assert "30.6 %, chance 10 %, PCA-2 42.8 %" in weak
    assert knn.islands(rows, "dense-q16-bce", 10).startswith("The classes form islands although")  # 96.0 vs 96.4
    assert "PCA of the same size separates them better" not in knn.islands(rows, "conv-q16-bce", 10)
    assert "form islands although" in knn.islands(rows, "vae-h256-q2-bce", 10)
    assert knn.islands(rows, "mine-q3 · yours", 10).startswith("The classes overlap")
    assert knn.islands(rows, "pending-q4", 10) == "" and knn.islands(rows, "no-such", 10) == ""
