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

import json
import keyword
import re
from typing import Any

import torch
from torch._export.serde.schema import SCHEMA_VERSION

from .archive import DTYPES, STRIDED, ExportError, parse_json
from .operators import FALSE_ARGUMENTS, STRING_ARGUMENTS, is_allowed, refused, spelled

MAX_NODES = 20_000  # a few hundred for the zoo's largest model
MAX_EXPR_CHARS = 400  # one shape expression: "Mul(Integer(4), Symbol('s77', positive=True, integer=True))"
MAX_SPEC_DEPTH = 16  # nesting of a program's inputs and outputs (a tuple of tensors is 2)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_ATTRIBUTE = re.compile(r"[A-Za-z0-9_]{1,200}(\.[A-Za-z0-9_]{1,200}){0,31}")  # a weight's dotted path
_RESERVED = frozenset(dir(torch.fx.GraphModule))  # a weight named "forward" would replace the method
_SYMBOL = re.compile(r"s\d{1,9}")  # a size symbol; unbacked ones (u0: a size read from data) are refused
_EXPR_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|'(s\d{1,9})'|(\d{1,15})|([(),=\-]))")
_EXPR_WORDS = frozenset(
    {"Symbol", "Integer", "Add", "Mul", "FloorDiv", "CeilDiv", "Mod", "PythonMod", "CleanDiv", "Max", "Min"}
    | {"positive", "integer", "nonnegative", "True", "False"}
)
_FLOAT_WORDS = ("Infinity", "-Infinity", "NaN")  # how the schema writes non-finite floats
_PLAIN_KINDS = {"as_none", "as_int", "as_ints", "as_float", "as_floats", "as_bool", "as_bools", "as_string"}
_TENSOR_KINDS = {"as_tensor", "as_tensors", "as_optional_tensor", "as_optional_tensors"}
_OTHER_KINDS = {"as_sym_int", "as_sym_ints", "as_scalar_type", "as_memory_format", "as_layout", "as_device"}
_SPEC_TYPES = (None, "builtins.tuple", "builtins.list", "builtins.dict")


def clean_program(raw: Any, name: str) -> dict[str, Any]:
    """The model.json of a .pt2 as a checked, rebuilt dict; ExportError names the first thing refused."""
    program, module = _obj(raw, name, "the program"), _obj(_get(raw, "graph_module", name), name, "its graph")
    version = _obj(program.get("schema_version"), name, "its schema version")
    if version.get("major") != SCHEMA_VERSION[0] or not _whole(version.get("minor")):
        raise ExportError(
            f"{name} was saved by a torch whose export format is {version.get('major')}; this server reads "
            f"format {SCHEMA_VERSION[0]} (torch {torch.__version__.split('+')[0]}): export it with that version"
        )
    verifiers = _list(program.get("verifiers", []), name, "its verifiers")
    if not set(verifiers) <= {"TRAINING", "ATEN"}:
        raise ExportError(f"{name} is a {verifiers} program; aeviz reads programs of torch.export.export")
    graph = _graph(_obj(_get(module, "graph", name), name, "its graph"), name)
    return {
        "graph_module": {
            "graph": graph,
            "signature": _signature(_obj(_get(module, "signature", name), name, "its signature"), name),
            "module_call_graph": [_root_call(_list(module.get("module_call_graph"), name, "its call graph"), name)],
            "metadata": {},
            "treespec_namedtuple_fields": {},
        },
        "opset_version": {"aten": _whole_or(program.get("opset_version", {}).get("aten"), name)},
        "range_constraints": _ranges(_obj(program.get("range_constraints", {}), name, "its sizes"), name),
        "schema_version": {"major": version["major"], "minor": version["minor"]},
        "verifiers": verifiers,
        "guards_code": [],  # torch would exec these; the same guards are rebuilt from the checked sizes
    }


