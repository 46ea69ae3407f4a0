"""Whether a training choice can learn: the batch against the set's size, steps per epoch and in all.

An 80-image upload at batch 256 is one step an epoch: 30 steps in all leave a model that redraws every image as
the same flat grey, and nothing said why. The Train page (before a run and in it) and the CLI both ask here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

MIN_STEPS_PER_EPOCH = 8  # fewer, and the batch is shrunk: the set is small, and small batches are cheap
MIN_BATCH = 8  # never shrunk below this: a batch of 2 images is noise, not a gradient
MIN_STEPS = 300  # optimiser steps in all below which the models here are still blurry blobs (warned, not changed)
UNLEARNT = 0.9  # a test MSE above this share of the mean image's has not learnt to tell the images apart


def steps_per_epoch(images: int, batch_size: int) -> int:
    return max(1, math.ceil(images / max(1, batch_size)))


def adapt(images: int, config: Any) -> tuple[Any, list[str]]:
    """`config` (a train.TrainConfig, not imported: train.py asks here) with a batch small enough for `images`
    to give MIN_STEPS_PER_EPOCH steps an epoch, and one sentence for each change made and each thing that cannot
    be fixed here (too few steps in all)."""
    notes = []
    batch = config.batch_size
    if steps_per_epoch(images, batch) < MIN_STEPS_PER_EPOCH and batch > MIN_BATCH:
        fitting = 2 ** int(math.log2(max(1, images // MIN_STEPS_PER_EPOCH)))  # a power of two, like the choices
        smaller = max(MIN_BATCH, min(batch, fitting))
        if smaller < batch:
            bigger = "larger than" if batch >= images else "too large for"
            notes.append(
                f"Batch size {batch} is {bigger} the {images:,} training images ({_steps(images, batch)} an "
                f"epoch): training with batch size {smaller} instead ({_steps(images, smaller)} an epoch)."
            )
            config = dataclasses.replace(config, batch_size=smaller)
    total = steps_per_epoch(images, config.batch_size) * config.epochs
    if total < MIN_STEPS:
        needed = math.ceil(MIN_STEPS / steps_per_epoch(images, config.batch_size))
        notes.append(
            f"Only {total:,} training steps in all ({config.epochs} epoch{'s' * (config.epochs != 1)} of "
            f"{_steps(images, config.batch_size)}): too few for a model to learn more than a blur. About "
            f"{needed} epochs (or a smaller batch) would give the {MIN_STEPS} steps a recognisable result needs."
        )
    return config, notes


def _steps(images: int, batch: int) -> str:
    n = steps_per_epoch(images, batch)
    return f"{n:,} step{'s' * (n != 1)}"


def mean_image_mse(train_images, test_images) -> float:
    """Test MSE of redrawing every test image as the average training image: what a model that learnt nothing
    scores ((N,C,H,W) tensors in [0, 1])."""
    return float(((test_images - train_images.mean(dim=0)) ** 2).mean())


def unlearnt(mse: float, baseline: float) -> str:
    """A sentence when a model's test MSE is no better than the mean image's (an 80-image upload at batch 256
    redrew everything flat grey, with kNN below chance, and nothing said so); '' when it learnt."""
    if not (baseline > 0 and mse > UNLEARNT * baseline):
        return ""
    return (
        f"This model has not learnt to tell the images apart: its test MSE {mse:.4f} is about that of redrawing "
        f"every image as the average training image ({baseline:.4f}), so its pictures look alike. Train for more "
        "epochs, on more images, with a smaller batch or a larger learning rate."
    )
