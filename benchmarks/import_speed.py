"""What importing a model trained elsewhere costs: `aeviz import` on MNIST, then its first PCA and UMAP maps.

    python benchmarks/import_speed.py [--dataset mnist] [--q 16]

Trains a 784-256-q dense autoencoder for one epoch in plain PyTorch, exports it with torch.export (the README's
recipe), imports it (checks, test metrics, kNN-7 over the 60k training codes) and times each step, then what
the Latent space page does on first use: load the checkpoint (and again, warm: every load checks the programs
afresh), encode the test split, fit the 2-D map.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aeviz import checkpoints, data, metrics, projection
from aeviz.foreign import importer as importing


def export_model(folder: Path, dataset: str, q: int) -> float:
    train = data.load_dataset(dataset, "train").images
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, q))
    decoder = nn.Sequential(
        nn.Linear(q, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))
    )
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    for batch in train[torch.randperm(len(train))].split(256):
        loss = nn.functional.binary_cross_entropy(decoder(encoder(batch)), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    started = time.perf_counter()
    folder.mkdir(parents=True)
    dim = torch.export.Dim("batch")
    example = train[:4].clone()  # a slice would save all 60k images as the program's sample input
    with torch.no_grad():
        code = encoder(example)
    torch.export.save(torch.export.export(encoder, (example,), dynamic_shapes=({0: dim},)), folder / "encoder.pt2")
    torch.export.save(torch.export.export(decoder, (code,), dynamic_shapes=({0: dim},)), folder / "decoder.pt2")
    manifest = {"name": f"bench-{dataset}-q{q}", "dataset": dataset, "input_shape": [1, 28, 28], "loss": "bce"}
    (folder / "aeviz.json").write_text(json.dumps(manifest))
    return time.perf_counter() - started


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"{label:<44} {time.perf_counter() - started:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--q", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    print(json.dumps(checkpoints.machine()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        print(f"{'export (torch.export, both halves)':<44} {export_model(folder, args.dataset, args.q):7.2f} s")
        result = timed(
            "aeviz import (checks + metrics + kNN-7)", lambda: importing.import_path(folder, Path(tmp) / "m")
        )
        m = result.metadata["metrics"]
        print(f"  recorded: mse {m['mse']:.5f}, kNN-7 {100 * m['knn7']:.1f} % (kNN itself {m['knn7_seconds']} s)")
        model = timed("load the checkpoint (first use on a page)", lambda: checkpoints.load_checkpoint(result.path))
        loads = []
        for _ in range(5):  # what a page pays after the server's cache dropped the model (warm imports)
            started = time.perf_counter()
            checkpoints.load_checkpoint(result.path)
            loads.append(time.perf_counter() - started)
        print(f"{'load it again (median of 5)':<44} {sorted(loads)[2]:7.2f} s")
        test = data.load_dataset(args.dataset, "test").images
        codes = timed(f"encode the {len(test):,} test images", lambda: metrics.encode_all(model, test))
        for method in ("pca", "umap"):
            timed(
                f"first {method.upper()} map of the test codes", lambda m=method: projection.fit_map(codes, m, seed=0)
            )


if __name__ == "__main__":
    main()
