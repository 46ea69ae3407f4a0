"""Measurements behind the lessons table (benchmarks/reproduce.py): the identity-function risk, imputation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..checkpoints import ZOO, CheckpointInfo, load_checkpoint
from ..data import load_dataset
from ..imputation import AREA, fill_errors
from ..lessons import regulariser
from ..metrics import image_errors, reconstruct_all
from ..pca import pca_baseline
from .catalog import imputation_models

COPY_IMAGES = 512  # test images and as many uniform-noise images per model: the identity-function lesson
UNDERCOMPLETE_Q = 16  # the undercomplete reference the overcomplete models are set beside


def identity_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """The identity-function risk, measured: for every zoo model whose code is at least as wide as the image
    (overcomplete) and the plain dense q = 16 reference, the mean MSE on test images and on as many
    uniform-noise images (seed 0). A model that learned to copy redraws noise almost as well as the data, so its
    error cannot tell an anomaly from a digit; a bottleneck or a regulariser stops the copying."""
    test = load_dataset(dataset, "test").images[:COPY_IMAGES]
    pixels = int(np.prod(test.shape[1:]))
    noise = torch.from_numpy(np.random.default_rng(0).random(tuple(test.shape), dtype=np.float32))
    chosen = [
        i
        for i in infos
        if i.dataset == dataset
        and i.origin == ZOO
        and i.family != "vq"
        and (i.bottleneck >= pixels or (i.bottleneck == UNDERCOMPLETE_Q and i.series == "dense-bce"))
    ]
    rows = []
    for info in sorted(chosen, key=lambda i: (i.bottleneck, i.name)):
        model = load_checkpoint(info.path)
        data_mse = float(image_errors(test, reconstruct_all(model, test)).mean())
        noise_mse = float(image_errors(noise, reconstruct_all(model, noise)).mean())
        rows.append(
            {
                "model": info.name,
                "regulariser": regulariser(info.family, info.config),  # from its config, not its name
                "q": info.bottleneck,
                "pixels": pixels,
                "data_mse": data_mse,
                "noise_mse": noise_mse,
                "noise_var": float(noise.var(unbiased=False)),
            }
        )
    return rows


IMPUTATION_IMAGES = 1000  # test images, each with one hidden block (seed 0)


def imputation_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """Imputation, measured: every zoo denoiser and its plain twin fill a hidden block of AREA of each image;
    RMSE over the hidden pixels, beside the mean training image and the black block (aeviz.imputation)."""
    zoo = [i for i in infos if i.dataset == dataset and i.origin == ZOO]
    chosen = imputation_models(zoo)
    if not chosen:
        return []
    models = {info.name: load_checkpoint(info.path) for info in chosen}
    test = load_dataset(dataset, "test").images[:IMPUTATION_IMAGES]
    errors = fill_errors(models, test, pca_baseline(dataset).mean)  # the PCA baseline's mean: the train split's
    noise = {info.name: info.config.get("noise") for info in chosen}
    return [{"fill": label, "noise": noise.get(label), "area": AREA, "rmse": rmse} for label, rmse in errors.items()]
