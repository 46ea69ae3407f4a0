"""The one way a trained model is saved (CLI, browser jobs, the zoo): its checkpoint and its replay, all or none."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .atomic import atomic_write_all
from .checkpoints import SUFFIX, checkpoint_bytes
from .models import AutoEncoder
from .names import free_name, stems_in
from .replay import Replay, replay_bytes, replay_path

_NAMES = threading.Lock()  # two jobs of one server finishing together must not pick the same free name


def free_path(path: Path) -> Path:
    """`path`, or `<stem>-2`, `<stem>-3`, ... beside it: the first whose checkpoint does not exist."""
    return path.with_name(free_name(path.name.removesuffix(SUFFIX), stems_in(path.parent)) + SUFFIX)


def save_trained(
    path: str | Path,
    model: AutoEncoder,
    metadata: dict[str, Any],
    replay: Replay | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Save a trained model: the checkpoint at `path` (its metadata's "name" set to the file's stem) and, when
    given, its replay beside it. Both files are written in full before either is put in place, the checkpoint
    last, so a page never lists a model whose replay is missing, and a failure (a full disk) leaves nothing
    new: the OSError is raised and no model appears.

    Without `overwrite`, a name already taken gets the next free one (`-2`, `-3`, ...); with it, an existing
    model of that name is replaced, its old replay too (or removed, when this model has none). Returns the
    path used; `model.metadata` is the saved metadata afterwards.
    """
    path = Path(path)
    with _NAMES:
        if not overwrite:
            path = free_path(path)
        blob, meta = checkpoint_bytes(model, {**metadata, "name": path.name.removesuffix(SUFFIX)})
        files = {replay_path(path): replay_bytes(replay, meta["hash"])} if replay is not None else {}
        atomic_write_all({**files, path: blob})  # the checkpoint, which pages look for, last
        if replay is None:
            replay_path(path).unlink(missing_ok=True)  # an older model's, of the same name
    model.metadata = meta
    return path
