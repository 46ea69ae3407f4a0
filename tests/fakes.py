"""Small real-format data files for tests (IDX as MNIST ships it)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


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
