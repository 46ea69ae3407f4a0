"""Checkpoint headers read defensively: a size cap, a schema for the metadata, and a cap on the model's size."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from .models import MODELS, build_model

FORMAT = "aeviz-checkpoint/1"
# The zoo's largest header is 110 kB (1000 epochs of training history at 100-170 bytes an epoch). 1 MiB is ten
# times that, about 6000 epochs of the most verbose family, and parses in milliseconds; a 90 MB header took 12 s
# and 450 MB on every listing.
MAX_HEADER_BYTES = 1 << 20
# The zoo's largest model (MNIST's TopK sparse q=1024) has 1.61 M parameters. 50 M (200 MB of float32) is thirty
# times that; a header or config claiming more is refused before any weight is read or any layer is allocated.
MAX_PARAMETERS = 50_000_000
MAX_LAYERS = 16  # hidden widths or conv channels in a config: the zoo has at most 2
MAX_TEXT = 4096  # characters in a text field (a folder dataset's path included)

_TEXT_FIELDS = ("name", "slug", "series", "dataset", "data_source", "device", "created")
_TYPED_FIELDS = {
    "training": dict,
    "versions": dict,
    "metrics": dict,
    "history": list,
    "classes": list,
    "input_shape": list,
    "train_images": int,
    "train_seconds": float,
    "interface": dict,  # a model trained elsewhere: how to call its programs (see aeviz.foreign.model)
    "imported": dict,
}
_KIND_NAMES = {dict: "an object", list: "a list", int: "a whole number", float: "a number", str: "text"}


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated, foreign, mismatched or tampered with."""


def read_header(path: str | Path) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """(validated metadata, tensor name -> shape) from a checkpoint's header alone: no weights are read."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: no such checkpoint file")
    _check_header_length(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            shapes = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}  # noqa: SIM118 (not iterable)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: not a readable safetensors file ({_short(exc)})") from None
    if parameter_count(shapes) > MAX_PARAMETERS:
        raise CheckpointError(
            f"{path.name}: its weights hold {parameter_count(shapes):,} parameters, over the "
            f"limit of {MAX_PARAMETERS:,}"
        )
    meta = _parse_metadata(path.name, header)
    check_metadata(path.name, meta)
    return meta, shapes


def _check_header_length(path: Path) -> None:
    """Refuse an oversized header from its 8-byte length prefix, before anything parses it."""
    with open(path, "rb") as f:
        prefix = f.read(8)
    if len(prefix) < 8:
        raise CheckpointError(f"{path.name}: not a readable safetensors file (only {len(prefix)} bytes)")
    length = int.from_bytes(prefix, "little")
    if length > path.stat().st_size - 8:  # a text or other file read as a length: not a safetensors file at all
        raise CheckpointError(f"{path.name}: not a readable safetensors file (its first bytes are no header length)")
    if length > MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{path.name}: its header claims {length:,} bytes, over the limit of {MAX_HEADER_BYTES:,}"
        )


def _parse_metadata(name: str, header: dict[str, str]) -> Any:
    if "aeviz" not in header:
        raise CheckpointError(f"{name}: a safetensors file, but not an aeviz checkpoint")
    try:
        return json.loads(header["aeviz"])
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise CheckpointError(f"{name}: its aeviz metadata is not valid JSON") from None


def check_metadata(name: str, meta: Any) -> None:
    """Raise CheckpointError unless `meta` has every field the listing and the pages read, of the right type,
    and a config that its family's config class accepts (nothing is built)."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its aeviz metadata is {_kind_name(meta)}, not an object")
    family = meta.get("family")
    if meta.get("format") != FORMAT or not isinstance(family, str) or family not in MODELS:
        raise CheckpointError(f"{name}: unknown format {_short(meta.get('format'))} / family {_short(family)}")
    problems = _field_problems(meta) + _config_problems(family, meta.get("config"))
    if problems:
        raise CheckpointError(f"{name}: bad metadata ({'; '.join(problems[:3])})")


def _field_problems(meta: dict[str, Any]) -> list[str]:
    problems = [
        f"{key} must be text of at most {MAX_TEXT:,} characters"
        for key in _TEXT_FIELDS
        if key in meta and not (isinstance(meta[key], str) and len(meta[key]) <= MAX_TEXT)
    ]
    problems += [
        f"{key} must be {_KIND_NAMES[kind]}, not {_kind_name(meta[key])}"
        for key, kind in _TYPED_FIELDS.items()
        if key in meta and not _is(meta[key], kind)
    ]
    if not (isinstance(meta.get("hash"), str) and re.fullmatch("[0-9a-f]{64}", meta["hash"])):
        problems.append("hash must be 64 hexadecimal digits")
    if _is(meta.get("metrics"), dict) and not all(_is(v, float) for v in meta["metrics"].values()):
        problems.append("every metric must be a number")
    if _is(meta.get("classes"), list) and not all(isinstance(c, str) for c in meta["classes"]):
        problems.append("classes must be text")
    if _is(meta.get("input_shape"), list) and not _sizes_ok(meta["input_shape"], exactly=3):
        problems.append("input_shape must be three positive whole numbers")
    return problems


