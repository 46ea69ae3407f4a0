"""A program's graph JSON checked field by field and rebuilt from the checked fields only, before torch reads it.

torch's deserializer trusts the JSON: it `exec`s `guards_code` when the program becomes a module, passes shape
expressions to `sympy.sympify` (an `eval`), writes node names into Python source it compiles, and resolves
operator names on the torch module. So nothing reaches it unchecked: every node calls an allow-listed operator
(`operators`), every argument is of a plain kind (tensors, numbers, sizes, dtypes; strings only where
`operators.STRING_ARGUMENTS` lists them), every name is a Python identifier, every shape expression is sympy's
own notation for whole-number arithmetic on a size symbol, devices become the CPU, and the fields torch would run
as code or that no model needs (guards, stack traces and other node metadata, custom objects, higher-order
subgraphs, mutations) are dropped or refused. The result is a plain dict in the schema of
`torch._export.serde.schema.ExportedProgram`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch._export.serde.schema import SCHEMA_VERSION

from .archive import ExportError
from .operators import FALSE_ARGUMENTS, is_allowed, refused, spelled
from .signatures import ranges, root_call, signature
from .values import argument, field, identifier, listed, obj, sym_int, tensor_meta, whole, whole_or

MAX_NODES = 2_000  # operations in one program: a ResNet-50-sized encoder has about 200; each costs ~1 ms to check


def clean_program(raw: Any, name: str) -> dict[str, Any]:
    """The model.json of a .pt2 as a checked, rebuilt dict; ExportError names the first thing refused."""
    program, module = obj(raw, name, "the program"), obj(field(raw, "graph_module", name), name, "its graph")
    version = obj(program.get("schema_version"), name, "its schema version")
    if version.get("major") != SCHEMA_VERSION[0] or not whole(version.get("minor")):
        raise ExportError(
            f"{name} was saved by a torch whose export format is {version.get('major')}; this server reads "
            f"format {SCHEMA_VERSION[0]} (torch {torch.__version__.split('+')[0]}): export it with that version"
        )
    verifiers = listed(program.get("verifiers", []), name, "its verifiers")
    if not set(verifiers) <= {"TRAINING", "ATEN"}:
        raise ExportError(f"{name} is a {verifiers} program; aeviz reads programs of torch.export.export")
    graph = _graph(obj(field(module, "graph", name), name, "its graph"), name)
    return {
        "graph_module": {
            "graph": graph,
            "signature": signature(obj(field(module, "signature", name), name, "its signature"), name),
            "module_call_graph": [root_call(listed(module.get("module_call_graph"), name, "its call graph"), name)],
            "metadata": {},
            "treespec_namedtuple_fields": {},
        },
        "opset_version": {"aten": whole_or(obj(program.get("opset_version", {}), name, "its opset").get("aten"), name)},
        "range_constraints": ranges(obj(program.get("range_constraints", {}), name, "its sizes"), name),
        "schema_version": {"major": version["major"], "minor": version["minor"]},
        "verifiers": verifiers,
        "guards_code": [],  # torch would exec these; the same guards are rebuilt from the checked sizes
    }


def _graph(graph: dict, name: str) -> dict[str, Any]:
    nodes = listed(graph.get("nodes"), name, "its nodes")
    if len(nodes) > MAX_NODES:
        raise ExportError(f"{name} has {len(nodes):,} operations, over this server's limit of {MAX_NODES:,}")
    _check_targets(nodes, name)
    for kind in ("sym_bool_values", "sym_float_values", "custom_obj_values"):
        if graph.get(kind):
            raise ExportError(f"{name} computes with {kind.split('_')[1]} values; aeviz runs tensor programs only")
    tensors = obj(graph.get("tensor_values"), name, "its tensors")
    sizes = obj(graph.get("sym_int_values", {}), name, "its sizes")
    return {
        "inputs": [argument(a, name, "") for a in listed(graph.get("inputs"), name, "its inputs")],
        "outputs": [argument(a, name, "") for a in listed(graph.get("outputs"), name, "its outputs")],
        "nodes": [_node(obj(n, name, "a node"), name) for n in nodes],
        "tensor_values": {identifier(k, name): tensor_meta(v, name) for k, v in tensors.items()},
        "sym_int_values": {identifier(k, name): sym_int(v, name) for k, v in sizes.items()},
        "sym_bool_values": {},
        "is_single_tensor_return": graph.get("is_single_tensor_return") is True,
    }


def _check_targets(nodes: list, name: str) -> None:
    """Refuse the first operator not allowed, naming control flow first (a branch's condition comes before it)."""
    targets = [str(n.get("target")) if isinstance(n, dict) else "" for n in nodes]
    refused_targets = [t for t in targets if not is_allowed(t)]
    if refused_targets:
        first = next((t for t in refused_targets if "higher_order" in t), refused_targets[0])
        raise refused(name, spelled(first)[:120])


def _node(node: dict, name: str) -> dict[str, Any]:
    target = node.get("target")
    if not isinstance(target, str) or not is_allowed(target):
        raise refused(name, spelled(str(target))[:120])
    inputs = []
    for item in listed(node.get("inputs"), name, "a node's inputs"):
        item = obj(item, name, "a node's input")
        arg_name = identifier(item.get("name"), name)
        arg = argument(item.get("arg"), name, spelled(target), arg_name)
        if (spelled(target), arg_name) in FALSE_ARGUMENTS and arg != {"as_bool": False}:
            raise ExportError(
                f"{name} runs {spelled(target)} with {arg_name}=True (training mode); export in eval mode"
            )
        kind = item.get("kind")
        inputs.append({"name": arg_name, "arg": arg, "kind": kind if kind in (None, 0, 1, 2) else None})
    outputs = [argument(a, name, spelled(target)) for a in listed(node.get("outputs"), name, "a node's outputs")]
    node_name = node.get("name")
    return {
        "target": target,
        "inputs": inputs,
        "outputs": outputs,
        "metadata": {},  # stack traces, module paths, custom data: nothing a model needs to run
        "is_hop_single_tensor_return": None,
        "name": None if node_name is None else identifier(node_name, name),
    }
