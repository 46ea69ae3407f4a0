"""Small real-format data files for tests (IDX as MNIST ships it)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    """Write `array` (uint8) in the IDX format MNIST uses."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    path = path.with_name(path.name + ".gz") if gz else path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(blob) if gz else blob)
    return path


def full_disk_for(monkeypatch, fragment: str) -> list[str]:
    """From now on, flushing any file whose path contains `fragment` fails as a full disk does (ENOSPC at
    fsync: the bytes sat in the page cache until then). Returns the paths that failed."""
    import errno
    import os

    real, failed = os.fsync, []

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if fragment in path:
            failed.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed


# --- CIFAR-10 in its official layouts ------------------------------------------------------------------------


def _short_str(text: bytes) -> bytes:
    return b"U" + bytes([len(text)]) + text  # SHORT_BINSTRING: a Python 2 str


def py2_cifar_batch(images: np.ndarray, labels: np.ndarray, batch_label: bytes = b"training batch 1 of 5") -> bytes:
    """A batch pickled opcode by opcode as Python 2's cPickle (protocol 2) wrote the official cifar-10-batches-py:
    {'data': numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b') + BUILD (1, (N, 3072),
    numpy.dtype('u1', 0, 1) + BUILD (3, '|', None, None, None, -1, -1, 0), False, raw), 'labels': [...],
    'batch_label': ..., 'filenames': [...]}: the globals and state numpy's own unpickling expects."""
    n = len(images)
    raw = np.ascontiguousarray(images, dtype=np.uint8).reshape(n, -1).tobytes()
    dtype = b"cnumpy\ndtype\n" + _short_str(b"u1") + b"K\x00K\x01\x87R"
    dtype += b"(K\x03" + _short_str(b"|") + b"NNN" + (b"J" + struct.pack("<i", -1)) * 2 + b"K\x00tb"
    array = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _short_str(b"b") + b"\x87R"
    array += b"(K\x01M" + struct.pack("<H", n) + b"M" + struct.pack("<H", 3072) + b"\x86"
    array += dtype + b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"
    labels_list = b"](" + b"".join(b"K" + bytes([int(v)]) for v in labels) + b"e"
    names = b"](" + b"".join(_short_str(f"image_{i}.png".encode()) for i in range(n)) + b"e"
    items = _short_str(b"data") + array + _short_str(b"labels") + labels_list
    items += _short_str(b"batch_label") + _short_str(batch_label) + _short_str(b"filenames") + names
    return b"\x80\x02}(" + items + b"u."


def write_cifar_py(root: Path, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> Path:
    """root/cifar-10-batches-py with the train split cut into the five official batches."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for i, (x, y) in enumerate(zip(np.array_split(train[0], 5), np.array_split(train[1], 5), strict=True), 1):
        (folder / f"data_batch_{i}").write_bytes(py2_cifar_batch(x, y, f"training batch {i} of 5".encode()))
    (folder / "test_batch").write_bytes(py2_cifar_batch(*test, b"testing batch 1 of 1"))
    return folder


def write_cifar_bin(root: Path, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> Path:
    """root/cifar-10-batches-bin: <1 label byte><3072 pixel bytes> per image."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)

    def records(x: np.ndarray, y: np.ndarray) -> bytes:
        return np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(x), -1)], axis=1).tobytes()

    for i, (x, y) in enumerate(zip(np.array_split(train[0], 5), np.array_split(train[1], 5), strict=True), 1):
        (folder / f"data_batch_{i}.bin").write_bytes(records(x, y))
    (folder / "test_batch.bin").write_bytes(records(*test))
    return folder


def cifar_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def colour_photo(size=(300, 200)) -> Image.Image:
    """A photo-like colour picture: a warm gradient with a green disc and a blue square, wider than tall."""
    w, h = size
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    rgb = np.concatenate([0.8 - 0.3 * y + 0 * x, 0.5 + 0.2 * x + 0 * y, 0.3 + 0 * x * y], axis=2)
    img = Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse([w // 2 - 60, h // 2 - 60, w // 2 + 60, h // 2 + 60], fill=(40, 160, 60))
    draw.rectangle([10, 10, 50, 50], fill=(20, 40, 200))
    return img
