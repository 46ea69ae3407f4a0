"""Atomic file writes: readers see the old file or the new one, never half of either, even after a crash."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, data: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write `data` (bytes, or a function that writes to an open binary file) to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so os.replace is a same-filesystem atomic rename; the writer's pid in the name lets a
    # sweep tell the leftovers of a killed process from a save still under way.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return path


@contextlib.contextmanager
def shared_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if need be) for the block: every process of every replica or
    Ray worker that shares this folder waits its turn (flock; on NFS, only where the mount supports locks)."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_all(files: dict[Path, bytes]) -> list[Path]:
    """Write several files as one: every file's bytes go to a temp file (flushed to disk) first, and only when
    all are written are they renamed into place, in the order given (put the file readers look for last). A
    failure while writing (a full disk) leaves none of them, old versions included untouched."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        placed: list[Path] = []
        try:
            for tmp, path in temps:
                os.replace(tmp, path)
                placed.append(path)
        except BaseException:
            for path in placed:  # a rename failed (rare: a rename needs no space): take back the ones made
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for folder in dict.fromkeys(path.parent for path in files):
        fsync_dir(folder)
    return list(files)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename in `folder` durable across a power cut; not possible on every OS, hence best effort."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sweep_temp_files(folder: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Delete the temp files of writes above that a killed process left in `folder` (a checkpoint's, a replay's:
    never listed as models, but they take space).

    A temp file whose writer process is gone goes at once; one without a readable writer (or whose pid is
    alive, perhaps reused) only once older than `older_than_s`.
    """
    removed = []
    for tmp in Path(folder).glob(".*.*.tmp"):  # `.<file name>.<writer>.tmp`: whatever file it was to become
        match = _WRITER.search(tmp.name)
        try:
            if (match and not _pid_alive(int(match.group(1)))) or time.time() - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # another process finished or removed it meanwhile
    return removed


_WRITER = re.compile(r"\.(\d+)-[^.]*\.tmp$")  # the writer's pid, as the prefix given to mkstemp above has it


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a number we cannot check: keep the file
    return True
