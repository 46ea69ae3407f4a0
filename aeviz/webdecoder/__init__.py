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
from typing import Any

import numpy as np
import torch

from .layers import FORMAT, ID_KEY, METADATA_KEY, Unsupported, WebDecoder
from .modules import from_sequential

__all__ = ["FORMAT", "ID_KEY", "METADATA_KEY", "Unsupported", "WebDecoder", "export", "from_sequential", "parse"]


def export(model: Any) -> WebDecoder:
    """The browser's form of any model's decoder: aeviz's own families, or an imported torch.export program.
    Raises Unsupported (the reason in its message) for a decoder the browser cannot run."""
    from ..models import AutoEncoder

    if isinstance(model, AutoEncoder):
        kind = type(model)
        if kind.decode is not AutoEncoder.decode or kind.decode_raw is not AutoEncoder.decode_raw:
            raise Unsupported(f"the {model.config.arch} {kind.__name__} decodes with steps of its own")
        return from_sequential(model.decoder, model.bottleneck, model.config.output)
    if hasattr(model, "interface") and isinstance(getattr(model, "decoder", None), torch.fx.GraphModule):
        from .programs import from_program

        return from_program(model.decoder, model.interface)
    raise Unsupported(f"a {type(model).__name__} is neither an aeviz model nor an imported program")


def parse(blob: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and tensors of `to_bytes`'s output (what the browser reads), for tests and tools."""
    from safetensors.numpy import load

    length = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + length])["__metadata__"]
    return json.loads(meta[METADATA_KEY]), load(blob)
