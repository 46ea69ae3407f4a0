"""Two training recipes of the lessons: a training set with outliers mixed in, greedy layer-wise pre-training."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset, load_dataset
from .devices import adam, gather

OUTLIER_LABEL = -1  # an outlier's class in the mixed training set: no class of the set it joins


def parse_outliers(spec: str) -> tuple[str, float]:
    """'fashion-mnist:0.05' -> ('fashion-mnist', 0.05); raises ValueError saying what is wrong."""
    dataset, _, share = spec.partition(":")
    try:
        value = float(share)
    except ValueError:
        value = -1.0
    if not dataset or not 0 < value < 1:
        raise ValueError(f"outliers must read '<dataset>:<share>' with a share between 0 and 1, not {spec!r}")
    return dataset, value


def recipe_suffix(outliers: str, pretrain_epochs: int) -> str:
    """What a recipe adds to a model's slug, so it is named and grouped apart: '-outliers0.05', '-stacked'."""
    parts = [f"outliers{parse_outliers(outliers)[1]:g}"] if outliers else []
    return "".join(f"-{p}" for p in [*parts, *["stacked"] * bool(pretrain_epochs)])


def with_outliers(train: Dataset, spec: str, seed: int) -> Dataset:
    """`train` with a share of its images, chosen at random (seeded), replaced by random training images of
    another set of the same shape, labelled OUTLIER_LABEL: a training set contaminated with anomalies."""
    source, share = parse_outliers(spec)
    other = load_dataset(source, "train")
    if other.shape != train.shape:
        raise ValueError(f"{source}'s images are {other.shape}, not {train.shape} like {train.name}'s")
    rng = np.random.default_rng(seed)
    count = round(share * len(train))
    replaced = torch.from_numpy(rng.choice(len(train), count, replace=False))
    drawn = torch.from_numpy(rng.choice(len(other), count, replace=False))
    images, labels = train.images.clone(), train.labels.clone()
    images[replaced], labels[replaced] = other.images[drawn], OUTLIER_LABEL
    source_text = f"{train.source}; {count:,} images ({share:g}) replaced by {source}'s"
    return dataclasses.replace(train, images=images, labels=labels, source=source_text)


def _linears(body: nn.Sequential) -> list[nn.Linear]:
    return [m for m in body if isinstance(m, nn.Linear)]


def pretrain_layerwise(model, images: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int) -> list[dict]:
    """Greedy layer-wise pre-training (Bengio et al. 2007), in place: each encoder layer with its mirror decoder
    layer is trained alone as a one-layer autoencoder of the previous layer's output, `epochs` epochs each,
    before the whole net trains. Returns each layer's last-epoch loss. Dense models with free weights only."""
    encoders, decoders = _linears(model.encoder), _linears(model.decoder)[::-1]  # decoders[i] mirrors encoders[i]
    if model.config.arch != "dense" or len(encoders) != len(decoders) or getattr(model.config, "weights", "") == "tied":
        raise ValueError("layer-wise pre-training needs a dense model with free weights")
    generator = torch.Generator(device=images.device).manual_seed(seed)
    inputs, done = images.flatten(1), []  # (N, pixels)
    for depth, (enc, dec) in enumerate(zip(encoders, decoders, strict=True)):
        last = depth == len(encoders) - 1
        encode = (lambda h, e=enc: model.code_activation(e(h))) if last else (lambda h, e=enc: F.relu(e(h)))
        optimizer = adam(nn.ModuleList([enc, dec]), lr, images.device)
        for _ in range(epochs):
            order = torch.randperm(len(inputs), device=inputs.device, generator=generator)
            total = 0.0
            for start in range(0, len(inputs), batch_size):
                batch = gather(inputs, order[start : start + batch_size])
                loss = _layer_loss(model, dec(encode(batch)), batch, outermost=depth == 0)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
        done.append({"layer": depth + 1, "loss": total / len(inputs)})
        with torch.no_grad():
            inputs = encode(inputs)  # the next layer learns to rebuild this one's output
    return done


def _layer_loss(model, raw: torch.Tensor, target: torch.Tensor, outermost: bool) -> torch.Tensor:
    """The outermost pair rebuilds pixels with the model's own loss; an inner pair rebuilds ReLU features (MSE
    on the ReLU of its output, as the full decoder applies it)."""
    if outermost:
        return model.recon_loss(raw, target)
    return F.mse_loss(F.relu(raw), target)
