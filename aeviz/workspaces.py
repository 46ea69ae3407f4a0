"""Session workspaces: models trained from a browser live in a folder of their own, seen only through its token.

A workspace is `$AEVIZ_HOME/sessions/<token>/`, the token 128 bits: one per browser (`token_for` its secret,
see aeviz.ui.identity), the same on every tab and every visit. That browser, and whoever opens a link carrying
the token, list its models; nobody else's lists ever do. Each workspace holds at most `max_models()` models and
is deleted once nothing in it changed for `retention_s()`; all of them together hold at most `max_total()`, the
idlest making room for new ones, so a class training all afternoon cannot fill the server's disk and no student
can stop the others from training.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from . import settings
from .checkpoints import SUFFIX, sessions_dir

TOKEN_RE = re.compile(r"[0-9a-f]{32}")


def root() -> Path:
    """The folder of all workspaces, beside the server's shared checkpoint folder."""
    return sessions_dir()


def new_token() -> str:
    return secrets.token_hex(16)


def token_for(secret: str) -> str:
    """The workspace of the browser whose secret this is: always the same one, so the browser finds its models
    again on every visit; a one-way hash, so a share link (which carries the token) never reveals the secret."""
    return hashlib.sha256(b"aeviz-workspace|" + secret.encode()).hexdigest()[:32]


def is_token(text: object) -> bool:
    return isinstance(text, str) and TOKEN_RE.fullmatch(text) is not None


def folder(token: str) -> Path:
    """The workspace's folder (not created); ValueError for anything that is not a token, so a URL value can
    never name a path outside the workspaces."""
    if not is_token(token):
        raise ValueError("not a workspace token")
    return root() / token


def exists(token: str) -> bool:
    return is_token(token) and folder(token).is_dir()


def create(token: str) -> Path:
    """Make the workspace's folder, so links made from now on carry it (a job saves into it later)."""
    path = folder(token)
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_models() -> int:
    """Models one workspace, so one browser, may hold: AEVIZ_SESSION_MAX_MODELS, default 8."""
    return settings.current().session_max_models


def max_total() -> int:
    """Models all workspaces together may hold: AEVIZ_SESSIONS_MAX_MODELS, default 400 (a class of 50 at the
    per-browser cap; 400 dense models are ~0.5 GB, the largest family ~4 MB each). Never a refusal: at the cap
    a save replaces the oldest model of the workspace idle longest (`make_room`)."""
    return settings.current().sessions_max_models


def retention_s() -> float:
    """How long an untouched workspace is kept: AEVIZ_SESSION_RETENTION_H hours, default 24."""
    return 3600 * settings.current().session_retention_h


def models(token: str) -> list[Path]:
    """The checkpoint files of a workspace, oldest first (none when it does not exist)."""
    try:
        return sorted(folder(token).glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime_ns)
    except (ValueError, OSError):
        return []


def check_room(token: str, pending: int = 0) -> None:
    """ValueError saying what to do when the browser's workspace holds, with its `pending` jobs' models, as many
    as `max_models()`. All workspaces together never refuse: a save makes room (`make_room`)."""
    held = len(models(token)) + pending
    if held >= max_models():
        raise ValueError(
            f"Your browser already has {held} model{'s' * (held != 1)}"
            f"{' (counting the one in training)' if pending else ''}: this server keeps at most {max_models()} "
            "per browser. Delete one under **Your models** to train another."
        )


def make_room(token: str) -> list[Path]:
    """Before a save into `token`'s workspace: while all workspaces together hold `max_total()` models, delete
    the oldest model of the workspace that changed nothing for longest (never `token`'s own). Returns the
    deleted checkpoints.

    So the cap keeps the disk bounded without ever blocking the class: a student who fills it (many browsers,
    many tiny models) only pushes out the models idle longest, at the pace of the one trainer, and their own
    models are the first to go once they stop."""
    gone: list[Path] = []
    others = [p for p in _workspace_folders() if p.name != token]
    total = sum(len(models(p.name)) for p in _workspace_folders())
    while total >= max_total() and others:
        idlest = min(others, key=_last_change)
        held = models(idlest.name)
        if not held:
            others.remove(idlest)
            continue
        before = idlest.stat()
        delete_model(idlest.name, held[0].name.removesuffix(SUFFIX))
        os.utime(idlest, ns=(before.st_atime_ns, before.st_mtime_ns))  # not its owner's change: retention as it was
        gone.append(held[0])
        total -= 1
    return gone


def _workspace_folders() -> list[Path]:
    try:
        return [p for p in root().iterdir() if is_token(p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def delete_model(token: str, name: str) -> bool:
    """Delete one model (and its cached arrays beside it) from a workspace; False when it is not there."""
    path = folder(token) / f"{name}{SUFFIX}"
    if path.parent != folder(token) or not path.is_file():  # a name with a '/' must not reach another folder
        return False
    for sibling in path.parent.glob(f"{name}.*.npz"):
        sibling.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return True


def _last_change(path: Path) -> float:
    times = [path.stat().st_mtime]
    times += [p.stat().st_mtime for p in path.iterdir()]
    return max(times)


def expire(now: float | None = None, keep_s: float | None = None) -> list[str]:
    """Delete workspaces untouched for longer than the retention; returns the tokens deleted."""
    now, keep_s = time.time() if now is None else now, retention_s() if keep_s is None else keep_s
    gone: list[str] = []
    try:
        entries = list(root().iterdir())
    except OSError:
        return gone
    for path in entries:
        try:
            if is_token(path.name) and path.is_dir() and not path.is_symlink() and now - _last_change(path) > keep_s:
                shutil.rmtree(path)
                gone.append(path.name)
        except OSError:  # removed meanwhile by another server process, or unreadable: try again next sweep
            continue
    return gone
