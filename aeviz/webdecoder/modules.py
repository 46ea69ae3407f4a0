"""An nn.Sequential decoder (aeviz's own families) as the browser's layer list, module by module."""

from __future__ import annotations

import math

from torch import nn

from ..nets import TiedLinear
from .layers import Unsupported, WebDecoder, _Builder

ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu"}
ALWAYS_SKIPPED = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d)  # eval mode: the identity


def _leaves(module: nn.Module) -> list[nn.Module]:
    """The modules an nn.Sequential runs, nested Sequentials opened, in order."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _leaves(child)]
    return [module]


def _module(b: _Builder, m: nn.Module) -> None:
    """One module of a Sequential, added to the builder (or Unsupported)."""
    if isinstance(m, ALWAYS_SKIPPED):
        return
    if type(m) in ACTIVATIONS:
        b.add(ACTIVATIONS[type(m)])
    elif isinstance(m, nn.LeakyReLU):
        b.add("leaky_relu", slope=float(m.negative_slope))
    elif isinstance(m, nn.ELU):
        b.add("elu", alpha=float(m.alpha))
    elif isinstance(m, nn.GELU) and m.approximate == "none":
        b.add("gelu")
    elif isinstance(m, (nn.Linear, TiedLinear)):  # a tied layer: its encoder mirror's weight, transposed
        b.linear(m.weight, m.bias)
    elif isinstance(m, nn.Unflatten):
        axis = m.dim - 1 if m.dim > 0 else len(b.shape) + m.dim  # m.dim counts the batch
        b.reshape((*b.shape[:axis], *m.unflattened_size, *b.shape[axis + 1 :]))
    elif isinstance(m, nn.Flatten) and m.start_dim == 1 and m.end_dim == -1:
        b.reshape((math.prod(b.shape),))
    elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.padding_mode == "zeros" and isinstance(m.padding, tuple):
        op = "conv2d" if isinstance(m, nn.Conv2d) else "conv_transpose2d"
        extra = (m.output_padding,) if op == "conv_transpose2d" else ()
        b.conv(op, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, *extra)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and not m.training:
        b.batch_norm(m.weight, m.bias, m.running_mean, m.running_var, m.eps)
    elif isinstance(m, nn.Upsample):
        b.upsample(m.mode, m.scale_factor, m.size, m.align_corners)
    else:
        raise Unsupported(f"its decoder has a {type(m).__name__} layer, which the browser's decoder lacks")


def from_sequential(decoder: nn.Module, code_size: int, output: str = "sigmoid") -> WebDecoder:
    """The layer list of an nn.Sequential decoder taking (N, code_size), then the output layer's activation when
    `output` is "sigmoid" or "relu" (aeviz's models return raw outputs and apply it in decode)."""
    if not isinstance(decoder, nn.Sequential):
        raise Unsupported(f"its decoder is a {type(decoder).__name__}, not a plain stack of layers")
    builder = _Builder((code_size,))
    for m in _leaves(decoder):
        _module(builder, m)
    if output in ("sigmoid", "relu"):
        builder.add(output)
    return builder.result(code_size)
