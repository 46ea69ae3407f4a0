"""The articles' lessons that need no model: the curse-of-dimensionality table and PCA's memory against an AE's."""

from __future__ import annotations

import math

import pytest

from aeviz import lessons
from aeviz.models import build_model


def test_the_nearest_neighbour_is_a_thirtieth_of_the_typical_distance_in_two_dimensions():
    row = lessons.curse_row(2, points=1000, seed=0)
    # unit square: E|x - y| = 0.5214 for two uniform points; the nearest of 999 lies about 0.5 / sqrt(1000) away
    assert row.mean == pytest.approx(0.5214, abs=0.01)
    assert row.nearest == pytest.approx(0.5 / math.sqrt(1000), rel=0.15)
    assert 0.028 < row.ratio < 0.034  # the article prints 0.003: off by a factor of ten
    assert lessons.curse_row(2, points=1000, seed=0) == row  # seeded


def test_in_many_dimensions_nearest_and_typical_distances_meet():
    rows = lessons.curse_table((2, 10, 1000), points=300)
    ratios = [r.ratio for r in rows]
    assert ratios == sorted(ratios) and ratios[-1] > 0.9
    sentence = lessons.curse_sentence(rows)
    assert f"{ratios[0]:.3f} of the typical distance away in d = 2" in sentence
    assert f"The article prints 0.003 for d = 2; recomputed, {ratios[0]:.3f}" in sentence


def test_pca_memory_is_d_squared_and_the_autoencoders_is_its_parameter_count():
    small = lessons.Memory(784, 16, (256,))
    assert small.pca == 784**2
    model = build_model("dense", bottleneck=16, hidden=(256,))
    assert small.autoencoder == sum(p.numel() for p in model.parameters())  # the zoo's dense net, counted
    large = lessons.Memory(256 * 256 * 3, 16, (256,))
    sentence = lessons.memory_sentence(small, large, "256×256 colour images")
    assert "614,656 numbers (2.5 MB)" in sentence and f"{large.pca / large.autoencoder:,.0f}×" in sentence
    assert large.pca / large.autoencoder > 300 > small.pca / small.autoencoder


def _row(model, q, data_mse, noise_mse, pixels=64, regulariser="no regulariser"):
    return {
        "model": model,
        "regulariser": regulariser,
        "q": q,
        "pixels": pixels,
        "data_mse": data_mse,
        "noise_mse": noise_mse,
        "noise_var": 0.08,
    }


def test_the_identity_risk_is_read_from_the_measured_errors():
    rows = [
        _row("digits-dense-q16-bce", 16, 0.009, 0.20),
        _row("digits-linear-q64-mse", 64, 0.0000002, 0.02),  # redraws 75 % of the noise: a copier
        _row("digits-dense-q128-bce", 128, 0.0019, 0.18),  # room to copy, and draws digits instead
        _row("digits-sparse-q128-bce-top8", 128, 0.0104, 0.15, regulariser="TopK (k = 8)"),
    ]
    text = lessons.identity_sentence(rows, "digit")
    assert text.startswith(
        "digits-linear-q64-mse (q = 64 for 64 pixels, no regulariser; test digits MSE 2.0e-07) redraws 75 % of "
        "uniform noise: it learned to copy"
    )
    assert "With as much room or more, these redraw none of it: digits-dense-q128-bce (no regulariser; nothing " in text
    assert "digits-sparse-q128-bce-top8 (TopK (k = 8))." in text
    assert text.endswith("An undercomplete code for comparison: digits-dense-q16-bce (q = 16): none.")
    partly = lessons.identity_sentence([*rows[2:], _row("digits-x-q128-bce", 128, 0.01, 0.07)], "digit")
    assert partly.startswith(
        "None of them copies noise; these redraw at most 12 %: digits-dense-q128-bce (no regulariser)"
    )
    assert "almost exactly" not in partly  # none of these rebuilds the digits to 1e-4
    exact = lessons.identity_sentence([_row("mnist-linear-q784-mse", 784, 0.0000112, 0.0536, pixels=784)], "digit")
    assert exact.endswith(
        "mnist-linear-q784-mse rebuilds the test digits almost exactly (MSE 1.1e-05) and still redraws only 33 % of "
        "uniform noise: it copies along the directions its training digits vary in, not the others."
    )
    assert lessons.identity_sentence(rows[:1]) == ""  # no over-complete model: nothing to say
    table = lessons.identity_table_rows({"datasets": {"digits": {"identity": rows}}})
    assert len(table) == 1 and table[0]["ours"].startswith(
        "share of uniform noise redrawn (R²): digits-linear-q64-mse 75 %"
    )
    assert "digits-sparse-q128-bce-top8 (TopK (k = 8)) none" in table[0]["ours"]
    assert lessons.identity_table_rows({"datasets": {"digits": {"identity": rows[3:]}}}) == []  # no plain one


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("digits-dense-q128-bce", "no regulariser"),
        ("digits-denoising-q128-bce-gaussian0.5", "training noise"),
        ("digits-contractive-q128-bce", "a contractive penalty"),
        ("digits-sparse-q64-bce-kl0.05", "a KL sparsity penalty"),
        ("digits-sparse-q64-bce", "an L1 sparsity penalty"),
        ("mnist-sparse-q1024-bce-top16", "TopK (k = 16)"),
    ],
)
def test_what_keeps_a_zoo_model_from_copying_is_read_from_its_config(name, what):
    from aeviz import list_checkpoints

    (info,) = [i for i in list_checkpoints(dataset=name.split("-")[0]) if i.name == name]
    assert lessons.regulariser(info.family, info.config) == what


