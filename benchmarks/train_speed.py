"""Training speed: the common tutorial recipe (TensorDataset + DataLoader) vs the aeviz trainer, same model.

Run: `python benchmarks/train_speed.py [--epochs 5] [--device auto] [--dataset mnist] [--threads N]`.
Prints the median seconds per epoch of each way and model, the speed-up, and a final JSON line. Both ways train the
same architecture from the same initial weights with Adam(1e-3), batch 256 and BCE on the same data and device.

`--dataset cifar10` times the CIFAR-10 zoo's architectures instead (aeviz.zoo.build's cifar10 entries: conv
q=16/64/256, the conv VAE, the denoising conv net; `--models q64` keeps those whose name holds q64), at the zoo's
batch size and loss (MSE); the recipe computes a plain family's loss itself and calls the model's forward for
the others. `--subset N` trains on the first N images (a shorter epoch on a busy machine).

The recipe runs twice, alternating epoch by epoch with the trainer (never at the same time): in a process of
its own, as a tutorial's script runs (the headline speed-up), and in this process, which sets the allocator as
aeviz's entry points do (aeviz.devices.keep_freed_memory, here as in `aeviz train`), so that figure credits
the recipe with part of the trainer's gain.

For an all-linear model it also prints the FLOP floor: an nn.Linear(in, out) costs 2*in*out FLOP per image
forward and about twice that backward (the input's and the weight's gradient), so an epoch costs
images * sum(6*in*out) FLOP (dense 784-64-784 on MNIST: 60000 * 6 * 2 * 784 * 64 = 36.1 GFLOP; the first layer
needs no input gradient, so this slightly overstates the work). The machine's peak is the best of a few
2048x2048 float32 matmuls timed in the same run; the fraction is achieved GFLOP/s over that peak.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from aeviz import build_model, load_dataset
from aeviz.devices import device_name, keep_freed_memory, pick_device
from aeviz.train import TrainConfig, fit
from aeviz.zoo.build import ZOO

MODELS = {
    "dense 784-64-784": ("dense", {"bottleneck": 64}),
    "conv q16": ("conv", {"bottleneck": 16}),
}


def models_for(dataset: str) -> dict[str, tuple[str, dict]]:
    """What is timed: MNIST's two classic nets on grey sets; a colour set's zoo architectures (CIFAR-10's)."""
    if dataset != "cifar10":
        return MODELS
    return {entry.name.removeprefix("cifar10-"): (entry.family, entry.fields) for entry in ZOO["cifar10"]}


def batch_size(dataset: str) -> int:
    return ZOO[dataset][0].batch_size if dataset == "cifar10" else 256


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def linear_flops(model: torch.nn.Module, images: int) -> float | None:
    """FLOP of one training epoch by the formula above; None for a model with other compute layers (conv)."""
    layers = [m for m in model.modules() if len(list(m.children())) == 0 and len(list(m.parameters()))]
    if not layers or not all(isinstance(m, torch.nn.Linear) for m in layers):
        return None
    return float(images * sum(6 * m.in_features * m.out_features for m in layers))


def matmul_peak(device: torch.device, size: int = 2048, repeats: int = 6) -> float:
    """The best GFLOP/s of a float32 size^3 matmul on `device` (one warm-up, then `repeats` timed)."""
    a, b = torch.rand(size, size, device=device), torch.rand(size, size, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def recipe_loss(model, batch: torch.Tensor) -> torch.Tensor:
    """A tutorial's loss: the built-in BCE with logits or MSE for a plain autoencoder, else its own forward."""
    if model.family not in ("dense", "conv"):
        return model(batch).loss
    logits = model.decode_raw(model.encode(batch))
    if model.config.loss == "mse":
        return F.mse_loss(torch.sigmoid(logits), batch)
    return F.binary_cross_entropy_with_logits(logits, batch)


def recipe_epochs(model, x: torch.Tensor, epochs: int, device: torch.device, batch: int = 256) -> list[float]:
    """The loop most tutorials teach: a DataLoader over a TensorDataset, a .to(device) per batch."""
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    model.train()
    for _ in range(epochs):
        _sync(device)
        start = time.perf_counter()
        for (images,) in loader:
            loss = recipe_loss(model, images.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()  # tutorials log the loss every step
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


CPU_SECONDS: list[float] = []  # the process's CPU time of each aeviz epoch (all threads): steadier than wall
# time on a shared machine, and what a zoo's CPU budget is counted in


def aeviz_epochs(model, x: torch.Tensor, epochs: int, batch: int = 256) -> list[float]:
    """aeviz.train.fit, timed per epoch through its own progress callback (wall; CPU time into CPU_SECONDS)."""
    stamps: list[tuple[float, float]] = []

    def stamp(p) -> None:
        if p.event in ("start", "epoch"):
            stamps.append((time.perf_counter(), time.process_time()))

    fit(model, x, TrainConfig(epochs=epochs, batch_size=batch, report_every_s=1e9), callback=stamp)
    CPU_SECONDS.extend(b[1] - a[1] for a, b in zip(stamps[:-1], stamps[1:]))
    return [b[0] - a[0] for a, b in zip(stamps[:-1], stamps[1:])]


def flop_figures(key: str, flops: float, recipe: float, aeviz: float, peak: float) -> dict[str, float]:
    return {
        f"{key}_gflop_per_epoch": round(flops / 1e9, 2),
        f"{key}_recipe_gflops": round(flops / recipe / 1e9, 1),
        f"{key}_aeviz_gflops": round(flops / aeviz / 1e9, 1),
        f"{key}_floor_s_per_epoch": round(flops / peak / 1e9, 4),
        f"{key}_floor_fraction": round(flops / aeviz / 1e9 / peak, 3),
    }


class RecipeProcess:
    """The recipe in a fresh Python process of its own, one epoch per request: what a tutorial's script gets."""

    def __init__(self, family: str, fields: dict, args: argparse.Namespace):
        spec = {
            "family": family,
            "fields": fields,
            "device": args.device,
            "dataset": args.dataset,
            "subset": args.subset,
        }
        spec = json.dumps(spec)
        command = [sys.executable, __file__, "--recipe-worker", spec]
        if args.threads:
            command += ["--threads", str(args.threads)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def epoch(self) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def recipe_worker(spec: dict) -> None:
    """The child's side: the same initial weights (seed 0) and data, one recipe epoch per line read."""
    device = pick_device(spec["device"])
    x = load_dataset(spec["dataset"], "train", limit=spec["subset"]).images
    torch.manual_seed(0)
    model = build_model(spec["family"], **{**spec["fields"], "input_shape": tuple(x.shape[1:])}).to(device)
    for _ in sys.stdin:
        print(recipe_epochs(model, x, 1, device, batch_size(spec["dataset"]))[0], flush=True)


def compare(label: str, family: str, fields: dict, x: torch.Tensor, args, device, peak: float) -> dict:
    """One model trained all three ways, alternating; its figures under keys that start with the label's first word."""
    torch.manual_seed(0)
    base = build_model(family, **{**fields, "input_shape": tuple(x.shape[1:])}).to(device)
    theirs, ours = copy.deepcopy(base), copy.deepcopy(base)
    batch = batch_size(args.dataset)
    alone = RecipeProcess(family, fields, args)
    alone_times, recipe_times, aeviz_times = [], [], []
    CPU_SECONDS.clear()
    # alternate one epoch of each, so drift in the machine's speed hits all alike; the first round pays
    # one-off costs (allocator, kernel selection) and is dropped
    try:
        for _ in range(args.epochs + 1):
            alone_times.append(alone.epoch())
            recipe_times += recipe_epochs(theirs, x, 1, device, batch)
            aeviz_times += aeviz_epochs(ours, x, 1, batch)
    finally:
        alone.close()
    own, recipe, aeviz = (statistics.median(t[1:]) for t in (alone_times, recipe_times, aeviz_times))
    # the spread of the ratio over the rounds: how much the shared machine's load moved the figure
    ratios = [a / b for a, b in zip(alone_times[1:], aeviz_times[1:], strict=True)]
    key = label.split()[0]
    results = {
        f"{key}_recipe_own_process_s_per_epoch": round(own, 4),
        f"{key}_recipe_s_per_epoch": round(recipe, 4),
        f"{key}_aeviz_s_per_epoch": round(aeviz, 4),
        f"{key}_speedup": round(own / aeviz, 2),
        f"{key}_speedup_same_process": round(recipe / aeviz, 2),
        f"{key}_speedup_min": round(min(ratios), 2),
        f"{key}_speedup_max": round(max(ratios), 2),
        f"{key}_aeviz_30_epochs_s": round(30 * aeviz, 2),
        f"{key}_aeviz_cpu_s_per_epoch": round(statistics.median(CPU_SECONDS[1:]), 3),
        f"{key}_images": len(x),
    }
    print(
        f"{label:18s} recipe {own:7.3f} s/epoch (its own process; {recipe:.3f} in this one)   aeviz {aeviz:7.3f} "
        f"s/epoch   speed-up {own / aeviz:5.2f}x ({recipe / aeviz:.2f}x; per round {min(ratios):.2f}-"
        f"{max(ratios):.2f}x)   30 epochs ≈ {30 * aeviz:.1f} s   aeviz CPU "
        f"{results[f'{key}_aeviz_cpu_s_per_epoch']:.1f} s/epoch"
    )
    flops = linear_flops(base, len(x))
    if flops is not None:
        results.update(flop_figures(key, flops, own, aeviz, peak))
        print(
            f"{'':18s} {flops / 1e9:.1f} GFLOP/epoch: recipe {results[f'{key}_recipe_gflops']:.1f}, aeviz "
            f"{results[f'{key}_aeviz_gflops']:.1f} GFLOP/s = {results[f'{key}_floor_fraction']:.0%} of the peak "
            f"(floor {results[f'{key}_floor_s_per_epoch']:.3f} s/epoch)"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of each way (plus one warm-up)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--models", nargs="+", default=None, help="time only the models whose label holds one of these")
    parser.add_argument("--subset", type=int, default=None, help="train on the first N images")
    parser.add_argument("--recipe-worker", help=argparse.SUPPRESS)  # the child process of RecipeProcess
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.recipe_worker:
        recipe_worker(json.loads(args.recipe_worker))
        return
    keep_freed_memory()  # as aeviz's entry points (the CLI, a job's process, the app server) set it
    device = pick_device(args.device)
    x = load_dataset(args.dataset, "train", limit=args.subset).images
    results = {
        "device": device_name(device),
        "dataset": args.dataset,
        "epochs": args.epochs,
        "torch_threads": torch.get_num_threads(),
    }
    print(f"{len(x)} images of {args.dataset} on {results['device']}: median of {args.epochs} alternating epochs each")
    peak = results["peak_gflops"] = round(matmul_peak(device), 1)
    print(f"peak: {peak:.1f} GFLOP/s (best 2048^3 float32 matmul)")
    chosen = {k: v for k, v in models_for(args.dataset).items() if not args.models or any(m in k for m in args.models)}
    for label, (family, fields) in chosen.items():
        results.update(compare(label, family, fields, x, args, device, peak))
    if args.dataset != "cifar10":
        results.update(replay_overhead(x, load_dataset(args.dataset, "test").images, device, results))
    print(json.dumps(results))


REPLAY_MODELS = {
    "dense_q2": ("dense", {"bottleneck": 2}),
    "dense": MODELS["dense 784-64-784"],
    "conv": MODELS["conv q16"],
}


def replay_overhead(x: torch.Tensor, test: torch.Tensor, device: torch.device, measured: dict) -> dict:
    """What the Train page's live code map costs an epoch: encoding the fixed test sample and its aligned PCA
    (replay.CodeWatch.record, median of 5), as a share of the model's aeviz epoch (timed above, or here for q=2)."""
    from aeviz.replay import CodeWatch

    out = {}
    for key, (family, fields) in REPLAY_MODELS.items():
        torch.manual_seed(0)
        model = build_model(family, **fields, input_shape=tuple(x.shape[1:])).to(device)
        epoch = measured.get(f"{key}_aeviz_s_per_epoch") or statistics.median(aeviz_epochs(model, x, 2)[1:])
        watch, times = CodeWatch(test), []
        for i in range(6):  # the first pays the copy of the sample to the device, as the trainer's first epoch does
            _sync(device)
            start = time.perf_counter()
            watch.record(model.train(), i)
            _sync(device)
            times.append(time.perf_counter() - start)
        cost = statistics.median(times[1:])
        out.update(
            {f"replay_{key}_ms": round(1000 * cost, 2), f"replay_{key}_pct_of_epoch": round(100 * cost / epoch, 2)}
        )
        print(f"code map {key:9s} {1000 * cost:7.1f} ms an epoch = {100 * cost / epoch:5.2f} % of {epoch:.3f} s/epoch")
    return out


if __name__ == "__main__":
    main()
