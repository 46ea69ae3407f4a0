"""Checks for `aeviz train`: every flag and combination is refused before data is loaded or a file written."""

from __future__ import annotations

import argparse
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..archives import kind_of
from ..checkpoints import SUFFIX, user_dir, zoo_dir
from ..data import DATASETS
from ..headers import MAX_LAYERS, MAX_PARAMETERS
from ..imagesets import ImageSetError, Limits, scan_folder
from ..models import MODELS, AEConfig, build_model, make_config, model_slug
from ..names import check_name, default_name, free_name, stems_in
from ..noise import parse_noise
from ..ownformat import from_key, is_own, with_format
from ..ownformat import parse as parse_own
from ..params import Param

MAX_WIDTH = 4096  # code, hidden and channel widths; wider nets do not fit on a page or in a lecture's memory
MIN_TRAIN_IMAGES = 7  # the kNN-7 score of the codes needs seven training images
MIN_FOLDER_IMAGES = 9  # a folder splits 80/20, so nine images leave seven to train on
MAX_SEED = 2**63 - 1
DEFAULT_BOTTLENECK = (16,)


class UsageError(ValueError):
    """A bad argument or combination of arguments: reported as one line with exit code 2."""


@dataclass(frozen=True)
class Job:
    """One model to train: its config, where it will be saved, and a note when the default name was taken."""

    bottleneck: int
    config: AEConfig
    path: Path
    note: str | None = None


# --- per-flag types (argparse turns ArgumentTypeError into "argument --flag: message", exit 2) ---------------


