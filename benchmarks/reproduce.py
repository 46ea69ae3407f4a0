"""Reproduce the classic published autoencoder figures with the shipped zoo, side by side with the references.

Run: `python benchmarks/reproduce.py [--write]`. Prints one table per comparison and a final JSON line with
every figure; `--write` also stores them in checkpoints/reproduce.json, which the app's "Published results"
page shows. Needs MNIST and Fashion-MNIST (AEVIZ_DATA_DIR) and the zoo in checkpoints/.
"""

from __future__ import annotations

import argparse
import json
import sys

from aeviz.zoo.references import PUBLISHED, REFERENCE, describe_machine, results_path
from aeviz.zoo.reproduce import knn_verdicts, mse_vs_pca, reproduce, tables


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n## {title}")
    if not rows:
        print("(no models for this comparison)")
        return
    head = list(rows[0])
    cells = [[str(r.get(h, "")) for h in head] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *cells)]
    for line in [head, *cells]:
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)))


def print_shoe(shoe: dict) -> None:
    pub, ref = PUBLISHED["shoe"], REFERENCE["shoe"]
    print(
        f"\n## Find the shoe: each of {shoe['shoes']:,} Fashion-MNIST shoes added alone to MNIST's 10,000 test "
        f"digits, ranked by {shoe['model']} reconstruction MSE"
    )
    print(
        f"ranked 1st: {100 * shoe['share_rank1']:.1f} % (our reference run {100 * ref['share_rank1']:.0f} %)   "
        f"top 10: {100 * shoe['share_top10']:.1f} % (our reference run {100 * ref['share_top10']:.0f} %)   "
        f"median rank {shoe['median_rank']:.0f}, worst {shoe['worst_rank']}"
    )
    print(
        f"median shoe error {shoe['median_shoe_error']:.3f} vs the most unusual digit {shoe['runner_up']:.3f} "
        f"(published: shoe {pub['error']}, top digit {pub['runner_up']})   "
        f"AUROC Fashion vs MNIST {shoe['auroc']:.4f} (our reference run {ref['auroc']})"
    )
    print("rank histogram (11 = worse than 10th):", shoe["rank_histogram"])


def print_notes(results: dict) -> None:
    print(f"\nPublished: {PUBLISHED['source']}. Reference figures are ours: {REFERENCE['how']}.")
    print(f"kNN times: one run on {describe_machine(results['machine'])}, {results['measured']}")
    for ds, verdict in knn_verdicts(results).items():
        print(f"{ds}: {verdict}")
    for ds, r in results["datasets"].items():
        print(
            f"{ds}: BCE floor (mean binary entropy of the test pixels) {r['bce_floor']:.4f}"
            + (f"; {mse_vs_pca(r['pca'])}" if "pca" in r else "")
        )
    for name, d in results["denoisers"].items():
        print(f"{name}: on its training noise {d['noise']} PSNR {d['psnr']:.2f} dB (noisy input {d['psnr_input']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"store the figures in {results_path()}")
    args = parser.parse_args()
    results = reproduce(log=lambda line: print(line, file=sys.stderr, flush=True))
    shown = tables(results)
    print_table(
        "kNN (k=7) accuracy on raw pixels, PCA codes and autoencoder codes (times: one run, one thread)", shown["knn"]
    )
    print_table(
        "Test MSE per pixel: PCA vs linear, dense, deeper dense and conv autoencoders "
        "(all reconstructions clipped to [0,1]; 'pca unclipped' not)",
        shown["pca"],
    )
    print_table("Dense q=16 trained with BCE vs MSE (PSNR: mean of per-image PSNR)", shown["bce_vs_mse"])
    print_table(
        "Denoising: mean PSNR (dB) on Gaussian-noised test images, plain vs denoising AE (q=32)", shown["denoising"]
    )
    if "shoe" in results:
        print_shoe(results["shoe"])
    print_notes(results)
    if args.write:
        results_path().write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {results_path()}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
