"""A run whose loss turns NaN or climbs far above where it started is stopped and said so, never saved."""

from __future__ import annotations

import math

import pytest

from aeviz.cli.main import main
from aeviz.models import make_config
from aeviz.train import TrainConfig, TrainingDiverged, divergence, train

DIGITS = make_config("dense", bottleneck=4, input_shape=(1, 8, 8))


def test_nan_and_a_loss_far_above_its_start_are_divergence_and_a_falling_loss_is_not():
    assert "recon loss became NaN" in divergence({"recon": math.nan}, 0.7)
    assert "kl loss became infinite" in divergence({"recon": 0.5, "kl": math.inf}, 0.7)
    assert "5,000 times its starting value" in divergence({"recon": 3500.0}, 0.7)
    assert divergence({"recon": 0.2, "kl": 0.05}, 0.7) == ""
    assert divergence({"recon": 1.2}, 0.7) == ""  # a bad epoch is not a diverged run


def test_a_wobble_near_a_perfect_fit_is_not_divergence():
    """A linear AE as wide as the image reaches the identity (loss 6e-7) and wobbles to 1e-5: 19 times its best
    epoch, and a hundred-thousandth of where it started. The zoo build stopped it as diverged."""
    assert divergence({"recon": 1.09e-5}, 5.71e-7, untrained=0.07) == ""
    assert "rose to" in divergence({"recon": 1.09e-5}, 5.71e-7)  # without the untrained loss: the old rule
    assert "rose to" in divergence({"recon": 0.5}, 0.01, untrained=0.07)  # a real climb still stops it


@pytest.mark.slow  # 15 s
def test_a_linear_autoencoder_as_wide_as_the_image_trains_to_the_identity(tmp_path):
    config = make_config("linear", bottleneck=64, input_shape=(1, 8, 8), loss="mse")
    result = train("linear", config, "digits", TrainConfig(epochs=400, batch_size=64), out_dir=tmp_path, name="id")
    assert result.metadata["metrics"]["mse"] < 1e-4


def test_a_learning_rate_of_10_stops_in_its_first_epoch_and_returns_no_model(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"Training diverged in epoch 1.*learning rate 10.*Nothing was saved"):
        train("dense", DIGITS, "digits", TrainConfig(epochs=3, batch_size=64, lr=10), out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_default_learning_rate_trains_without_a_word():
    result = train("dense", DIGITS, "digits", TrainConfig(epochs=2, batch_size=64), save=False)
    assert [h["epoch"] for h in result.history] == [1, 2]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_cli_says_a_run_diverged_exits_3_and_saves_nothing(tmp_path, capsys):
    """`aeviz train --lr 10` used to print 'saved', exit 0 and leave a model of noise on every page."""
    code = main(["train", "--dataset", "digits", "--epochs", "2", "--lr", "10", "--out", str(tmp_path)])
    said = capsys.readouterr()
    assert code == 3
    assert "diverged in epoch 1" in said.err and "learning rate 10" in said.err and "saved" not in said.out
    assert list(tmp_path.iterdir()) == []