def _shape_problems(meta: dict[str, Any]) -> list[str]:
    """A model must take its own dataset's images: every page feeds it that dataset's pictures."""
    from .data import DATASETS

    dataset, config = meta.get("dataset"), meta.get("config")
    if (
        not isinstance(dataset, str)
        or dataset not in DATASETS
        or not isinstance(config, dict)
        or "input_shape" not in config
    ):
        return []
    claimed, expected = config["input_shape"], list(DATASETS[dataset].shape)
    return [] if claimed == expected else [f"its input {claimed} is not the image shape of {dataset}, {expected}"]


def _config_problems(family: str, config: Any) -> list[str]:
    """Why the config cannot be used (empty when it can): it must build through its family's config class."""
    if not isinstance(config, dict):
        return [f"config must be an object, not {_kind_name(config)}"]
    if "bottleneck" not in config:  # the listing sorts by it
        return ["config has no bottleneck"]
    try:
        built = MODELS[family].config_class.from_dict(config)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        return [f"config: {_short(exc)}"]
    return [
        f"config {field.name} must be {_expected(field)}, not {_short(getattr(built, field.name))}"
        for field in dataclasses.fields(built)
        if not _field_ok(field, getattr(built, field.name))
    ]


def _field_ok(field: dataclasses.Field, value: Any) -> bool:
    """Each config field has its default's type; sizes are positive and none alone exceeds MAX_PARAMETERS."""
    default = field.default
    if isinstance(default, str):
        return isinstance(value, str) and len(value) <= MAX_TEXT
    if isinstance(default, (bool, float)):
        return _is(value, type(default))
    if isinstance(default, int):  # a count; one whose default is 0 ("none", e.g. a TopK k in another mode) may be 0
        return _is(value, int) and (1 if default else 0) <= value <= MAX_PARAMETERS
    if field.name == "input_shape":
        return _sizes_ok(value, exactly=3) and math.prod(value) <= MAX_PARAMETERS
    return not isinstance(default, tuple) or (_sizes_ok(value) and len(value) <= MAX_LAYERS)


def _expected(field: dataclasses.Field) -> str:
    if isinstance(field.default, tuple):
        return (
            "three positive whole numbers"
            if field.name == "input_shape"
            else f"a list of at most {MAX_LAYERS} positive whole numbers"
        )
    if type(field.default) is int:
        return f"a whole number from {1 if field.default else 0} to {MAX_PARAMETERS:,}"
    return _KIND_NAMES.get(type(field.default), "true/false")


def _sizes_ok(values: Any, exactly: int | None = None) -> bool:
    return (
        isinstance(values, (list, tuple))
        and (exactly is None or len(values) == exactly)
        and all(_is(v, int) and 1 <= v <= MAX_PARAMETERS for v in values)
    )


def check_fits(name: str, meta: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> torch.nn.Module | None:
    """Refuse a config that claims more than MAX_PARAMETERS or other tensors than the header holds. The model is
    built on the meta device: shapes without storage, so a config claiming gigabytes costs nothing. Returns that
    storage-less model (None for an imported one), for the loader to fill with the weights."""
    if "interface" in meta:
        _check_imported(name, meta, shapes)
        return None
    try:
        with torch.device("meta"):
            model = build_model(meta["family"], MODELS[meta["family"]].config_class.from_dict(meta["config"]))
    except (TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise CheckpointError(f"{name}: its config builds no model ({_short(exc)})") from None
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    if parameter_count(expected) > MAX_PARAMETERS:
        raise CheckpointError(
            f"{name}: its config claims a model of {parameter_count(expected):,} parameters, "
            f"over the limit of {MAX_PARAMETERS:,}"
        )
    if expected != shapes:
        key = next(k for k in sorted(set(expected) | set(shapes)) if expected.get(k) != shapes.get(k))
        raise CheckpointError(
            f"{name}: weights do not fit the recorded config ({key}: the config needs shape "
            f"{expected.get(key, 'none')}, the file holds {shapes.get(key, 'none')})"
        )
    mismatch = _shape_problems(meta)
    if mismatch:
        raise CheckpointError(f"{name}: {mismatch[0]}, so it cannot run on its own dataset")
    return model


def _check_imported(name: str, meta: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> None:
    """A model trained elsewhere holds two programs as byte tensors, and an interface aeviz can call them by."""
    from .foreign.interface import DECODER_KEY, ENCODER_KEY, Interface

    if set(shapes) != {ENCODER_KEY, DECODER_KEY} or any(len(shape) != 1 for shape in shapes.values()):
        raise CheckpointError(f"{name}: an imported model must hold exactly {ENCODER_KEY} and {DECODER_KEY} as bytes")
    try:
        interface = Interface.from_dict(meta["interface"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: bad metadata (interface: {_short(exc)})") from None
    if interface.bottleneck != meta["config"]["bottleneck"]:
        raise CheckpointError(f"{name}: bad metadata (its interface's code size is not its config's bottleneck)")
    mismatch = _shape_problems(meta)
    if mismatch:
        raise CheckpointError(f"{name}: {mismatch[0]}, so it cannot run on its own dataset")


def parameter_count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def _is(value: Any, kind: type) -> bool:
    """isinstance, except that a JSON true/false is no number, and a whole number is a number."""
    if kind in (int, float):
        return isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _kind_name(value: Any) -> str:
    return {bool: "true/false", type(None): "null"}.get(type(value)) or _KIND_NAMES.get(type(value), "something else")


def _short(value: Any, limit: int = 120) -> str:
    """A value or an exception for a message: a hostile file can put a megabyte in one field."""
    text = str(value) if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
