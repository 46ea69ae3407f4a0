"""The feature dashboard's analysis on hand-made codes: firing, L0, dead units, top images, densities, atoms
and the L0-vs-error frontier."""

from __future__ import annotations

import numpy as np
import pytest

from aeviz import features as ft

# 4 images x 3 units: unit 0 fires on images 0 and 2, unit 1 on every image, unit 2 never
CODES = np.array([[0.5, 1.0, 0.0], [0.0, 2.0, 0.0], [1.5, 0.5, 0.0], [0.0, 3.0, 0.0]], np.float32)


def test_firing_rates_l0_and_dead_units():
    assert ft.firing(CODES).tolist() == [[True, True, False], [False, True, False], [True, True, False]] + [
        [False, True, False]
    ]
    assert ft.firing_rates(CODES).tolist() == [0.5, 1.0, 0.0]
    assert ft.l0(CODES) == pytest.approx(1.5)  # 2, 1, 2, 1 units per image
    assert ft.dead_mask(CODES).tolist() == [False, False, True] and ft.dead_units(CODES) == 1
    assert ft.l0(CODES, threshold=1.0) == pytest.approx(0.75) and ft.dead_units(CODES, threshold=1.0) == 1
    assert ft.dead_units(np.zeros((0, 3))) == 3 and ft.l0(np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError, match=r"\(N, q\)"):
        ft.l0(np.zeros(3))


def test_a_sigmoid_unit_fires_above_one_half_others_above_zero():
    assert ft.firing_threshold("sigmoid") == 0.5
    assert ft.firing_threshold("relu") == ft.firing_threshold("linear") == 0.0
    sigmoid = np.array([[0.1, 0.9], [0.2, 0.6]])
    assert ft.l0(sigmoid, ft.firing_threshold("sigmoid")) == 1.0 and ft.l0(sigmoid) == 2.0
    assert ft.l0(np.array([[-0.3, 0.0]])) == 1.0  # a linear code fires either way


def test_top_activating_images_largest_first():
    assert ft.top_activating(CODES, 1, n=3).tolist() == [3, 1, 0]
    assert ft.top_activating(CODES, 0, n=2).tolist() == [2, 0]
    assert ft.top_activating(CODES, 2, n=2).tolist() == [0, 1]  # a dead unit: ties keep the image order


def test_activation_histogram_counts_only_firing_images():
    counts, edges = ft.activation_histogram(CODES, 1, bins=5)
    assert counts.sum() == 4 and edges[0] == 0.5 and edges[-1] == 3.0
    counts, edges = ft.activation_histogram(CODES, 0, bins=2)
    assert counts.tolist() == [1, 1] and edges.tolist() == [0.5, 1.0, 1.5]
    counts, edges = ft.activation_histogram(CODES, 2)
    assert len(counts) == 0 and len(edges) == 0


def test_log_densities_and_typical_activations():
    assert ft.log_densities(CODES).tolist() == pytest.approx([np.log10(0.5), 0.0])  # the dead unit left out
    assert ft.typical_activation(CODES).tolist() == pytest.approx([1.0, 1.625, 1.0])  # dead: 1


def test_unit_codes_switch_one_unit_on():
    codes = ft.unit_codes(4, [2, 0], [1.5, 3.0])
    assert codes.dtype == np.float32 and codes.tolist() == [[0, 0, 1.5, 0], [3.0, 0, 0, 0]]


def test_pareto_front_keeps_models_nothing_beats_on_both():
    l0s = [5, 10, 10, 20, 30]
    errors = [0.05, 0.03, 0.04, 0.03, 0.01]
    # (10, 0.04) is beaten by (10, 0.03); (20, 0.03) by (10, 0.03); the rest trade sparsity for error
    assert ft.pareto_front(l0s, errors).tolist() == [True, True, False, False, True]
    assert ft.pareto_front([3, 3], [0.1, 0.1]).tolist() == [True, True]  # equals do not beat each other
