"""Classic published autoencoder results measured on our zoo: kNN on codes, find-the-shoe, PCA, BCE/MSE, denoising."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .baselines import pca_baseline
from .checkpoints import CheckpointInfo, load_checkpoint, scan_checkpoints, versions, zoo_dir
from .data import load_dataset
from .knn import PUBLISHED as KNN_PUBLISHED
from .knn import raw_pixels_knn
from .metrics import encode_all, image_errors, knn_accuracy, reconstruct_all

# Published figures (the Keras blog's autoencoder posts and the Fashion-MNIST benchmark tables) and the
# reference the issue measured with the plain recipe on an H100.
PUBLISHED = {
    "knn": KNN_PUBLISHED,
    "shoe": {"rank": 1, "error": 0.062, "runner_up": 0.022, "share_rank1": 0.86, "share_top10": 0.95,
             "auroc": 0.9998},
    "linear_vs_pca_q16": {"linear": 0.02688, "pca": 0.02686},
}
SHOE_CLASSES = (5, 7, 9)  # Fashion-MNIST: Sandal, Sneaker, Ankle boot
DENOISE_LEVELS = (0.1, 0.3, 0.5, 0.7)
DENOISE_IMAGES = 1000


def _find(infos: Sequence[CheckpointInfo], dataset: str, series: str, q: int) -> CheckpointInfo | None:
    return next((i for i in infos if i.dataset == dataset and i.series == series and i.bottleneck == q), None)


def knn_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """Raw pixels, then dense and conv codes at q=8 and 16: our kNN-7 accuracy beside the published one."""
    published = PUBLISHED["knn"].get(dataset, {})
    accuracy, seconds = raw_pixels_knn(dataset)
    rows = [{"features": "raw pixels", "dims": int(np.prod(load_dataset(dataset, "test").shape)),
             "accuracy": accuracy, "seconds": seconds, "published": published.get("raw")}]
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    for series in ("dense-bce", "conv-bce"):
        for q in (8, 16):
            info = _find(infos, dataset, series, q)
            if info is not None:
                # measured afresh, not read from the checkpoint: its time was taken on the training machine
                model = load_checkpoint(info.path)
                accuracy, seconds = knn_accuracy(encode_all(model, train.images), train.labels.numpy(),
                                                 encode_all(model, test.images), test.labels.numpy())
                rows.append({"features": f"{series.split('-')[0]} code", "dims": q, "accuracy": accuracy,
                             "seconds": seconds, "published": published.get(str(q))})
    return rows


def shoe_ranks(mnist_errors: np.ndarray, fashion_errors: np.ndarray, fashion_labels: np.ndarray) -> dict:
    """Each Fashion shoe added alone to the MNIST test set: the distribution of its rank (1 = most unusual)."""
    from .anomaly import detection, rank_among

    shoes = fashion_errors[np.isin(fashion_labels, SHOE_CLASSES)]
    ranks = rank_among(shoes, mnist_errors)
    clipped, counts = np.unique(np.minimum(ranks, 11), return_counts=True)  # 11: worse than 10th
    return {"shoes": int(len(shoes)), "share_rank1": float((ranks == 1).mean()),
            "share_top10": float((ranks <= 10).mean()), "median_rank": float(np.median(ranks)),
            "worst_rank": int(ranks.max()), "median_shoe_error": float(np.median(shoes)),
            "runner_up": float(np.max(mnist_errors)),
            "auroc": detection(mnist_errors, fashion_errors).auroc,
            "rank_histogram": {str(k): int(v) for k, v in zip(clipped, counts)}}


def _test_errors(model, dataset: str) -> np.ndarray:
    x = load_dataset(dataset, "test").images
    return image_errors(x, reconstruct_all(model, x), "mse")


def pca_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """Test MSE per q of PCA and each series trained at that q (reconstructions clipped to [0,1] alike)."""
    pca = pca_baseline(dataset)
    rows = []
    for q in pca.sizes.tolist():
        row = {"q": q, "pca": pca.mse(q)}
        for series in ("linear-mse", "dense-bce", "dense-h256x128-bce", "conv-bce"):
            info = _find(infos, dataset, series, q)
            row[series] = info.metrics["mse"] if info else None
        rows.append(row)
    return rows


def bce_vs_mse(dataset: str, infos: Sequence[CheckpointInfo], q: int = 16) -> dict:
    """The same dense q=16 net trained with BCE and with MSE: both test errors of each."""
    out = {}
    for loss in ("bce", "mse"):
        info = _find(infos, dataset, f"dense-{loss}", q)
        if info is not None:
            out[f"trained_{loss}"] = {"mse": info.metrics["mse"], "bce": info.metrics["bce"],
                                      "psnr": info.metrics["psnr"]}
    return out


def denoising_psnr(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """Mean PSNR of plain vs denoising AE outputs on Gaussian-noised test images (1,000, seeded)."""
    from .denoise import sweep

    x = load_dataset(dataset, "test").images[:DENOISE_IMAGES]
    rows = []
    for plain_series, denoiser_series in (("dense-bce", "denoising-bce-gaussian0.5"),
                                          ("conv-bce", "denoising-conv-bce-gaussian0.5")):
        pair = [_find(infos, dataset, series, 32) for series in (plain_series, denoiser_series)]
        if None in pair:
            continue
        models = {info.name: load_checkpoint(info.path) for info in pair}
        result = sweep(models, x, "gaussian", DENOISE_LEVELS, seed=0)
        for i, level in enumerate(DENOISE_LEVELS):
            rows.append({"arch": plain_series.split("-")[0], "sigma": level,
                         "noisy": float(result.psnr["noisy"][i].mean()),
                         "plain": float(result.psnr[pair[0].name][i].mean()),
                         "denoising": float(result.psnr[pair[1].name][i].mean())})
    return rows


def reproduce(datasets: Sequence[str] = ("mnist", "fashion-mnist")) -> dict:
    """Every figure of the comparison, as plain JSON-ready data."""
    infos, _ = scan_checkpoints()
    start = time.perf_counter()
    out: dict = {"published": PUBLISHED, "datasets": {}}
    for ds in datasets:
        out["datasets"][ds] = {"knn": knn_rows(ds, infos), "pca": pca_rows(ds, infos),
                               "bce_vs_mse": bce_vs_mse(ds, infos), "denoising": denoising_psnr(ds, infos)}
    shoe_model = _find(infos, "mnist", "dense-bce", 64)
    if shoe_model is not None and "fashion-mnist" in datasets:
        model = load_checkpoint(shoe_model.path)
        out["shoe"] = {"model": shoe_model.name, **shoe_ranks(
            _test_errors(model, "mnist"), _test_errors(model, "fashion-mnist"),
            load_dataset("fashion-mnist", "test").labels.numpy())}
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["versions"], out["measured"] = versions(), time.strftime("%Y-%m-%d")
    return out


def results_path() -> Path:
    """Where `benchmarks/reproduce.py --write` stores the figures that the app shows."""
    return zoo_dir() / "reproduce.json"


def load_results() -> dict | None:
    """The stored comparison, or None when it has not been measured for this zoo."""
    path = results_path()
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _num(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def tables(results: dict) -> dict[str, list[dict]]:
    """The comparison as display rows (strings), one list per table, for the CLI and the app alike."""
    out: dict[str, list[dict]] = {"knn": [], "pca": [], "bce_vs_mse": [], "denoising": []}
    for ds, r in results["datasets"].items():
        out["knn"] += [{"dataset": ds, "features": row["features"], "dims": row["dims"], "ours": _pct(row["accuracy"]),
                        "published": _pct(row["published"]), "fit+predict s": _num(row["seconds"], 2)}
                       for row in r["knn"]]
        out["pca"] += [{"dataset": ds, "q": row["q"], **{k: _num(v, 5) for k, v in row.items() if k != "q"}}
                       for row in r["pca"]]
        out["bce_vs_mse"] += [{"dataset": ds, "trained with": k.removeprefix("trained_").upper(),
                               "test MSE": _num(v["mse"], 5), "test BCE": _num(v["bce"]),
                               "PSNR dB": _num(v["psnr"], 2)} for k, v in r["bce_vs_mse"].items()]
        out["denoising"] += [{"dataset": ds, "arch": row["arch"], "sigma": row["sigma"],
                              **{k: _num(row[k], 1) for k in ("noisy", "plain", "denoising")}}
                             for row in r["denoising"]]
    return out
