"""The code space as training organises it: a fixed test sample mapped to 2-D after every epoch, and its replay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write
from .checkpoints import shipped_path
from .diskcache import Spec, npz_bytes
from .models import AutoEncoder
from .sidecars import integers, load_sidecar, text

SAMPLE = 2000  # test images per map: enough for the islands to show, 8 kB per epoch as float16
SEED = 0  # the sample is the same for every model of a dataset, so two replays show the same images
FLOAT16_MAX = float(np.finfo(np.float16).max)
MAX_FRAMES = 101  # a replay keeps at most this many epochs, evenly spread: a 1,000-epoch run stays 150 kB


def sample_indices(n: int, size: int = SAMPLE, seed: int = SEED) -> np.ndarray:
    """`size` of `n` test indices (all when n <= size), drawn with their own seeded RNG, in increasing order."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def epoch_map(codes, previous: np.ndarray | None = None) -> np.ndarray:
    """(N,2) float32 map positions of (N,q) `codes`: a 2-d code as it is, otherwise its own 2-d PCA turned onto
    `previous` (the last epoch's map of the same images) by orthogonal Procrustes, so an epoch's picture neither
    flips nor rotates against the one before; a PCA's signs and, for near-equal variances, its axes are arbitrary.

    Single-threaded on purpose: on 2 busy cores numpy's threaded OpenBLAS took a second for the SVD of 2000 x 64
    codes and 50 ms for eigh of their covariance; einsum's own loops and torch's eigh of the q x q covariance
    take 4 ms in all."""
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim != 2 or len(c) == 0:
        raise ValueError(f"codes must be (N,q) with N >= 1, got shape {c.shape}")
    if c.shape[1] == 2:
        return c.astype(np.float32)
    centred = c - c.mean(axis=0)
    if c.shape[1] == 1:
        points = np.hstack([centred, np.zeros_like(centred)])
    else:
        _, vectors = torch.linalg.eigh(torch.from_numpy(np.einsum("ni,nj->ij", centred, centred)))
        axes = vectors.numpy()[:, [-1, -2]]  # ascending eigenvalues: the last two span the PCA plane
        axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])  # a fixed sign for the first map
        points = np.einsum("ni,ik->nk", centred, axes)
    if previous is not None and np.shape(previous) == points.shape:
        before = np.asarray(previous, dtype=np.float64)
        u, _, wt = np.linalg.svd(np.einsum("ni,nk->ik", points, before - before.mean(axis=0)))
        points = np.einsum("ni,ik->nk", points, u @ wt)  # the rotation (or reflection) laying new onto old best
    return points.astype(np.float32)


@dataclass(frozen=True)
class Replay:
    """Per-epoch maps of one fixed test sample: `points[i]` (N,2) after epoch `epochs[i]` (0: untrained)."""

    epochs: np.ndarray  # (E,) int
    points: np.ndarray  # (E,N,2) float16
    labels: np.ndarray  # (N,) int, the sample's classes (-1 unknown)
    indices: np.ndarray  # (N,) its indices in the test split
    q: int  # the code size: 2 is the raw plane, anything else a PCA per epoch


class CodeWatch:
    """The fixed test sample a trainer maps after every epoch; keeps every map for the replay."""

    def __init__(self, images: torch.Tensor, labels=None, *, size: int = SAMPLE, seed: int = SEED) -> None:
        self.indices = sample_indices(len(images), size, seed)
        self.images = images[torch.from_numpy(self.indices)]
        known = labels is not None and len(labels) == len(images)
        self.labels = np.asarray(labels)[self.indices].astype(np.int64) if known else np.full(len(self.indices), -1)
        self.epochs: list[int] = []
        self.maps: list[np.ndarray] = []
        self.q = 0
        self._last: np.ndarray | None = None

    def record(self, model: AutoEncoder, epoch: int) -> np.ndarray:
        """Encode the sample (eval mode, then the model's mode as it was), map it, keep it; (N,2) float16."""
        device = next(model.parameters()).device
        if self.images.device != device:
            self.images = self.images.to(device)
        was_training = model.training
        model.eval()
        with torch.inference_mode():  # in chunks: a conv net's activations for 2,000 large images add up
            codes = torch.cat([model.encode(x).float().cpu() for x in self.images.split(500)]).numpy()
        model.train(was_training)
        self.q = codes.shape[1]
        # a diverged run's NaN codes must not end its training: they sit at 0, and float16 saturates
        codes = np.nan_to_num(codes, nan=0.0, posinf=FLOAT16_MAX, neginf=-FLOAT16_MAX)
        self._last = epoch_map(codes, self._last)  # aligned to the unrounded map: no float16 drift over epochs
        self.epochs.append(int(epoch))
        self.maps.append(np.clip(self._last, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16))
        return self.maps[-1]

    def replay(self, max_frames: int = MAX_FRAMES) -> Replay | None:
        """Every epoch's map so far, thinned to `max_frames` evenly spread epochs (the first and last kept)."""
        if not self.maps:
            return None
        keep = np.unique(np.linspace(0, len(self.maps) - 1, min(len(self.maps), max_frames)).round().astype(int))
        points = np.stack([self.maps[i] for i in keep])
        return Replay(np.array(self.epochs)[keep], points, self.labels, self.indices, self.q)


def replay_path(checkpoint: str | Path) -> Path:
    """`<stem>.replay.npz` beside a checkpoint."""
    return shipped_path(checkpoint, "replay")


def save_replay(checkpoint: str | Path, replay: Replay, content_hash: str) -> Path:
    """Store `replay` beside `checkpoint`, tagged with the weights' content hash (no pickles, atomic). A model
    just trained is saved with its replay by aeviz.saving.save_trained, both or neither."""
    path = replay_path(checkpoint)
    atomic_write(path, replay_bytes(replay, content_hash))
    return path


def replay_bytes(replay: Replay, content_hash: str) -> bytes:
    """The replay file's bytes (.npz), tagged with the weights' content hash."""
    return npz_bytes(
        content_hash=np.array(content_hash),
        epochs=np.asarray(replay.epochs, np.int32),
        points=np.asarray(replay.points, np.float16),
        labels=np.asarray(replay.labels, np.int16),
        indices=np.asarray(replay.indices, np.int32),
        q=np.array(int(replay.q)),
    )


REPLAY = {  # E epochs' maps of N test images: at most MAX_FRAMES x SAMPLE x 2 float16, 0.8 MB
    "content_hash": text(),
    "epochs": integers("E"),
    "points": Spec("f", ("E", "N", 2)),
    "labels": integers("N"),
    "indices": integers("N"),
    "q": integers(),
}


def load_replay(checkpoint: str | Path, content_hash: str) -> Replay | None:
    """The replay stored beside `checkpoint`; None if missing, unreadable, for other weights or misshapen."""
    dims = {"E": range(1, MAX_FRAMES + 1), "N": range(SAMPLE + 1)}
    a = load_sidecar(replay_path(checkpoint), REPLAY, content_hash=content_hash, dims=dims, max_mb=4)
    if a is None or a["points"].dtype != np.float16:
        return None
    return Replay(
        a["epochs"].astype(np.int64),
        a["points"],
        a["labels"].astype(np.int64),
        a["indices"].astype(np.int64),
        int(a["q"]),
    )
