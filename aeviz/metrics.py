"""Batched inference and evaluation: codes, reconstructions, per-image errors, PSNR and kNN quality."""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
import torch.nn.functional as F

from .models import Codec

EPS = 1e-6


def device_of(model: Codec) -> torch.device:
    """Where the model's weights are (an imported model without weights: where its buffers are, else the CPU)."""
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _batches(x: torch.Tensor, batch: int):
    for start in range(0, len(x), batch):
        yield x[start : start + batch]


def _as_batch(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    # numpy batches (uploads, injected images) become float32 tensors; tensors pass as they are
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def encode_all(model: Codec, x: np.ndarray | torch.Tensor, batch: int = 2048) -> np.ndarray:
    """Codes of every image (numpy or torch), (N,q) float32, in inference mode without touching the model."""
    device = device_of(model)
    x = _as_batch(x)
    with torch.inference_mode():
        parts = [model.encode(b.to(device)).float().cpu() for b in _batches(x, batch)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, model.bottleneck), np.float32)


def encode_stats_all(model, x: np.ndarray | torch.Tensor, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """A VAE's posterior (mean, log-variance) of every image, two (N,q) float32 arrays, in inference mode."""
    device = device_of(model)
    with torch.inference_mode():
        parts = [model.encode_stats(b.to(device)) for b in _batches(_as_batch(x), batch)]
    if not parts:
        return np.zeros((0, model.bottleneck), np.float32), np.zeros((0, model.bottleneck), np.float32)
    mu, logvar = (torch.cat([p[i].float().cpu() for p in parts]).numpy() for i in (0, 1))
    return mu, logvar


def decode_all(model: Codec, z: np.ndarray | torch.Tensor, batch: int = 2048) -> np.ndarray:
    """Decoded images (N,C,H,W) float32 clipped to [0,1] for display."""
    device = device_of(model)
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    with torch.inference_mode():
        parts = [model.decode(b.to(device)).clamp(0, 1).float().cpu() for b in _batches(z, batch)]
    return torch.cat(parts).numpy()


def reconstruct_all(model: Codec, x: torch.Tensor, batch: int = 2048, *, clip: bool = True) -> np.ndarray:
    """Reconstructions (N,C,H,W) float32 clipped to [0,1]; with clip=False as the model outputs them (a linear
    output layer leaves [0,1])."""
    device = device_of(model)
    finish = (lambda r: r.clamp(0, 1)) if clip else (lambda r: r)
    with torch.inference_mode():  # each batch off the device before the next: one batch's output on it at a time
        parts = [finish(model.reconstruct(b.to(device))).float().cpu() for b in _batches(x, batch)]
    return torch.cat(parts).numpy()


def reconstruct_and_score(
    model: Codec, batch: np.ndarray | torch.Tensor, metric: str = "mse"
) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructions (N,C,H,W) and per-image errors (N,) of a batch (numpy or torch) in [0,1]."""
    x = torch.as_tensor(np.ascontiguousarray(batch, dtype=np.float32))
    if len(x) == 0:  # e.g. nothing injected: no batches to run
        return x.numpy().copy(), np.zeros(0, np.float32)
    recon = reconstruct_all(model, x)
    return recon, image_errors(x, recon, metric)


def image_errors(x: np.ndarray | torch.Tensor, recon: np.ndarray | torch.Tensor, metric: str = "mse") -> np.ndarray:
    """Per-image reconstruction error (N,): 'mse' or 'bce' (mean over pixels)."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    r = torch.as_tensor(np.asarray(recon, dtype=np.float32)).clamp(EPS, 1 - EPS)
    if metric == "mse":
        per_pixel = (x - r) ** 2
    elif metric == "bce":
        per_pixel = F.binary_cross_entropy(r, x.clamp(0, 1), reduction="none")
    else:
        raise ValueError(f"metric must be 'mse' or 'bce', not {metric!r}")
    return per_pixel.flatten(1).mean(dim=1).numpy()


def psnr_from_mse(mse: np.ndarray | float, data_range: float = 1.0, *, cap: float = 100.0) -> np.ndarray | float:
    """PSNR in dB of a mean squared error; a zero error (identical images) gets `cap` instead of +inf."""
    with np.errstate(divide="ignore"):
        return np.minimum(10 * np.log10(np.divide(data_range**2, mse)), cap)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, *, cap: float = 100.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB, (N,) float32, from each image's mean squared error."""
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(dim=1)
    return torch.from_numpy(np.asarray(psnr_from_mse(mse.detach().cpu().numpy(), data_range, cap=cap)))


def knn_accuracy(train_codes, train_labels, test_codes, test_labels, *, k: int = 7) -> tuple[float, float]:
    """Accuracy of a k-NN classifier fitted on train codes and scored on test codes, and its wall seconds."""
    from sklearn.neighbors import KNeighborsClassifier

    start = time.perf_counter()
    # "auto" picks kd_tree for codes up to 15-d (60k x 8: ~0.4 s for 10k queries on 2 cores) and brute
    # force above (784-d pixels: ~15-25 s, BLAS-bound); n_jobs=-1 measured no faster on either.
    clf = KNeighborsClassifier(n_neighbors=k, algorithm="auto")
    clf.fit(np.asarray(train_codes).reshape(len(train_codes), -1), np.asarray(train_labels))
    predicted = clf.predict(np.asarray(test_codes).reshape(len(test_codes), -1))
    accuracy = float((predicted == np.asarray(test_labels)).mean())
    return accuracy, time.perf_counter() - start


def evaluate(model: Codec, train_x, train_y, test_x, test_y, knn_train: int = 60000) -> dict[str, float]:
    """Test-set MSE/BCE/PSNR, kNN-7 accuracy of the codes, and dead/active code units."""
    recon = reconstruct_all(model, test_x)
    mse = image_errors(test_x, recon, "mse")
    bce = image_errors(test_x, recon, "bce")
    test_codes = encode_all(model, test_x)
    train_codes = encode_all(model, train_x[:knn_train])
    accuracy, seconds = knn_accuracy(train_codes, train_y[:knn_train].numpy(), test_codes, test_y.numpy())
    spread = test_codes.std(axis=0)
    return {
        "mse": float(mse.mean()),
        "bce": float(bce.mean()),
        "psnr": float(np.mean(psnr_from_mse(mse))),
        "knn7": accuracy,
        "knn7_seconds": round(seconds, 3),
        "dead_units": int((spread < 1e-6).sum()),
        "active_fraction": float((np.abs(test_codes) > 1e-3).mean()),
    }


def sharpness(images: np.ndarray) -> float:
    """Mean absolute 4-neighbour Laplacian of (N,C,H,W) images in [0,1]: edges and texture score high, blur low
    (a VAE's samples against its reconstructions and the test images themselves)."""
    x = np.asarray(images, dtype=np.float32)
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return float(np.abs(lap).mean())
