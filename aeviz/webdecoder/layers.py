"""The browser decoder's building blocks: the WebDecoder (layer list + weights, as safetensors bytes), the builder
that follows the shape through a net, and Unsupported."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

FORMAT = "aeviz-decoder/1"
METADATA_KEY = "aeviz.decoder"  # the safetensors metadata entry holding the layer list (JSON)
ID_KEY = "aeviz.id"  # and the one naming the model (its checkpoint's content hash)


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
        """The safetensors layout: an 8-byte header length, a JSON header (the tensor table, and as metadata the
        layer list and `ident`, the id views ask for), the data. Written here rather than by safetensors, whose
        tensor order varies from process to process: the same model gives the same bytes, so Streamlit's message
        cache recognises them. The header is padded to 8 bytes and every tensor is float32, so the browser views
        each as a Float32Array without copying."""
        tensors = {name: np.ascontiguousarray(t, dtype="<f4") for name, t in sorted(self.tensors.items())}
        table: dict[str, Any] = {"__metadata__": {METADATA_KEY: json.dumps(self.header(), separators=(",", ":"))}}
        table["__metadata__"][ID_KEY] = ident
        offset = 0
        for name, t in tensors.items():
            table[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
            offset += t.nbytes
        header = json.dumps(table, separators=(",", ":")).encode()
        header += b" " * (-len(header) % 8)
        return len(header).to_bytes(8, "little") + header + b"".join(t.tobytes() for t in tensors.values())

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
            out = (
                weight.shape[0],
                (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1,
            )
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
        fields = {
            "kernel": [kh, kw],
            "stride": [sh, sw],
            "padding": [ph, pw],
            "dilation": [dh, dw],
            "groups": int(groups),
        }
        if op == "conv_transpose2d":
            fields["output_padding"] = [oh, ow]
        self.add(op, out, weight=self.tensor(weight), bias=self._bias(bias), **fields)

    def batch_norm(self, weight, bias, mean, var, eps: float = 1e-5) -> None:
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