def _graph(graph: dict, name: str) -> dict[str, Any]:
    nodes = _list(graph.get("nodes"), name, "its nodes")
    if len(nodes) > MAX_NODES:
        raise ExportError(f"{name} has {len(nodes):,} operations, over this server's limit of {MAX_NODES:,}")
    _check_targets(nodes, name)
    for kind in ("sym_bool_values", "sym_float_values", "custom_obj_values"):
        if graph.get(kind):
            raise ExportError(f"{name} computes with {kind.split('_')[1]} values; aeviz runs tensor programs only")
    tensors = _obj(graph.get("tensor_values"), name, "its tensors")
    sizes = _obj(graph.get("sym_int_values", {}), name, "its sizes")
    return {
        "inputs": [_argument(a, name, "") for a in _list(graph.get("inputs"), name, "its inputs")],
        "outputs": [_argument(a, name, "") for a in _list(graph.get("outputs"), name, "its outputs")],
        "nodes": [_node(_obj(n, name, "a node"), name) for n in nodes],
        "tensor_values": {_identifier(k, name): _tensor_meta(v, name) for k, v in tensors.items()},
        "sym_int_values": {_identifier(k, name): _sym_int(v, name) for k, v in sizes.items()},
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
    for item in _list(node.get("inputs"), name, "a node's inputs"):
        item = _obj(item, name, "a node's input")
        arg_name = _identifier(item.get("name"), name)
        arg = _argument(item.get("arg"), name, spelled(target), arg_name)
        if (spelled(target), arg_name) in FALSE_ARGUMENTS and arg != {"as_bool": False}:
            raise ExportError(
                f"{name} runs {spelled(target)} with {arg_name}=True (training mode); export in eval mode"
            )
        kind = item.get("kind")
        inputs.append({"name": arg_name, "arg": arg, "kind": kind if kind in (None, 0, 1, 2) else None})
    outputs = [_argument(a, name, spelled(target)) for a in _list(node.get("outputs"), name, "a node's outputs")]
    node_name = node.get("name")
    return {
        "target": target,
        "inputs": inputs,
        "outputs": outputs,
        "metadata": {},  # stack traces, module paths, custom data: nothing a model needs to run
        "is_hop_single_tensor_return": None,
        "name": None if node_name is None else _identifier(node_name, name),
    }


def _argument(arg: Any, name: str, target: str, arg_name: str = "") -> dict[str, Any]:
    """One argument, rebuilt: plain values, tensors and sizes by name, dtypes; everything else refused."""
    if not isinstance(arg, dict) or len(arg) != 1:
        raise ExportError(f"{name}: an argument of {target or 'the graph'} is malformed")
    kind, value = next(iter(arg.items()))
    if kind not in _PLAIN_KINDS | _TENSOR_KINDS | _OTHER_KINDS:
        what = "a subgraph (control flow)" if kind == "as_graph" else f"a {kind.removeprefix('as_')} argument"
        raise ExportError(f"{name} passes {what} to {target or 'its graph'}; aeviz runs plain tensor operators only")
    if kind == "as_string":
        allowed = STRING_ARGUMENTS.get((target, arg_name), ())
        if value not in allowed:
            raise ExportError(f"{name} passes the text {str(value)[:60]!r} to {target}; aeviz accepts no text there")
        return {kind: value}
    if kind in _TENSOR_KINDS:
        return {kind: _tensor_argument(kind, value, name)}
    return {kind: _plain(kind, value, name)}


def _tensor_argument(kind: str, value: Any, name: str) -> Any:
    if kind == "as_tensor":
        return {"name": _identifier(_obj(value, name, "a tensor").get("name"), name)}
    if kind == "as_tensors":
        return [{"name": _identifier(_obj(v, name, "a tensor").get("name"), name)} for v in _list(value, name, "")]
    if kind == "as_optional_tensor":
        return _optional(value, name)
    return [_optional(v, name) for v in _list(value, name, "tensors")]


def _optional(value: Any, name: str) -> dict[str, Any]:
    value = _obj(value, name, "an optional tensor")
    if "as_none" in value and len(value) == 1:
        return {"as_none": True}
    return {"as_tensor": _tensor_argument("as_tensor", value.get("as_tensor"), name)}


def _plain(kind: str, value: Any, name: str) -> Any:
    checks = {
        "as_none": lambda v: True,
        "as_int": lambda v: _whole(v) and abs(v) < 1 << 62,
        "as_float": lambda v: v in _FLOAT_WORDS or (isinstance(v, (int, float)) and not isinstance(v, bool)),
        "as_bool": lambda v: isinstance(v, bool),
        "as_scalar_type": lambda v: v in DTYPES,
        "as_memory_format": lambda v: v in (1, 2, 3, 4),
        "as_layout": lambda v: v == STRIDED,
        "as_device": lambda v: True,
        "as_sym_int": lambda v: _sym_argument(v),
    }
    single = kind.removesuffix("s") if kind.endswith(("ints", "floats", "bools")) else kind
    values = _list(value, name, kind) if single != kind else [value]
    if not all(checks[single](v) for v in values):
        raise ExportError(f"{name}: an argument {kind.removeprefix('as_')} holds {str(value)[:60]!r}")
    if kind == "as_none":
        return True
    if kind == "as_device":
        return {"type": "cpu", "index": None}  # a program exported on a GPU machine loads here; moved later if asked
    return value


def _sym_argument(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    return (kind == "as_name" and _is_identifier(inner)) or (kind == "as_int" and _whole(inner))


def _tensor_meta(meta: Any, name: str) -> dict[str, Any]:
    meta = _obj(meta, name, "a tensor's description")
    if meta.get("dtype") not in DTYPES or meta.get("layout") != STRIDED:
        raise ExportError(f"{name} computes with a tensor that is not dense numbers (dtype {meta.get('dtype')})")
    sizes, strides = _list(meta.get("sizes"), name, "sizes"), _list(meta.get("strides"), name, "strides")
    if len(sizes) > 16 or len(strides) != len(sizes):
        raise ExportError(f"{name} describes a tensor with a bad shape")
    return {
        "dtype": meta["dtype"],
        "sizes": [_sym_int(s, name) for s in sizes],
        "requires_grad": meta.get("requires_grad") is True,
        "device": {"type": "cpu", "index": None},
        "strides": [_sym_int(s, name) for s in strides],
        "storage_offset": _sym_int(meta.get("storage_offset"), name),
        "layout": STRIDED,
    }


def _sym_int(value: Any, name: str) -> dict[str, Any]:
    value = _obj(value, name, "a size")
    if _whole(value.get("as_int")) and len(value) == 1:
        return {"as_int": value["as_int"]}
    expr = _obj(value.get("as_expr"), name, "a size")
    hint = expr.get("hint")
    if hint is not None and not (isinstance(hint, dict) and list(hint) == ["as_int"] and _whole(hint["as_int"])):
        raise ExportError(f"{name} describes a size whose example value is not a whole number")
    return {"as_expr": {"expr_str": shape_expression(expr.get("expr_str"), name), "hint": hint}}


def shape_expression(text: Any, name: str) -> str:
    """`text` if it is sympy's notation for whole-number arithmetic on size symbols (sympify evaluates it)."""
    ok = isinstance(text, str) and len(text) <= MAX_EXPR_CHARS
    position = 0
    while ok and position < len(text.rstrip()):
        match = _EXPR_TOKEN.match(text, position)
        if match is None or match.group(1) not in (None, *_EXPR_WORDS):
            ok = False
        else:
            position = match.end()
    if not ok:
        raise ExportError(f"{name} describes a size as {str(text)[:60]!r}, which is not a size expression aeviz reads")
    return text


def _signature(signature: dict, name: str) -> dict[str, Any]:
    inputs, users = [], 0
    for spec in _list(signature.get("input_specs"), name, "its inputs"):
        kind, value = _one(spec, name)
        if kind == "user_input":
            users += 1
            if list(_obj(value.get("arg"), name, "an input")) != ["as_tensor"]:
                raise ExportError(f"{name} takes an input that is not a tensor; aeviz feeds it one tensor")
            inputs.append({kind: {"arg": _argument(value["arg"], name, "")}})
        elif kind in ("parameter", "buffer", "tensor_constant"):
            field = {"parameter": "parameter_name", "buffer": "buffer_name"}.get(kind, "tensor_constant_name")
            spec_out = {
                "arg": _tensor_argument("as_tensor", value.get("arg"), name),
                field: _path(value.get(field), name),
            }
            if kind == "buffer":
                spec_out["persistent"] = value.get("persistent") is not False
            inputs.append({kind: spec_out})
        else:
            raise ExportError(f"{name} takes a {kind.replace('_', ' ')} input; aeviz runs plain tensor programs only")
    if users != 1:
        raise ExportError(f"the program takes {users} inputs; aeviz feeds it one tensor of images or codes")
    outputs = []
    for spec in _list(signature.get("output_specs"), name, "its outputs"):
        kind, value = _one(spec, name)
        if kind != "user_output" or list(_obj(value.get("arg"), name, "an output")) != ["as_tensor"]:
            what = "changes its own state" if "mutation" in kind else f"returns a {kind.replace('_', ' ')}"
            raise ExportError(f"{name} {what}; aeviz runs programs that only return tensors")
        outputs.append({kind: {"arg": _argument(value["arg"], name, "")}})
    return {"input_specs": inputs, "output_specs": outputs}


def _root_call(entries: list, name: str) -> dict[str, Any]:
    root = next((e for e in entries if isinstance(e, dict) and e.get("fqn") == ""), None)
    signature = _obj(root.get("signature") if root else None, name, "its call signature")
    arg_names = signature.get("forward_arg_names")
    return {
        "fqn": "",
        "signature": {
            "inputs": [_argument(a, name, "") for a in _list(signature.get("inputs", []), name, "inputs")],
            "outputs": [_argument(a, name, "") for a in _list(signature.get("outputs", []), name, "outputs")],
            "in_spec": _treespec(signature.get("in_spec"), name),
            "out_spec": _treespec(signature.get("out_spec"), name),
            "forward_arg_names": None
            if arg_names is None
            else [_identifier(a, name) for a in _list(arg_names, name, "")],
        },
    }


def _treespec(text: Any, name: str) -> str:
    """A pytree spec (how inputs and outputs nest): tuples, lists and dicts of tensors only."""
    parsed = parse_json(text.encode() if isinstance(text, str) else b"null", f"{name}: its input/output layout")
    if not (isinstance(parsed, list) and len(parsed) == 2 and parsed[0] == 1):
        raise ExportError(f"{name}: its input/output layout is not a torch pytree spec")
    return json.dumps([1, _spec_node(parsed[1], name, 0)])


def _spec_node(node: Any, name: str, depth: int) -> dict[str, Any]:
    node = _obj(node, name, "its input/output layout")
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
    children = [_spec_node(c, name, depth + 1) for c in _list(node.get("children_spec"), name, "its layout")]
    return {"type": kind, "context": context, "children_spec": children}


def _ranges(ranges: dict, name: str) -> dict[str, Any]:
    out = {}
    for symbol, bounds in ranges.items():
        if not _SYMBOL.fullmatch(str(symbol)):
            raise ExportError(
                f"{name} has a size read from tensor values ({str(symbol)[:20]}); aeviz needs shapes known in advance"
            )
        bounds = _obj(bounds, name, "a size's range")
        out[symbol] = {k: _whole_or(bounds.get(k), name) for k in ("min_val", "max_val")}
    return out


def _path(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ATTRIBUTE.fullmatch(value):
        raise ExportError(f"{name} names a weight {str(value)[:60]!r}, which is not a module path")
    if any(part.startswith("__") or part in _RESERVED for part in value.split(".")):
        raise ExportError(f"{name} names a weight {value[:60]!r}, which would replace part of the module")
    return value


def _identifier(value: Any, name: str) -> str:
    if not _is_identifier(value):
        raise ExportError(f"{name} names a value {str(value)[:60]!r}, which is not a Python identifier")
    return value


def _is_identifier(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(_IDENTIFIER.fullmatch(value))
        and not keyword.iskeyword(value)
        and not value.startswith("__")
    )


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole_or(value: Any, name: str) -> int | None:
    if value is not None and not (_whole(value) and abs(value) < 1 << 62):
        raise ExportError(f"{name} holds {str(value)[:40]!r} where a whole number belongs")
    return value


def _one(value: Any, name: str) -> tuple[str, dict]:
    value = _obj(value, name, "a signature entry")
    if len(value) != 1:
        raise ExportError(f"{name}: a signature entry is malformed")
    kind, inner = next(iter(value.items()))
    return kind, _obj(inner, name, "a signature entry")


def _get(value: Any, key: str, name: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _obj(value: Any, name: str, what: str) -> dict:
    if not isinstance(value, dict):
        raise ExportError(f"{name}: {what} is missing or malformed")
    return value


def _list(value: Any, name: str, what: str) -> list:
    if not isinstance(value, list):
        raise ExportError(f"{name}: {what or 'a list'} is missing or malformed")
    return value
