"""Import a model trained elsewhere: check a torch.export folder on its dataset, measure it, save it as a checkpoint.

A folder holds `encoder.pt2`, `decoder.pt2` (torch.export.save) and `aeviz.json` (see README › Import a model).
Nothing is written until every check has passed; the checkpoint stores both programs' bytes, the interface
found on a batch of the dataset (code size, the decoder's input shape, output range) and the test metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..checkpoints import SUFFIX, save_imported, user_dir, versions, zoo_dir
from ..data import Dataset, load_dataset
from ..errors import one_line
from ..headers import MAX_TEXT
from ..metrics import evaluate
from ..models import MODELS, model_slug
from ..names import check_name, free_name, stems_in
from . import archive as pt2_archive
from . import programs as pt2
from .interface import DECODER_KEY as DECODER
from .interface import ENCODER_KEY as ENCODER
from .interface import Interface
from .manifest import MANIFEST, ImportRefused, Manifest, manifest_from, read_manifest  # noqa: F401 - the API
from .model import ImportedModel, ModelFailed

PROBE = 64  # test images every check runs on
RANGE_SLACK = 1e-3  # float rounding past an output range's ends


def read_program(folder: Path, filename: str) -> tuple[bytes, torch.export.ExportedProgram]:
    path = folder / filename
    if not path.is_file():
        raise ImportRefused(f"{folder} has no {filename}: save it with torch.export.save (see README › Import a model)")
    if path.stat().st_size > pt2_archive.MAX_ARCHIVE_BYTES:  # the limit check_archive holds its unpacked size to
        size, limit = path.stat().st_size >> 20, pt2_archive.MAX_ARCHIVE_BYTES >> 20
        raise ImportRefused(f"{filename} is {size} MB, over this server's limit of {limit} MB{_why_big(path)}")
    data = path.read_bytes()
    try:
        return data, pt2.load_program(data, filename)
    except pt2.ExportError as exc:
        raise ImportRefused(str(exc)) from None


def _why_big(path: Path) -> str:
    """A hint when the program's sample inputs, not its weights, make it big: a slice of a dataset tensor
    exported as the example saves the whole tensor's storage."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            sample = sum(i.file_size for i in archive.infolist() if "/sample_inputs/" in i.filename)
    except (zipfile.BadZipFile, OSError):
        return ""
    if sample < path.stat().st_size / 2:
        return ""
    return (
        f"; {sample >> 20} MB of it is the example input saved with the program: export with a small copy, "
        "e.g. images[:4].clone() (a slice keeps the whole tensor it was cut from)"
    )


def _batch_size(program: torch.export.ExportedProgram, filename: str) -> int | None:
    try:
        return pt2.input_shape(program)[0]
    except pt2.ExportError as exc:
        raise ImportRefused(f"{filename}: {exc}") from None


def probe_interface(manifest: Manifest, source: str, encoder, decoder, probe: torch.Tensor, **shapes) -> Interface:
    """The Interface found by running the encoder and decoder on `probe` (N,C,H,W) in [0, 1], checked at each
    step. `shapes`: encoder_batch / decoder_batch (a fixed batch size) and decoder_shape (its input, per code)."""
    output = "logits" if manifest.output_range == "logits" else "image"
    outrange = manifest.output_range if isinstance(manifest.output_range, tuple) else (0.0, 1.0)
    base: dict[str, Any] = dict(source=source, code_output=manifest.code_output, output=output)
    base.update(log_variance_output=manifest.log_variance_output, input_range=manifest.input_range)
    base.update(output_range=outrange, encoder_batch=shapes.get("encoder_batch"))
    base.update(decoder_batch=shapes.get("decoder_batch"))
    trial = Interface(**base, code_shape=(1,), decoder_input=(1,))
    try:
        return _probe(manifest, encoder, decoder, probe, base, trial, shapes.get("decoder_shape"))
    except ModelFailed as exc:
        raise ImportRefused(f"on {len(probe)} test images, {str(exc).removeprefix('the model: ')}") from None


def _probe(manifest, encoder, decoder, probe, base, trial, decoder_shape) -> Interface:
    with torch.inference_mode():
        code = _code_output(ImportedModel("the model", manifest.family, trial, encoder, decoder), probe, manifest)
        code_shape = tuple(code.shape[1:])
        decoder_input = _decoder_input(decoder_shape, code_shape)
        interface = Interface(**base, code_shape=code_shape, decoder_input=decoder_input)
        model = ImportedModel("the model", manifest.family, interface, encoder, decoder)
        _check_output(model.decode(code.flatten(1)), probe.shape, manifest)
    return interface


