"""Classic published autoencoder results measured on our zoo: kNN on codes, find-the-shoe, PCA, BCE/MSE, denoising."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from .. import knn
from ..checkpoints import ZOO, CheckpointInfo, load_checkpoint, machine, scan_checkpoints, versions
from ..data import available_datasets, load_dataset
from ..metrics import encode_all, image_errors, knn_accuracy, psnr_from_mse, reconstruct_all
from ..pca import pca_baseline
from .lessonruns import identity_rows, imputation_rows, outlier_rows, variant_rows
from .references import ARTICLE_SHORT, PUBLISHED, REFERENCE, printed

SHOE_CLASSES = (5, 7, 9)  # Fashion-MNIST: Sandal, Sneaker, Ankle boot
DENOISE_LEVELS = (0.1, 0.3, 0.5, 0.7)
DENOISE_IMAGES = 1000
KNN_THREADS = 1  # every kNN of the shipped run on one thread, as the app's own background runs: comparable times
KNN_SERIES = ("pca", "dense-bce", "conv-bce")  # the Published page's kNN table, beside raw pixels
MSE_SERIES = ("linear-mse", "dense-bce", "dense-h256x128-bce", "conv-bce")


def _find(infos: Sequence[CheckpointInfo], dataset: str, series: str, q: int) -> CheckpointInfo | None:
    return next((i for i in infos if i.dataset == dataset and i.series == series and i.bottleneck == q), None)


def _timed_knn(train_x, test_x, train, test) -> dict:
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    with threadpool_limits(KNN_THREADS):
        accuracy, seconds = knn_accuracy(
            np.asarray(train_x).reshape(len(train_x), -1),
            train.labels.numpy(),
            np.asarray(test_x).reshape(len(test_x), -1),
            test.labels.numpy(),
        )
    return {"accuracy": accuracy, "seconds": seconds}


def knn_rows(dataset: str, infos: Sequence[CheckpointInfo], log=None) -> list[dict]:
    """kNN-7 of raw pixels, PCA at every zoo size and every zoo model's code, all measured afresh in this one run
    (never read from a cache or a checkpoint: those times were taken on other, differently loaded machines)."""
    published = PUBLISHED["knn"].get(dataset, {})
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    pixels = int(np.prod(test.shape))
    zoo = sorted((i for i in infos if i.dataset == dataset and i.origin == ZOO), key=lambda i: (i.series, i.bottleneck))
    rows = [
        {
            "features": "raw pixels",
            "series": "pixels",
            "dims": pixels,
            "published": published.get("raw"),
            **_timed_knn(train.images.numpy(), test.images.numpy(), train, test),
        }
    ]
    for q in knn.pca_sizes(zoo, pixels):
        rows.append(
            {
                "features": f"PCA-{q}",
                "series": "pca",
                "dims": q,
                "published": None,
                **_timed_knn(knn.pca_codes(dataset, "train", q), knn.pca_codes(dataset, "test", q), train, test),
            }
        )
    for info in zoo:
        model = load_checkpoint(info.path)
        pub = published.get(str(info.bottleneck)) if info.series == knn.PUBLISHED_SERIES else None  # no conv row
        rows.append(
            {
                "features": info.name.removeprefix(f"{dataset}-"),
                "series": info.series,
                "dims": info.bottleneck,
                "model": info.name,
                "hash": info.metadata["hash"],
                "published": pub,
                **_timed_knn(encode_all(model, train.images), encode_all(model, test.images), train, test),
            }
        )
        if log:
            log(f"kNN {info.name}: {100 * rows[-1]['accuracy']:.1f} % in {rows[-1]['seconds']:.2f} s")
    return rows


def bce_floor(dataset: str) -> float:
    """The least mean BCE any reconstruction can reach on the test set: the mean binary entropy of its pixel
    values (BCE is zero only for pixels that are exactly 0 or 1; grey pixels cost their entropy)."""
    x = load_dataset(dataset, "test").images.numpy().astype(np.float64).clip(1e-7, 1 - 1e-7)
    return float(-(x * np.log(x) + (1 - x) * np.log1p(-x)).mean())


def denoisers(infos: Sequence[CheckpointInfo]) -> dict[str, dict]:
    """Each zoo denoiser on its own training noise (whole test set, seed 0): mean per-image PSNR of its output
    and of the noisy input; the metadata's MSE/PSNR are measured on clean input."""
    from ..noise import add_noise, parse_noise

    out = {}
    for info in (i for i in infos if i.origin == ZOO and i.config.get("noise")):
        spec, x = parse_noise(info.config["noise"]), load_dataset(info.dataset, "test").images
        noisy = add_noise(x, spec.kind, spec.level, seed=0)
        out[info.name] = {
            "noise": str(spec),
            "psnr": _psnr(x, reconstruct_all(load_checkpoint(info.path), noisy)),
            "psnr_input": _psnr(x, noisy),
        }
    return out


