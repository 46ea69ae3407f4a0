"""aeviz.json, the settings an imported model's folder (or an adapter) gives: read and checked, field by field."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DATASETS
from ..models import MODELS
from ..noise import parse_noise
from ..ownformat import parse as parse_own

MANIFEST = "aeviz.json"


def _examples() -> str:
    """Each built-in dataset with its image shape, from the registry: 'mnist [1, 28, 28], cifar10 [3, 32, 32], ...'."""
    return ", ".join(f"{name} {list(info.shape)}" for name, info in DATASETS.items())


class ImportRefused(ValueError):
    """Why a folder cannot be imported, in words for its owner; nothing was written."""


@dataclass(frozen=True)
class Manifest:
    """aeviz.json: what the exporter knows and aeviz cannot find out from the programs."""

    dataset: str
    input_shape: tuple[int, int, int]
    name: str = ""
    family: str = "dense"
    arch: str = ""  # 'dense' or 'conv': which of the zoo's models it compares with; conv for the conv family
    loss: str = "mse"
    noise: str = ""
    code_output: int = 0
    log_variance_output: int | None = None
    input_range: tuple[float, float] = (0.0, 1.0)
    output_range: tuple[float, float] | str = (0.0, 1.0)  # or "logits"


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise ImportRefused(
            f"{folder} has no {MANIFEST}: write one naming at least the dataset and the input shape, e.g. "
            '{"dataset": "mnist", "input_shape": [1, 28, 28]} or {"dataset": "cifar10", "input_shape": [3, 32, 32]} '
            "(see README › Import a model)"
        )
    if path.stat().st_size > 64 * 1024:
        raise ImportRefused(f"{MANIFEST} is over 64 kB: it should be a few lines of JSON")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ImportRefused(f"{MANIFEST} is nested too deeply to be a few lines of settings") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused(f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise ImportRefused(f"{MANIFEST} must be a JSON object of settings")
    return manifest_from(values)


def manifest_from(values: dict[str, Any]) -> Manifest:
    """A checked Manifest from aeviz.json's (or an adapter's) settings; ImportRefused names the bad field."""
    known = set(Manifest.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ImportRefused(f"{MANIFEST}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    for required in ("dataset", "input_shape"):
        if required not in values:
            raise ImportRefused(
                f"{MANIFEST} must say {required!r}: the dataset and its images' [channels, height, width], "
                f"one of {_examples()}, or folder:PATH and the size its images are read at"
            )
    fields = dict(values)
    fields["input_shape"] = _shape(values["input_shape"])
    fields["input_range"] = _range(values.get("input_range", [0, 1]), "input_range")
    output = values.get("output_range", [0, 1])
    fields["output_range"] = output if output == "logits" else _range(output, "output_range")
    manifest = Manifest(**fields)
    _check_words(manifest)
    return manifest


def _shape(value: Any) -> tuple[int, int, int]:
    if not (isinstance(value, list) and len(value) == 3 and all(_whole(v) and v >= 1 for v in value)):
        raise ImportRefused(f"{MANIFEST}: input_shape must be [channels, height, width], as {_examples()}")
    return (value[0], value[1], value[2])


def _range(value: Any, name: str) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value) and value[0] < value[1]
    if not ok:
        hint = ', or "logits"' if name == "output_range" else ""
        raise ImportRefused(f"{MANIFEST}: {name} must be [low, high], e.g. [0, 1] or [-1, 1]{hint}")
    return (float(value[0]), float(value[1]))


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _dataset_shape(dataset: Any) -> tuple[int, int, int] | None:
    """The picture shape a dataset name gives (a folder's from its format), None for no usable name."""
    if not isinstance(dataset, str):
        return None
    if dataset in DATASETS:
        return DATASETS[dataset].shape
    try:
        kind, fmt, _ = parse_own(dataset)
    except ValueError:
        return None
    return fmt.shape if kind == "folder" else None


def _check_words(m: Manifest) -> None:
    problems = []
    shape = _dataset_shape(m.dataset)
    if shape is None:
        problems.append(
            f"dataset must be one of {', '.join(DATASETS)}, folder:PATH or folder@rgb32:PATH (colour, 32x32), "
            f"not {str(m.dataset)[:80]!r}"
        )
    elif tuple(m.input_shape) != shape:
        problems.append(f"input_shape {list(m.input_shape)} is not the image shape of {m.dataset}, {list(shape)}")
    if m.family not in MODELS or m.family == "linear":
        problems.append(f"family must be one of {', '.join(f for f in MODELS if f != 'linear')}, not {m.family!r}")
    if m.arch not in ("", "dense", "conv"):
        problems.append(f"arch must be 'dense' or 'conv', not {m.arch!r}")
    if m.loss not in ("bce", "mse"):
        problems.append(f"loss must be 'bce' or 'mse', not {m.loss!r}")
    if not isinstance(m.name, str) or len(m.name) > 100:
        problems.append("name must be text of at most 100 characters")
    if not _whole(m.code_output) or m.code_output < 0:
        problems.append("code_output must be a whole number >= 0")
    if m.log_variance_output is not None and (not _whole(m.log_variance_output) or m.log_variance_output < 0):
        problems.append("log_variance_output must be a whole number >= 0")
    if m.family == "vae" and m.log_variance_output is None:
        problems.append("a vae needs log_variance_output: which of the encoder's outputs is the log-variance")
    if m.family == "denoising" and not m.noise:
        problems.append('a denoising model needs noise: what it was trained on, e.g. "gaussian:0.5"')
    if m.noise:
        try:
            parse_noise(m.noise)
        except ValueError as exc:
            problems.append(f"noise: {exc}")
    if problems:
        raise ImportRefused(f"{MANIFEST}: {'; '.join(problems)}")
