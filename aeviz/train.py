"""A fast trainer for in-memory datasets: data resident on the device, index batches, progress callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoints import SUFFIX, user_dir
from .data import Dataset, load_dataset
from .devices import adam, device_name, gather, memory_format, pick_device, seeded, set_lr
from .metrics import evaluate
from .models import AEConfig, AutoEncoder, Output, build_model, model_slug, series_of
from .names import default_name
from .recipes import parse_outliers, pretrain_layerwise, recipe_suffix, with_outliers
from .replay import CodeWatch, Replay
from .saving import save_trained

PREVIEW_IMAGES = 8
MAX_SOURCE = 4096  # headers.MAX_TEXT: a text field a checkpoint's header accepts
TEST_CURVE_IMAGES = 2000  # test images whose loss is measured after every epoch (the test curve)
DIVERGED_FACTOR = 10.0  # a loss this many times the untrained model's (or the best epoch's) has diverged
NEAR_ZERO = 0.01  # ... unless it is still below this share of the untrained model's loss: a wobble near a perfect fit
SCHEDULES = ("constant", "cosine")


class TrainingCancelled(RuntimeError):
    """Raised when `should_stop` turns true; nothing is saved."""


class TrainingDiverged(RuntimeError):
    """Raised when the loss turns NaN or infinite, or climbs far above where it started; nothing is saved: a
    diverged model's pictures are noise or flat grey, and every page would list it beside the real ones."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    subset: int | None = None
    report_every_s: float = 0.25
    schedule: str = "constant"  # or "cosine": lr decays to 0 over the run, step by step (the zoo's q=2 recipe)
    outliers: str = ""  # e.g. "fashion-mnist:0.05": that share of the training images is another set's (recipes)
    pretrain_epochs: int = 0  # > 0: greedy layer-wise pre-training, this many epochs a layer, first (recipes)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if self.outliers:
            parse_outliers(self.outliers)  # raises, saying the form it wants
        if self.pretrain_epochs < 0:
            raise ValueError("pretrain_epochs must be 0 or more")

    def lr_at(self, done: float) -> float:
        """The learning rate once `done` (0..1) of the run's steps are taken."""
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * min(max(done, 0.0), 1.0)))
        return self.lr


@dataclass(frozen=True)
class Progress:
    """One report to the callback. `event` is 'start', 'step', 'epoch' or 'done'."""

    event: str
    epoch: int
    epochs: int
    step: int
    steps: int
    losses: dict[str, float]
    elapsed: float
    test_losses: dict[str, float] | None = None
    preview: np.ndarray | None = None  # (PREVIEW_IMAGES,C,H,W) reconstructions of fixed test images
    metrics: dict[str, float] | None = None
    code_map: np.ndarray | None = None  # (N,2) float16 map of a fixed test sample's codes (replay.CodeWatch)
    code_labels: np.ndarray | None = None  # that sample's classes, on 'start' (whose map is the untrained model's)
    diagnostics: dict[str, float] | None = None  # on 'epoch': the family's figures of its code (model.diagnostics)

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) * self.steps + self.step) / max(1, self.epochs * self.steps))

    @property
    def eta(self) -> float:
        done = self.fraction
        return self.elapsed * (1 - done) / done if done > 0 else float("nan")


@dataclass
class TrainResult:
    model: AutoEncoder
    metadata: dict[str, Any]
    path: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)
    replay: Replay | None = None  # the code space's evolution (replay.CodeWatch), saved beside the checkpoint


