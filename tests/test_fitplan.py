"""A batch larger than the training set is shrunk, and a run of too few steps is warned of (aeviz.fitplan)."""

from __future__ import annotations

import pytest

from aeviz.fitplan import MIN_STEPS, adapt
from aeviz.train import TrainConfig


def test_an_80_image_upload_at_batch_256_trains_with_batches_of_8_and_is_told_so():
    config, notes = adapt(64, TrainConfig(epochs=30, batch_size=256))  # 80 images: 64 train, 16 test
    assert config.batch_size == 8 and config.epochs == 30
    assert "Batch size 256 is larger than the 64 training images (1 step an epoch)" in notes[0]
    assert "batch size 8 instead (8 steps an epoch)" in notes[0]
    assert "240 training steps in all" in notes[1]  # 30 epochs of 8: still fewer than MIN_STEPS, said


def test_a_run_of_enough_steps_is_left_alone():
    config = TrainConfig(epochs=5, batch_size=64, subset=5000)  # 79 steps an epoch, 395 in all
    assert adapt(5000, config) == (config, [])


def test_too_few_steps_in_all_are_warned_of_with_the_epochs_that_would_do():
    config, notes = adapt(10_000, TrainConfig(epochs=2, batch_size=256))
    assert config.batch_size == 256 and len(notes) == 1
    assert "Only 80 training steps in all (2 epochs of 40 steps)" in notes[0] and "About 8 epochs" in notes[0]
    assert str(MIN_STEPS) in notes[0]


def test_a_model_no_better_than_the_mean_image_is_said_to_have_learnt_nothing():
    import torch

    from aeviz.fitplan import mean_image_mse, unlearnt

    train, test = torch.rand(50, 1, 4, 4), torch.rand(20, 1, 4, 4)
    baseline = mean_image_mse(train, test)
    assert baseline == pytest.approx(float(((test - train.mean(0)) ** 2).mean()))
    assert "has not learnt to tell the images apart" in unlearnt(0.068, 0.0676)
    assert unlearnt(0.036, 0.0676) == ""


def test_an_80_image_set_at_batch_256_trains_and_says_it_learnt_little(tmp_path):
    """The issue's upload: one step an epoch, flat grey, kNN below chance, and no hint; now the batch shrinks
    and whatever the model learnt is measured against the mean image."""
    from aeviz.models import make_config
    from aeviz.train import train

    heard = []
    result = train(
        "dense",
        make_config("dense", bottleneck=2, input_shape=(1, 8, 8)),
        "digits",
        TrainConfig(epochs=2, batch_size=256, subset=64),
        save=False,
        on_note=heard.append,
    )
    assert result.metadata["training"]["batch_size"] == 8 and heard[0].startswith("Batch size 256 is larger")
    assert result.metadata["notes"] == heard and 0 < result.metadata["mean_image_mse"] < 1
