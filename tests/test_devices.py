"""Devices, seeding, the optimizer and batch gathering: what the trainer's speed rests on must not change results."""

from __future__ import annotations

import pytest
import torch

from aeviz.devices import (
    adam,
    device_name,
    gather,
    keep_freed_memory,
    memory_format,
    pick_device,
    seeded,
    set_lr,
)
from aeviz.models import build_model


def test_pick_device_and_its_name():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in {"cpu", "cuda", "mps"}
    assert device_name(torch.device("cpu")).startswith("CPU (")


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gather_equals_indexing_and_keeps_the_layout(layout):
    data = torch.rand(50, 1, 8, 8).to(memory_format=layout)
    index = torch.tensor([7, 0, 49, 7, 3])
    batch = gather(data, index)
    assert torch.equal(batch, data[index])
    assert batch.is_contiguous(memory_format=layout)


@pytest.mark.parametrize(("family", "layout"), [("dense", torch.contiguous_format), ("conv", torch.channels_last)])
def test_memory_format_is_channels_last_for_conv_nets_only(family, layout):
    model = build_model(family, bottleneck=2, input_shape=(1, 28, 28))
    assert memory_format(model) == layout


def test_seeded_gives_the_same_draws_and_puts_the_rng_back():
    before = torch.random.get_rng_state()
    with seeded(3, torch.device("cpu")):
        first = torch.rand(4)
    with seeded(3, torch.device("cpu")):
        second = torch.rand(4)
    assert torch.equal(first, second)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_adam_steps_the_parameters():
    layer = torch.nn.Linear(3, 1)
    start = layer.weight.detach().clone()
    optimizer = adam(layer, 0.1, torch.device("cpu"))
    layer(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    assert not torch.equal(layer.weight, start)


@pytest.mark.parametrize("fused", [True, False])
def test_set_lr_is_what_the_next_step_uses(fused):
    """A schedule sets the rate between steps: fused and plain Adam both read it, 0 moves nothing."""
    layer = torch.nn.Linear(3, 1)
    optimizer = adam(layer, 0.1, torch.device("cpu")) if fused else torch.optim.Adam(layer.parameters(), lr=0.1)
    for lr, moves in ((0.1, True), (0.1, True), (0.0, False), (0.05, True)):  # the first steps build the state
        set_lr(optimizer, lr)
        before = layer.weight.detach().clone()
        optimizer.zero_grad()
        layer(torch.ones(2, 3)).sum().backward()
        optimizer.step()
        assert torch.equal(layer.weight, before) != moves


def test_keep_freed_memory_answers_once_and_the_same():
    assert keep_freed_memory() is keep_freed_memory()


def test_the_trainers_adam_is_torchs_fused_one_and_falls_back_where_there_is_none(monkeypatch):
    layer = torch.nn.Linear(3, 2)
    optimizer = adam(layer, 1e-2, torch.device("cpu"))
    assert type(optimizer) is torch.optim.Adam and optimizer.defaults["fused"]
    real = torch.optim.Adam

    def no_fused(params, lr, fused=None):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        return real(params, lr=lr)

    monkeypatch.setattr(torch.optim, "Adam", no_fused)
    plain = adam(layer, 1e-2, torch.device("cpu"))
    assert type(plain) is real and not plain.defaults["fused"]