def test_weight_regularisers_are_named_too():
    assert lessons.regulariser("dense", {"weights": "tied", "l2": 1e-4}) == "tied weights and L2 weight decay"
    assert lessons.regulariser("dense", {"weights": "free", "l2": 0.0}) == "no regulariser"


def test_the_overcomplete_sparse_lesson_reads_the_shipped_models_diagnostics():
    from aeviz import list_checkpoints

    infos = list_checkpoints(dataset="digits")
    rows = lessons.overcomplete_rows(infos)
    assert len(rows) == 1 and rows[0]["lesson"].startswith("An over-complete sparse code (q > 64 pixels)")
    top8 = next(i for i in infos if i.name == "digits-sparse-q128-bce-top8")
    seen = top8.metadata["history"][-1]["diagnostics"]
    assert f"TopK (k = 8): L0 {seen['l0']:.1f}, {int(seen['dead_units'])} dead" in rows[0]["ours"]
    assert seen["l0"] <= 8.0  # TopK: at most k units fire


def test_the_imputation_row_ranks_the_fills_beside_the_mean_image():
    from aeviz.imputation import BLACK, MEAN_IMAGE

    measured = [
        {"fill": "digits-dense-q16-bce", "noise": None, "area": 0.25, "rmse": 0.45},
        {"fill": "digits-denoising-q16-bce-occlusion0.25", "noise": "occlusion:0.25", "area": 0.25, "rmse": 0.2},
        {"fill": MEAN_IMAGE, "noise": None, "area": 0.25, "rmse": 0.31},
        {"fill": BLACK, "noise": None, "area": 0.25, "rmse": 0.56},
    ]
    (row,) = lessons.imputation_table_rows({"datasets": {"digits": {"imputation": measured}}})
    assert "a hidden block of 25 % (digits)" in row["lesson"] and row["where"] == "Denoising, Occlusion noise"
    assert row["ours"] == (
        "RMSE on the hidden pixels: digits-denoising-q16-bce-occlusion0.25 (occlusion:0.25) 0.200; "
        "digits-dense-q16-bce (no noise) 0.450; the mean training image 0.310"
    )
    assert lessons.imputation_table_rows({"datasets": {"digits": {"imputation": measured[2:]}}}) == []


def test_the_keras_recipe_row_reads_the_shipped_model():
    from aeviz import choices
    from aeviz.checkpoints import scan_checkpoints

    rows = choices.recipe_rows(scan_checkpoints()[0])
    assert [r["lesson"] for r in rows] == ["The Keras tutorial's recipe, 784-64-784 (fashion-mnist)"]
    (row,) = rows
    assert row["ours"].startswith("fashion-mnist-dense-q64-mse-relucode: test MSE 0.0")
    assert "10 epochs" in row["published"] and "not stored here" in row["published"]
