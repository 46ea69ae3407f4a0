"""A program's JSON checked value by value: names, whole numbers, size expressions, tensor descriptions and
operator arguments, each rebuilt from what was checked (graphs.py puts them together)."""

from __future__ import annotations

import keyword
import re
from typing import Any

import torch

from .archive import DTYPES, STRIDED, ExportError
from .operators import STRING_ARGUMENTS

MAX_EXPR_CHARS = 400  # one shape expression: "Mul(Integer(4), Symbol('s77', positive=True, integer=True))"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_ATTRIBUTE = re.compile(r"[A-Za-z0-9_]{1,200}(\.[A-Za-z0-9_]{1,200}){0,31}")  # a weight's dotted path
_RESERVED = frozenset(dir(torch.fx.GraphModule))  # a weight named "forward" would replace the method
_EXPR_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|'(s\d{1,9})'|(\d{1,15})|([(),=\-]))")
_EXPR_WORDS = frozenset(
    {"Symbol", "Integer", "Add", "Mul", "FloorDiv", "CeilDiv", "Mod", "PythonMod", "CleanDiv", "Max", "Min"}
    | {"positive", "integer", "nonnegative", "True", "False"}
)
_FLOAT_WORDS = ("Infinity", "-Infinity", "NaN")  # how the schema writes non-finite floats
_PLAIN_KINDS = {"as_none", "as_int", "as_ints", "as_float", "as_floats", "as_bool", "as_bools", "as_string"}
_TENSOR_KINDS = {"as_tensor", "as_tensors", "as_optional_tensor", "as_optional_tensors"}
_OTHER_KINDS = {"as_sym_int", "as_sym_ints", "as_scalar_type", "as_memory_format", "as_layout", "as_device"}


def argument(arg: Any, name: str, target: str, arg_name: str = "") -> dict[str, Any]:
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
        return {kind: tensor_argument(kind, value, name)}
    return {kind: _plain(kind, value, name)}


def tensor_argument(kind: str, value: Any, name: str) -> Any:
    if kind == "as_tensor":
        return {"name": identifier(obj(value, name, "a tensor").get("name"), name)}
    if kind == "as_tensors":
        return [{"name": identifier(obj(v, name, "a tensor").get("name"), name)} for v in listed(value, name, "")]
    if kind == "as_optional_tensor":
        return _optional(value, name)
    return [_optional(v, name) for v in listed(value, name, "tensors")]


def _optional(value: Any, name: str) -> dict[str, Any]:
    value = obj(value, name, "an optional tensor")
    if "as_none" in value and len(value) == 1:
        return {"as_none": True}
    return {"as_tensor": tensor_argument("as_tensor", value.get("as_tensor"), name)}


def _plain(kind: str, value: Any, name: str) -> Any:
    checks = {
        "as_none": lambda v: True,
        "as_int": lambda v: whole(v) and abs(v) < 1 << 62,
        "as_float": lambda v: v in _FLOAT_WORDS or (isinstance(v, (int, float)) and not isinstance(v, bool)),
        "as_bool": lambda v: isinstance(v, bool),
        "as_scalar_type": lambda v: v in DTYPES,
        "as_memory_format": lambda v: v in (1, 2, 3, 4),
        "as_layout": lambda v: v == STRIDED,
        "as_device": lambda v: True,
        "as_sym_int": lambda v: _sym_argument(v),
    }
    single = kind.removesuffix("s") if kind.endswith(("ints", "floats", "bools")) else kind
    values = listed(value, name, kind) if single != kind else [value]
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
    return (kind == "as_name" and is_identifier(inner)) or (kind == "as_int" and whole(inner))


def tensor_meta(meta: Any, name: str) -> dict[str, Any]:
    meta = obj(meta, name, "a tensor's description")
    if meta.get("dtype") not in DTYPES or meta.get("layout") != STRIDED:
        raise ExportError(f"{name} computes with a tensor that is not dense numbers (dtype {meta.get('dtype')})")
    sizes, strides = listed(meta.get("sizes"), name, "sizes"), listed(meta.get("strides"), name, "strides")
    if len(sizes) > 16 or len(strides) != len(sizes):
        raise ExportError(f"{name} describes a tensor with a bad shape")
    return {
        "dtype": meta["dtype"],
        "sizes": [sym_int(s, name) for s in sizes],
        "requires_grad": meta.get("requires_grad") is True,
        "device": {"type": "cpu", "index": None},
        "strides": [sym_int(s, name) for s in strides],
        "storage_offset": sym_int(meta.get("storage_offset"), name),
        "layout": STRIDED,
    }


def sym_int(value: Any, name: str) -> dict[str, Any]:
    value = obj(value, name, "a size")
    if whole(value.get("as_int")) and len(value) == 1:
        return {"as_int": value["as_int"]}
    expr = obj(value.get("as_expr"), name, "a size")
    hint = expr.get("hint")
    if hint is not None and not (isinstance(hint, dict) and list(hint) == ["as_int"] and whole(hint["as_int"])):
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


def weight_path(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ATTRIBUTE.fullmatch(value):
        raise ExportError(f"{name} names a weight {str(value)[:60]!r}, which is not a module path")
    if any(part.startswith("__") or part in _RESERVED for part in value.split(".")):
        raise ExportError(f"{name} names a weight {value[:60]!r}, which would replace part of the module")
    return value


def identifier(value: Any, name: str) -> str:
    if not is_identifier(value):
        raise ExportError(f"{name} names a value {str(value)[:60]!r}, which is not a Python identifier")
    return value


def is_identifier(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(_IDENTIFIER.fullmatch(value))
        and not keyword.iskeyword(value)
        and not value.startswith("__")
    )


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_or(value: Any, name: str) -> int | None:
    if value is not None and not (whole(value) and abs(value) < 1 << 62):
        raise ExportError(f"{name} holds {str(value)[:40]!r} where a whole number belongs")
    return value


def one_entry(value: Any, name: str) -> tuple[str, dict]:
    value = obj(value, name, "a signature entry")
    if len(value) != 1:
        raise ExportError(f"{name}: a signature entry is malformed")
    kind, inner = next(iter(value.items()))
    return kind, obj(inner, name, "a signature entry")


def field(value: Any, key: str, name: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def obj(value: Any, name: str, what: str) -> dict:
    if not isinstance(value, dict):
        raise ExportError(f"{name}: {what} is missing or malformed")
    return value


def listed(value: Any, name: str, what: str) -> list:
    if not isinstance(value, list):
        raise ExportError(f"{name}: {what or 'a list'} is missing or malformed")
    return value
