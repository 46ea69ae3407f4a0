"""Training speed: the common tutorial recipe (TensorDataset + DataLoader) vs the aeviz trainer, same model.

Run: `python benchmarks/train_speed.py [--epochs 5] [--device auto] [--dataset mnist]`. Prints the median
seconds per epoch of each way and model, the speed-up, and a final JSON line. Both ways train the same architecture
from the same initial weights with Adam(1e-3), batch 256 and BCE on the same data and device.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch
import torch.nn.functional as F

from aeviz import build_model, load_dataset
from aeviz.train import TrainConfig, device_name, fit, pick_device

MODELS = {
    "dense 784-64-784": ("dense", {"bottleneck": 64}),
    "conv q16": ("conv", {"bottleneck": 16}),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def recipe_epochs(model, x: torch.Tensor, epochs: int, device: torch.device) -> list[float]:
    """The loop most tutorials teach: a DataLoader over a TensorDataset, a .to(device) per batch."""
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x), batch_size=256, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    model.train()
    for _ in range(epochs):
        _sync(device)
        start = time.perf_counter()
        for (batch,) in loader:
            batch = batch.to(device)
            logits = model.decode_raw(model.encode(batch))
            loss = F.binary_cross_entropy_with_logits(logits, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()  # tutorials log the loss every step
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def aeviz_epochs(model, x: torch.Tensor, epochs: int) -> list[float]:
    """aeviz.train.fit, timed per epoch through its own progress callback."""
    stamps: list[float] = []
    fit(
        model,
        x,
        TrainConfig(epochs=epochs, report_every_s=1e9),
        callback=lambda p: stamps.append(time.perf_counter()) if p.event in ("start", "epoch") else None,
    )
    return [b - a for a, b in zip(stamps[:-1], stamps[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of each way (plus one warm-up)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args()
    device = pick_device(args.device)
    x = load_dataset(args.dataset, "train").images
    results = {
        "device": device_name(device),
        "dataset": args.dataset,
        "epochs": args.epochs,
        "torch_threads": torch.get_num_threads(),
    }
    print(f"{len(x)} images of {args.dataset} on {results['device']}: median of {args.epochs} alternating epochs each")
    for label, (family, fields) in MODELS.items():
        torch.manual_seed(0)
        base = build_model(family, **fields, input_shape=tuple(x.shape[1:])).to(device)
        theirs, ours = copy.deepcopy(base), copy.deepcopy(base)
        recipe_times, aeviz_times = [], []
        # alternate one epoch of each, so drift in the machine's speed hits both alike; the first round pays
        # one-off costs (allocator, kernel selection) and is dropped
        for _ in range(args.epochs + 1):
            recipe_times += recipe_epochs(theirs, x, 1, device)
            aeviz_times += aeviz_epochs(ours, x, 1)
        recipe, aeviz = statistics.median(recipe_times[1:]), statistics.median(aeviz_times[1:])
        speedup = recipe / aeviz
        key = label.split()[0]
        results.update(
            {
                f"{key}_recipe_s_per_epoch": round(recipe, 4),
                f"{key}_aeviz_s_per_epoch": round(aeviz, 4),
                f"{key}_speedup": round(speedup, 2),
                f"{key}_aeviz_30_epochs_s": round(30 * aeviz, 2),
            }
        )
        print(
            f"{label:18s} recipe {recipe:7.3f} s/epoch   aeviz {aeviz:7.3f} s/epoch   speed-up {speedup:5.2f}x   "
            f"30 epochs ≈ {30 * aeviz:.1f} s"
        )
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
