"""The pretrained model zoo: what it contains, and the command that (re)builds it."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..checkpoints import SUFFIX, zoo_dir
from ..devices import keep_freed_memory
from ..models import make_config, model_slug
from ..names import default_name
from ..pca import MAX_COMPONENTS, SIZES
from ..train import TrainConfig, train

QS = tuple(q for q in SIZES if q <= MAX_COMPONENTS)  # the grey zoo's code sizes: those PCA measures on grey inputs

DEEP = (256, 128)


@dataclass(frozen=True)
class ZooEntry:
    """One model to train: family, config fields and epochs (the classic recipe: Adam 1e-3, batch 256)."""

    dataset: str
    family: str
    fields: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    schedule: str = "constant"
    subset: int | None = None  # train on the first N training images (None: all of them; CIFAR-10's CPU build)

    @property
    def name(self) -> str:
        return default_name(self.dataset, model_slug(self.family, make_config(self.family, **self.fields)))


def plane(entry: ZooEntry) -> ZooEntry:
    """The recipe of the code-plane models (q=2) whose planes Latent space shows and replays: twice the epochs,
    Adam from 1e-2 decaying to 0 (cosine). With the classic recipe a 2-d code lands in whichever basin its first
    steps find: MNIST's affine dense q=2 read kNN-7 30.6 to 42.6 % over seeds 0-3 at 30 epochs (seed 0 still
    31.5 % at 100 epochs); from 1e-2 over 60 epochs seed 0 reaches 44.4 % and a lower BCE (0.2249 vs 0.2274)."""
    return replace(entry, epochs=2 * entry.epochs, lr=1e-2, schedule="cosine")


def _mnist_like(dataset: str) -> list[ZooEntry]:
    e = lambda family, epochs=30, **fields: ZooEntry(dataset, family, fields, epochs)
    return [
        plane(e("dense", bottleneck=2)),
        *(e("dense", bottleneck=q) for q in QS if q != 2),
        plane(e("conv", 20, bottleneck=2)),
        # q=16 conv codes are compared with published kNN figures: trained to convergence (30 epochs)
        *(e("conv", 30 if q == 16 else 20, bottleneck=q) for q in (8, 16, 32)),
        # deeper nets with wide codes converge slower; at 20 epochs Fashion q=64 still lost to PCA
        *(e("dense", 40 if q >= 32 else 20, bottleneck=q, hidden=DEEP) for q in QS),
        e("dense", bottleneck=16, loss="mse"),
        e("linear", 60, bottleneck=16),
        plane(e("vae", bottleneck=2, hidden=(256,))),
        e("vae", bottleneck=16, hidden=(256,)),
        e("vae", 20, bottleneck=2, arch="conv"),
        e("vae", 20, bottleneck=16, arch="conv"),
        e("denoising", bottleneck=32, noise="gaussian:0.5"),
        e("denoising", 20, bottleneck=32, arch="conv", noise="gaussian:0.5"),
        # imputation: hiding a block in training (occlusion noise) teaches filling one in (aeviz.imputation)
        e("denoising", bottleneck=32, noise="occlusion:0.25"),
        e("sparse", bottleneck=256, l1=1e-4),
        e("sparse", bottleneck=256, sparsity="kl", kl_target=0.05, kl_weight=3e-3),
        e("contractive", bottleneck=32, weight=1e-4),
        *_students_next(dataset),
    ]


BETAS = (0.25, 4.0, 16.0)  # beside the beta = 1 VAEs above: the VAE page's beta control switches among them
TOPKS = (16, 64)
# Short recipes: these were trained on a 2-core machine shared by seven engineers (a 60k-image VAE epoch took
# 150 s there, a VQ-VAE's 1,100 s), so each sees a subset for a few epochs, and the model card says so. The
# beta = 1 VAEs above had the full recipe: the VAE page's beta tab names both recipes when it compares them.
SHORT = 10_000


def _students_next(dataset: str) -> list[ZooEntry]:
    """beta-VAEs (the beta = 1 ones' nets, beta apart), a VQ-VAE, and overcomplete TopK sparse dictionaries
    (q = 1024 > 784 pixels) at two k, beside the L1 and KL ones for the L0-vs-error frontier."""
    e = lambda family, epochs, subset, **fields: ZooEntry(dataset, family, fields, epochs, 256, subset=subset)
    return [
        *(e("vae", 3, SHORT, bottleneck=2, hidden=(256,), beta=b) for b in BETAS),
        *(e("vae", 3, SHORT, bottleneck=16, hidden=(256,), beta=b) for b in BETAS),
        e("vq", 2, SHORT),  # 7x7 tokens of 8 numbers from 128 codes (EMA updates): q = 392
        *(e("sparse", 3, SHORT, bottleneck=1024, sparsity="topk", topk=k) for k in TOPKS),
    ]


def _digits() -> list[ZooEntry]:
    # 1,437 training images: batch 64 gives 23 steps an epoch, enough for the linear AE to reach PCA
    e = lambda family, epochs=200, **fields: ZooEntry(
        "digits",
        family,
        {"input_shape": (1, 8, 8), **fields},
        epochs,
        64,
    )
    return [
        *(e("dense", bottleneck=q) for q in (2, 4, 8, 16)),
        *(e("conv", bottleneck=q, channels=(16, 32)) for q in (2, 8, 16)),
        e("linear", 1000, bottleneck=8),  # plain Adam creeps to PCA's optimum: give it the steps
        e("vae", bottleneck=2, hidden=(64,)),
        e("vae", bottleneck=8, hidden=(64,)),
        e("denoising", bottleneck=16, noise="gaussian:0.5"),
        e("denoising", bottleneck=16, arch="conv", noise="gaussian:0.5"),
        e("denoising", bottleneck=16, noise="occlusion:0.25"),  # imputation (aeviz.imputation)
        e("sparse", bottleneck=64, l1=1e-4),
        # a sigmoid code converges slower than a ReLU one: test MSE 0.0069 at 200 epochs, 0.0035 at 1000
        e("sparse", 1000, bottleneck=64, sparsity="kl", kl_target=0.05, kl_weight=3e-3),
        e("contractive", bottleneck=16, weight=1e-4),
        *(e("vae", bottleneck=8, hidden=(64,), beta=b) for b in BETAS),
        e("vq", 30, channels=(32,), codebook_size=64),  # one stride-2 layer: 4x4 tokens of 8 numbers, q = 128
        *(e("sparse", bottleneck=128, sparsity="topk", topk=k) for k in (4, 8, 16)),  # overcomplete: 128 > 64
        # the identity-function risk: the same overcomplete width with nothing, noise or a contractive penalty
        # keeping the code from copying (Published results' lessons; benchmarks/reproduce.py measures them)
        e("dense", bottleneck=128),
        e("linear", 1000, bottleneck=64),  # as wide as the image: its optimum is the identity (PCA keeping all)
        e("denoising", bottleneck=128, noise="gaussian:0.5"),
        e("contractive", bottleneck=128, weight=1e-4),
    ]


CIFAR_QS = (16, 64, 256)


def _cifar10() -> list[ZooEntry]:
    """Colour photographs, 3x32x32: conv bodies only (a dense net on 3,072 inputs learns little more than PCA),
    each with the body conv_widths gives 32x32 colour ((32, 64, 128) to a 4x4 grid). MSE: the error PSNR
    reports (BCE on photos' mid-grey pixels never reaches 0 and weighs the extremes)."""
    e = lambda family, **fields: ZooEntry(
        "cifar10",
        family,
        {"input_shape": (3, 32, 32), "loss": "mse", **fields},
        EPOCHS_CIFAR,
        BATCH_CIFAR,
        LR_CIFAR,
        "cosine",
        subset=SUBSET_CIFAR,
    )
    return [
        *(e("conv", bottleneck=q) for q in CIFAR_QS),
        e("vae", bottleneck=64, arch="conv", beta=0.1),  # beta 0.1 with MSE: a decoder variance of 0.05
        e("denoising", bottleneck=64, arch="conv", noise="gaussian:0.2"),  # sigma 0.2: a grainy photo, still legible
    ]


# The shipped CIFAR-10 models were built on a 2-core CPU within a session's time: 5 epochs of the 50,000
# training images, batch 64, Adam from 2e-3 decaying to 0 (cosine), about 10 minutes a model (the model card
# says so). Far from converged; on a GPU, `python -m aeviz.zoo.build --dataset cifar10 --force --epochs 30`
# trains longer.
EPOCHS_CIFAR, SUBSET_CIFAR, BATCH_CIFAR, LR_CIFAR = 5, None, 64, 2e-3

ZOO: dict[str, list[ZooEntry]] = {
    "digits": _digits(),
    "mnist": _mnist_like("mnist"),
    "fashion-mnist": _mnist_like("fashion-mnist"),
    "cifar10": _cifar10(),
}


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
                batch_size=entry.batch_size, lr=entry.lr, schedule=entry.schedule, device=device, **plan
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
