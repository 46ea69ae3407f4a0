"""Where the server keeps its users' files: models trained or imported on it, and the browser sessions' workspaces.

A module of its own (no torch) so that what reads an uploaded set, which a session's workspace holds, imports
no checkpoint code.
"""

from __future__ import annotations

from pathlib import Path

from . import settings


def user_dir() -> Path:
    """Where models trained by the user go: $AEVIZ_HOME/checkpoints, default ~/.local/share/aeviz."""
    return (settings.current().home or Path.home() / ".local" / "share" / "aeviz") / "checkpoints"


def sessions_dir() -> Path:
    """Where models trained from browser sessions go, one folder per session (see aeviz.workspaces)."""
    return user_dir().parent / "sessions"
