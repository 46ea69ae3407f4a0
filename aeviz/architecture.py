"""A model's layers as a list: what each computes, the shape it outputs and its parameter count, read from the
module tree (aeviz's own models) or from the ops an imported torch.export program declares."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

# Layers that change no shape and hold no weights: shown as part of the layer before them
PASSIVE = ("ReLU", "Sigmoid", "Tanh", "LeakyReLU", "ELU", "GELU", "SiLU", "Identity", "Dropout")
PASSIVE_OPS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu", "dropout", "clone", "alias")


@dataclass(frozen=True)
class Layer:
    """One step of a net: its kind ("Linear", "ConvTranspose2d", "ReLU"...), a few words on its settings, the shape
    it outputs (without the batch) and how many parameters it holds."""

    kind: str
    detail: str
    shape: tuple[int, ...]
    params: int

    @property
    def passive(self) -> bool:
        return self.kind in PASSIVE or self.kind in PASSIVE_OPS


def _detail(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return f"{m.in_features} -> {m.out_features}"
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        k, s = m.kernel_size, m.stride
        return f"{m.in_channels} -> {m.out_channels}, {k[0]}x{k[1]}" + (f" /{s[0]}" if s[0] > 1 else "")
    if isinstance(m, nn.LeakyReLU):
        return f"slope {m.negative_slope:g}"
    if isinstance(m, nn.Upsample):
        return f"x{m.scale_factor}" if m.scale_factor else ""
    return ""


def module_layers(net: nn.Module, example: torch.Tensor) -> list[Layer]:
    """The leaf modules `net` runs on `example` (a batch of one), in the order they run, with their output shapes."""
    found: list[Layer] = []

    def record(module, _inputs, output) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output
        params = sum(p.numel() for p in module.parameters(recurse=False))
        found.append(Layer(type(module).__name__, _detail(module), tuple(out.shape[1:]), params))

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        with torch.inference_mode():
            net(example)
    finally:
        for handle in handles:
            handle.remove()
    return found


def program_layers(program: torch.fx.GraphModule) -> list[Layer]:
    """The aten ops of an imported program, with the output shapes its graph records and the weights they read."""
    params = dict(program.named_parameters()) | dict(program.named_buffers())
    found: list[Layer] = []
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        value = node.meta.get("val")
        value = value[0] if isinstance(value, (tuple, list)) else value
        if not isinstance(value, torch.Tensor):
            continue
        name = getattr(node.target, "__name__", str(node.target)).split(".")[0]
        weights = [a for a in node.args if getattr(a, "op", None) == "get_attr" and a.target in params]
        count = sum(params[a.target].numel() for a in weights)
        shape = tuple(int(s) if isinstance(s, int) else -1 for s in value.shape[1:])
        found.append(Layer(name, "", shape, count))
    return found


def describe(model: Any) -> dict[str, Any]:
    """{"input": shape, "encoder": [Layer...], "code": q, "decoder": [Layer...], "variational": bool} for an
    aeviz model or an imported one."""
    shape = tuple(_input_shape(model))
    q = int(model.bottleneck)
    if isinstance(model.encoder, torch.fx.GraphModule):
        encoder, decoder = program_layers(model.encoder), program_layers(model.decoder)
    else:
        encoder = module_layers(model.encoder, torch.zeros(1, *shape))
        decoder = module_layers(model.decoder, torch.zeros(1, *model.decoder_input()))
        book = getattr(model, "codebook", None)  # a VQ-VAE's: each cell of the grid snaps to its nearest code
        if book is not None:
            size, width = book.embedding.shape
            encoder.append(Layer("Codebook", f"nearest of {size}", tuple(model.decoder_input()), size * width))
    interface = getattr(model, "interface", None)  # an imported model's: says whether it is a VAE
    if interface is not None:
        variational, output, code_activation = interface.log_variance_output is not None, "linear", "linear"
    else:  # aeviz's models apply the code activation and the output activation outside encoder and decoder
        variational, output = model.code_width() != q, model.config.output
        code_activation = model.config.code_activation
    if code_activation != "linear":
        encoder.append(Layer(_activation_name(code_activation), "", (q,), 0))
    if output != "linear":
        decoder.append(Layer(_activation_name(output), "", decoder[-1].shape if decoder else (), 0))
    return {"input": shape, "encoder": encoder, "code": q, "decoder": decoder, "variational": variational}


def _input_shape(model: Any) -> tuple[int, ...]:
    config = getattr(model, "config", None)
    if config is not None:
        return tuple(config.input_shape)
    return tuple(model.metadata["config"]["input_shape"])


def parameter_count(layers: list[Layer]) -> int:
    return sum(layer.params for layer in layers)


def size(shape: tuple[int, ...]) -> int:
    return math.prod(s for s in shape if s > 0)


def _activation_name(name: str) -> str:
    """'relu' -> 'ReLU', 'sigmoid' -> 'Sigmoid': as the layer tables print them."""
    return name.capitalize().replace("Relu", "ReLU")