def _psnr(x, y) -> float:
    """The mean of per-image PSNR, as the checkpoints' metrics (not the PSNR of the mean MSE)."""
    return float(np.mean(psnr_from_mse(image_errors(x, y, "mse"))))


def shoe_ranks(mnist_errors: np.ndarray, fashion_errors: np.ndarray, fashion_labels: np.ndarray) -> dict:
    """Each Fashion shoe added alone to the MNIST test set: the distribution of its rank (1 = most unusual)."""
    from ..scores import detection, rank_among

    shoes = fashion_errors[np.isin(fashion_labels, SHOE_CLASSES)]
    ranks = rank_among(shoes, mnist_errors)
    clipped, counts = np.unique(np.minimum(ranks, 11), return_counts=True)  # 11: worse than 10th
    return {
        "shoes": int(len(shoes)),
        "share_rank1": float((ranks == 1).mean()),
        "share_top10": float((ranks <= 10).mean()),
        "median_rank": float(np.median(ranks)),
        "worst_rank": int(ranks.max()),
        "median_shoe_error": float(np.median(shoes)),
        "runner_up": float(np.max(mnist_errors)),
        "auroc": detection(mnist_errors, fashion_errors).auroc,
        "rank_histogram": {str(k): int(v) for k, v in zip(clipped, counts)},
    }


def _test_errors(model, dataset: str) -> np.ndarray:
    x = load_dataset(dataset, "test").images
    return image_errors(x, reconstruct_all(model, x), "mse")