def _mean_losses(model: AutoEncoder, x: torch.Tensor, batch: int = 2048) -> dict[str, float]:
    """Test losses on the inputs the model trains on: a denoiser's test images are corrupted like its training
    images (one fixed draw, the same every epoch), so its test curve compares with its train curve. On clean
    inputs a finished MNIST denoiser reads 0.196 against 0.124 in training, which looks like overfitting; on
    noisy ones it reads 0.124."""
    model.eval()
    totals: dict[str, float] = {}
    noise = torch.Generator(device=x.device).manual_seed(0)  # its own: the training draws stay as they were
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            chunk = x[start : start + batch]
            for name, value in model(chunk, inputs=model.corrupt(chunk, noise)).losses.items():
                totals[name] = totals.get(name, 0.0) + float(value) * len(chunk)
    model.train()
    return {name: total / len(x) for name, total in totals.items()}


def prepare(model: AutoEncoder, lr: float) -> torch.optim.Optimizer:
    """`model` readied to train as fit() trains it (in place: its memory layout), and fit()'s optimizer for it."""
    model.to(memory_format=memory_format(model))
    return adam(model, lr, next(model.parameters()).device)


def step(model: AutoEncoder, optimizer: torch.optim.Optimizer, batch: torch.Tensor) -> Output:
    """One training step, fit()'s and the job probes' alike: `batch` (N,C,H,W) in the model's memory layout."""
    out = model(batch)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    optimizer.step()
    return out


def timed_step(model: AutoEncoder, optimizer: torch.optim.Optimizer, batch: torch.Tensor) -> float:
    """Seconds one step() takes, the device synchronised: what a job's time estimate rests on."""
    start = time.perf_counter()
    step(model, optimizer, batch)
    if batch.device.type == "cuda":
        torch.cuda.synchronize(batch.device)
    return time.perf_counter() - start


def divergence(losses: dict[str, float], reference: float | None, untrained: float | None = None) -> str:
    """Why these losses mean the run has diverged ('' when they do not): a loss NaN or infinite, or their sum
    DIVERGED_FACTOR times `reference` (the untrained model's test loss, or the lowest epoch's so far) and more
    than NEAR_ZERO of the `untrained` model's (a linear AE at the identity wobbles from 6e-7 to 1e-5: noise)."""
    total = sum(losses.values())
    if not math.isfinite(total):
        bad = next(name for name, value in losses.items() if not math.isfinite(value))
        return f"the {bad} loss became {'NaN' if math.isnan(losses[bad]) else 'infinite'}"
    if untrained is not None and total <= NEAR_ZERO * untrained:
        return ""
    if reference is not None and reference > 0 and total > DIVERGED_FACTOR * reference:
        return f"the loss rose to {total:.3g}, {total / reference:,.0f} times its starting value of {reference:.3g}"
    return ""


def fit(
    model: AutoEncoder,
    train_x: torch.Tensor,
    config: TrainConfig,
    *,
    test_x: torch.Tensor | None = None,
    callback: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    watch: CodeWatch | None = None,
) -> list[dict[str, Any]]:
    """Train in place; returns per-epoch history. Deterministic for a given seed on a given device, and the
    process's global RNG is left as it was. `watch` maps its test sample before training and after each epoch."""
    device = next(model.parameters()).device
    with seeded(config.seed, device):
        return _fit(model, train_x, config, device, test_x, callback, should_stop, watch)


