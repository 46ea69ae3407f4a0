"""kNN quality panel: real accuracies on digits, the on-disk cache, rows from checkpoint metadata, the figure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aeviz import checkpoints, data, knn


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
        series, bottleneck, metrics = "mine", 3, {}

    models = [*zoo_digits, Info()]
    rows = knn.build_rows("digits", 64, models, None, {})
    assert rows[0].name == "raw pixels" and rows[0].dims == 64 and rows[0].source == "pending"
    mine = next(r for r in rows if r.name == "mine-q3 · yours")
    assert mine.source == "pending" and mine.accuracy is None
    assert {r.source for r in rows[1:] if r.name != "mine-q3 · yours"} == {"checkpoint"}
    rows = knn.build_rows("digits", 64, models, (0.98, 0.1), {"digits-mine-q3 · yours": (0.5, 0.2)})
    mine = next(r for r in rows if r.name == "mine-q3 · yours")
    assert (rows[0].accuracy, rows[0].source) == (0.98, "computed") and (mine.accuracy, mine.source) == (0.5,
                                                                                                         "computed")


def test_published_figures_sit_beside_the_matching_rows():
    class Info:
        def __init__(self, series, q):
            self.key = self.label = f"mnist-{series}-q{q}"
            self.series, self.bottleneck = series, q
            self.metrics = {"knn7": 0.8, "knn7_seconds": 0.1}

    rows = knn.build_rows("mnist", 784, [Info("dense-bce", 8), Info("conv-bce", 8), Info("dense-bce", 2)],
                          (0.969, 20.0), {})
    published = {r.name: r.published for r in rows}
    assert published == {"raw pixels": 0.964, "conv-bce-q8": None, "dense-bce-q2": None, "dense-bce-q8": 0.89}
    assert knn.published("fashion-mnist", 16) == 0.836 and knn.published("digits", "raw") is None
    table = knn.table(rows)
    assert len({len(v) for v in table.values()}) == 1 and table["kNN-7 %"][0] == 96.9
    assert table["published %"] == [96.4, None, None, 89.0]
    digits_rows = knn.build_rows("digits", 64, [Info("dense-bce", 8)], (0.98, 0.1), {})
    assert "published %" not in knn.table(digits_rows)  # no literature figure: no column of blanks
    fig = knn.figure(rows)
    names = [t.name for t in fig.data]
    assert names == ["conv-bce", "dense-bce", "published"]
    assert fig.layout.shapes and "raw pixels 96.9 %" in fig.layout.annotations[0].text


def test_the_raw_pixel_figure_shipped_with_the_zoo_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert knn.shipped_raw("mnist") is None
    rows = [{"features": "raw pixels", "dims": 784, "accuracy": 0.969, "seconds": 13.3, "published": 0.964}]
    (tmp_path / "reproduce.json").write_text(json.dumps({"datasets": {"mnist": {"knn": rows}}}))
    assert knn.shipped_raw("mnist") == (0.969, 13.3)
    assert knn.shipped_raw("fashion-mnist") is None
