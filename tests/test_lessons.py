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
