"""VQ-VAE codebook updates compared on a short MNIST run: EMA vs codes learned by gradient, with and without
dead-code restarts. Prints test MSE, kNN-7 of the codes, perplexity and dead codes after each epoch.

`PYTHONPATH=. nice -n 10 python benchmarks/vq_codebook.py --subset 10000 --epochs 3` (CPU timings on a shared
machine are noisy: compare the variants' figures, not their seconds, across runs).
"""

from __future__ import annotations

import argparse
import time

from aeviz import vq
from aeviz.models import make_config
from aeviz.train import TrainConfig, train


def run(codebook: str, restarts: bool, args) -> dict:
    saved, vq.DEAD_SHARE = vq.DEAD_SHARE, vq.DEAD_SHARE if restarts else 0.0  # 0: no code is ever restarted
    try:
        config = make_config("vq", codebook=codebook, codebook_size=args.codes, code_dim=args.code_dim)
        recipe = TrainConfig(epochs=args.epochs, batch_size=256, subset=args.subset, seed=args.seed)
        start = time.perf_counter()
        result = train("vq", config, args.dataset, recipe, save=False)
        return {"history": result.history, "metrics": result.metadata["metrics"], "s": time.perf_counter() - start}
    finally:
        vq.DEAD_SHARE = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--codes", type=int, default=128)
    parser.add_argument("--code-dim", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("codebook restarts epoch test_recon perplexity dead_codes | final mse knn7 seconds")
    for codebook in ("ema", "loss"):
        for restarts in (True, False):
            out = run(codebook, restarts, args)
            for h in out["history"]:
                d = h["diagnostics"]
                print(
                    f"{codebook:4} {str(restarts):5} {h['epoch']:3} {h['test']['recon']:.4f} "
                    f"{d['perplexity']:6.1f} {d['dead_codes']:4.0f}"
                )
            m = out["metrics"]
            print(f"{codebook:4} {str(restarts):5} final mse {m['mse']:.5f} knn7 {m['knn7']:.4f} {out['s']:.0f} s")


if __name__ == "__main__":
    main()