def _fit(model, train_x, config, device, test_x, callback, should_stop, watch=None) -> list[dict[str, Any]]:
    generator = torch.Generator(device=device).manual_seed(config.seed)
    optimizer = prepare(model, config.lr)
    data = train_x.to(device).contiguous(memory_format=memory_format(model))
    probe = test_x[:TEST_CURVE_IMAGES].to(device) if test_x is not None else None
    steps = (len(data) + config.batch_size - 1) // config.batch_size
    report = callback or (lambda _: None)
    start, history = time.perf_counter(), []
    untrained = sum(_mean_losses(model, probe).values()) if probe is not None else None
    reference = untrained
    first = watch.record(model, 0) if watch is not None else None  # the untrained encoder's map: epoch 0
    labels = watch.labels if watch is not None else None
    report(Progress("start", 1, config.epochs, 0, steps, {}, 0.0, code_map=first, code_labels=labels))
    model.train()
    for epoch in range(1, config.epochs + 1):
        sums = _run_epoch(model, data, optimizer, generator, config, epoch, steps, start, report, should_stop)
        losses = {k: float(v) / steps for k, v in sums.items()}
        _check_divergence(losses, reference, config, f"epoch {epoch}", untrained)
        reference = min(filter(None, [reference, sum(losses.values())]))
        test_losses = _mean_losses(model, probe) if probe is not None else None
        seen = _diagnostics(model, probe)
        history.append(
            {"epoch": epoch, "train": losses, "test": test_losses, "seconds": round(time.perf_counter() - start, 3)}
            | ({"diagnostics": seen} if seen else {})
        )
        report(
            Progress(
                "epoch",
                epoch,
                config.epochs,
                steps,
                steps,
                losses,
                time.perf_counter() - start,
                test_losses,
                _preview(model, probe),
                code_map=watch.record(model, epoch) if watch is not None else None,
                diagnostics=seen or None,
            )
        )
    model.to(memory_format=torch.contiguous_format).eval()
    return history


def _run_epoch(model, data, optimizer, generator, config, epoch, steps, start, report, should_stop):
    """One pass over shuffled index batches; loss sums stay on the device to avoid a sync per step."""
    order = torch.randperm(len(data), device=data.device, generator=generator)
    sums: dict[str, torch.Tensor] = {}
    last_report = time.perf_counter()
    for i in range(steps):
        if config.schedule != "constant":
            set_lr(optimizer, config.lr_at(((epoch - 1) * steps + i) / (config.epochs * steps)))
        out = step(model, optimizer, gather(data, order[i * config.batch_size : (i + 1) * config.batch_size]))
        for name, value in out.losses.items():
            sums[name] = sums.get(name, 0) + value.detach()
        if time.perf_counter() - last_report > config.report_every_s:
            if should_stop is not None and should_stop():
                raise TrainingCancelled(f"cancelled in epoch {epoch}, step {i + 1}")
            running = {k: float(v) / (i + 1) for k, v in sums.items()}
            _check_divergence(running, None, config, f"epoch {epoch}, step {i + 1}")  # NaN: no need to go on
            report(Progress("step", epoch, config.epochs, i + 1, steps, running, time.perf_counter() - start))
            last_report = time.perf_counter()
    if should_stop is not None and should_stop():
        raise TrainingCancelled(f"cancelled at the end of epoch {epoch}")
    return sums


def _check_divergence(
    losses: dict[str, float], reference: float | None, config: TrainConfig, where: str, untrained: float | None = None
) -> None:
    why = divergence(losses, reference, untrained)
    if why:
        raise TrainingDiverged(
            f"Training diverged in {where}: {why} (learning rate {config.lr:g}). Nothing was saved; try a "
            f"smaller learning rate (the default is {TrainConfig.lr:g})."
        )


def _diagnostics(model: AutoEncoder, probe: torch.Tensor | None) -> dict[str, float]:
    """The family's figures of its code on the held-out probe (codebook usage, active or dead units)."""
    if probe is None:
        return {}
    model.eval()
    with torch.inference_mode():
        seen = model.diagnostics(probe)
    model.train()
    return seen


def _preview(model: AutoEncoder, probe: torch.Tensor | None) -> np.ndarray | None:
    if probe is None:
        return None
    model.eval()
    with torch.inference_mode():
        images = model.reconstruct(probe[:PREVIEW_IMAGES]).clamp(0, 1).float().cpu().numpy()  # (8,C,H,W)
    model.train()
    return images


