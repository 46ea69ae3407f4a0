"""Training recipes of the lessons: another set's images mixed into training, greedy layer-wise pre-training."""

from __future__ import annotations

import pytest
import torch

from aeviz import recipes
from aeviz.data import Dataset, load_dataset
from aeviz.models import build_model
from aeviz.train import TrainConfig, train


@pytest.mark.parametrize("spec", ["", "mnist", "mnist:0", "mnist:1", "mnist:x", ":0.1"])
def test_a_malformed_outliers_spec_is_refused_with_its_form(spec):
    with pytest.raises(ValueError, match="<dataset>:<share>"):
        recipes.parse_outliers(spec)
    if spec:  # "" is no outliers at all
        with pytest.raises(ValueError, match="<dataset>:<share>"):
            TrainConfig(outliers=spec)


def test_a_recipe_names_itself_in_the_slug():
    assert recipes.recipe_suffix("", 0) == ""
    assert recipes.recipe_suffix("fashion-mnist:0.05", 0) == "-outliers0.05"
    assert recipes.recipe_suffix("fashion-mnist:0.2", 3) == "-outliers0.2-stacked"


def _grey(name: str, value: float, n: int) -> Dataset:
    images = torch.full((n, 1, 8, 8), value)
    return Dataset(name, "train", images, torch.arange(n) % 3, ("a", "b", "c"), name)


def test_outliers_replace_exactly_their_share_of_random_images(monkeypatch):
    clean, other = _grey("ink", 0.0, 200), _grey("paper", 1.0, 50)
    monkeypatch.setattr(recipes, "load_dataset", lambda name, split: other)
    mixed = recipes.with_outliers(clean, "paper:0.1", seed=3)
    replaced = mixed.images.flatten(1).mean(1) == 1.0
    assert int(replaced.sum()) == 20 and (mixed.labels[replaced] == recipes.OUTLIER_LABEL).all()
    assert (mixed.labels[~replaced] >= 0).all() and torch.equal(clean.images, torch.zeros(200, 1, 8, 8))  # a copy
    assert torch.equal(recipes.with_outliers(clean, "paper:0.1", seed=3).labels, mixed.labels)  # seeded
    assert not torch.equal(recipes.with_outliers(clean, "paper:0.1", seed=4).labels, mixed.labels)
    assert "20 images (0.1) replaced by paper's" in mixed.source


def test_outliers_of_another_shape_are_refused(monkeypatch):
    other = Dataset("wide", "train", torch.zeros(5, 1, 8, 9), torch.zeros(5, dtype=torch.long), ("a",), "wide")
    monkeypatch.setattr(recipes, "load_dataset", lambda name, split: other)
    with pytest.raises(ValueError, match=r"wide's images are \(1, 8, 9\)"):
        recipes.with_outliers(_grey("ink", 0.0, 20), "wide:0.5", seed=0)


def test_layerwise_pretraining_trains_each_layer_pair_alone_first():
    x = load_dataset("digits", "train").images[:512]
    model = build_model("dense", input_shape=(1, 8, 8), hidden=(32,), bottleneck=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    recon = lambda: float(model(x).losses["recon"].detach())
    untrained = recon()
    layers = recipes.pretrain_layerwise(model, x, epochs=20, batch_size=64, lr=1e-2, seed=0)
    assert [row["layer"] for row in layers] == [1, 2]
    assert all(not torch.equal(before[k], v) for k, v in model.state_dict().items())  # every weight moved
    # the outer pair alone rebuilds pixels; stacked on the inner one, the whole net already does better than chance
    assert recon() < untrained
    assert layers[0]["loss"] < untrained


@pytest.mark.parametrize("fields", [{"weights": "tied", "hidden": (16,)}, {"arch": "conv", "channels": (4,)}])
def test_layerwise_pretraining_needs_a_free_dense_net(fields):
    model = build_model("dense", input_shape=(1, 8, 8), bottleneck=4, **fields)
    with pytest.raises(ValueError, match="dense model with free weights"):
        recipes.pretrain_layerwise(model, torch.rand(8, 1, 8, 8), 1, 4, 1e-3, 0)


def test_a_stacked_model_is_named_and_records_its_pretraining(tmp_path):
    config = build_model("dense", input_shape=(1, 8, 8), hidden=(16,), bottleneck=4).config
    result = train("dense", config, "digits", TrainConfig(epochs=1, pretrain_epochs=2), out_dir=tmp_path)
    assert result.metadata["name"] == "digits-dense-h16-q4-bce-stacked"
    assert result.metadata["series"] == "dense-h16-bce-stacked"
    assert [row["layer"] for row in result.metadata["pretraining"]] == [1, 2]
    assert result.metadata["training"]["pretrain_epochs"] == 2


@pytest.mark.slow
@pytest.mark.needs_data("mnist", "fashion-mnist")
def test_mnist_trained_with_fashion_outliers_says_so(tmp_path):
    config = build_model("dense", bottleneck=4).config
    recipe = TrainConfig(epochs=1, subset=500, outliers="fashion-mnist:0.1")
    result = train("dense", config, "mnist", recipe, out_dir=tmp_path)
    assert result.metadata["name"] == "mnist-dense-q4-bce-outliers0.1"
    assert "50 images (0.1) replaced by fashion-mnist's" in result.metadata["data_source"]
