"""torch.export files read without running anything of theirs: an ExportedProgram from checked bytes only.

`torch.export.load` is not used: it unpickles "opaque" constants with plain `pickle.loads`, falls back to an
unrestricted `torch.load`, `exec`s the file's guard code and `sympify`s (evaluates) its shape expressions, and a
zip with two members of one name lets it read other bytes than a checker did. Instead, every step is aeviz's:
`archive` reads each member once and decodes weights and constants from raw bytes; `graphs` checks the graph
JSON (allow-listed operators, plain arguments, identifiers, size expressions) and rebuilds it from the checked
fields; then torch's `ExportedProgramDeserializer.deserialize` turns that dict and those tensors into a program
(with no sample inputs: their pickle is never read); `operators.check_graph` checks the deserialized graph again;
and `costs` computes its memory and work at every batch size aeviz calls it with. All of it on every load.

torch code that stays reachable from a file's bytes: `json.loads` (bounded size, RecursionError caught);
`ExportedProgramDeserializer` and the ExportedProgram verifier on the rebuilt dict (`_schema_object` stands in for
torch's `_dict_to_dataclass`), which resolve operator names by `getattr` on `torch.ops` (allow-listed names only),
pass size expressions to `sympy.sympify` (only those matching `values.shape_expression`'s grammar) and build fake
tensors from the checked tensor descriptions; `torch.fx` code generation (`ExportedProgram.module()`) from
checked identifiers and allow-listed targets, with no guard code; the allow-listed ATen operators themselves, on
the meta device (costs) and then on real tensors when a page calls the model; `torch.frombuffer`/`as_strided`
on bounds-checked bytes. Never reached: `torch.load`, `pickle`, `PyTorchFileReader`, guard code, node metadata,
custom or opaque objects, higher-order operators, the sample inputs.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import threading
import types
import typing
from typing import Any

import torch
from torch._export.serde import schema
from torch._export.serde.serialize import ExportedProgramDeserializer, _resolve_schema_cls
from torch._export.serde.union import _Union

from ..errors import one_line
from . import costs, graphs, operators
from .archive import MODEL, ExportError, read_members, tensors

__all__ = ["ExportError", "check_archive", "input_shape", "load_program", "save_bytes"]
# torch's deserializer keeps the program being read in a module global and refuses a second at once
_load_lock = threading.Lock()


def check_archive(data: bytes, name: str) -> None:
    """Raise ExportError unless `data` is a pt2 archive whose members `load_program` would read."""
    read_members(data, name)


def load_program(data: bytes, name: str, device: str | torch.device = "cpu") -> torch.export.ExportedProgram:
    """The ExportedProgram in `data` (a .pt2 file's bytes) on `device`; ExportError when it is no safe program,
    or one over this server's budget (costs)."""
    try:
        program = _deserialized(data, name)
        operators.check_graph(program, name)
        costs.check_costs(program, name)
    except ExportError:
        raise
    except Exception as exc:  # torch raises many kinds (and RecursionError) for a damaged or hostile program
        why = one_line(exc, typed=False)
        raise ExportError(f"{name} could not be read as a torch.export program ({why})") from None
    if torch.device(device).type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, str(device))
    return program


def _deserialized(data: bytes, name: str) -> torch.export.ExportedProgram:
    members = read_members(data, name)
    clean = graphs.clean_program(members.json(f"models/{MODEL}.json"), name)
    serialized = _schema_object(schema.ExportedProgram, clean)
    weights, parameters = tensors(members, "weights")
    constants, _ = tensors(members, "constants")
    state = {k: torch.nn.Parameter(v, requires_grad=False) if k in parameters else v for k, v in weights.items()}
    with _load_lock:
        return ExportedProgramDeserializer().deserialize(serialized, state, constants, None)


def _schema_object(schema_type: Any, data: Any) -> Any:
    """torch's serialize._dict_to_dataclass, with each class's type hints computed once rather than per object
    (a third of a program's loading time otherwise)."""
    cls: Any = _resolve_schema_cls(schema_type)
    origin, args = typing.get_origin(cls), typing.get_args(cls)
    if origin is typing.Annotated:
        return _schema_object(cls.__origin__, data)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        return None if data is None else _schema_object(args[0], data)
    if isinstance(cls, type) and issubclass(cls, _Union):
        ((kind, value),) = data.items()
        return cls.create(**{kind: _schema_object(_hints(schema_type)[kind], value)})
    if dataclasses.is_dataclass(cls):
        hints, make = _hints(schema_type), typing.cast(Any, cls)
        return make(
            **{f.name: _schema_object(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
        )
    if isinstance(data, list):
        return [_schema_object(args[0], d) for d in data] if data else data
    if isinstance(data, dict):
        return {k: _schema_object(args[1], v) for k, v in data.items()}
    return float(data) if cls is float else data


@functools.cache
def _hints(schema_type: Any) -> dict[str, Any]:
    return typing.get_type_hints(_resolve_schema_cls(schema_type), globalns=vars(schema))


def input_shape(program: torch.export.ExportedProgram) -> tuple[int | None, ...]:
    """The shape of the program's one tensor input, None for each dynamic size: e.g. (None, 1, 28, 28)."""
    user_inputs = program.graph_signature.user_inputs
    nodes = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in user_inputs]
    tensors = [n.meta.get("val") for n in nodes]
    if len(tensors) != 1 or not isinstance(tensors[0], torch.Tensor):
        raise ExportError(f"the program takes {len(tensors)} inputs; aeviz feeds it one tensor of images or codes")
    return tuple(int(s) if isinstance(s, int) else None for s in tensors[0].shape)


def save_bytes(program: torch.export.ExportedProgram) -> bytes:
    """The program as .pt2 bytes (torch.export.save into memory)."""
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()
