""".pt2 archives read by aeviz itself: each member checked once (unique, expected, intact) and its tensors decoded.

A .pt2 file is a zip whose members torch's own reader (a C++ zip reader) and Python's `zipfile` may resolve
differently when two share a name; torch then unpickles "opaque" constants with plain `pickle.loads`. So torch's
reader is never used: this module reads every member exactly once with `zipfile` (which checks each CRC),
refuses duplicate, unexpected or oversized members, and decodes weights and constants from their raw bytes
with the dtype, shape and strides their config declares. Pickled payloads are refused, never read; the sample
inputs (a pickle torch saves beside the program) are never read. What comes out is a `Members` of checked
bytes and the tensors decoded from exactly those bytes.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import one_line

MAX_ARCHIVE_BYTES = 200 << 20  # uncompressed: a hundred times the zoo's largest model
MAX_MEMBERS = 4096
MAX_JSON_BYTES = 32 << 20  # one JSON member: a 10,000-node graph takes about 20 MB
MAX_DIMS = 16  # dimensions of one tensor
MODEL = "model"  # the one program torch.export.save writes
# Every member torch.export.save writes, below the archive's root folder: nothing else is accepted
_EXPECTED = re.compile(
    r"(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"
    rf"|models/{MODEL}\.json|data/sample_inputs/{MODEL}\.pt"
    rf"|data/weights/{MODEL}_weights_config\.json|data/weights/weight_\d+"
    rf"|data/constants/{MODEL}_constants_config\.json|data/constants/tensor_\d+)"
)
_ROOT = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
# The schema's ScalarType codes (torch/_export/serde/schema.py) a weight may have: plain numbers
DTYPES = {
    1: torch.uint8,
    2: torch.int8,
    3: torch.int16,
    4: torch.int32,
    5: torch.int64,
    6: torch.float16,
    7: torch.float32,
    8: torch.float64,
    12: torch.bool,
    13: torch.bfloat16,
}
STRIDED = 7  # the schema's Layout code for an ordinary dense tensor


class ExportError(ValueError):
    """A file that is not a loadable, safe torch.export program; the message says what it is instead."""


@dataclass(frozen=True)
class Members:
    """A checked archive: each member's bytes by its path below the root folder."""

    name: str  # the file's name, for messages
    blobs: dict[str, bytes]

    def json(self, path: str) -> Any:
        return parse_json(self.blobs[path], f"{self.name}: {path}")


