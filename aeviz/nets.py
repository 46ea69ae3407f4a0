"""Encoder and decoder bodies (dense stacks and small conv nets) shared by every model family."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def dense_encoder(input_shape: tuple[int, ...], hidden: tuple[int, ...], out_features: int) -> nn.Sequential:
    """Flatten -> [Linear, ReLU] per hidden width -> Linear to the (pre-activation) code."""
    widths = [math.prod(input_shape), *hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for w_in, w_out in zip(widths[:-1], widths[1:], strict=False):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out_features))
    return nn.Sequential(*layers)


def dense_decoder(input_shape: tuple[int, ...], hidden: tuple[int, ...], bottleneck: int) -> nn.Sequential:
    """The mirror of `dense_encoder`; returns pre-activation outputs (logits for a sigmoid output)."""
    widths = [bottleneck, *reversed(hidden)]
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:], strict=False):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    layers += [nn.Linear(widths[-1], math.prod(input_shape)), nn.Unflatten(1, tuple(input_shape))]
    return nn.Sequential(*layers)


class TiedLinear(nn.Module):
    """A decoder layer whose weight is its mirror encoder layer's, transposed (tied weights): only the bias is
    its own. The encoder layer is held outside the module tree, so the shared weight is saved and counted once."""

    def __init__(self, source: nn.Linear) -> None:
        super().__init__()
        self._source = (source,)  # a tuple: not a submodule
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    @property
    def weight(self) -> torch.Tensor:
        """(in_features of the source, out_features of the source): the source's weight transposed, a view."""
        return self._source[0].weight.t()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.linear(z, self.weight, self.bias)


def tie(encoder: nn.Sequential, decoder: nn.Sequential) -> nn.Sequential:
    """`decoder` with its k-th Linear from the end replaced by the k-th Linear of `encoder`, transposed."""
    mirrors = [m for m in encoder if isinstance(m, nn.Linear)]
    layers: list[nn.Module] = []
    for m in decoder:
        if isinstance(m, nn.Linear):
            source = mirrors.pop()
            if (source.in_features, source.out_features) != (m.out_features, m.in_features):
                raise ValueError("tied weights need a decoder that mirrors the encoder")
            m = TiedLinear(source)
        layers.append(m)
    return nn.Sequential(*layers)


def _conv_grid(input_shape: tuple[int, ...], channels: tuple[int, ...]) -> tuple[int, int]:
    """Spatial size after the stride-2 convolutions; inputs must divide evenly."""
    _, height, width = input_shape
    factor = 2 ** len(channels)
    if height % factor or width % factor:
        raise ValueError(
            f"conv nets with {len(channels)} stride-2 layers need sides divisible by {factor}, got {height}x{width}"
        )
    return height // factor, width // factor


def conv_encoder(input_shape: tuple[int, ...], channels: tuple[int, ...], out_features: int) -> nn.Sequential:
    """Stride-2 3x3 convolutions with ReLU, then a linear map of the feature grid to the code."""
    grid_h, grid_w = _conv_grid(input_shape, channels)
    ins = [input_shape[0], *channels]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(ins[:-1], ins[1:], strict=False):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
    layers += [nn.Flatten(), nn.Linear(channels[-1] * grid_h * grid_w, out_features)]
    return nn.Sequential(*layers)


def conv_decoder(input_shape: tuple[int, ...], channels: tuple[int, ...], bottleneck: int) -> nn.Sequential:
    """Linear to the feature grid, then stride-2 transposed convolutions back to the input size."""
    grid_h, grid_w = _conv_grid(input_shape, channels)
    outs = [*reversed(channels), input_shape[0]]
    layers: list[nn.Module] = [
        nn.Linear(bottleneck, channels[-1] * grid_h * grid_w),
        nn.ReLU(),
        nn.Unflatten(1, (channels[-1], grid_h, grid_w)),
    ]
    for i, (c_in, c_out) in enumerate(zip(outs[:-1], outs[1:], strict=False)):
        layers.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1))
        if i < len(outs) - 2:  # no activation on the output layer: it returns logits
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_body(arch: str, input_shape, hidden, channels, code_out: int, bottleneck: int):
    """(encoder, decoder) for arch 'dense' or 'conv'."""
    if arch == "dense":
        return dense_encoder(input_shape, hidden, code_out), dense_decoder(input_shape, hidden, bottleneck)
    if arch == "conv":
        return conv_encoder(input_shape, channels, code_out), conv_decoder(input_shape, channels, bottleneck)
    raise ValueError(f"unknown arch {arch!r}: use 'dense' or 'conv'")
