"""The feature dashboard's views: a model's Dictionary, a unit's pictures and sentences, the frontier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeviz import list_checkpoints, load_checkpoint, load_dataset
from aeviz.metrics import decode_all, encode_all
from aeviz.models import build_model
from aeviz.views import features as view
from aeviz.zoo import catalog


@pytest.fixture(scope="module")
def topk():
    """An untrained TopK model (16 units, k=3) on 8x8 digits, with a unit no image can turn on."""
    torch.manual_seed(0)
    model = build_model("sparse", bottleneck=16, input_shape=(1, 8, 8), sparsity="topk", topk=3).eval()
    with torch.no_grad():
        model.encoder[-1].weight[5] = 0.0
        model.encoder[-1].bias[5] = -1.0  # unit 5: always negative, never among the ReLU's survivors
    images = load_dataset("digits", "test").images[:200]
    return model, encode_all(model, images), images.numpy()


def test_a_dictionary_counts_firing_dead_units_and_draws_every_atom(topk):
    model, codes, _ = topk
    d = view.dictionary(model, codes, "relu")
    assert d.units == 16 and d.threshold == 0.0
    assert np.allclose(d.rates, (codes > 0).mean(0)) and d.rates[5] == 0
    assert d.dead == int(((codes > 0).sum(0) == 0).sum()) >= 1 and d.l0 <= 3
    assert d.rates[d.order[0]] == d.rates.max() and d.rates[d.order[-1]] == 0  # most often first, dead last
    assert d.alone.shape == (16, 1, 8, 8) and d.blank.shape == (1, 8, 8)
    one = np.zeros((1, 16), np.float32)
    one[0, 2] = d.typical[2]
    assert np.allclose(d.alone[2], decode_all(model, one)[0])
    assert d.typical[5] == 1.0


def test_a_units_pictures_and_sentence(topk):
    model, codes, images = topk
    d = view.dictionary(model, codes, "relu")
    live = int(d.order[0])
    atom = view.atom_picture(d, live)
    assert atom.ndim == 3 and atom.shape[2] == 3 and atom.dtype == np.uint8
    top = view.top_picture(d, codes, images, live)
    assert top is not None and top.shape[2] == 3
    assert view.top_picture(d, codes, images, 5) is None  # a dead unit has no top images
    fired = int((codes[:, live] > 0).sum())
    sentence = view.unit_sentence(d, live, len(codes))
    assert f"fires on {fired:,} of the 200 test images" in sentence and "more often than any other" in sentence
    assert "dead unit" in view.unit_sentence(d, 5, len(codes))
    second = view.unit_sentence(d, int(d.order[1]), len(codes))
    assert "the 2nd most often of 16 units" in second
    text = view.dictionary_sentence(d, 64)
    assert "fewer units than the 64 pixels" in text and f"**{d.dead:,} are dead**" in text
    assert "overcomplete" in view.dictionary_sentence(d, 10)


def test_the_density_histogram_holds_every_firing_image(topk):
    _, codes, _ = topk
    d = view.dictionary(topk[0], codes, "relu")
    unit = int(d.order[0])
    fig = view.density_figure(codes, d, unit)
    assert sum(fig.data[0].y) == int((codes[:, unit] > 0).sum())
    assert len(view.density_figure(codes, d, 5).data[0].y) == 0


def test_the_frontier_names_who_beats_whom():
    points = [
        view.Point("a", "TopK k=8", "topk", 8.0, 0.02),
        view.Point("b", "TopK k=32", "topk", 32.0, 0.01),
        view.Point("c", "L1 λ=0.0001", "l1", 60.0, 0.015),
        view.Point("d", "KL ρ=0.05", "kl", 12.0, 0.03),
    ]
    text = view.frontier_sentence(points)
    assert text.startswith("On the frontier: TopK k=8, TopK k=32.")
    assert "L1 λ=0.0001 is beaten by TopK k=32: 32.0 active units against 60.0, test MSE 0.0100 against 0.0150" in (
        text
    )
    assert "KL ρ=0.05 is beaten by TopK k=8" in text
    fig = view.frontier_figure(points, "b")
    assert [t.name for t in fig.data] == ["frontier", "TopK", "L1", "KL"]
    assert list(fig.data[0].x) == [8.0, 32.0]
    assert "second sparse model" in view.frontier_sentence(points[:1])
    assert view.point_label("sparse", {"sparsity": "topk", "topk": 32}) == ("TopK k=32", "topk")
    assert view.point_label("sparse", {"l1": 1e-4}) == ("L1 λ=0.0001", "l1")
    assert view.point_label("dense", {}) == ("dense", "dense")


def test_the_zoos_sparse_models_are_on_the_dashboard_with_their_real_codes():
    infos = catalog.feature_models(list_checkpoints(dataset="digits"))
    assert infos and all(i.family == "sparse" for i in infos[:2])
    info = infos[0]
    images = load_dataset("digits", "test").images
    model = load_checkpoint(info.path)
    d = view.dictionary(model, encode_all(model, images), info.config["code_activation"])
    assert d.units == info.bottleneck and 0 < d.l0 <= d.units
