"""What one call of an imported program costs, computed before it ever runs: its tensors' peak memory and its
operations, at every batch size aeviz will call it with; over the server's budget, the program is refused.

Why this bounds a program, without a worker process: an accepted program is a straight line of allow-listed
pure operators (`operators`: no loops, branches or other control flow, no output shape read from tensor values),
so the shapes of all its tensors, and with them its memory and its work, are fixed by the input's shape alone.
aeviz calls a program only at the batch sizes in BATCH_SIZES (ImportedModel pads a batch up to the next one;
a program exported for one batch size is called only at that size), and each of those sizes is propagated
here on torch's meta device (shapes, no data; milliseconds). So "behaves at import, misbehaves on a page" cannot
happen: what runs on a page is a size checked here, on every load. Not counted: a kernel's own scratch space
(e.g. a convolution's workspace) and the machine's speed (the budget is in operations, not seconds).
Chosen over running foreign programs in a worker process (as training jobs do) because a page's decode-one-
image slider would then pay a process round trip per move, and a program over budget never runs at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._pytree import tree_leaves, tree_map_only

from .. import settings
from ..errors import one_line
from .archive import ExportError

BATCH_SIZES = (1, 4, 16, 64, 256)  # the batch sizes an imported program is ever called with
_META = torch.device("meta")  # tensors with a shape and no data


@dataclass(frozen=True)
class Cost:
    """One call at one batch size: the most bytes its tensors hold at once, and its operations."""

    batch: int
    peak_bytes: int
    operations: int


def call_sizes(batch: int | None) -> tuple[int, ...]:
    """The batch sizes a program taking `batch` rows (None: any number) is called with."""
    return BATCH_SIZES if batch is None else (batch,)


def check_costs(program: torch.export.ExportedProgram, name: str) -> list[Cost]:
    """The program's cost at each batch size it will be called with; ExportError when one is over budget."""
    shape, batch = _input_shape(program, name)
    limits = settings.current()
    weights = {k: v.to(_META) for k, v in {**program.state_dict, **program.constants}.items()}  # shapes only
    costs = []
    for size in call_sizes(batch):
        try:
            cost = measure(program, (size, *shape), weights)
        except ExportError as exc:
            raise ExportError(f"{name}: {exc}") from None
        if cost.peak_bytes > limits.imported_memory_mb * 2**20:
            raise ExportError(
                f"{name} needs {cost.peak_bytes / 2**20:,.0f} MB of tensors for {size} input(s), over this server's "
                f"budget of {limits.imported_memory_mb:g} MB per call (AEVIZ_IMPORTED_MEMORY_MB)"
            )
        if cost.operations > limits.imported_gops * 1e9:
            raise ExportError(
                f"{name} takes {cost.operations / 1e9:,.1f} billion operations for {size} input(s), over this "
                f"server's budget of {limits.imported_gops:g} billion per call (AEVIZ_IMPORTED_GOPS)"
            )
        costs.append(cost)
    return costs


def _input_shape(program: torch.export.ExportedProgram, name: str) -> tuple[tuple[int, ...], int | None]:
    """One input's shape (every size fixed) and the batch size: an int, or None for a free one covering
    BATCH_SIZES."""
    (user_input,) = program.graph_signature.user_inputs
    node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == user_input)
    sizes = node.meta["val"].shape
    if not sizes or any(not isinstance(s, int) for s in sizes[1:]):
        raise ExportError(f"{name} takes inputs whose size other than the batch is free; export it for one image size")
    if isinstance(sizes[0], int):
        return tuple(sizes[1:]), int(sizes[0])
    bounds = program.range_constraints.get(sizes[0].node.expr)
    low, high = (bounds.lower, bounds.upper) if bounds is not None else (0, math.inf)
    if low > BATCH_SIZES[0] or high < BATCH_SIZES[-1]:
        raise ExportError(
            f"{name} accepts batches of {low} to {high} inputs; aeviz calls it with {BATCH_SIZES[0]} to "
            f"{BATCH_SIZES[-1]}: export it with torch.export.Dim('batch') (no min or max)"
        )
    return tuple(sizes[1:]), None


def measure(program: torch.export.ExportedProgram, shape: tuple[int, ...], weights: dict) -> Cost:
    """Propagate an input of `shape` through the program on torch's meta device, with `weights` there too:
    shapes only, nothing is allocated or computed. Live storage is counted node by node, freed after a value's
    last use; the weights' storage is the model's own memory, not a call's."""
    meter = _Meter({t.untyped_storage()._cdata for t in weights.values()})
    specs = program.graph_signature.input_specs
    with _META:  # factories without a device land there too; explicit devices are rewritten (_propagate)
        inputs = [torch.empty(shape) if spec.target is None else weights[spec.target] for spec in specs]
        try:
            _propagate(program.graph_module.graph, inputs, meter)
        except ExportError:
            raise
        except Exception as exc:  # a shape read from values, a size torch rejects, a dtype an operator refuses...
            text = one_line(exc, limit=160, typed=False)
            if isinstance(exc, NotImplementedError) or "cannot be called on meta" in text:
                text = "its output's shape would depend on tensor values, not known in advance"
            raise ExportError(
                f"the program cannot run on {shape[0]} input(s) of shape {list(shape[1:])} ({meter.node}: {text})"
            ) from None
    return Cost(shape[0], meter.peak, meter.operations)


