"""What a program takes and returns, checked: its signature (weights, one input tensor, tensor outputs), its
call signature's pytree layouts (tuples, lists and dicts only) and its size symbols' ranges."""

from __future__ import annotations

import json
import re
from typing import Any

from .archive import ExportError, parse_json
from .values import argument, identifier, listed, obj, one_entry, tensor_argument, weight_path, whole_or

MAX_SPEC_DEPTH = 16  # nesting of a program's inputs and outputs (a tuple of tensors is 2)
_SYMBOL = re.compile(r"s\d{1,9}")  # a size symbol; unbacked ones (u0: a size read from data) are refused
_SPEC_TYPES = (None, "builtins.tuple", "builtins.list", "builtins.dict")


def signature(signature: dict, name: str) -> dict[str, Any]:
    inputs, users = [], 0
    for spec in listed(signature.get("input_specs"), name, "its inputs"):
        kind, value = one_entry(spec, name)
        if kind == "user_input":
            users += 1
            if list(obj(value.get("arg"), name, "an input")) != ["as_tensor"]:
                raise ExportError(f"{name} takes an input that is not a tensor; aeviz feeds it one tensor")
            inputs.append({kind: {"arg": argument(value["arg"], name, "")}})
        elif kind in ("parameter", "buffer", "tensor_constant"):
            field = {"parameter": "parameter_name", "buffer": "buffer_name"}.get(kind, "tensor_constant_name")
            spec_out = {
                "arg": tensor_argument("as_tensor", value.get("arg"), name),
                field: weight_path(value.get(field), name),
            }
            if kind == "buffer":
                spec_out["persistent"] = value.get("persistent") is not False
            inputs.append({kind: spec_out})
        else:
            raise ExportError(f"{name} takes a {kind.replace('_', ' ')} input; aeviz runs plain tensor programs only")
    if users != 1:
        raise ExportError(f"the program takes {users} inputs; aeviz feeds it one tensor of images or codes")
    outputs = []
    for spec in listed(signature.get("output_specs"), name, "its outputs"):
        kind, value = one_entry(spec, name)
        if kind != "user_output" or list(obj(value.get("arg"), name, "an output")) != ["as_tensor"]:
            what = "changes its own state" if "mutation" in kind else f"returns a {kind.replace('_', ' ')}"
            raise ExportError(f"{name} {what}; aeviz runs programs that only return tensors")
        outputs.append({kind: {"arg": argument(value["arg"], name, "")}})
    return {"input_specs": inputs, "output_specs": outputs}


def root_call(entries: list, name: str) -> dict[str, Any]:
    root = next((e for e in entries if isinstance(e, dict) and e.get("fqn") == ""), None)
    signature = obj(root.get("signature") if root else None, name, "its call signature")
    arg_names = signature.get("forward_arg_names")
    return {
        "fqn": "",
        "signature": {
            "inputs": [argument(a, name, "") for a in listed(signature.get("inputs", []), name, "inputs")],
            "outputs": [argument(a, name, "") for a in listed(signature.get("outputs", []), name, "outputs")],
            "in_spec": treespec(signature.get("in_spec"), name),
            "out_spec": treespec(signature.get("out_spec"), name),
            "forward_arg_names": None
            if arg_names is None
            else [_parameter(a, name) for a in listed(arg_names, name, "")],
        },
    }


def _parameter(value: Any, name: str) -> str:
    """A parameter of the generated forward(self, ...): an identifier other than self."""
    if value == "self":
        raise ExportError(f"{name} names its input 'self', which the generated module uses for itself")
    return identifier(value, name)


def treespec(text: Any, name: str) -> str:
    """A pytree spec (how inputs and outputs nest): tuples, lists and dicts of tensors only."""
    parsed = parse_json(text.encode() if isinstance(text, str) else b"null", f"{name}: its input/output layout")
    if not (isinstance(parsed, list) and len(parsed) == 2 and parsed[0] == 1):
        raise ExportError(f"{name}: its input/output layout is not a torch pytree spec")
    return json.dumps([1, _spec_node(parsed[1], name, 0)])


def _spec_node(node: Any, name: str, depth: int) -> dict[str, Any]:
    node = obj(node, name, "its input/output layout")
    kind, context = node.get("type"), node.get("context")
    if depth > MAX_SPEC_DEPTH or kind not in _SPEC_TYPES:
        raise ExportError(f"{name} takes or returns a {str(kind)[:60]}; aeviz accepts tensors, tuples, lists and dicts")
    if kind == "builtins.dict":
        keys = parse_json(str(context).encode(), f"{name}: its output names")
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise ExportError(f"{name}: a dict it returns has keys that are not text")
        context = json.dumps(keys)
    else:
        context = None if kind is None else "null"
    children = [_spec_node(c, name, depth + 1) for c in listed(node.get("children_spec"), name, "its layout")]
    return {"type": kind, "context": context, "children_spec": children}


def ranges(ranges: dict, name: str) -> dict[str, Any]:
    out = {}
    for symbol, bounds in ranges.items():
        if not _SYMBOL.fullmatch(str(symbol)):
            raise ExportError(
                f"{name} has a size read from tensor values ({str(symbol)[:20]}); aeviz needs shapes known in advance"
            )
        bounds = obj(bounds, name, "a size's range")
        out[symbol] = {k: whole_or(bounds.get(k), name) for k in ("min_val", "max_val")}
    return out
