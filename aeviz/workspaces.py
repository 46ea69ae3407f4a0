"""Session workspaces: models trained from a browser live in a folder of their own, seen only through its token.

A workspace is `$AEVIZ_HOME/sessions/<token>/`, the token 128 random bits. The session that trained a model,
and whoever opens a link carrying the token, list its models; nobody else's lists ever do. Each workspace holds
at most `max_models()` models and is deleted once nothing in it changed for `retention_s()`, so a class training
all afternoon cannot fill the server's disk.
"""

from __future__ import annotations

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
    """Models one workspace may hold: AEVIZ_SESSION_MAX_MODELS, default 8."""
    return settings.current().session_max_models


def max_total() -> int:
    """Models all workspaces together may hold: AEVIZ_SESSIONS_MAX_MODELS, default 400 (a class of 50 at the
    per-session cap; 400 dense models are ~0.5 GB, the largest family ~4 MB each)."""
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


def check_room(token: str) -> None:
    """ValueError saying what to do when the workspace, or all workspaces together, are full."""
    held = len(models(token))
    if held >= max_models():
        raise ValueError(
            f"Your session already has {held} model{'s' * (held != 1)} (this server keeps at most "
            f"{max_models()} per session): delete one under **Your models** to train another."
        )
    if sum(1 for _ in root().glob(f"*/*{SUFFIX}")) >= max_total():
        raise ValueError(
            f"This server holds {max_total()} models trained by its visitors, its limit: ask the "
            f"operator to raise AEVIZ_SESSIONS_MAX_MODELS, or try again once older ones expire "
            f"({retention_s() / 3600:g} h after their last change)."
        )


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
