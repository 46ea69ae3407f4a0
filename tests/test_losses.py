"""The CPU's one-sigmoid BCE with logits: the built-in's value and gradient, in every layout, at any logit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aeviz.losses import BLOCK, bce_with_logits


def logits_and_targets(shape, scale=4.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator) * scale
    y = torch.rand(shape, generator=generator)
    return x, y


@pytest.mark.parametrize("shape", [(256, 1, 28, 28), (7, 1, 8, 8), (3, BLOCK + 5), (1,)])
@pytest.mark.parametrize("scale", [0.1, 4.0, 60.0])  # 60: sigmoid saturates to 0 or 1 in float32
def test_value_and_gradient_are_the_builtins(shape, scale):
    x, y = logits_and_targets(shape, scale)
    ours_x, theirs_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, theirs = bce_with_logits(ours_x, y), F.binary_cross_entropy_with_logits(theirs_x, y)
    assert torch.isfinite(ours) and ours.item() == pytest.approx(theirs.item(), rel=1e-5, abs=1e-7)
    ours.backward()
    theirs.backward()
    assert torch.equal(ours_x.grad, theirs_x.grad)


def test_channels_last_and_no_grad_give_the_same_loss():
    x, y = logits_and_targets((16, 3, 8, 8))
    plain = bce_with_logits(x, y)
    assert bce_with_logits(x.contiguous(memory_format=torch.channels_last), y).item() == pytest.approx(plain.item())
    with torch.no_grad():
        assert bce_with_logits(x.clone().requires_grad_(), y).item() == pytest.approx(plain.item())


@pytest.mark.parametrize("case", ["float16", "target needs grad"])
def test_other_inputs_fall_back_to_the_builtin(case):
    x, y = logits_and_targets((4, 10))
    x, y = (x.half(), y.half()) if case == "float16" else (x, y.clone().requires_grad_())
    assert torch.equal(bce_with_logits(x, y), F.binary_cross_entropy_with_logits(x, y))


def test_mismatched_shapes_get_the_builtins_error():
    x, y = logits_and_targets((4, 10))
    with pytest.raises(ValueError, match="size"):
        bce_with_logits(x, y[:1])


def test_a_weighted_loss_gets_the_builtins_gradient_too():
    """A loss part weighted by a factor (a beta-VAE's, or a sum's chain) reaches the backward with grad != 1."""
    x, y = logits_and_targets((8, 1, 8, 8))
    ours_x, theirs_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    (2.5 * bce_with_logits(ours_x, y)).backward()
    (2.5 * F.binary_cross_entropy_with_logits(theirs_x, y)).backward()
    assert torch.equal(ours_x.grad, theirs_x.grad)
