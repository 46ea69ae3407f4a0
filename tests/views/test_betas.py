"""The beta tab's figures and sentences, from a Collapse and rows made by hand."""

from __future__ import annotations

import json

import numpy as np

from aeviz.collapse import Collapse
from aeviz.views import betas


def collapse(kl, variance) -> Collapse:
    return Collapse(np.array(kl, dtype=np.float64), np.array(variance, dtype=np.float64))


def rows():
    meta = lambda mse, epochs, images: {"metrics": {"mse": mse}, "training": {"epochs": epochs}, "train_images": images}
    return [
        betas.row("b0.25", 0.25, collapse([3, 2, 1, 0.5], [1, 1, 0.5, 0.2]), meta(0.02, 3, 10_000), 9),
        betas.row("b1", 1.0, collapse([2, 1.5, 0.001, 0], [1, 1, 0.001, 0]), meta(0.03, 30, 60_000), 3),
        betas.row("b16", 16.0, collapse([0.5, 0, 0, 0], [0.3, 0, 0, 0]), meta(0.06, 3, 10_000), None),
    ]


def test_sentences_say_what_the_numbers_say():
    low, one, high = rows()
    assert (low.active, one.active, high.active) == (4, 2, 1) and one.kl_total == 3.501
    assert betas.chosen_sentence(one).startswith("At **β = 1**, **2 of 4** code dimensions are active")
    trend = betas.trend_sentence(rows())
    assert "From β = 0.25 to β = 16 the active dimensions go from 4 to 1" in trend
    assert "from 0.0200 to 0.0600 (3.0×, worse)" in trend
    assert betas.trend_sentence(rows()[:1]).startswith("Only one β")
    coverage = betas.coverage_sentence(rows(), 10_000)
    assert "β = 0.25: **9**, β = 1: **3**;" in coverage and "β = 16" not in coverage  # no 2-d sibling at 16
    recipe = betas.recipe_sentence(rows())
    assert recipe == (
        "Trained differently (β = 1: 30 epochs on 60,000 images; β = 0.25, 16: 3 epochs on 10,000 images): "
        "differences in MSE are partly the recipe's."
    )
    assert betas.recipe_sentence(rows()[::2]) is None  # one recipe: nothing to say


def test_the_figure_colours_active_dimensions_and_marks_the_chosen_beta():
    _, one, _ = rows()
    seen = collapse([2, 1.5, 0.001, 0], [1, 1, 0.001, 0])
    spec = json.loads(betas.collapse_figure(seen, rows(), 1.0).to_json())
    bars, line = spec["data"]
    assert bars["x"] == ["z0", "z1", "z2", "z3"] and bars["marker"]["color"].count(betas.ACTIVE) == 2
    assert line["y"] == [4, 2, 1] and line["marker"]["size"] == [7, 14, 7]
    assert betas.inert_dims(seen) == (0, 3)
