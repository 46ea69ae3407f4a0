"""The command that (re)builds the pretrained model zoo (its contents: aeviz.zoo.entries) and what ships beside it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..checkpoints import SUFFIX, zoo_dir
from ..devices import keep_freed_memory
from ..models import make_config
from ..train import TrainConfig, train
from .entries import ZOO, ZooEntry

__all__ = ["ZOO", "ZooEntry", "build", "build_baselines", "build_maps", "main"]


def build(
    datasets: list[str],
    out_dir: Path | None = None,
    force: bool = False,
    device: str = "auto",
    only=None,
    recipe_override: dict | None = None,
) -> None:
    """Train every missing zoo model of `datasets` (all of them with `force`); with `only`, retrain just the
    models of those names (each with its replay of the code space beside it, as train() saves);
    `recipe_override` replaces entries' epochs or subset (a GPU session's longer run)."""
    out_dir = out_dir or zoo_dir()
    for dataset in datasets:
        for entry in ZOO[dataset]:
            path = out_dir / f"{entry.name}{SUFFIX}"
            if (only and entry.name not in only) or (path.exists() and not force and not only):
                continue
            start = time.perf_counter()
            config = make_config(entry.family, **entry.fields)
            plan = {"epochs": entry.epochs, "subset": entry.subset, **(recipe_override or {})}
            recipe = TrainConfig(
                batch_size=entry.batch_size,
                lr=entry.lr,
                schedule=entry.schedule,
                device=device,
                outliers=entry.outliers,
                pretrain_epochs=entry.pretrain_epochs,
                **plan,
            )
            result = train(entry.family, config, dataset, recipe, out_dir=out_dir, name=entry.name)
            m = result.metadata["metrics"]
            print(
                f"{entry.name}: mse {m['mse']:.5f} knn7 {m['knn7']:.4f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


# t-SNE too: a first click on it fitted for about 4 minutes on 2 cores (10,000 codes: ~100 s of one core each)
MAP_METHODS = ("pca", "umap", "tsne")


def _ship_errors(info, model, test, force: bool) -> None:
    """Per-image test errors (MSE and BCE) beside the checkpoint: the error gallery and percentiles start warm."""
    from ..checkpoints import ERROR_METRICS, load_test_errors, save_test_errors
    from ..metrics import image_errors, reconstruct_all

    content = info.metadata["hash"]
    if not force and all(load_test_errors(info.path, content, m, len(test)) is not None for m in ERROR_METRICS):
        return
    recon = reconstruct_all(model, test)
    save_test_errors(info.path, content, {m: image_errors(test, recon, m) for m in ERROR_METRICS})


def build_maps(
    datasets: list[str], folder: Path | None = None, force: bool = False, only=None, methods=MAP_METHODS
) -> None:
    """Store each zoo model's test errors and the seeded PCA, UMAP and t-SNE maps (`methods`) of its test codes
    beside it (only the models named in `only`, if given; a retrained model's stale maps are refitted: its hash
    changed; maps already stored for these weights are kept, and only the missing ones fitted). A map not shipped
    is fitted by the server when a page first asks for it."""
    wanted = tuple(methods)
    from ..checkpoints import load_checkpoint, maps_path, scan_checkpoints
    from ..data import load_dataset
    from ..metrics import encode_all
    from ..projection import load_maps, save_maps

    infos, _ = scan_checkpoints([folder or zoo_dir()])
    for info in (i for i in infos if i.dataset in datasets and (not only or i.name in only)):
        model = load_checkpoint(info.path)
        test = load_dataset(info.dataset, "test").images
        _ship_errors(info, model, test, force)
        codes = encode_all(model, test)
        target, content = maps_path(info.path), info.metadata["hash"]
        methods = (*wanted, "raw") if codes.shape[1] == 2 else wanted
        have = {} if force else load_maps(target, content, codes)
        missing = [m for m in methods if m not in have]
        if not missing:
            continue
        start = time.perf_counter()
        fitted = {m: _fit(codes, m) for m in missing}
        save_maps(target, {**have, **fitted}, content)  # every map stored for these weights stays, asked for or not
        print(f"{info.name}: maps {', '.join(missing)} ({time.perf_counter() - start:.0f} s)", flush=True)


def _fit(codes, method: str):
    from ..projection import fit_map

    return fit_map(codes, method, seed=0)


def build_baselines(datasets: list[str], folder: Path | None = None, force: bool = False) -> None:
    """Ship each dataset's PCA baseline (checkpoints/<dataset>.pca.npz): a cold server's first Reconstructions
    visit took 25 s fitting it on 2 cores."""
    from ..pca import load_shipped_pca, save_shipped_pca, shipped_pca_path

    for dataset in datasets:
        target = (folder or zoo_dir()) / shipped_pca_path(dataset).name
        if not force and load_shipped_pca(dataset, target) is not None:
            continue
        start = time.perf_counter()
        save_shipped_pca(dataset, target.parent)
        print(f"{dataset}: PCA baseline ({time.perf_counter() - start:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the model zoo into checkpoints/.")
    parser.add_argument("--dataset", nargs="+", default=list(ZOO), choices=list(ZOO))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--maps", action="store_true", help="only fit the shipped 2-D maps of the test codes and the PCA baselines"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="(re)train and refit only these zoo models")
    parser.add_argument("--epochs", type=int, help="train every chosen model this many epochs")
    parser.add_argument("--subset", type=int, help="on the first N training images (0: all of them)")
    parser.add_argument(
        "--map-methods",
        nargs="+",
        default=list(MAP_METHODS),
        choices=list(MAP_METHODS),
        help="which 2-D maps to ship (a UMAP fit takes minutes on a busy CPU; the server fits a missing one)",
    )
    args = parser.parse_args(argv)
    names = {e.name for d in args.dataset for e in ZOO[d]}
    if args.only and not set(args.only) <= names:
        parser.error(f"not zoo models of {', '.join(args.dataset)}: {', '.join(sorted(set(args.only) - names))}")
    keep_freed_memory()  # this process's allocator, as every entry point that trains sets it
    if not args.maps:
        override = {} if args.epochs is None else {"epochs": args.epochs}
        override |= {} if args.subset is None else {"subset": args.subset or None}
        build(args.dataset, args.out, args.force, args.device, args.only, override)
    build_maps(args.dataset, args.out, args.force, args.only, args.map_methods)
    build_baselines(args.dataset, args.out, args.force)


if __name__ == "__main__":
    main()
