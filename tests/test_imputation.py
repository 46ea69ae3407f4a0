"""Imputation: the hidden block is the occlusion noise's block, scored on the hidden pixels only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aeviz.data import load_dataset
from aeviz.imputation import BLACK, MEAN_IMAGE, fill_errors, imputation_sentence
from aeviz.noise import add_noise, occlusion_mask


class Fills(nn.Module):
    """A model that fills in a fixed picture everywhere (or, with picture None, returns its input)."""

    def __init__(self, picture: torch.Tensor | None) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # a parameter: reconstruct_all finds the device by it
        self.picture = picture

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.picture is None else self.picture.expand_as(x).clone()


@pytest.mark.parametrize("area", [0.05, 0.25, 0.5])
def test_the_mask_is_the_block_occlusion_noise_blacks_out(area):
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 0.9 + 0.1  # no pixel already black
    mask = occlusion_mask(x, area, seed=3)
    assert torch.equal(x.masked_fill(mask, 0.0), add_noise(x, "occlusion", area, seed=3))
    assert mask.shape == (6, 1, 8, 8) and 0 < int(mask[0].sum()) <= 64 * area + 8


def test_each_fill_is_scored_on_the_hidden_pixels_only():
    test = load_dataset("digits", "test").images[:200]
    mean = load_dataset("digits", "train").images.mean(0)
    fills = {"mean": Fills(mean), "copy": Fills(None), "truth-free": Fills(torch.ones(1, 8, 8))}
    errors = fill_errors(fills, test, mean.numpy().ravel())  # flat, as the PCA baseline keeps it
    assert errors["mean"] == pytest.approx(errors[MEAN_IMAGE])  # a model drawing the mean image scores it
    assert errors["copy"] == pytest.approx(errors[BLACK])  # one that copies its input leaves the block black
    hidden = occlusion_mask(test, 0.25, seed=0).expand_as(test)
    assert errors[BLACK] == pytest.approx(float(test[hidden].pow(2).mean().sqrt()))  # the hidden pixels alone
    assert errors["truth-free"] == pytest.approx(float((1 - test[hidden]).pow(2).mean().sqrt()))


def test_the_sentence_says_whether_the_best_fill_beats_the_mean_image():
    better = imputation_sentence({"occluded-trained": 0.2, "plain": 0.4, MEAN_IMAGE: 0.3, BLACK: 0.5})
    assert "**occluded-trained** fills it best, RMSE 0.200" in better and "closer than the mean training" in better
    assert "plain 0.400" in better and "0.500" in better and "no closer" not in better
    worse = imputation_sentence({"gaussian-trained": 0.35, MEAN_IMAGE: 0.3, BLACK: 0.5})
    assert "no closer than the mean training image (0.300)" in worse
    assert imputation_sentence({MEAN_IMAGE: 0.3, BLACK: 0.5}) == ""  # no model: nothing to say
