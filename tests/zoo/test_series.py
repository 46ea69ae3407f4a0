"""The zoo's series of models across bottleneck sizes, grouped from the real zoo and compared with PCA."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aeviz import list_checkpoints
from aeviz.checkpoints import ORIGINS, SESSION
from aeviz.pca import pca_baseline
from aeviz.zoo.series import across_sizes, arch_label, group_series, split_series


def test_zoo_series_group_by_architecture_and_loss():
    series = {s.name: s for s in group_series(list_checkpoints(dataset="mnist"))}
    assert list(series)[0] == "dense-bce" and "dense-h256x128-bce" in series
    assert {"conv-bce", "vae-h256-bce", "vae-conv-bce", "dense-mse"} <= set(series)
    assert not any(name.startswith(("sparse", "denoising", "linear", "contractive")) for name in series)
    assert series["dense-bce"].sizes == (2, 4, 8, 16, 32, 64, 1024)  # 1024: the identity lesson's over-complete one
    assert series["dense-bce-tied"].sizes == (16,) and series["dense-bce-tied"].arch == "dense-tied"  # a variant
    assert {2, 8} <= set(series["conv-bce"].sizes) and not {4, 64} & set(series["conv-bce"].sizes)  # gaps
    assert series["conv-bce"].at(4) is None and series["conv-bce"].at(8).bottleneck == 8
    assert series["dense-mse"].loss == "mse" and series["dense-mse"].arch == "dense"
    digits = {s.name: s for s in group_series(list_checkpoints(dataset="digits"))}
    assert digits["dense-bce"].sizes == (2, 4, 8, 16, 128)  # 128: the over-complete one of the identity lesson


def test_a_comparison_across_sizes_leaves_out_one_size_zoo_variants_but_never_a_viewers_own_model():
    infos = list_checkpoints(dataset="mnist")
    shown = across_sizes(group_series(infos))
    names = [s.name for s in shown]
    dense = next(s for s in shown if s.name == "dense-bce")
    assert dense.sizes == (2, 4, 8, 16, 32, 64)  # q = 1024 is no bottleneck: the Error gallery's identity lesson
    assert "vae-h256-bce" in names and not any("beta" in n for n in names)  # the beta-VAEs: the VAE page's
    assert "dense-mse" in names  # one size too, but an architecture with several: the page's loss choice
    beta4 = next(i for i in infos if i.name == "mnist-vae-h256-q16-bce-beta4")
    mine = replace(beta4, origin=SESSION)  # the same one-size series, trained by the viewer
    asked = group_series([*infos, mine], prefer=ORIGINS[::-1])  # "use models trained here" (the page's toggle)
    assert "vae-h256-bce-beta4" in [s.name for s in across_sizes(asked)]


def test_series_names_and_labels():
    assert split_series("dense-h256x128-bce") == ("dense-h256x128", "bce")
    assert split_series("vae-conv-bce-beta4") == ("vae-conv-beta4", "bce")
    assert arch_label("dense-h256x128") == "dense 256-128" and arch_label("vae-conv") == "VAE conv"


@pytest.mark.slow
def test_mnist_deeper_dense_beats_pca_by_far_where_the_plain_one_only_matches_it():
    pca = pca_baseline("mnist")  # fits on 60k train images: a few seconds
    assert pca.mse(2) == pytest.approx(0.0555, abs=5e-4)
    series = {s.name: s for s in group_series(list_checkpoints(dataset="mnist"))}

    def beats_pca(name: str) -> tuple[list[int], list[int]]:
        """The q's where the series' test MSE is below PCA's, and those where PCA does at least as well."""
        wins: list[int] = []
        losses: list[int] = []
        for m in (m for m in series[name].models if pca.mse(m.bottleneck) is not None):  # PCA stops at the pixels
            (wins if m.metrics["mse"] < pca.mse(m.bottleneck) else losses).append(m.bottleneck)
        return wins, losses

    plain_wins, plain_losses = beats_pca("dense-bce")
    deep_wins, deep_losses = beats_pca("dense-h256x128-bce")
    assert 2 in deep_wins and 8 in plain_wins
    plain2, deep2 = (
        next(m.metrics["mse"] for m in series[n].models if m.bottleneck == 2)
        for n in ("dense-bce", "dense-h256x128-bce")
    )
    assert plain2 == pytest.approx(pca.mse(2), rel=0.02)  # the plain one (cosine recipe) only matches PCA at q=2
    assert deep2 < 0.75 * pca.mse(2)  # the deeper one beats it by far
