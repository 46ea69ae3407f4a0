"""What an imported program may call: pure tensor operators, declared once here and checked on every load.

Each is an ATen overload, spelled as torch.export writes it, that reads tensors and returns new tensors or views
of them: no file or string input (only the modes in STRING_ARGUMENTS), no out= variant, no random numbers, no
uninitialised memory (`empty`), no control flow or other higher-order operator; in-place forms (IN_PLACE) only
on the program's own intermediate values (`costs` checks each write on every load). An output whose shape
depends on tensor values (`one_hot(num_classes=-1)`, a boolean mask) is refused when `costs` propagates shapes.
The list is what real exported autoencoders use (tests/foreign/test_operators.py exports dense, conv,
transposed-conv, VAE, batch-norm and upsampling models, pythae's models and examples/export_my_model.py), plus
near relatives. Each operator's time is linear in the elements it reads and writes, except contractions
(counted in multiply-adds) and pooling (counted per window): `costs` relies on that.
"""

from __future__ import annotations

import operator
from typing import Any

import torch

from .archive import ExportError

_ATEN = """
linear.default matmul.default mm.default bmm.default addmm.default
conv1d.default conv2d.default conv3d.default conv1d.padding conv2d.padding conv3d.padding convolution.default
conv_transpose1d.default conv_transpose2d.input conv_transpose3d.input
relu.default leaky_relu.default elu.default selu.default celu.default gelu.default silu.default mish.default
softplus.default sigmoid.default tanh.default hardtanh.default hardsigmoid.default hardswish.default
prelu.default glu.default threshold.default softmax.int log_softmax.int _softmax.default _log_softmax.default
add.Tensor add.Scalar sub.Tensor sub.Scalar rsub.Tensor rsub.Scalar mul.Tensor mul.Scalar
div.Tensor div.Scalar div.Tensor_mode neg.default abs.default exp.default log.default log1p.default
expm1.default sqrt.default rsqrt.default reciprocal.default square.default
pow.Tensor_Scalar pow.Tensor_Tensor pow.Scalar clamp.default clamp.Tensor clamp_min.default clamp_max.default
minimum.default maximum.default where.self sign.default floor.default ceil.default round.default trunc.default
sin.default cos.default erf.default nan_to_num.default isnan.default
eq.Tensor eq.Scalar ne.Tensor ne.Scalar lt.Tensor lt.Scalar le.Tensor le.Scalar gt.Tensor gt.Scalar
ge.Tensor ge.Scalar logical_and.default logical_or.default logical_not.default
sum.default sum.dim_IntList mean.default mean.dim amax.default amin.default max.dim min.dim max.default
min.default argmax.default argmin.default var.correction std.correction var_mean.correction
linalg_vector_norm.default logsumexp.default cumsum.default mse_loss.default
batch_norm.default _native_batch_norm_legit_no_training.default layer_norm.default native_layer_norm.default
group_norm.default native_group_norm.default dropout.default
max_pool1d.default max_pool2d.default max_pool3d.default max_pool2d_with_indices.default avg_pool1d.default
avg_pool2d.default avg_pool3d.default adaptive_avg_pool1d.default adaptive_avg_pool2d.default
_adaptive_avg_pool2d.default adaptive_max_pool2d.default upsample_nearest1d.vec upsample_nearest2d.vec
upsample_nearest2d.default upsample_bilinear2d.vec upsample_bilinear2d.default _upsample_nearest_exact2d.vec
pixel_shuffle.default pixel_unshuffle.default
view.default reshape.default _unsafe_view.default reshape_as.default flatten.using_ints unflatten.int
permute.default transpose.int t.default numpy_T.default unsqueeze.default squeeze.dim squeeze.dims
squeeze.default expand.default expand_as.default contiguous.default clone.default detach.default alias.default
lift_fresh_copy.default cat.default stack.default chunk.default split.Tensor split_with_sizes.default
unbind.int select.int slice.Tensor narrow.default index_select.default gather.default index.Tensor
repeat.default tile.default flip.default roll.default pad.default constant_pad_nd.default
reflection_pad1d.default reflection_pad2d.default replication_pad1d.default replication_pad2d.default
broadcast_tensors.default embedding.default one_hot.default to.dtype _to_copy.default type_as.default
_assert_tensor_metadata.default sym_size.int
zeros.default ones.default full.default zeros_like.default ones_like.default full_like.default
new_zeros.default new_ones.default new_full.default scalar_tensor.default arange.default arange.start
arange.start_step
"""
# In-place forms torch.export keeps from ordinary code (nn.ReLU(inplace=True) exports as relu_): allowed only on
# the program's own intermediate values, never on its weights or its input (costs checks each call's aliasing)
_IN_PLACE = """
relu_.default leaky_relu_.default elu_.default celu_.default selu_.default silu_.default mish_.default
hardtanh_.default hardsigmoid_.default hardswish_.default threshold_.default sigmoid_.default tanh_.default
dropout_.default add_.Tensor add_.Scalar sub_.Tensor sub_.Scalar mul_.Tensor mul_.Scalar div_.Tensor
div_.Scalar clamp_.default clamp_min_.default clamp_max_.default fill_.Scalar zero_.default
"""
IN_PLACE = frozenset(f"aten.{name}" for name in _IN_PLACE.split())
OPERATORS = frozenset(f"aten.{name}" for name in _ATEN.split()) | IN_PLACE
# Whole-number arithmetic on sizes (x.shape[0] * 2), which torch.export writes as Python's operators
SIZE_ARITHMETIC = {"_operator.add": operator.add, "_operator.sub": operator.sub, "_operator.mul": operator.mul}
SIZE_ARITHMETIC["_operator.floordiv"] = operator.floordiv
# The only string arguments accepted, and their values: modes of pure operators, never names of anything
STRING_ARGUMENTS = {
    ("aten.gelu.default", "approximate"): ("none", "tanh"),
    ("aten.div.Tensor_mode", "rounding_mode"): ("trunc", "floor"),
    ("aten.pad.default", "mode"): ("constant", "reflect", "replicate", "circular"),
    **{(f"aten.conv{d}d.padding", "padding"): ("same", "valid") for d in (1, 2, 3)},
}
# Switches that must be off: batch norm in training mode updates its running statistics in place (a shared
# model would change under every visitor), dropout in training mode draws random numbers
FALSE_ARGUMENTS = frozenset(
    {("aten.batch_norm.default", "training"), ("aten.dropout.default", "train"), ("aten.dropout_.default", "train")}
)


def spelled(target: str) -> str:
    """An operator as a refusal names it: aten.from_file.default, higher_order.cond."""
    return target.removeprefix("torch.ops.")


def is_allowed(target: str) -> bool:
    """Whether a node's target, as the program's JSON spells it, may run."""
    return target in SIZE_ARITHMETIC or (target.startswith("torch.ops.") and spelled(target) in OPERATORS)


def check_graph(program: torch.export.ExportedProgram, name: str) -> None:
    """The same allow-list on a loaded program's graph (the deserialized one: what will actually run)."""
    arithmetic = set(SIZE_ARITHMETIC.values()) | {operator.getitem}
    for node in program.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        target: Any = node.target
        allowed = node.op == "call_function" and (
            target in arithmetic or (isinstance(target, torch._ops.OpOverload) and str(target) in OPERATORS)
        )
        if not allowed:
            raise refused(name, f"{node.op} {getattr(target, '__name__', target)}")


def refused(name: str, what: str) -> Exception:
    control = " (control flow)" if "higher_order" in what else ""
    return ExportError(
        f"{name} calls {what}{control}, which aeviz does not run: an imported program may use only pure tensor "
        "operators (see README › Import a model)"
    )