def bounded_int(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: it must be {span}")
        return value

    parse.__name__ = "whole number"
    return parse


def finite_float(low: float, *, inclusive: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            bound = f"{'at least' if inclusive else 'greater than'} {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: it must be finite and {bound}")
        return value

    parse.__name__ = "number"
    return parse


def noise_spec(text: str) -> str:
    try:
        parse_noise(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def dataset_name(text: str) -> str:
    if is_own(text):
        try:
            kind, _, rest = parse_own(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if kind != "folder":
            raise argparse.ArgumentTypeError("an uploaded set trains from the Train page; here, use folder:PATH")
        folder = Path(rest).expanduser()
        if not (folder.is_dir() or (folder.is_file() and kind_of(folder.name) in ("zip", "tar"))):
            what = "is not a folder or an archive (.zip, .tar, .tar.gz)" if folder.exists() else "does not exist"
            raise argparse.ArgumentTypeError(f"image folder {str(folder)!r} {what}")
        return text
    if text not in DATASETS:
        raise argparse.ArgumentTypeError(f"unknown dataset {text!r}: choose {', '.join(DATASETS)} or folder:PATH")
    return text


def device_spec(text: str) -> str:
    text = text.strip().lower()
    if text == "auto":
        return text
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available on this machine")
        if device.index is not None and device.index >= count:
            raise argparse.ArgumentTypeError(f"{text!r}: this machine has {count} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise argparse.ArgumentTypeError("'mps': Apple's Metal backend is not available on this machine")
    return text


def family_params() -> dict[str, Param]:
    """Every family's hyper-parameters by config field, each offered as one flag (a field two families share
    is one flag, described as the first declares it)."""
    found: dict[str, Param] = {}
    for cls in MODELS.values():
        for param in cls.hyperparams:
            found.setdefault(param.field, param)
    return found


def flag_options(param: Param) -> dict:
    """The keywords of `add_argument` for a family's hyper-parameter."""
    options = {"help": param.cli_help, **({"metavar": param.metavar} if param.metavar else {})}
    if param.kind == "choice":
        return {**options, "choices": list(param.choices)}
    if param.integer:
        return {**options, "type": bounded_int(int(param.low) + int(param.open_low))}
    return {
        **options,
        "type": noise_spec if param.kind == "noise" else finite_float(param.low, inclusive=not param.open_low),
    }


def model_name(text: str) -> str:
    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- cross-field checks ----------------------------------------------------------------------------------


def plan_training(args) -> list[Job]:
    """Every model `args` asks for, checked and named; raises UsageError. Creates at most the output folder."""
    sizes = _sizes(args)
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"--bottleneck lists a size twice: {' '.join(map(str, sizes))}")
    for flag in ("hidden", "channels"):  # a checkpoint holds at most MAX_LAYERS (headers checks it at load)
        widths = getattr(args, flag)
        if widths is not None and len(widths) > MAX_LAYERS:
            raise UsageError(f"--{flag} lists {len(widths)} layers; at most {MAX_LAYERS}")
    if args.overwrite and args.name is None:
        raise UsageError("--overwrite needs --name: a default name never replaces a file")
    if getattr(args, "pictures", None) is not None:
        if not is_own(args.dataset):
            raise UsageError(f"--pictures applies to folder:PATH datasets; {args.dataset} has one picture format")
        args.dataset = with_format(args.dataset, from_key(args.pictures))
    shape = _check_dataset(args.dataset, args.subset)
    configs = [_checked_config(args, q, shape) for q in sizes]
    out = Path(args.out if args.out is not None else user_dir()).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    jobs = _named_jobs(args, configs, out)
    _check_writable(out)
    return jobs


def _sizes(args) -> list[int]:
    """The --bottleneck sizes (16 when none is given); [0] (derive it) for a family whose q follows from its other
    settings, which refuses --bottleneck."""
    derived = MODELS[args.family].derived_bottleneck
    if derived and args.bottleneck is not None:
        raise UsageError(f"--bottleneck does not apply to --family {args.family}: {derived}")
    return [0] if derived else list(args.bottleneck or DEFAULT_BOTTLENECK)


def _check_dataset(dataset: str, subset: int | None) -> tuple[int, int, int]:
    """The image shape the models will see; a folder must hold enough images to train and score on."""
    if subset is not None and subset < MIN_TRAIN_IMAGES:
        raise UsageError(f"--subset {subset} is too small: the kNN-7 score needs at least {MIN_TRAIN_IMAGES} images")
    if not is_own(dataset):
        return DATASETS[dataset].shape
    _, fmt, rest = parse_own(dataset)
    folder = Path(rest).expanduser()
    try:  # bounded like the Train page's: a home folder is not read end to end before a line of output
        count = len(scan_folder(folder, Limits.from_env())[0])
    except ImageSetError as exc:
        raise UsageError(str(exc)) from None
    if count < MIN_FOLDER_IMAGES:
        raise UsageError(
            f"{folder} holds {count} image(s); training needs at least {MIN_FOLDER_IMAGES} "
            f"({MIN_TRAIN_IMAGES} to train on, the rest to test)"
        )
    return fmt.shape


def config_fields(args, bottleneck: int) -> dict:
    """The config fields the flags set; a family flag (--beta, --noise, ...) on another family is refused."""
    fields: dict[str, Any] = {"bottleneck": bottleneck}
    for name in ("arch", "loss", "output"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    for name in ("hidden", "channels"):
        if getattr(args, name) is not None:
            fields[name] = tuple(getattr(args, name))
    own = {p.field for p in MODELS[args.family].hyperparams}
    for name, param in family_params().items():
        if getattr(args, name) is None:
            continue
        if name not in own:
            users = [f for f, cls in MODELS.items() if name in {p.field for p in cls.hyperparams}]
            raise UsageError(f"{param.flag} does not apply to --family {args.family}; it is for {', '.join(users)}")
        fields[name] = getattr(args, name)
    _check_modes(MODELS[args.family].hyperparams, fields)
    return fields


def _check_modes(params: tuple[Param, ...], fields: dict) -> None:
    """Each mode (e.g. --sparsity) takes its own flags only: a flag the mode would not use is refused, not
    ignored."""
    for mode in (p for p in params if p.kind == "choice"):
        value = fields.get(mode.field, mode.default)
        given = [p for p in params if p.when and p.when[0] == mode.field and p.when[1] != value and p.field in fields]
        if given:
            flags = [p.flag for p in given]
            raise UsageError(
                f"{' and '.join(flags)} {'is' if len(flags) == 1 else 'are'} for {mode.flag} "
                f"{(given[0].when or ('', ''))[1]}, not {value}"
            )


def _checked_config(args, bottleneck: int, shape: tuple[int, int, int]) -> AEConfig:
    """The config for one bottleneck, with the net built on the meta device (no memory) to check its shape."""
    if getattr(args, "channels", None) == []:  # `--channels` alone: leaving it out gives the body sized for the data
        raise UsageError("--channels needs at least one width (leave it out for the body sized for the images)")
    try:
        config = make_config(args.family, **config_fields(args, bottleneck), input_shape=shape)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except KeyError as exc:
        raise UsageError(exc.args[0] if exc.args else str(exc)) from None
    try:
        with torch.device("meta"):
            model = build_model(args.family, config)
    except ValueError as exc:  # e.g. an input side not divisible by 2**len(channels)
        raise UsageError(f"{exc} (--channels {' '.join(map(str, config.channels))})") from None
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise UsageError(
            f"{args.family} q={bottleneck} would have {parameters:,} parameters; the limit is {MAX_PARAMETERS:,}"
        )
    return config


def _named_jobs(args, configs: list[AEConfig], out: Path) -> list[Job]:
    """An explicit --name is used as given (or with -q<size> for several sizes) and replaces a file only with
    --overwrite; a default name never replaces anything and never repeats a zoo model's name."""
    here = stems_in(out)
    zoo = stems_in(zoo_dir()) if zoo_dir().expanduser().resolve() != out.resolve() else set()
    jobs: list[Job] = []
    for config in configs:
        if args.name is None:
            base = default_name(args.dataset, model_slug(args.family, config))
            stem = free_name(base, here | zoo | {j.path.stem for j in jobs})
            where = "the zoo" if base in zoo else str(out)
            note = f"note: a model named {base} exists in {where}; saving as {stem}" if stem != base else None
        else:
            stem = args.name if len(configs) == 1 else f"{args.name}-q{config.bottleneck}"
            note = None
            try:
                check_name(stem)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            if stem in zoo:
                raise UsageError(f"{stem!r} is the name of a zoo model ({zoo_dir()}); choose another --name")
            if stem in here and not args.overwrite:
                raise UsageError(
                    f"{out / (stem + SUFFIX)} exists; pass --overwrite to replace it, or choose another --name"
                )
            if (out / (stem + SUFFIX)).is_dir():
                raise UsageError(f"{out / (stem + SUFFIX)} is a folder; choose another --name")
        jobs.append(Job(config.bottleneck, config, out / f"{stem}{SUFFIX}", note))
    return jobs


def _check_writable(out: Path) -> None:
    """Creates the folder and a throwaway file in it: permission bits alone do not tell (root, read-only mounts)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out}: {exc.strerror or exc}") from None
