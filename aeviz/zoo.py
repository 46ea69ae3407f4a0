"""The pretrained model zoo: what it contains, and the command that (re)builds it."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoints import SUFFIX, zoo_dir
from .models import make_config, model_slug
from .train import TrainConfig, train

QS = (2, 4, 8, 16, 32, 64)
DEEP = (256, 128)


@dataclass(frozen=True)
class ZooEntry:
    """One model to train: family, config fields and epochs (the classic recipe: Adam 1e-3, batch 256)."""

    dataset: str
    family: str
    fields: dict = field(default_factory=dict)
    epochs: int = 30

    @property
    def name(self) -> str:
        return f"{self.dataset}-{model_slug(self.family, make_config(self.family, **self.fields))}"


def _mnist_like(dataset: str) -> list[ZooEntry]:
    e = lambda family, epochs=30, **fields: ZooEntry(dataset, family, fields, epochs)  # noqa: E731
    return [
        *(e("dense", bottleneck=q) for q in QS),
        *(e("conv", 20, bottleneck=q) for q in (2, 8, 16, 32)),
        *(e("dense", 20, bottleneck=q, hidden=DEEP) for q in QS),
        e("dense", bottleneck=16, loss="mse"),
        e("linear", 60, bottleneck=16),
        e("vae", bottleneck=2, hidden=(256,)),
        e("vae", bottleneck=16, hidden=(256,)),
        e("vae", 20, bottleneck=2, arch="conv"),
        e("vae", 20, bottleneck=16, arch="conv"),
        e("denoising", bottleneck=32, noise="gaussian:0.5"),
        e("denoising", 20, bottleneck=32, arch="conv", noise="gaussian:0.5"),
        e("sparse", bottleneck=256, l1=1e-4),
        e("contractive", bottleneck=32, weight=1e-4),
    ]


def _digits() -> list[ZooEntry]:
    e = lambda family, **fields: ZooEntry("digits", family, {"input_shape": (1, 8, 8), **fields}, 200)  # noqa: E731
    return [
        *(e("dense", bottleneck=q) for q in (2, 4, 8, 16)),
        *(e("conv", bottleneck=q, channels=(16, 32)) for q in (2, 8, 16)),
        e("linear", bottleneck=8),
        e("vae", bottleneck=2, hidden=(64,)),
        e("vae", bottleneck=8, hidden=(64,)),
        e("denoising", bottleneck=16, noise="gaussian:0.5"),
        e("denoising", bottleneck=16, arch="conv", noise="gaussian:0.5"),
        e("sparse", bottleneck=64, l1=1e-4),
        e("contractive", bottleneck=16, weight=1e-4),
    ]


ZOO: dict[str, list[ZooEntry]] = {"digits": _digits(), "mnist": _mnist_like("mnist"),
                                  "fashion-mnist": _mnist_like("fashion-mnist")}


def build(datasets: list[str], out_dir: Path | None = None, force: bool = False, device: str = "auto") -> None:
    """Train every missing zoo model of `datasets` (all of them with `force`)."""
    out_dir = out_dir or zoo_dir()
    for dataset in datasets:
        for entry in ZOO[dataset]:
            path = out_dir / f"{entry.name}{SUFFIX}"
            if path.exists() and not force:
                continue
            start = time.perf_counter()
            config = make_config(entry.family, **entry.fields)
            result = train(entry.family, config, dataset, TrainConfig(epochs=entry.epochs, device=device),
                           out_dir=out_dir, name=entry.name)
            m = result.metadata["metrics"]
            print(f"{entry.name}: mse {m['mse']:.5f} knn7 {m['knn7']:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the model zoo into checkpoints/.")
    parser.add_argument("--dataset", nargs="+", default=list(ZOO), choices=list(ZOO))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    build(args.dataset, args.out, args.force, args.device)


if __name__ == "__main__":
    main()
