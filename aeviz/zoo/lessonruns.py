"""Measurements behind the lessons table (benchmarks/reproduce.py): the identity-function risk, imputation, the
running example's variants, anomalies in the training set."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import roc_auc_score as auroc

from ..checkpoints import ZOO, CheckpointInfo, load_checkpoint
from ..data import load_dataset
from ..imputation import AREA, fill_errors
from ..lessons import regulariser
from ..metrics import image_errors, reconstruct_all
from ..pca import pca_baseline
from ..recipes import parse_outliers
from .catalog import imputation_models, variant_models

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


def _recipe(info: CheckpointInfo) -> dict:
    return info.metadata.get("training") or {}


def variant_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """The running example's variants (catalog.variant_models) on the whole test split: test MSE clipped to
    [0, 1] as every page shows it and as it comes out, the share of pixels below 0 and above 1, parameters and
    the weights' norm (aeviz.choices words them)."""
    chosen = variant_models([i for i in infos if i.dataset == dataset and i.origin == ZOO])
    if not chosen:
        return []
    test = load_dataset(dataset, "test").images
    rows = []
    for info in chosen:
        model = load_checkpoint(info.path)
        raw = torch.from_numpy(reconstruct_all(model, test, clip=False))  # (N,C,H,W)
        weights = [p.detach() for p in model.parameters() if p.ndim > 1]  # tied weights counted once
        config = info.config
        rows.append(
            {
                "model": info.name,
                "output": config.get("output", "sigmoid"),
                "loss": config.get("loss"),
                "weights": config.get("weights", "free"),
                "l2": float(config.get("l2", 0.0)),
                "hidden": list(config.get("hidden", [])),
                "pretrain_epochs": int(_recipe(info).get("pretrain_epochs", 0)),
                "epochs": int(_recipe(info).get("epochs", 0)),
                "params": sum(p.numel() for p in model.parameters()),
                "weight_norm": float(torch.sqrt(sum(w.pow(2).sum() for w in weights))),
                "mse": float(((raw.clamp(0, 1) - test) ** 2).mean()),
                "mse_raw": float(((raw - test) ** 2).mean()),
                "below": float((raw < 0).float().mean()),
                "above": float((raw > 1).float().mean()),
            }
        )
    return rows


def outlier_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """The dense q = 16 trained clean and with a share of another set's images in its training set: the AUROC of
    its per-image test MSE telling that set's test images (anomalies) from `dataset`'s."""
    zoo = [i for i in infos if i.dataset == dataset and i.origin == ZOO and i.family == "dense"]
    trained = [i for i in zoo if _recipe(i).get("outliers")]
    if not trained:
        return []
    source = parse_outliers(_recipe(trained[0])["outliers"])[0]
    clean = [i for i in zoo if i.series == "dense-bce" and i.bottleneck == 16]
    inliers, outliers = load_dataset(dataset, "test").images, load_dataset(source, "test").images
    rows = []
    for info in clean + trained:
        model = load_checkpoint(info.path)
        scores = [image_errors(x, reconstruct_all(model, x)) for x in (inliers, outliers)]
        truth = np.r_[np.zeros(len(scores[0])), np.ones(len(scores[1]))]
        share = parse_outliers(_recipe(info)["outliers"])[1] if _recipe(info).get("outliers") else 0.0
        score = float(auroc(truth, np.concatenate(scores)))
        rows.append({"model": info.name, "source": source, "share": share, "auroc": score})
    return rows
