"""An imported decoder (a torch.export program) as the browser's layer list: its aten ops read one by one.

Only a chain of the ops below is expressible (each op's data input is the previous op's output); anything else
(a branch, an op the kernel lacks) raises webdecoder.Unsupported, and the page decodes on the server.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch

from .layers import Unsupported, WebDecoder, _Builder

aten = torch.ops.aten
_ACTIVATIONS = {
    aten.relu.default: "relu",
    aten.sigmoid.default: "sigmoid",
    aten.tanh.default: "tanh",
    aten.silu.default: "silu",
}
_IDENTITY = (aten.clone.default, aten.contiguous.default, aten.alias.default, aten.detach.default)


def _arg(node, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _shape_after(builder: _Builder, sizes) -> tuple[int, ...]:
    """A view/reshape target without its batch size, a -1 resolved."""
    rest = [int(s) if isinstance(s, int) else -1 for s in sizes[1:]]
    if rest.count(-1) == 1:
        known = math.prod(s for s in rest if s != -1)
        rest[rest.index(-1)] = math.prod(builder.shape) // max(known, 1)
    return tuple(rest)


def _op(b: _Builder, node, value) -> None:
    """Add one aten op to the builder; `value(arg)` gives a get_attr argument's tensor."""
    target = node.target
    if target in _ACTIVATIONS:
        b.add(_ACTIVATIONS[target])
    elif target in _IDENTITY or (target == aten.dropout.default and not _arg(node, 2, "train", False)):
        return
    elif target == aten.leaky_relu.default:
        b.add("leaky_relu", slope=float(_arg(node, 1, "negative_slope", 0.01)))
    elif target == aten.elu.default and _arg(node, 2, "scale", 1) == 1 and _arg(node, 3, "input_scale", 1) == 1:
        b.add("elu", alpha=float(_arg(node, 1, "alpha", 1.0)))
    elif target == aten.gelu.default and _arg(node, 1, "approximate", "none") == "none":
        b.add("gelu")
    elif target == aten.linear.default:
        b.linear(value(node.args[1]), value(_arg(node, 2, "bias")))
    elif target in (aten.view.default, aten.reshape.default, aten._unsafe_view.default):
        b.reshape(_shape_after(b, node.args[1]))
    elif target == aten.unflatten.int:
        axis = node.args[1] - 1 if node.args[1] > 0 else len(b.shape) + node.args[1]
        b.reshape((*b.shape[:axis], *node.args[2], *b.shape[axis + 1 :]))
    elif (
        target == aten.flatten.using_ints and _arg(node, 1, "start_dim", 0) == 1 and _arg(node, 2, "end_dim", -1) == -1
    ):
        b.reshape((math.prod(b.shape),))
    elif target == aten.conv2d.default and not isinstance(_arg(node, 4, "padding", 0), str):
        args = (_arg(node, 3, "stride", 1), _arg(node, 4, "padding", 0), _arg(node, 5, "dilation", 1))
        b.conv("conv2d", value(node.args[1]), value(_arg(node, 2, "bias")), *args, _arg(node, 6, "groups", 1))
    elif target == aten.conv_transpose2d.input:
        args = (_arg(node, 3, "stride", 1), _arg(node, 4, "padding", 0), _arg(node, 7, "dilation", 1))
        groups, output_padding = _arg(node, 6, "groups", 1), _arg(node, 5, "output_padding", 0)
        b.conv("conv_transpose2d", value(node.args[1]), value(_arg(node, 2, "bias")), *args, groups, output_padding)
    elif target == aten.convolution.default and len(node.args[1].meta.get("val", torch.empty(0, 0, 0, 0)).shape) == 4:
        _, w, bias, stride, padding, dilation, transposed, output_padding, groups = node.args
        op = "conv_transpose2d" if transposed else "conv2d"
        extra = (output_padding,) if transposed else ()
        b.conv(op, value(w), value(bias), stride, padding, dilation, groups, *extra)
    elif target == aten.batch_norm.default and not _arg(node, 5, "training", True):
        weight, bias, mean, var = (value(a) for a in node.args[1:5])
        b.batch_norm(weight, bias, mean, var, float(_arg(node, 7, "eps", 1e-5)))
    elif target == aten._native_batch_norm_legit_no_training.default:
        weight, bias, mean, var = (value(a) for a in node.args[1:5])
        b.batch_norm(weight, bias, mean, var, float(_arg(node, 6, "eps", 1e-5)))
    elif target == aten.upsample_nearest2d.vec:
        b.upsample("nearest", _arg(node, 2, "scale_factors"), _arg(node, 1, "output_size"), None)
    elif target == aten.upsample_bilinear2d.vec:
        b.upsample(
            "bilinear", _arg(node, 3, "scale_factors"), _arg(node, 1, "output_size"), _arg(node, 2, "align_corners")
        )
    else:
        raise Unsupported(f"its program uses {getattr(target, '__name__', target)}, which the browser's decoder lacks")


def from_program(program: torch.fx.GraphModule, interface: Any) -> WebDecoder:
    """The layer list of an imported decoder program, with the interface's input reshape and output mapping."""
    builder = _Builder((interface.bottleneck,))
    if tuple(interface.decoder_input) != (interface.bottleneck,):
        builder.reshape(tuple(interface.decoder_input))
    params = dict(program.named_parameters()) | dict(program.named_buffers())

    def value(arg):
        if arg is None:
            return None
        if getattr(arg, "op", None) != "get_attr" or arg.target not in params:
            raise Unsupported("its program computes a weight instead of storing it")
        return params[arg.target].detach()

    current = None  # the node whose value the chain carries
    for node in program.graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise Unsupported("its program takes more than one input")
            current = node
        elif node.op == "call_function" and node.target is operator.getitem and node.args[0] is current:
            current = node  # a batch norm's (output, mean, var): its output
        elif node.op == "call_function":
            if not node.args or node.args[0] is not current:
                raise Unsupported("its program is not a single chain of layers")
            _op(builder, node, value)
            current = node
        elif node.op == "call_module" and node.users:  # _guards_fn (no users) only checks shapes
            raise Unsupported(f"its program calls a module ({node.target})")
        elif node.op == "output":
            out = node.args[0]
            out = out[0] if isinstance(out, (tuple, list)) else out
            if out is not current:
                raise Unsupported("its program returns something other than its last layer's output")
    if interface.output == "logits":
        builder.add("sigmoid")
    else:
        low, high = interface.output_range
        if (low, high) != (0.0, 1.0):
            builder.add("affine", scale=1.0 / (high - low), shift=-low / (high - low))
    return builder.result(interface.bottleneck)
