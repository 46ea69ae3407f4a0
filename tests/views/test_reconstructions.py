"""Rate-distortion sentences: computed from the series and PCA they are given, never a fixed text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aeviz import list_checkpoints, load_checkpoint, load_dataset
from aeviz.checkpoints import CheckpointInfo
from aeviz.metrics import image_errors
from aeviz.pca import PCABaseline, pca_baseline
from aeviz.views import reconstructions as view
from aeviz.zoo.series import group_series


def info(series: str, family: str, q: int, mse: float, hidden=()) -> CheckpointInfo:
    meta = {
        "family": family,
        "series": series,
        "dataset": "fake",
        "metrics": {"mse": mse},
        "config": {"bottleneck": q, "hidden": list(hidden), "code_activation": "linear"},
    }
    return CheckpointInfo(Path(f"/nowhere/fake-{series}-q{q}.safetensors"), meta, origin="zoo")


def pca(errors: dict[int, float]) -> PCABaseline:
    return PCABaseline("fake", np.zeros(4), np.eye(4), np.array(list(errors)), np.array(list(errors.values())))


def zoo(plain: dict[int, float], deep: dict[int, float]):
    infos = [info("dense-bce", "dense", q, e) for q, e in plain.items()]
    infos += [info("dense-h8x4-bce", "dense", q, e, hidden=(8, 4)) for q, e in deep.items()]
    return {s.name: s for s in group_series(infos)}


def test_the_pca_sentence_follows_the_numbers():
    series = zoo({2: 0.06, 4: 0.03, 8: 0.01}, {})
    text = view.versus_pca(series["dense-bce"], pca({2: 0.05, 4: 0.04, 8: 0.03}))
    assert text == (
        "**dense** beats PCA at q = 4, 8, by up to 3.0× (q = 8: 0.0100 vs 0.0300); "
        "PCA does as well or better at q = 2 (0.0500 vs 0.0600)."
    )
    flipped = view.versus_pca(series["dense-bce"], pca({2: 0.07, 4: 0.02, 8: 0.005}))
    assert flipped == (
        "**dense** beats PCA at q = 2, by 1.2× (0.0600 vs 0.0700); PCA does as well or better at "
        "q = 4, 8 (q = 8: 0.0050 vs 0.0100)."
    )


def test_never_small_gaps_and_no_shared_size():
    series = zoo({2: 0.06, 4: 0.04}, {})["dense-bce"]
    assert view.versus_pca(series, pca({2: 0.05, 4: 0.03})).startswith("**dense** never beats PCA; PCA does")
    assert "by 4 % (0.0500 vs 0.0520)" in view.versus_pca(zoo({2: 0.05}, {})["dense-bce"], pca({2: 0.052}))
    assert view.versus_pca(series, pca({16: 0.01})) == ""


def test_deeper_against_plain_says_where_depth_loses():
    series = list(zoo({2: 0.06, 64: 0.004}, {2: 0.03, 64: 0.005}).values())
    assert view.versus_plain(series) == [
        "**dense 8-4** beats dense at q = 2, by 2.0× (0.0300 vs 0.0600); dense does as well or better at q = 64 "
        "(0.0040 vs 0.0050)."
    ]
    deeper_everywhere = list(zoo({2: 0.06, 64: 0.006}, {2: 0.03, 64: 0.005}).values())
    assert "does as well" not in view.versus_plain(deeper_everywhere)[0]
    assert view.versus_plain([s for s in series if s.arch == "dense"]) == []  # nothing to compare


def test_plain_dense_is_affine_only_without_hidden_layers():
    assert view.plain_is_affine(list(zoo({2: 0.1}, {2: 0.1}).values()))
    hidden = group_series([info("dense-bce", "dense", 2, 0.1, hidden=(8,))])
    assert not view.plain_is_affine(hidden) and not view.plain_is_affine([])


def test_reconstruction_grid_rows_labels_and_gaps():
    test = load_dataset("digits", "test")
    images = test.images[:5].numpy()
    conv = next(s for s in group_series(list_checkpoints(dataset="digits")) if s.name == "conv-bce")
    sizes = [2, 4, 8]
    models = {q: load_checkpoint(info.path) if (info := conv.at(q)) else None for q in sizes}
    pca = pca_baseline("digits")
    grid = view.reconstruction_grid(images, [f"#{i}" for i in range(5)], conv, models, pca, sizes)
    assert grid.row_labels == [
        "original",
        "conv q=2",
        "PCA q=2",
        "conv q=4: not trained",
        "PCA q=4",
        "conv q=8",
        "PCA q=8",
    ]
    assert [len(r) for r in grid.rows] == [5, 5, 5, 0, 5, 5, 5] and grid.cell_labels[3] == []
    model_errors = image_errors(images, models[8].reconstruct(torch.from_numpy(images)).numpy())
    assert grid.cell_labels[5] == [f"{e:.4f}" for e in model_errors]
    assert float(grid.cell_labels[6][0]) == pytest.approx(
        image_errors(images[:1], pca.reconstruct(images[:1], 8))[0], abs=1e-4
    )


def test_rate_distortion_figure_has_a_trace_per_series_and_pca():
    series = group_series(list_checkpoints(dataset="digits"))
    fig = view.rate_distortion_figure(series, pca_baseline("digits"), highlight="conv-bce")
    names = [t.name for t in fig.data]
    assert names == [s.label for s in series] + ["PCA"]
    conv = fig.data[names.index("conv")]
    assert list(conv.x) == list(series[names.index("conv")].sizes) and conv.line.width > fig.data[0].line.width
    assert list(conv.y) == [m.metrics["mse"] for m in series[names.index("conv")].models]
    assert max(fig.data[-1].x) == 32 < max(q for s in series for q in s.sizes)  # not PCA's lossless q=64
