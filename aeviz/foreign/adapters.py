"""Models from the operator's own Python code (AEVIZ_ADAPTERS files, `aeviz.adapters` entry points) as imported models.

An adapter file defines `models()`, returning objects with `encode(x)`, `decode(z)`, an optional
`encode_stats(x) -> (mean, log_variance)` for a VAE, and a `metadata` dict of aeviz.json's settings. Each is
checked on a batch of its dataset like an imported folder, measured once per content hash (kept on disk), and
offered as a CheckpointInfo whose path is virtual: `<file stem>.<name>.adapter` beside the file, never on disk.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .. import diskcache, settings
from ..checkpoints import SERVER, VIRTUAL_SUFFIX, CheckpointError, CheckpointInfo, content_hash, user_dir
from ..data import load_dataset
from ..errors import one_line
from ..headers import FORMAT
from ..names import check_name
from .importer import MANIFEST, ImportRefused, Manifest, manifest_from, measure, probe_images, probe_interface
from .importer import _metadata as imported_metadata
from .model import ImportedModel

ENV, GROUP = "AEVIZ_ADAPTERS", "aeviz.adapters"
METRICS = "adapter-metrics"  # the disk cache's folder for measured metrics, one file per content hash


@dataclass(frozen=True)
class Adapted:
    """One adapter model: its listing entry, the model every session shares, and what finding it cost."""

    info: CheckpointInfo
    model: ImportedModel
    seconds: float  # checking it (and measuring it, unless its metrics were cached)
    measured: bool  # False when its metrics came from the disk cache

    @property
    def summary(self) -> str:
        """One line for `aeviz adapters`: the model, its test metrics, what finding it cost and where it is from."""
        m, info = self.info.metrics, self.info
        how = "measured" if self.measured else "cached metrics, checked"
        how = f"{how} in {self.seconds:.2f} s"
        return (
            f"{info.name}  {info.family} q={info.bottleneck} on {info.dataset}  test mse {m['mse']:.5f}  "
            f"bce {m['bce']:.4f}  psnr {m['psnr']:.2f} dB  kNN-7 {100 * m['knn7']:.1f} %  ({how})  "
            f"from {info.metadata['imported']['from']}"
        )


@dataclass(frozen=True)
class Scan:
    """Every adapter model found, and one line for each file, entry point or object that could not be used."""

    models: tuple[Adapted, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def infos(self) -> list[CheckpointInfo]:
        return [a.info for a in self.models]

    def model_at(self, path: str) -> ImportedModel | None:
        return next((a.model for a in self.models if str(a.info.path) == path), None)


@dataclass(frozen=True)
class _Source:
    """Where adapter objects came from: shown in messages, hashed into their models' content hash."""

    origin: str  # the file's path, or 'entry point NAME (module:attr)'
    folder: Path  # where its models' virtual paths lie
    stem: str
    code: bytes


def adapter_files() -> tuple[Path, ...]:
    """The files AEVIZ_ADAPTERS names (several separated by os.pathsep)."""
    return settings.current().adapters


def stamp() -> tuple:
    """What a discovery depends on, cheap to compare on every rerun: AEVIZ_ADAPTERS and each file's mtime."""
    files = adapter_files()
    return tuple(map(str, files)), tuple(_file_stamp(path) for path in files)


