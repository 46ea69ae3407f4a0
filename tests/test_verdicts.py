"""Rate-distortion sentences: computed from the series and PCA they are given, never a fixed text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aeviz import verdicts
from aeviz.baselines import PCABaseline, group_series
from aeviz.checkpoints import CheckpointInfo


def info(series: str, family: str, q: int, mse: float, hidden=()) -> CheckpointInfo:
    meta = {"family": family, "series": series, "dataset": "fake", "metrics": {"mse": mse},
            "config": {"bottleneck": q, "hidden": list(hidden), "code_activation": "linear"}}
    return CheckpointInfo(Path(f"/nowhere/fake-{series}-q{q}.safetensors"), meta, origin="zoo")


def pca(errors: dict[int, float]) -> PCABaseline:
    return PCABaseline("fake", np.zeros(4), np.eye(4), np.array(list(errors)), np.array(list(errors.values())))


def zoo(plain: dict[int, float], deep: dict[int, float]):
    infos = [info("dense-bce", "dense", q, e) for q, e in plain.items()]
    infos += [info("dense-h8x4-bce", "dense", q, e, hidden=(8, 4)) for q, e in deep.items()]
    return {s.name: s for s in group_series(infos)}


def test_the_pca_sentence_follows_the_numbers():
    series = zoo({2: 0.06, 4: 0.03, 8: 0.01}, {})
    text = verdicts.versus_pca(series["dense-bce"], pca({2: 0.05, 4: 0.04, 8: 0.03}))
    assert text == ("**dense** beats PCA at q = 4, 8, by up to 3.0× (q = 8: 0.0100 vs 0.0300); "
                    "PCA does as well or better at q = 2 (0.0500 vs 0.0600).")
    flipped = verdicts.versus_pca(series["dense-bce"], pca({2: 0.07, 4: 0.02, 8: 0.005}))
    assert flipped == ("**dense** beats PCA at q = 2, by 1.2× (0.0600 vs 0.0700); PCA does as well or better at "
                       "q = 4, 8 (q = 8: 0.0050 vs 0.0100).")


def test_never_small_gaps_and_no_shared_size():
    series = zoo({2: 0.06, 4: 0.04}, {})["dense-bce"]
    assert verdicts.versus_pca(series, pca({2: 0.05, 4: 0.03})).startswith("**dense** never beats PCA; PCA does")
    assert "by 4 % (0.0500 vs 0.0520)" in verdicts.versus_pca(zoo({2: 0.05}, {})["dense-bce"], pca({2: 0.052}))
    assert verdicts.versus_pca(series, pca({16: 0.01})) == ""


def test_deeper_against_plain_says_where_depth_loses():
    series = list(zoo({2: 0.06, 64: 0.004}, {2: 0.03, 64: 0.005}).values())
    assert verdicts.versus_plain(series) == [
        "**dense 8-4** beats dense at q = 2, by 2.0× (0.0300 vs 0.0600); dense does as well or better at q = 64 "
        "(0.0040 vs 0.0050)."]
    deeper_everywhere = list(zoo({2: 0.06, 64: 0.006}, {2: 0.03, 64: 0.005}).values())
    assert "does as well" not in verdicts.versus_plain(deeper_everywhere)[0]
    assert verdicts.versus_plain([s for s in series if s.arch == "dense"]) == []  # nothing to compare


def test_plain_dense_is_affine_only_without_hidden_layers():
    assert verdicts.plain_is_affine(list(zoo({2: 0.1}, {2: 0.1}).values()))
    hidden = group_series([info("dense-bce", "dense", 2, 0.1, hidden=(8,))])
    assert not verdicts.plain_is_affine(hidden) and not verdicts.plain_is_affine([])