def read_members(data: bytes, name: str) -> Members:
    """The archive's members, each read once (CRC checked); ExportError for anything torch.export.save does
    not write: a duplicate name, an unknown member (compiled code, pickled objects), a damaged or huge file."""
    archive = _open(data, name)
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
        raise ExportError(f"{name} unpacks to more than {MAX_ARCHIVE_BYTES >> 20} MB, over this server's limit")
    roots = {i.filename.split("/", 1)[0] for i in infos}
    paths = [i.filename.split("/", 1)[1] if "/" in i.filename else "" for i in infos]
    if len(roots) != 1 or not _ROOT.fullmatch(next(iter(roots))):
        raise ExportError(f"{name} is not laid out as torch.export.save writes it (one root folder)")
    if f"models/{MODEL}.json" not in paths:
        kind = "a torch.save checkpoint (a pickle in a zip)" if any(p.endswith("data.pkl") for p in paths) else ""
        raise ExportError(
            f"{name} is {kind or 'a zip file'}, not a torch.export program: save one with torch.export.save"
        )
    blobs: dict[str, bytes] = {}
    for info, path in zip(infos, paths):
        if path in blobs:
            raise ExportError(f"{name} holds two members named {path}: a damaged or crafted file")
        if not _EXPECTED.fullmatch(path):
            raise ExportError(f"{name} holds {path}, which torch.export.save does not write{_hint(path)}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ExportError(f"{name}: {path} is compressed in a way torch.export.save does not use")
        try:
            blobs[path] = archive.read(info)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as exc:  # CRC, truncation
            raise ExportError(f"{name} is damaged ({one_line(exc, typed=False)})") from None
    _check_header(blobs, name)
    return Members(name, blobs)


def _open(data: bytes, name: str) -> zipfile.ZipFile:
    if data[:1] == b"\x80":
        raise ExportError(
            f"{name} is a Python pickle (torch.save or pickle.dump), not a torch.export file; aeviz never "
            "unpickles a file (it could run any code). Save the model with torch.export.export and "
            "torch.export.save (see README › Import a model)"
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        why = one_line(exc, typed=False)
        raise ExportError(
            f"{name} is not a torch.export file (a .pt2 archive is a zip file; this one is not: {why})"
        ) from None


def _hint(path: str) -> str:
    if path.startswith(("data/aotinductor/", "data/executorch/", "data/mtia", "xl_model_weights/")):
        return ": compiled code; export the model without AOTInductor"
    if path.startswith(("data/constants/custom_obj_", "data/constants/opaque_obj_")):
        return ": a Python object as a constant, which loads by unpickling; only tensors are accepted"
    return ""


def _check_header(blobs: dict[str, bytes], name: str) -> None:
    if blobs.get("archive_format", b"").strip() != b"pt2":
        raise ExportError(f"{name} is not a torch.export archive (its archive_format is not pt2)")
    order = blobs.get("byteorder", sys.byteorder.encode()).strip().decode(errors="replace")
    if order != sys.byteorder:
        raise ExportError(f"{name} was saved on a {order}-endian machine; this server is {sys.byteorder}-endian")


def parse_json(blob: bytes, what: str) -> Any:
    if len(blob) > MAX_JSON_BYTES:
        raise ExportError(f"{what} is over {MAX_JSON_BYTES >> 20} MB of JSON")
    try:
        return json.loads(blob)
    except RecursionError:
        raise ExportError(f"{what} is nested too deeply to be a torch.export program") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{what} is not valid JSON ({one_line(exc, typed=False)})") from None


def tensors(members: Members, kind: str) -> tuple[dict[str, torch.Tensor], set[str]]:
    """The weights ('weights') or constants ('constants') decoded from raw bytes as their config declares, and
    the names of those that are parameters. Tensors sharing a payload share its storage, as torch saved them."""
    config = members.json(f"data/{kind}/{MODEL}_{kind}_config.json")
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise ExportError(f"{members.name}: its {kind} table is not a torch.export payload config")
    prefix = "weight_" if kind == "weights" else "tensor_"
    storages: dict[str, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    params: set[str] = set()
    for fqn, entry in entries.items():
        where = f"{members.name}: {kind[:-1]} {str(fqn)[:80]!r}"
        path = entry.get("path_name") if isinstance(entry, dict) else None
        if isinstance(path, str) and path.startswith(("custom_obj_", "opaque_obj_")):
            raise ExportError(
                f"{members.name} holds Python objects as constants ({str(fqn)[:80]}), which load by unpickling; "
                "only tensors are accepted"
            )
        if not isinstance(entry, dict) or entry.get("use_pickle") is not False:
            raise ExportError(
                f"{where} is stored as a pickle, which aeviz never loads; only plain tensors are accepted"
            )
        if not (isinstance(path, str) and path.startswith(prefix) and f"data/{kind}/{path}" in members.blobs):
            raise ExportError(f"{where} points to {str(path)[:80]!r}, not a tensor in the file")
        dtype, sizes, strides, offset = _tensor_meta(entry.get("tensor_meta"), where)
        if path not in storages:
            storages[path] = _storage(members.blobs[f"data/{kind}/{path}"], dtype, where)
        storage = storages[path]
        _check_extent(sizes, strides, offset, storage.numel(), where)
        out[str(fqn)] = torch.as_strided(storage, sizes, strides, offset)
        if entry.get("is_param") is True:
            params.add(str(fqn))
    return out, params


def _tensor_meta(meta: Any, where: str) -> tuple[torch.dtype, list[int], list[int], int]:
    if not isinstance(meta, dict) or meta.get("dtype") not in DTYPES or meta.get("layout") != STRIDED:
        raise ExportError(f"{where} is not a dense tensor of numbers (dtype, layout)")
    sizes, strides = meta.get("sizes"), meta.get("strides")
    offset = _int_of(meta.get("storage_offset"), where)
    if not (isinstance(sizes, list) and isinstance(strides, list) and len(sizes) == len(strides) <= MAX_DIMS):
        raise ExportError(f"{where} declares a bad shape")
    return DTYPES[meta["dtype"]], [_int_of(s, where) for s in sizes], [_int_of(s, where) for s in strides], offset


def _int_of(value: Any, where: str) -> int:
    """A SymInt that must be a plain, non-negative size: {"as_int": n}."""
    number = value.get("as_int") if isinstance(value, dict) and len(value) == 1 else None
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1 << 48:
        raise ExportError(f"{where} declares a size or stride that is not a whole number")
    return number


def _storage(blob: bytes, dtype: torch.dtype, where: str) -> torch.Tensor:
    size = torch.empty((), dtype=dtype).element_size()
    if len(blob) % size:
        raise ExportError(f"{where}: its {len(blob)} bytes are not whole {dtype} values")
    if not blob:
        return torch.empty(0, dtype=dtype)
    if dtype == torch.bool and max(blob) > 1:  # kernels assume 0 or 1 in a bool's byte
        raise ExportError(f"{where} declares booleans whose bytes are not 0 or 1")
    return torch.frombuffer(bytearray(blob), dtype=dtype)  # a copy: the tensor owns its memory


def _check_extent(sizes: list[int], strides: list[int], offset: int, numel: int, where: str) -> None:
    """The strided view stays inside its payload (torch.as_strided would read past it on some versions)."""
    if 0 in sizes:
        return
    last = offset + sum((size - 1) * stride for size, stride in zip(sizes, strides))
    if last >= numel:
        raise ExportError(f"{where} reaches past the end of its data (truncated or crafted)")
