"""A decoder as the browser runs it: a declarative layer list and float32 weights in one safetensors blob.

The list is read from the layers themselves (an nn.Sequential's modules, or an imported torch.export program's
aten ops), not from a config, so any input shape (grey 28x28, colour 32x32, 8x8) and any mix of the layer types
below works. The browser's kernel (aeviz/ui/components/frontend/src/kernel.js) implements exactly these ops;
anything else raises `Unsupported` and the page decodes on the server instead, and says so.

Ops (shapes exclude the batch; every tensor is C-contiguous float32):
  linear {weight (out,in), bias?}   conv2d / conv_transpose2d {weight, bias?, stride, padding, dilation, groups,
  output_padding}   scale_shift {scale (C,), shift (C,)} (BatchNorm folded, per channel = first axis)
  relu, sigmoid, tanh, silu, gelu, leaky_relu {slope}, elu {alpha}   reshape {shape}   upsample {mode: nearest |
  bilinear, align_corners}   affine {scale, shift} (a number each; an imported model's output range)
Each layer records its output `shape`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "aeviz-decoder/1"
METADATA_KEY = "aeviz.decoder"  # the safetensors metadata entry holding the layer list (JSON)
ID_KEY = "aeviz.id"  # and the one naming the model (its checkpoint's content hash)
ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu"}
ALWAYS_SKIPPED = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d)  # eval mode: the identity


class Unsupported(ValueError):
    """A decoder the browser's kernel cannot run; the message says which part."""


@dataclass(frozen=True)
class WebDecoder:
    """The layer list (plain dicts, JSON-ready), the weights by name, the code size and the image shape."""

    layers: tuple[dict[str, Any], ...]
    tensors: dict[str, np.ndarray]
    code_size: int
    output_shape: tuple[int, ...]

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "code_size": self.code_size,
            "output_shape": list(self.output_shape),
            "layers": list(self.layers),
        }

    def to_bytes(self, ident: str = "") -> bytes:
        """safetensors: an 8-byte header length, a JSON header (tensor table, and as metadata the layer list and
        `ident`, the id views ask for), the data; safetensors pads the header to 8 bytes and every tensor is
        float32, so the browser can view each as a Float32Array."""
        from safetensors.numpy import save

        tensors = {name: np.ascontiguousarray(t, dtype=np.float32) for name, t in self.tensors.items()}
        header = json.dumps(self.header(), separators=(",", ":"))
        return save(tensors, metadata={METADATA_KEY: header, ID_KEY: ident})

    @property
    def weight_count(self) -> int:
        return int(sum(t.size for t in self.tensors.values()))


