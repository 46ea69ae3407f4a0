"""torch.export files read safely: an ExportedProgram from bytes, without running a pickle of the file as code.

`torch.export.load` falls back to an unrestricted `torch.load` when a tensor pickle fails the weights-only
check, and unpickles "opaque" constants with plain `pickle.loads`: a crafted .pt2 could run code there. So the
archive is checked first (a zip of the pt2 layout, no compiled code, no object constants, bounded sizes), and
loaded with weights-only unpickling forced. Device fields are rewritten to the CPU before loading, so a program
exported on a GPU machine loads on one without a GPU (and is moved to a GPU afterwards when asked).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import zipfile
from typing import Any

import torch

MAX_ARCHIVE_BYTES = 200 << 20  # uncompressed: a hundred times the zoo's largest model
MAX_MEMBERS = 4096
# Parts of the pt2 layout that hold native code or arbitrary objects: never read
_REFUSED_DIRS = ("data/aotinductor/", "data/executorch/", "data/mtia", "xl_model_weights/")
_OBJECT_CONSTANTS = ("custom_obj_", "opaque_obj_")
_FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_load_lock = threading.Lock()  # the weights-only switch is an environment variable: one load at a time


class ExportError(ValueError):
    """A file that is not a loadable, safe torch.export program; the message says what it is instead."""


def _members(data: bytes, name: str) -> zipfile.ZipFile:
    if data[:1] == b"\x80":
        raise ExportError(
            f"{name} is a Python pickle (torch.save or pickle.dump), not a torch.export file; aeviz never "
            "unpickles a file (it could run any code). Save the model with torch.export.export and "
            "torch.export.save (see README › Import a model)"
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ExportError(f"{name} is not a torch.export file (a .pt2 archive is a zip file; this one is not)")
    return zipfile.ZipFile(io.BytesIO(data))


def check_archive(data: bytes, name: str) -> None:
    """Raise ExportError unless `data` is a pt2 archive that `load_program` may open."""
    with _members(data, name) as archive:
        infos = archive.infolist()
        paths = [i.filename for i in infos]
        if not any(_inner(p).startswith("models/") and p.endswith(".json") for p in paths):
            kind = "a torch.save checkpoint (a pickle in a zip)" if any(p.endswith("data.pkl") for p in paths) else ""
            raise ExportError(
                f"{name} is {kind or 'a zip file'}, not a torch.export program: save one with torch.export.save"
            )
        if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
            raise ExportError(f"{name} unpacks to more than {MAX_ARCHIVE_BYTES >> 20} MB, over this server's limit")
        refused = [p for p in paths if _inner(p).startswith(_REFUSED_DIRS)]
        if refused:
            raise ExportError(f"{name} holds compiled code ({refused[0]}); export the model without AOTInductor")
        for path in paths:
            if _inner(path).startswith("data/constants/") and path.endswith("_constants_config.json"):
                _check_constants(archive.read(path), name)


def _inner(path: str) -> str:
    """A member's path below the archive's root folder (torch names the root after the file)."""
    return path.split("/", 1)[1] if "/" in path else path


def _check_constants(config: bytes, name: str) -> None:
    try:
        entries = json.loads(config).get("config", {})
    except (ValueError, AttributeError):
        raise ExportError(f"{name}: its constants table is not valid JSON") from None
    objects = [k for k, v in entries.items() if str(v.get("path_name", "")).startswith(_OBJECT_CONSTANTS)]
    if objects:
        raise ExportError(
            f"{name} holds Python objects as constants ({objects[0]}), which load by unpickling; only tensors "
            "are accepted"
        )


def _on_cpu(value: Any) -> Any:
    """The JSON with every device (a {'type', 'index'} object) set to the CPU."""
    if isinstance(value, dict):
        if set(value) == {"type", "index"} and isinstance(value["type"], str):
            return {"type": "cpu", "index": None}
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_on_cpu(v) for v in value]
    return value


def _cpu_archive(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            blob = source.read(info)
            if info.filename.endswith(".json"):
                with contextlib.suppress(ValueError):  # not JSON after all: torch's loader reports it
                    blob = json.dumps(_on_cpu(json.loads(blob))).encode()
            target.writestr(info, blob)
    return out.getvalue()


def load_program(data: bytes, name: str, device: str | torch.device = "cpu") -> torch.export.ExportedProgram:
    """The ExportedProgram in `data` (a .pt2 file's bytes) on `device`; ExportError when it is no safe program."""
    check_archive(data, name)
    buffer = io.BytesIO(_cpu_archive(data))
    with _load_lock:
        before = os.environ.get(_FORCE_WEIGHTS_ONLY)
        os.environ[_FORCE_WEIGHTS_ONLY] = "1"
        try:
            program = torch.export.load(buffer)
        except Exception as exc:  # torch raises RuntimeError, KeyError, pickle errors... for a damaged file
            raise ExportError(f"{name} could not be read as a torch.export program ({_first_line(exc)})") from None
        finally:
            if before is None:
                os.environ.pop(_FORCE_WEIGHTS_ONLY, None)
            else:
                os.environ[_FORCE_WEIGHTS_ONLY] = before
    if torch.device(device).type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, str(device))
    return program


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[:limit] + "…"


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