def pca_rows(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """Test MSE per q of PCA and each series trained at that q (reconstructions clipped to [0,1] alike), and
    PCA's unclipped MSE (what a plain PCA reconstruction scores: the reference figure is of that kind)."""
    pca = pca_baseline(dataset)
    x = load_dataset(dataset, "test").images.flatten(1).numpy()
    rows = []
    for q in pca.sizes.tolist():
        c = pca.components[:q]
        unclipped = float((((x - pca.mean) @ c.T @ c + pca.mean - x) ** 2).mean())
        row = {"q": q, "pca": pca.mse(q), "pca unclipped": unclipped}
        for series in MSE_SERIES:
            info = _find(infos, dataset, series, q)
            row[series] = info.metrics["mse"] if info else None
        rows.append(row)
    return rows


def mse_vs_pca(rows: list[dict]) -> str:
    """Per series, the sizes q where it loses to (clipped) PCA, from one dataset's pca_rows."""
    parts = []
    for series in MSE_SERIES:
        mine = [r for r in rows if r.get(series) is not None and r.get("pca") is not None]
        lose = [r["q"] for r in mine if r[series] > r["pca"]]
        if mine:
            at = "at no q" if not lose else "at q = " + ", ".join(map(str, lose))
            parts.append(f"{series} loses to PCA {at} (of {len(mine)} size{'s' if len(mine) > 1 else ''})")
    return "; ".join(parts)


def bce_vs_mse(dataset: str, infos: Sequence[CheckpointInfo], q: int = 16) -> dict:
    """The same dense q=16 net trained with BCE and with MSE: both test errors of each, and which model."""
    out = {}
    for loss in ("bce", "mse"):
        info = _find(infos, dataset, f"dense-{loss}", q)
        if info is not None:
            out[f"trained_{loss}"] = {
                "model": info.name,
                "mse": info.metrics["mse"],
                "bce": info.metrics["bce"],
                "psnr": info.metrics["psnr"],
            }
    return out


def denoising_psnr(dataset: str, infos: Sequence[CheckpointInfo]) -> list[dict]:
    """Mean PSNR of plain vs denoising AE outputs on Gaussian-noised test images (1,000, seeded)."""
    from ..sweeps import sweep

    x = load_dataset(dataset, "test").images[:DENOISE_IMAGES]
    rows = []
    for plain_series, denoiser_series in (
        ("dense-bce", "denoising-bce-gaussian0.5"),
        ("conv-bce", "denoising-conv-bce-gaussian0.5"),
    ):
        pair = [
            info
            for series in (plain_series, denoiser_series)
            if (info := _find(infos, dataset, series, 32)) is not None
        ]
        if len(pair) < 2:
            continue
        models = {info.name: load_checkpoint(info.path) for info in pair}
        result = sweep(models, x, "gaussian", DENOISE_LEVELS, seed=0)
        for i, level in enumerate(DENOISE_LEVELS):
            rows.append(
                {
                    "arch": plain_series.split("-")[0],
                    "plain model": pair[0].name,
                    "denoising model": pair[1].name,
                    "trained on": pair[1].config.get("noise"),
                    "sigma": level,
                    "noisy": float(result.psnr["noisy"][i].mean()),
                    "plain": float(result.psnr[pair[0].name][i].mean()),
                    "denoising": float(result.psnr[pair[1].name][i].mean()),
                }
            )
    return rows


def reproduce(
    datasets: Sequence[str] = ("mnist", "fashion-mnist"),
    panel_only: Sequence[str] = ("digits", "cifar10"),
    log=None,
) -> dict:
    """Every figure of the comparison, as plain JSON-ready data; for `panel_only` datasets only what the app's
    kNN panel and the model card read (kNN rows, BCE floor), for those on this machine with zoo models."""
    infos, _ = scan_checkpoints()
    here = available_datasets()
    panel_only = [d for d in panel_only if here.get(d) is None and any(i.dataset == d for i in infos)]
    start = time.perf_counter()
    out: dict = {
        "published": PUBLISHED,
        "reference": REFERENCE,
        # the load average too: on a shared machine every time here is longer than on a quiet one, alike
        "machine": machine(knn_threads=KNN_THREADS, load_average=round(os.getloadavg()[0], 1)),
        "datasets": {},
    }
    for ds in datasets:
        out["datasets"][ds] = {
            "knn": knn_rows(ds, infos, log),
            "bce_floor": bce_floor(ds),
            "pca": pca_rows(ds, infos),
            "bce_vs_mse": bce_vs_mse(ds, infos),
            "denoising": denoising_psnr(ds, infos),
        }
    for ds in panel_only:
        out["datasets"][ds] = {"knn": knn_rows(ds, infos, log), "bce_floor": bce_floor(ds)}
    for ds in (*datasets, *panel_only):
        out["datasets"][ds]["identity"] = identity_rows(ds, infos)
        out["datasets"][ds]["imputation"] = imputation_rows(ds, infos)
        out["datasets"][ds]["variants"] = variant_rows(ds, infos)
        out["datasets"][ds]["outliers"] = outlier_rows(ds, infos)
    out["denoisers"] = denoisers(infos)
    shoe_model = _find(infos, "mnist", "dense-bce", 64)
    if shoe_model is not None and "fashion-mnist" in datasets:
        model = load_checkpoint(shoe_model.path)
        out["shoe"] = {
            "model": shoe_model.name,
            **shoe_ranks(
                _test_errors(model, "mnist"),
                _test_errors(model, "fashion-mnist"),
                load_dataset("fashion-mnist", "test").labels.numpy(),
            ),
        }
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["versions"], out["measured"] = versions(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    # what was measured: every zoo checkpoint of these datasets by its weights' hash (references.stale checks)
    measured = set(datasets) | set(panel_only)
    out["models"] = {i.name: i.metadata["hash"] for i in infos if i.origin == ZOO and i.dataset in measured}
    return out


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _num(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def tables(results: dict) -> dict[str, list[dict]]:
    """The comparison as display rows (strings), one list per table, for the CLI and the app alike. The kNN table
    holds raw pixels, PCA and the dense and conv codes; its published column only the article's figures."""
    out: dict[str, list[dict]] = {"knn": [], "pca": [], "bce_vs_mse": [], "denoising": []}
    for ds, r in results["datasets"].items():
        if "pca" not in r:  # a dataset measured for the app's kNN panel only
            continue
        shown = [row for row in r["knn"] if row.get("series", "pixels") in ("pixels", *KNN_SERIES)]
        out["knn"] += [
            {
                "dataset": ds,
                "features": row["features"],
                "dims": row["dims"],
                "ours": _pct(row["accuracy"]),
                "published": "—" if row["published"] is None else f"{printed(row['published'])} %",
                "published in": ARTICLE_SHORT if row["published"] is not None else "—",
                "fit+predict s": _num(row["seconds"], 2),
            }
            for row in sorted(shown, key=lambda row: (row["series"] != "pixels", row["dims"]))
        ]
        out["pca"] += [
            {"dataset": ds, "q": row["q"], **{k: _num(v, 5) for k, v in row.items() if k != "q"}} for row in r["pca"]
        ]
        floor = _num(r.get("bce_floor"))
        out["bce_vs_mse"] += [
            {
                "dataset": ds,
                "model": v.get("model", "?").removeprefix(f"{ds}-"),
                "trained with": k.removeprefix("trained_").upper(),
                "test MSE": _num(v["mse"], 5),
                "test BCE": _num(v["bce"]),
                "BCE floor": floor,
                "PSNR dB": _num(v["psnr"], 2),
            }
            for k, v in r["bce_vs_mse"].items()
        ]
        out["denoising"] += [
            {
                "dataset": ds,
                "arch": row["arch"],
                "Gaussian sigma": row["sigma"],
                **{k: _num(row[k], 1) for k in ("noisy", "plain", "denoising")},
            }
            for row in r["denoising"]
        ]
    return out


def knn_verdicts(results: dict) -> dict[str, str]:
    """Per dataset, knn.pca_verdict of the shipped rows: does PCA of the same size match the dense AE?"""

    def row(r: dict) -> knn.KnnRow:
        return knn.KnnRow(r["features"], r.get("series", ""), r["dims"], r["accuracy"], r["seconds"], "shipped")

    return {ds: knn.pca_verdict([row(x) for x in r["knn"]]) for ds, r in results["datasets"].items() if "pca" in r}


def denoising_note(results: dict) -> str:
    """Which models and noise the denoising table compares, from the stored rows."""
    pairs = {
        (ds, r["arch"], r.get("plain model"), r.get("denoising model"), r.get("trained on"))
        for ds, d in results["datasets"].items()
        for r in d.get("denoising", [])
    }
    named = [
        f"{ds} {arch}: plain `{p}` vs denoising `{d}` (trained on {noise})"
        for ds, arch, p, d, noise in sorted(pairs)
        if p
    ]
    return (
        f"Gaussian noise of each sigma added (seed 0) to the first {DENOISE_IMAGES:,} test images; PSNR of the "
        "noisy input and of each model's output against the clean image. "
        + ("; ".join(named) + "." if named else "Plain vs denoising autoencoders of code size 32.")
    )