def train(
    family: str,
    config: AEConfig,
    dataset: str = "mnist",
    train_config: TrainConfig = TrainConfig(),
    *,
    callback: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    out_dir: str | Path | None = None,
    save: bool = True,
    name: str | None = None,
    on_loading: Callable[[str], None] | None = None,
    before_fit: Callable[[AutoEncoder, torch.Tensor, int, TrainConfig], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a model of `family` on `dataset`, evaluate it on the test split, and save a checkpoint.

    `on_loading(text)` hears how reading the data goes; `before_fit(model, train_images, test_count, config)`
    runs once the data and the model are ready (the job runner probes memory and time there, and may refuse the
    job); `config` is `train_config` as it will train (aeviz.fitplan may have shrunk its batch).
    `on_note(text)` hears what was changed or cannot learn (aeviz.fitplan: a batch larger than the set).
    """
    from .fitplan import adapt, mean_image_mse, unlearnt

    train_set = load_dataset(dataset, "train", limit=train_config.subset, progress=on_loading)
    if train_config.outliers:
        train_set = with_outliers(train_set, train_config.outliers, train_config.seed)
    train_config, notes = adapt(len(train_set), train_config)
    for note in notes:
        (on_note or (lambda _: None))(note)
    test_set = load_dataset(dataset, "test", progress=on_loading)
    if tuple(config.input_shape) != train_set.shape:
        config = config.for_input(train_set.shape)
    device = pick_device(train_config.device)
    with seeded(train_config.seed, device):  # the same seed, the same initial weights
        model = build_model(family, config).to(device)
    if before_fit is not None:
        before_fit(model, train_set.images.to(device), len(test_set), train_config)
    started, seen = time.perf_counter(), CodeWatch(test_set.images, test_set.labels)
    if train_config.pretrain_epochs:
        c = train_config
        layers = pretrain_layerwise(model, train_set.images.to(device), c.pretrain_epochs, c.batch_size, c.lr, c.seed)
    history = fit(
        model,
        train_set.images,
        train_config,
        test_x=test_set.images,
        callback=callback,
        should_stop=should_stop,
        watch=seen,
    )
    seconds = time.perf_counter() - started
    metrics = evaluate(model, train_set.images, train_set.labels, test_set.images, test_set.labels)
    metadata = _metadata(family, config, train_set, train_config, metrics, history, seconds, device)
    metadata["mean_image_mse"] = mean_image_mse(train_set.images, test_set.images)
    if train_config.pretrain_epochs:
        metadata["pretraining"] = layers  # each layer pair's loss when pre-training ended
    if why := unlearnt(metrics["mse"], metadata["mean_image_mse"]):
        notes.append(why)
        (on_note or (lambda _: None))(why)
    if notes:
        metadata["notes"] = notes
    path = None
    if save:  # with its replay, for the Latent space page (zoo models included); replaces a model of that name
        path = Path(out_dir or user_dir()) / f"{name or metadata['name']}{SUFFIX}"
        path = save_trained(path, model.cpu(), metadata, seen.replay(), overwrite=True)
        model.to(device)
    if callback:
        last, epochs = history[-1], train_config.epochs
        callback(Progress("done", epochs, epochs, 1, 1, last["train"], seconds, last["test"], metrics=metrics))
    return TrainResult(model.eval(), model.metadata or metadata, path, history, seen.replay())


def _metadata(family, config, train_set: Dataset, train_config, metrics, history, seconds, device) -> dict:
    slug = model_slug(family, config) + recipe_suffix(train_config.outliers, train_config.pretrain_epochs)
    return {
        "name": default_name(train_set.name, slug),
        "slug": slug,
        "series": series_of(slug),
        "dataset": train_set.name,
        "data_source": train_set.source[:MAX_SOURCE],  # which copy: e.g. CIFAR-10's JPEG archive or its batches
        "classes": list(train_set.classes),
        "input_shape": list(train_set.shape),
        "train_images": len(train_set),
        "training": asdict(train_config),
        "metrics": metrics,
        "history": [{k: v for k, v in h.items() if k != "seconds"} for h in history],
        "train_seconds": round(seconds, 2),
        "device": device_name(device),
    }