class _Builder:
    """Collects layers and tensors while the shape is followed through the net."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape, self.layers, self.tensors = tuple(shape), [], {}  # type: ignore[var-annotated]

    def tensor(self, value: torch.Tensor | np.ndarray) -> str:
        name = f"t{len(self.tensors)}"
        array = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        self.tensors[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    def add(self, op: str, shape: tuple[int, ...] | None = None, **fields: Any) -> None:
        self.shape = tuple(int(s) for s in (self.shape if shape is None else shape))
        self.layers.append({"op": op, **fields, "shape": list(self.shape)})

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        if len(self.shape) != 1 or weight.shape[1] != self.shape[0]:
            raise Unsupported(f"a linear layer {tuple(weight.shape)} on a {self.shape} input")
        self.add("linear", (weight.shape[0],), weight=self.tensor(weight), bias=self._bias(bias))

    def conv(self, op: str, weight, bias, stride, padding, dilation, groups, output_padding=(0, 0)) -> None:
        if len(self.shape) != 3:
            raise Unsupported(f"a 2-d convolution on a {self.shape} input")
        c, h, w = self.shape
        kh, kw = weight.shape[2:]
        (sh, sw), (ph, pw), (dh, dw), (oh, ow) = (_pair(v) for v in (stride, padding, dilation, output_padding))
        if op == "conv2d":
            out = (weight.shape[0], (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)
            expected_in = weight.shape[1] * groups
        else:
            out = (
                weight.shape[1] * groups,
                (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1,
                (w - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1,
            )
            expected_in = weight.shape[0]
        if expected_in != c or min(out) < 1:
            raise Unsupported(f"a {op} with weight {tuple(weight.shape)} on a {self.shape} input")
        fields = {"kernel": [kh, kw], "stride": [sh, sw], "padding": [ph, pw], "dilation": [dh, dw], "groups": int(groups)}
        if op == "conv_transpose2d":
            fields["output_padding"] = [oh, ow]
        self.add(op, out, weight=self.tensor(weight), bias=self._bias(bias), **fields)

    def batch_norm(self, weight, bias, mean, var, eps: float) -> None:
        channels = self.shape[0] if self.shape else 0
        if mean is None or var is None or len(mean) != channels:
            raise Unsupported("a batch norm without running statistics for this shape")
        scale = (weight.double() if weight is not None else 1.0) / torch.sqrt(var.double() + eps)
        shift = (bias.double() if bias is not None else 0.0) - mean.double() * scale
        self.add("scale_shift", scale=self.tensor(scale.expand(channels)), shift=self.tensor(shift.expand(channels)))

    def upsample(self, mode: str, scale, size, align_corners: bool | None) -> None:
        if len(self.shape) != 3 or mode not in ("nearest", "bilinear"):
            raise Unsupported(f"an upsampling ({mode}) on a {self.shape} input")
        c, h, w = self.shape
        if size is not None:
            out = _pair(size)
        else:
            sh, sw = (float(v) for v in _pair(scale))
            out = (math.floor(h * sh), math.floor(w * sw))
            if (sh, sw) != (out[0] / h, out[1] / w):
                raise Unsupported(f"an upsampling by {sh}x{sw} (only sizes that divide evenly)")
        self.add("upsample", (c, *out), mode=mode, align_corners=bool(align_corners))

    def reshape(self, shape: tuple[int, ...]) -> None:
        if math.prod(shape) != math.prod(self.shape):
            raise Unsupported(f"a reshape of {self.shape} to {shape}")
        self.add("reshape", tuple(shape))

    def _bias(self, bias: torch.Tensor | None) -> str | None:
        return None if bias is None else self.tensor(bias)

    def result(self, code_size: int) -> WebDecoder:
        return WebDecoder(tuple(self.layers), dict(self.tensors), code_size, self.shape)


def _pair(value: Any) -> tuple[int, int]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


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
    elif isinstance(m, nn.Linear):
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
    """The layer list of an nn.Sequential decoder taking (N, code_size), then a sigmoid when `output` is
    "sigmoid" (aeviz's models return logits and apply it in decode)."""
    if not isinstance(decoder, nn.Sequential):
        raise Unsupported(f"its decoder is a {type(decoder).__name__}, not a plain stack of layers")
    builder = _Builder((code_size,))
    for m in _leaves(decoder):
        _module(builder, m)
    if output == "sigmoid":
        builder.add("sigmoid")
    return builder.result(code_size)


def export(model: Any) -> WebDecoder:
    """The browser's form of any model's decoder: aeviz's own families, or an imported torch.export program.
    Raises Unsupported (the reason in its message) for a decoder the browser cannot run."""
    from .models import AutoEncoder

    if isinstance(model, AutoEncoder):
        kind = type(model)
        if kind.decode is not AutoEncoder.decode or kind.decode_raw is not AutoEncoder.decode_raw:
            raise Unsupported(f"the {model.config.arch} {kind.__name__} decodes with steps of its own")
        return from_sequential(model.decoder, model.bottleneck, model.config.output)
    if hasattr(model, "interface") and isinstance(getattr(model, "decoder", None), torch.fx.GraphModule):
        from .webprogram import from_program

        return from_program(model.decoder, model.interface)
    raise Unsupported(f"a {type(model).__name__} is neither an aeviz model nor an imported program")


def parse(blob: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and tensors of `to_bytes`'s output (what the browser reads), for tests and tools."""
    from safetensors.numpy import load

    length = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + length])["__metadata__"]
    return json.loads(meta[METADATA_KEY]), load(blob)