def _code_output(trial: ImportedModel, probe: torch.Tensor, manifest: Manifest) -> torch.Tensor:
    outs = trial._encoder_outputs(probe)
    wanted = [manifest.code_output]
    wanted += [manifest.log_variance_output] if manifest.log_variance_output is not None else []
    if max(wanted) >= len(outs):
        raise ImportRefused(
            f"the encoder returns {len(outs)} output(s); {MANIFEST} asks for output {max(wanted)} (counting from 0)"
        )
    for i in wanted:
        if not isinstance(outs[i], torch.Tensor) or outs[i].ndim < 2 or not outs[i].is_floating_point():
            raise ImportRefused(f"the encoder's output {i} is not a batch of float codes (N, q)")
    code = outs[manifest.code_output]
    if not torch.isfinite(code).all():
        raise ImportRefused("the encoder's codes hold NaN or infinite values on test images")
    if manifest.log_variance_output is not None and outs[manifest.log_variance_output].shape != code.shape:
        raise ImportRefused("the encoder's log-variance output is not the shape of its mean")
    return code


def _decoder_input(declared: tuple[int | None, ...] | None, code_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The decoder's input shape per code: read from its program, else the encoder's code shape."""
    if declared is None:
        return code_shape
    wanted = tuple(declared[1:])
    if None in wanted or math.prod(s or 0 for s in wanted) != math.prod(code_shape):
        raise ImportRefused(
            f"the encoder's codes, of shape (N, {', '.join(map(str, code_shape))}), do not feed the decoder, which "
            f"takes (N, {', '.join('?' if s is None else str(s) for s in wanted)})"
        )
    return tuple(int(s) for s in wanted if s is not None)


def _check_output(recon: torch.Tensor, shape: torch.Size, manifest: Manifest) -> None:
    if not isinstance(recon, torch.Tensor) or tuple(recon.shape) != tuple(shape):
        got = tuple(recon.shape) if isinstance(recon, torch.Tensor) else type(recon).__name__
        raise ImportRefused(f"the decoder returns {got}; it should return images of the input's shape {tuple(shape)}")
    if not torch.isfinite(recon).all():
        raise ImportRefused("the decoder's output holds NaN or infinite values on test images")
    low, high = float(recon.min()), float(recon.max())
    if manifest.output_range != "logits" and (low < -RANGE_SLACK or high > 1 + RANGE_SLACK):
        declared = [float(v) for v in manifest.output_range]
        raise ImportRefused(
            f"the decoder's outputs run from {_value(low, declared)} to {_value(high, declared)}, outside the "
            f'output_range {declared} that {MANIFEST} declares (say "output_range": "logits" for a decoder '
            "without its final sigmoid)"
        )


def _value(mapped: float, declared: list[float]) -> str:
    return f"{declared[0] + (declared[1] - declared[0]) * mapped:.3g}"  # back in the decoder's own units


def probe_images(dataset: Dataset, manifest: Manifest) -> torch.Tensor:
    if tuple(dataset.shape) != manifest.input_shape:
        raise ImportRefused(
            f"the model takes {list(manifest.input_shape)} images, but those of {dataset.name} are "
            f"{list(dataset.shape)}: "
            "name the dataset it was trained on"
        )
    return dataset.images[:PROBE]


@dataclass(frozen=True)
class Imported:
    """A model just imported: where its checkpoint went, its metadata, and what importing it cost."""

    path: Path
    metadata: dict[str, Any]
    seconds: float
    note: str = ""  # e.g. that the default name was taken and another was chosen


def import_path(
    folder: str | Path, out_dir: str | Path | None = None, *, dataset: str | None = None, **options
) -> Imported:
    """Import a torch.export folder, or a pythae model folder (`dataset` names its data: pythae records none)."""
    folder = Path(folder).expanduser()
    if folder.is_dir() and not (folder / MANIFEST).is_file() and (folder / "model_config.json").is_file():
        from .frompythae import pythae_programs  # pythae's code runs only for a pythae folder

        programs, manifest = pythae_programs(folder, dataset)
        return import_programs(programs, manifest, "pythae", str(folder), out_dir, **options)
    if dataset is not None:
        raise ImportRefused(f"--dataset is for pythae folders; {folder} names its dataset in its {MANIFEST}")
    return import_folder(folder, out_dir, **options)


def import_folder(folder: str | Path, out_dir: str | Path | None = None, **options) -> Imported:
    """Import a torch.export folder (encoder.pt2, decoder.pt2, aeviz.json) into `out_dir` (default the user
    folder). `options`: name, overwrite, progress (a callable hearing each step). ImportRefused says why not."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ImportRefused(f"{folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    manifest = read_manifest(folder)
    programs = {key: read_program(folder, key) for key in (ENCODER, DECODER)}
    return import_programs(programs, manifest, "torch.export", str(folder), out_dir, **options)


def import_programs(
    programs: dict[str, tuple[bytes, torch.export.ExportedProgram]],
    manifest: Manifest,
    source: str,
    origin: str,
    out_dir: str | Path | None = None,
    *,
    name: str | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Imported:
    """Check two loaded programs on the manifest's dataset, measure them and save them as one checkpoint."""
    say = progress or (lambda text: None)
    started = time.perf_counter()
    target, note = _target(Path(out_dir or user_dir()).expanduser(), name, manifest, origin, overwrite)
    (_, encoder), (_, decoder) = programs[ENCODER], programs[DECODER]
    say(f"checking on the test images of {manifest.dataset}")
    test = load_dataset(manifest.dataset, "test")
    takes = pt2.input_shape(encoder)[1:]
    if None not in takes and tuple(takes) != manifest.input_shape:
        raise ImportRefused(f"{ENCODER} takes {list(takes)} images, but {MANIFEST} says {list(manifest.input_shape)}")
    shapes = dict(
        encoder_batch=_batch_size(encoder, ENCODER),
        decoder_batch=_batch_size(decoder, DECODER),
        decoder_shape=pt2.input_shape(decoder),
    )
    encoder_module, decoder_module = _modules(encoder, decoder)
    probe = probe_images(test, manifest)
    interface = probe_interface(manifest, source, encoder_module, decoder_module, probe, **shapes)
    model = ImportedModel(target.stem, manifest.family, interface, encoder_module, decoder_module).eval()
    say("measuring test error and kNN-7 of the codes")
    metrics = measure(model, manifest.dataset, test)
    meta = _metadata(target.stem, manifest, interface, test, metrics, origin, time.perf_counter() - started)
    save_imported(target, {key: blob for key, (blob, _) in programs.items()}, meta)
    return Imported(target, meta, meta["imported"]["seconds"], note)


def _modules(*programs: torch.export.ExportedProgram) -> list[torch.nn.Module]:
    """The programs as callable modules (stateless: the probe and the measured model share them)."""
    try:
        return [program.module() for program in programs]
    except Exception as exc:  # torch's code generation on a checked graph: not expected, but never a traceback
        raise ImportRefused(f"the programs cannot be run on this server ({one_line(exc, typed=False)})") from None


def measure(model: ImportedModel, dataset: str, test: Dataset) -> dict[str, float]:
    """The metrics every checkpoint records, refused when the model gives NaN on any test image."""
    train_set = load_dataset(dataset, "train")
    metrics = evaluate(model, train_set.images, train_set.labels, test.images, test.labels)
    if not all(math.isfinite(v) for v in metrics.values()):
        raise ImportRefused("the model's reconstructions hold NaN or infinite values on some test images")
    return metrics


def _target(out: Path, name: str | None, manifest: Manifest, origin: str, overwrite: bool) -> tuple[Path, str]:
    stem = name or manifest.name or Path(origin).name
    try:
        stem = check_name(stem)
    except ValueError as exc:
        raise ImportRefused(f"the name {stem!r} cannot be used: {exc}") from None
    if out.exists() and not out.is_dir():
        raise ImportRefused(f"{out} is a file, not a folder")
    if out.resolve() != zoo_dir().resolve() and (zoo_dir() / f"{stem}{SUFFIX}").exists():
        raise ImportRefused(f"{stem} is the name of a zoo model: choose another with --name")
    if not (out / f"{stem}{SUFFIX}").exists() or overwrite:
        return out / f"{stem}{SUFFIX}", ""
    if name:
        raise ImportRefused(f"{out / (stem + SUFFIX)} exists: choose another --name, or pass --overwrite")
    free = free_name(stem, stems_in(out))
    return out / f"{free}{SUFFIX}", f"{stem} exists in {out}; importing as {free}"


def _metadata(stem, manifest: Manifest, interface: Interface, test: Dataset, metrics, origin: str, seconds) -> dict:
    family = manifest.family
    arch = "conv" if family == "conv" else manifest.arch or "dense"
    fields: dict[str, Any] = dict(bottleneck=interface.bottleneck, input_shape=manifest.input_shape, arch=arch)
    fields.update(loss=manifest.loss, output="sigmoid" if manifest.loss == "bce" else "linear")
    if manifest.noise:
        fields["noise"] = manifest.noise
    config = MODELS[family].config_class.from_dict(fields)
    series = "-".join(p for p in stem.split("-") if not (p[:1] == "q" and p[1:].isdigit()) and p not in ("bce", "mse"))
    return {
        "name": stem,
        "family": family,
        "config": config.to_dict(),
        "slug": model_slug(family, config),
        "series": f"{series or 'imported'}-{manifest.loss}",
        "dataset": test.name,
        "classes": list(test.classes),
        "input_shape": list(test.shape),
        "metrics": metrics,
        "interface": interface.to_dict(),
        "imported": {"source": interface.source, "from": origin[:MAX_TEXT], "seconds": round(seconds, 2)},
        "versions": versions(),
    }
