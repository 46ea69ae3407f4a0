"""Tied weights (each decoder layer its mirror encoder layer transposed) and L2 weight decay, in the dense family."""

from __future__ import annotations

import pytest
import torch

from aeviz.checkpoints import load_checkpoint, save_checkpoint
from aeviz.models import build_model, make_config, model_slug
from aeviz.nets import TiedLinear
from aeviz.webdecoder import WebDecoder, export


def tied(**fields):
    return build_model("dense", bottleneck=4, hidden=(16,), input_shape=(1, 8, 8), weights="tied", **fields)


def test_the_decoder_reads_the_encoders_weights_transposed_and_owns_only_its_biases():
    torch.manual_seed(0)
    model, free = tied(), build_model("dense", bottleneck=4, hidden=(16,), input_shape=(1, 8, 8))
    encoders = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    decoders = [m for m in model.decoder if isinstance(m, TiedLinear)]
    assert len(decoders) == 2
    for layer, mirror in zip(decoders, reversed(encoders), strict=True):
        assert layer.weight.data_ptr() == mirror.weight.data_ptr()  # the same storage, not a copy
        assert torch.equal(layer.weight, mirror.weight.t())
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(free) - count(model) == 64 * 16 + 16 * 4  # the decoder's two weight matrices, gone
    assert not any(k.startswith("decoder") and k.endswith("weight") for k in model.state_dict())


def test_one_step_moves_the_shared_weight_for_both_halves():
    torch.manual_seed(0)
    model = tied()
    x = torch.rand(32, 1, 8, 8)
    model(x).loss.backward()
    first = model.encoder[1]
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0
    before = model.decoder[-2].weight.clone()
    with torch.no_grad():
        first.weight.add_(1.0)
    assert torch.equal(model.decoder[-2].weight, before + 1.0)  # the decoder sees the encoder's change


def test_a_tied_model_round_trips_and_stays_tied(tmp_path):
    torch.manual_seed(0)
    model = tied()
    path = save_checkpoint(tmp_path / "tied.safetensors", model, {"dataset": "digits"})
    loaded = load_checkpoint(path)
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(loaded.reconstruct(x), model.eval().reconstruct(x))
    assert loaded.decoder[-2].weight.data_ptr() == loaded.encoder[1].weight.data_ptr()
    assert isinstance(export(loaded), WebDecoder)  # the browser's decoder takes the transposed weight too


def test_l2_is_a_named_loss_part_counting_each_weight_once():
    torch.manual_seed(0)
    model = tied(l2=1e-3)
    out = model(torch.rand(8, 1, 8, 8))
    squares = sum(m.weight.pow(2).sum() for m in model.encoder if isinstance(m, torch.nn.Linear))
    assert out.losses["l2"].item() == pytest.approx(1e-3 * squares.item(), rel=1e-6)
    assert "l2" not in build_model("dense", bottleneck=4, input_shape=(1, 8, 8))(torch.rand(2, 1, 8, 8)).losses


def test_configs_slugs_and_refusals():
    config = make_config("dense", bottleneck=16, hidden=(256,), weights="tied", l2=1e-4)
    assert model_slug("dense", config) == "dense-h256-q16-bce-tied-l20.0001"
    assert model_slug("dense", make_config("dense", bottleneck=16)) == "dense-q16-bce"  # unchanged
    with pytest.raises(ValueError, match="weights must be"):
        make_config("dense", weights="shared")
    with pytest.raises(ValueError, match="l2 must be"):
        make_config("dense", l2=-1.0)
