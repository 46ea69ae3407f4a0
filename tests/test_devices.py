"""Devices, seeding, the optimizer and batch gathering: what the trainer's speed rests on must not change results."""

from __future__ import annotations

import pytest
import torch

from aeviz.devices import (
    DirectAdam,
    adam,
    device_name,
    gather,
    keep_freed_memory,
    memory_format,
    pick_device,
    seeded,
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


def test_keep_freed_memory_answers_once_and_the_same():
    assert keep_freed_memory() is keep_freed_memory()


@pytest.mark.parametrize("family", ["dense", "conv", "vae"])
def test_direct_adam_steps_exactly_as_torch_optims_fused_adam(family):
    torch.manual_seed(0)
    ours = build_model(family, bottleneck=3, input_shape=(1, 8, 8), channels=(4, 8))
    theirs = build_model(family, bottleneck=3, input_shape=(1, 8, 8), channels=(4, 8))
    theirs.load_state_dict(ours.state_dict())
    direct = adam(ours, 1e-2, torch.device("cpu"))
    reference = torch.optim.Adam(theirs.parameters(), lr=1e-2, fused=True)
    assert isinstance(direct, DirectAdam)
    x = torch.rand(16, 1, 8, 8)
    for step in range(6):
        for model, optimizer in ((ours, direct), (theirs, reference)):
            torch.manual_seed(step)  # the VAE's sampling draws alike in both
            optimizer.zero_grad(set_to_none=True)
            model(x).loss.backward()
            optimizer.step()
    assert direct.state is not None  # steps 2-6 went through the kernel directly
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(direct.optimizer.state[a]["exp_avg_sq"], reference.state[b]["exp_avg_sq"])
        assert torch.equal(direct.optimizer.state[a]["step"], reference.state[b]["step"])


def test_direct_adam_takes_torch_optims_step_when_a_gradient_is_missing():
    layer = torch.nn.Linear(3, 2)
    unused = torch.nn.Parameter(torch.ones(2))
    direct = DirectAdam(torch.optim.Adam([*layer.parameters(), unused], lr=0.1, fused=True))
    for _ in range(3):
        direct.zero_grad()
        layer(torch.ones(4, 3)).sum().backward()
        direct.step()
    assert direct.state is None and torch.equal(unused, torch.ones(2))  # torch.optim skips it, as always
    assert direct.optimizer.state[layer.weight]["step"].item() == 3