def _file_stamp(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
        return str(path), stat.st_mtime_ns, stat.st_size
    except OSError:
        return str(path), 0, -1


def discover(*, entry_points: bool = True) -> Scan:
    """Import every adapter file and entry point and check their models; nothing raises, errors are listed."""
    found: list[Adapted] = []
    errors: list[str] = []
    loaders: list[Callable[[], tuple[_Source, list]]] = [functools.partial(_from_file, p) for p in adapter_files()]
    if entry_points:
        points = importlib.metadata.entry_points(group=GROUP)
        loaders += [functools.partial(_from_entry_point, e) for e in points]
    for load in loaders:
        try:
            source, objects = load()
        except ImportRefused as exc:
            errors.append(str(exc))
            continue
        taken: set[str] = set()
        for index, obj in enumerate(objects):
            try:
                found.append(_adapt(obj, source, index, taken))
            except ImportRefused as exc:
                errors.append(f"{source.origin}: {exc}")
    return Scan(tuple(found), tuple(errors))


def _words(exc: ImportRefused) -> str:
    """An import check's message, about the adapter's metadata where a folder's would be about its aeviz.json."""
    return str(exc).replace(MANIFEST, "metadata")


def _from_file(path: Path) -> tuple[_Source, list]:
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file (named in {ENV})")
    code = path.read_bytes()
    module_name = "aeviz_adapter_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportRefused(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up there
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the operator's code: any error is its message, never a crash
        sys.modules.pop(module_name, None)
        raise ImportRefused(f"{path}: importing it failed ({one_line(exc)})") from None
    if not callable(getattr(module, "models", None)):
        raise ImportRefused(f"{path}: it defines no models() function returning the adapter models")
    source = _Source(str(path), path.resolve().parent, path.stem, code)
    return source, _call_models(module.models, source.origin)


def _from_entry_point(ep: importlib.metadata.EntryPoint) -> tuple[_Source, list]:
    origin = f"entry point {ep.name} ({ep.value})"
    try:
        fn = ep.load()
    except (Exception, SystemExit) as exc:
        raise ImportRefused(f"{origin}: loading it failed ({one_line(exc)})") from None
    if not callable(fn):
        raise ImportRefused(f"{origin}: it names {type(fn).__name__}, not a callable returning models")
    file = getattr(sys.modules.get(ep.module), "__file__", None)
    version = ep.dist.version if ep.dist is not None else ""
    code = (Path(file).read_bytes() if file else b"") + f"\0{ep.value}\0{version}".encode()
    folder = Path(file).resolve().parent if file else user_dir()
    return _Source(origin, folder, ep.name, code), _call_models(fn, origin)


def _call_models(fn: Callable, origin: str) -> list:
    try:
        objects = list(fn())
    except (Exception, SystemExit) as exc:
        raise ImportRefused(f"{origin}: models() raised {one_line(exc)}") from None
    if not objects:
        raise ImportRefused(f"{origin}: models() returned no models")
    return objects


def _adapt(obj: Any, source: _Source, index: int, taken: set[str]) -> Adapted:
    """The checked, measured model; ImportRefused says why not (anything the foreign code raises included)."""
    started = time.perf_counter()
    manifest, stats = _manifest(obj, index)
    label = manifest.name
    if label in taken:
        raise ImportRefused(f"{label}: two models of models() are named {label!r}")
    taken.add(label)
    try:
        if isinstance(obj, nn.Module):
            obj.eval().requires_grad_(False)  # aeviz only runs models: dropout and batch norm in inference mode
        encoder = obj.encode_stats if stats else obj.encode
        test = load_dataset(manifest.dataset, "test")
        interface = probe_interface(manifest, "adapter", encoder, obj.decode, probe_images(test, manifest))
        model = ImportedModel(label, manifest.family, interface, encoder, obj.decode).eval()
        digest = _hash(source, obj, label)
        metrics, measured = _metrics(model, manifest, test, digest)
    except ImportRefused as exc:
        raise ImportRefused(f"{label}: {_words(exc)}") from None
    except CheckpointError as exc:  # a ModelFailed: the message names 'the model' or the model itself
        raise ImportRefused(f"{label}: {str(exc).removeprefix('the model: ').removeprefix(label + ': ')}") from None
    except Exception as exc:
        raise ImportRefused(f"{label}: checking it failed ({one_line(exc)})") from None
    seconds = time.perf_counter() - started
    path = source.folder / f"{source.stem}.{label}{VIRTUAL_SUFFIX}"
    meta = imported_metadata(label, manifest, interface, test, metrics, source.origin, seconds)
    meta.update(format=FORMAT, hash=digest, path=str(path))
    model.metadata = meta
    return Adapted(CheckpointInfo(path, meta, SERVER), model, seconds, measured)


def _manifest(obj: Any, index: int) -> tuple[Manifest, bool]:
    """The object's checked metadata, and whether it offers encode_stats (then its mean is the code)."""
    where = f"models()[{index}]"
    for method, arg in (("encode", "x"), ("decode", "z")):
        if not callable(getattr(obj, method, None)):
            raise ImportRefused(f"{where} ({type(obj).__name__}) has no {method}({arg}) method")
    values = getattr(obj, "metadata", None)
    if not isinstance(values, dict):
        raise ImportRefused(f"{where} ({type(obj).__name__}) has no metadata dict of aeviz.json's settings")
    stats = callable(getattr(obj, "encode_stats", None))
    if values.get("family") == "vae" and not stats:
        raise ImportRefused(f"{where}: a vae adapter needs encode_stats(x) returning (mean, log_variance)")
    name = values.get("name")
    if not isinstance(name, str) or not name:
        raise ImportRefused(f'{where}: its metadata must give a name, e.g. "name": "dense8"')
    fields = {**values, **({"code_output": 0, "log_variance_output": 1} if stats else {})}
    try:
        manifest = manifest_from(fields)
        _check_name(name)
    except ImportRefused as exc:
        raise ImportRefused(f"{name}: {_words(exc)}") from None
    return manifest, stats


def _check_name(name: str) -> None:
    try:
        check_name(name)
    except ValueError as exc:
        raise ImportRefused(str(exc)) from None


def _hash(source: _Source, obj: Any, name: str) -> str:
    """The file's (or module's) bytes, the model's name and its weights: what its cached arrays are keyed on."""
    digest = hashlib.sha256(source.code)
    digest.update(b"\0" + name.encode())
    digest.update(json.dumps(getattr(obj, "metadata", {}), sort_keys=True, default=str).encode())
    if isinstance(obj, nn.Module):  # weights loaded from elsewhere change the hash though the file did not
        digest.update(content_hash(obj.state_dict()).encode())
    return digest.hexdigest()


def _metrics(model: ImportedModel, manifest: Manifest, test, digest: str) -> tuple[dict[str, float], bool]:
    """The test metrics, measured once per content hash and kept on disk (a server start only reads them)."""
    measured = []

    def compute() -> dict[str, np.ndarray]:
        measured.append(True)
        return {k: np.asarray(v) for k, v in measure(model, manifest.dataset, test).items()}

    key = diskcache.cache_key(hash=digest, dataset=manifest.dataset)
    arrays = diskcache.cached_arrays(METRICS, key, compute)
    return {k: v.item() for k, v in arrays.items()}, bool(measured)
