"""Binary cross-entropy with logits in fewer transcendental passes on the CPU, with the same gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLOCK = 64  # factors per partial product: each lies in [1/2, 1], so 64 of them stay above 2**-64, far from underflow


def bce_with_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean of softplus(x) - x*y, as F.binary_cross_entropy_with_logits returns it.

    On the CPU the built-in spends ~2/3 of its time in exp, log1p and a second sigmoid for the backward
    (1.1 ms of 3.5 ms per dense 784-64-784 step on 2 cores). Here one sigmoid serves both: the loss's
    log(1 + exp(-|x|)) is -log(max(s, 1 - s)), summed as the log of partial products, so a log runs per 64
    pixels instead of per pixel. Elements differ from the built-in's by ~1e-7; the gradient is bit-identical.
    """
    fast = logits.device.type == "cpu" and logits.dtype in (torch.float32, torch.float64)
    if not fast or logits.shape != target.shape or target.requires_grad:
        return F.binary_cross_entropy_with_logits(logits, target)
    if torch.is_grad_enabled() and logits.requires_grad:
        return _BCEWithLogits.apply(logits, target)
    return _forward(logits, target)[0]


def _forward(x: torch.Tensor, y: torch.Tensor, keep_gradient: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(mean loss, sigmoid(x) - y when asked). softplus(x) - x*y = relu(x) - x*y + log(1 + exp(-|x|)), the
    first part exact per element (summing relu(x) and x*y apart would cancel), the second -log(sigmoid(|x|))."""
    s = torch.sigmoid(x)
    numerator = s - y if keep_gradient else None  # the gradient's, as the built-in's backward computes it
    near = torch.rsub(s, 1)
    near = _flat(torch.maximum(s, near, out=near))  # sigmoid(|x|), in [1/2, 1]
    whole = near.numel() - near.numel() % BLOCK
    log_near = near[:whole].view(-1, BLOCK).prod(dim=1).log_().sum() + near[whole:].log().sum()
    return (torch.clamp_min(x, 0).addcmul_(x, y, value=-1).sum() - log_near) / x.numel(), numerator


def _flat(t: torch.Tensor) -> torch.Tensor:
    """The elements in memory order, without a copy for the default or the channels_last layout (a sum does
    not care about the order)."""
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        t = t.permute(0, 2, 3, 1)
    return t.reshape(-1)


class _BCEWithLogits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss, numerator = _forward(x, y, keep_gradient=True)
        ctx.save_for_backward(numerator)
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (numerator,) = ctx.saved_tensors
        if grad.item() == 1.0:  # the loss itself, or the sum of a model's loss parts: one pass, not two
            return torch.div(numerator, numerator.numel()), None
        return numerator.mul(grad).div_(numerator.numel()), None  # the built-in's formula and order: the same bits
