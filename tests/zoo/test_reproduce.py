"""The reproduction of published figures: rank statistics, tables, and the stored results the app shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aeviz import data, metrics
from aeviz.zoo import references, reproduce


def test_shoe_ranks_count_the_digits_above_each_shoe():
    digits = np.array([0.01, 0.02, 0.03, 0.05])  # the most unusual digit scores 0.05
    fashion = np.array([0.06, 0.04, 0.001, 0.5])
    labels = np.array([7, 5, 9, 0])  # the last item is a T-shirt, not a shoe
    stats = reproduce.shoe_ranks(digits, fashion, labels)
    assert stats["shoes"] == 3
    assert stats["share_rank1"] == pytest.approx(1 / 3)  # 0.06 beats every digit; 0.04 ranks 2nd; 0.001 5th
    assert stats["worst_rank"] == 5 and stats["median_rank"] == 2
    assert stats["rank_histogram"] == {"1": 1, "2": 1, "5": 1}
    assert stats["runner_up"] == 0.05
    assert 0.5 < stats["auroc"] < 1  # the T-shirt and the faint shoe overlap the digits


def test_pca_rows_and_tables_on_the_digits_zoo():
    infos = [i for i in reproduce.scan_checkpoints()[0] if i.dataset == "digits"]
    rows = reproduce.pca_rows("digits", infos)
    assert [r["q"] for r in rows] == [2, 4, 8, 16, 32, 64]
    assert rows[-1]["pca"] == pytest.approx(0, abs=1e-6)  # 64 components of 8x8 images lose nothing
    linear = next(r for r in rows if r["q"] == 8)
    # the linear autoencoder spans PCA's subspace: the same test error within 5 %
    assert linear["linear-mse"] == pytest.approx(linear["pca"], rel=0.05)
    fake = {"datasets": {"digits": {"knn": [], "pca": rows, "bce_vs_mse": {}, "denoising": []}}}
    shown = reproduce.tables(fake)
    assert shown["pca"][0]["dataset"] == "digits" and shown["pca"][0]["linear-mse"] == "—"


def test_results_round_trip_through_the_zoo_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert references.load_results() is None
    references.results_path().write_text(json.dumps({"datasets": {}}))
    assert references.load_results() == {"datasets": {}}
    references.results_path().write_text("{broken")
    assert references.load_results() is None


def test_knn_rows_measure_pca_at_every_zoo_size_and_lend_no_conv_row_a_published_figure(monkeypatch):
    infos = [
        i
        for i in reproduce.scan_checkpoints()[0]
        if i.dataset == "digits" and i.bottleneck == 8 and i.series in ("dense-bce", "conv-bce")
    ]
    monkeypatch.setitem(references.PUBLISHED["knn"], "digits", {"raw": 0.9, "8": 0.5})  # a made-up article
    rows = reproduce.knn_rows("digits", infos)
    by = {r["features"]: r for r in rows}
    assert list(by) == ["raw pixels", "PCA-8", "conv-q8-bce", "dense-q8-bce"]
    assert by["PCA-8"]["series"] == "pca" and 0.9 < by["PCA-8"]["accuracy"] < 1 and by["PCA-8"]["seconds"] > 0
    assert by["dense-q8-bce"]["published"] == 0.5 and by["conv-q8-bce"]["published"] is None
    dense = next(i for i in infos if i.series == "dense-bce")
    assert by["raw pixels"]["published"] == 0.9 and by["dense-q8-bce"]["hash"] == dense.metadata["hash"]


def test_knn_table_shows_pca_and_names_the_article_only_beside_published_figures():
    row = lambda f, s, q, acc, pub=None: {
        "features": f,
        "series": s,
        "dims": q,
        "accuracy": acc,
        "seconds": 0.5,
        "published": pub,
    }
    knn_rows = [
        row("raw pixels", "pixels", 784, 0.969, 0.964),
        row("dense-q8-bce", "dense-bce", 8, 0.895, 0.89),
        row("PCA-8", "pca", 8, 0.899),
        row("conv-q8-bce", "conv-bce", 8, 0.931),
        row("vae-h256-q16-bce", "vae-h256-bce", 16, 0.97),
    ]
    results = {
        "datasets": {
            "mnist": {"knn": knn_rows, "pca": [], "bce_vs_mse": {}, "denoising": [], "bce_floor": 0.058},
            "digits": {"knn": knn_rows[:1], "bce_floor": 0.2},
        }
    }
    shown = reproduce.tables(results)["knn"]
    assert [r["features"] for r in shown] == ["raw pixels", "dense-q8-bce", "PCA-8", "conv-q8-bce"]  # no vae, digits
    assert [r["published"] for r in shown] == ["96.4 %", "89 %", "—", "—"]  # as the article prints them
    assert [r["published in"] for r in shown] == [references.ARTICLE_SHORT] * 2 + ["—"] * 2
    verdict = reproduce.knn_verdicts(results)
    assert list(verdict) == ["mnist"] and "PCA-8 89.9 % vs 89.5 %" in verdict["mnist"]


def test_published_holds_only_article_figures_and_our_runs_are_labelled_ours():
    pub = json.dumps(references.PUBLISHED)
    for ours in ("0.86", "0.95", "0.9998", "0.02688", "0.02686"):  # our reference run's, not the article's
        assert ours not in pub
    assert references.PUBLISHED["source"] == references.ARTICLE and references.PUBLISHED["shoe"]["error"] == 0.062
    assert "ours" in references.REFERENCE["how"] or "our" in references.REFERENCE["how"]
    assert references.REFERENCE["linear_vs_pca_q16"]["clipped"] is False


def test_unclipped_pca_matches_the_reference_and_the_mse_verdict_is_per_dataset():
    rows = reproduce.pca_rows("digits", [])
    assert all(r["pca unclipped"] >= r["pca"] - 1e-9 for r in rows)  # clipping to [0,1] only ever helps
    fake = [{"q": 2, "pca": 0.05, "dense-bce": 0.06}, {"q": 8, "pca": 0.03, "dense-bce": 0.02}]
    assert reproduce.mse_vs_pca(fake) == "dense-bce loses to PCA at q = 2 (of 2 sizes)"
    assert reproduce.mse_vs_pca(fake[1:]) == "dense-bce loses to PCA at no q (of 1 size)"


def test_bce_floor_is_the_mean_binary_entropy_of_the_test_pixels():
    floor = reproduce.bce_floor("digits")
    x = data.load_dataset("digits", "test").images
    assert 0 < floor < metrics.image_errors(x, x, "bce").mean() + 1e-4  # a perfect copy scores just the floor
    assert floor == pytest.approx(metrics.image_errors(x, x, "bce").mean(), rel=1e-3)


def test_the_shipped_report_measured_every_shipped_checkpoint_as_it_is_now():
    """checkpoints/reproduce.json records the hash of every zoo model it measured: retraining a model without
    measuring again (the six q=2 models once) fails here, before Published results shows old figures."""
    from aeviz.checkpoints import ZOO

    results = references.load_results()
    assert results is not None and results.get("measured") and results.get("machine")
    zoo = [i for i in reproduce.scan_checkpoints()[0] if i.origin == ZOO]
    measured = [i for i in zoo if i.dataset in results["datasets"]]
    assert {i.dataset for i in measured} >= {"mnist", "fashion-mnist", "digits"}
    assert references.stale(results, zoo) == [], "re-measure: python benchmarks/reproduce.py --write"
    knn_hashes = {r["hash"] for d in results["datasets"].values() for r in d["knn"] if r.get("hash")}
    assert {i.metadata["hash"] for i in measured} <= knn_hashes  # so Latent space shows no "at training" row


def test_stale_names_a_model_whose_weights_changed():
    class Info:
        def __init__(self, name, dataset, content):
            self.name, self.dataset, self.metadata = name, dataset, {"hash": content}

    results = {"datasets": {"mnist": {}}, "models": {"mnist-a": "h1", "mnist-b": "h2"}}
    infos = [Info("mnist-a", "mnist", "h1"), Info("mnist-b", "mnist", "new"), Info("cifar-c", "cifar10", "h3")]
    assert references.stale(results, infos) == ["mnist-b"]  # cifar10 was not measured at all
    assert references.stale({"datasets": {"mnist": {}}}, infos[:1]) == ["mnist-a"]  # a report without hashes