def _propagate(graph: torch.fx.Graph, inputs: list[torch.Tensor], meter: _Meter) -> None:
    last_use = {used: node for node in graph.nodes for used in node.all_input_nodes}
    env: dict[torch.fx.Node, Any] = {}
    placeholders = iter(inputs)
    for node in graph.nodes:
        if node.op == "placeholder":
            env[node] = next(placeholders)
            if env[node].untyped_storage()._cdata not in meter.resident:
                meter.input = env[node].untyped_storage()._cdata
            meter.hold(node, env[node])
        elif node.op == "call_function":
            meter.node = str(node.target)
            args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), env.__getitem__)
            args, kwargs = tree_map_only(torch.device, lambda _: _META, (args, kwargs))  # never a real allocation
            meter.check_writes(node, args, kwargs)
            env[node] = node.target(*args, **kwargs)
            meter.hold(node, env[node])
            meter.operations += _work(node, args, env[node])
        elif node.op == "output":
            meter.check_outputs(torch.fx.node.map_arg(node.args, env.__getitem__))
        for used in (*node.all_input_nodes, node):
            if last_use.get(used) is node or (used is node and not node.users):
                meter.release(used)


class _Meter:
    """Live tensor storage (bytes by storage, shared by views) and its peak, and the work counted so far."""

    def __init__(self, resident: set[int]) -> None:
        self.resident = resident
        self.input = -1  # the user input's storage
        self.node = ""  # the operator being propagated, for messages
        self.live: dict[int, int] = {}  # storage -> bytes
        self.holders: dict[int, int] = {}  # storage -> values holding it
        self.held: dict[torch.fx.Node, list[int]] = {}
        self.peak = self.operations = 0

    def hold(self, node: torch.fx.Node, value: Any) -> None:
        keys = []
        for t in tree_leaves(value):
            if isinstance(t, torch.Tensor) and t.untyped_storage()._cdata not in self.resident:
                key = t.untyped_storage()._cdata
                self.live.setdefault(key, t.untyped_storage().nbytes())
                self.holders[key] = self.holders.get(key, 0) + 1
                keys.append(key)
        self.held[node] = keys
        self.peak = max(self.peak, sum(self.live.values()))

    def check_writes(self, node: torch.fx.Node, args: tuple, kwargs: dict) -> None:
        """An in-place operator may write only the program's own intermediates, never its weights or input."""
        schema = getattr(node.target, "_schema", None)
        if schema is None or not schema.is_mutable:
            return
        for i, argument in enumerate(schema.arguments):
            value = args[i] if i < len(args) else kwargs.get(argument.name)
            written = argument.alias_info is not None and argument.alias_info.is_write
            if written and isinstance(value, torch.Tensor) and self._shared(value):
                raise ExportError(
                    f"the program writes into its {self._shared(value)} in place ({node.target}); a model is shared "
                    "by every visitor and never changes"
                )

    def check_outputs(self, outputs: Any) -> None:
        for value in tree_leaves(outputs):
            if isinstance(value, torch.Tensor) and self._shared(value) == "weights":
                raise ExportError("the program returns its own weights (or a view of them), which callers could change")

    def _shared(self, value: torch.Tensor) -> str:
        key = value.untyped_storage()._cdata
        return "weights" if key in self.resident else "input" if key == self.input else ""

    def release(self, node: torch.fx.Node) -> None:
        for key in self.held.pop(node, []):
            self.holders[key] -= 1
            if not self.holders[key]:
                del self.holders[key], self.live[key]


def _work(node: torch.fx.Node, args: tuple, out: Any) -> int:
    """Elements read and written, plus two per multiply-add of a contraction and each pooling window's elements:
    a bound on the time of every allowed operator (operators.py)."""
    tensors_in = [t for t in tree_leaves(args) if isinstance(t, torch.Tensor)]
    outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
    work = sum(t.numel() for t in tensors_in) + sum(t.numel() for t in outs)
    name = getattr(node.target, "_opname", "")
    if not outs or not tensors_in:
        return work
    first, result = args[0], outs[0]
    if name in ("linear", "matmul", "mm", "bmm", "addmm"):  # each output element: a dot product of K pairs
        inner = {"linear": args[1].shape[-1], "addmm": args[1].shape[-1]}.get(name, first.shape[-1])
        work += 2 * result.numel() * inner
    elif name.startswith(("conv", "convolution")):
        transposed = "transpose" in name or (name == "convolution" and len(args) > 6 and bool(args[6]))
        work += 2 * (first if transposed else result).numel() * args[1][0].numel()
    elif name.startswith(("max_pool", "avg_pool")) and len(args) > 1:
        work += result.numel() * math.prod(_ints(args[1]))
    elif name.startswith(("adaptive_", "_adaptive_")):
        dims = len(_ints(args[1])) if len(args) > 1 else 2
        work += result.numel() * math.prod(
            -(-first.shape[-d] // max(result.shape[-d], 1)) + 1 for d in range(1, dims + 1)
        )
    return int(work)


def _ints(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]
