"""The reproduction of published figures: rank statistics, tables, and the stored results the app shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aeviz import reproduce


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
    assert reproduce.load_results() is None
    reproduce.results_path().write_text(json.dumps({"datasets": {}}))
    assert reproduce.load_results() == {"datasets": {}}
    reproduce.results_path().write_text("{broken")
    assert reproduce.load_results() is None
