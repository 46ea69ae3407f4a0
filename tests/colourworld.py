"""A small colour world for tests: CIFAR-10 in its official binary layout and a small MNIST in one data folder,
and a tiny zoo of colour models trained on it (one epoch on 240 pictures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import write_cifar_bin, write_idx

from aeviz import cifar

COLOUR_ZOO = (
    ("conv", {"bottleneck": 8}),
    ("conv", {"bottleneck": 32}),
    ("vae", {"bottleneck": 8, "arch": "conv", "beta": 0.1}),
    ("denoising", {"bottleneck": 8, "arch": "conv", "noise": "gaussian:0.2"}),
)


def colour_photos(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,3,32,32) uint8 pictures whose mean colour follows the class, with a bright square somewhere: what a
    small conv net can learn in one epoch, so the pages have real structure to show."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(cifar.CLASSES), n).astype(np.uint8)
    hues = rng.uniform(40, 215, (len(cifar.CLASSES), 3))
    images = hues[labels][:, :, None, None] + rng.normal(0, 20, (n, 3, 32, 32))
    for i, (top, left) in enumerate(rng.integers(0, 24, (n, 2))):
        images[i, :, top : top + 8, left : left + 8] = 250
    return np.clip(images, 0, 255).astype(np.uint8), labels


def build(data: Path, zoo: Path, cache: Path) -> tuple[Path, Path]:
    """A data folder with CIFAR-10 (240 train / 80 test) and a small MNIST, and a zoo of colour models."""
    import pytest

    from aeviz.models import make_config
    from aeviz.train import TrainConfig, train

    write_cifar_bin(data / "CIFAR10", colour_photos(240, 0), colour_photos(80, 1))
    rng = np.random.default_rng(0)
    for split, n in (("train", 120), ("t10k", 40)):
        raw = data / "MNIST" / "raw"
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), True)
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8), True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEVIZ_DATA_DIR", str(data))
        mp.setenv("AEVIZ_CACHE_DIR", str(cache))
        for family, fields in COLOUR_ZOO:
            config = make_config(family, input_shape=(3, 32, 32), loss="mse", **fields)
            train(family, config, "cifar10", TrainConfig(epochs=1, batch_size=64, device="cpu"), out_dir=zoo)
    return data, zoo
