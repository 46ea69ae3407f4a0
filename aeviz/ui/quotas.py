"""What one browser session's uploads may hold on the server, and releasing what Streamlit would keep.

server.maxUploadSize bounds one file. Streamlit keeps every file PUT to a session's upload URL, in memory,
until the uploader deletes it or the session is shut down; the URL needs only a live session id, not an
uploader on the page. A session whose browser closed is kept for reconnection and shut down (files and all)
only once it has expired (server.disconnectedSessionTTL, 120 s) and some later session disconnects; even then
glibc keeps the freed memory in the process. Here: a session's uploader may hold AEVIZ_UPLOAD_MAX_FILES files
and AEVIZ_UPLOAD_MAX_MB megabytes (files beyond are refused, never decoded, and dropped from Streamlit's
storage), and a sweep every SWEEP_EVERY_S drops every stored file of a session whose browser is gone and the
oldest of one holding more than that, then hands the freed memory back to the OS.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import settings

_LOG = logging.getLogger(__name__)
SWEEP_EVERY_S = 1.0  # between sweeps one session can still PUT what the network carries
UNLISTED_GRACE_S = 30.0  # a file PUT a moment before the uploader reports it is not a stray one


@dataclass(frozen=True)
class Limits:
    files: int
    bytes: int


def limits() -> Limits:
    """This server's per-session upload limits: AEVIZ_UPLOAD_MAX_FILES (64), AEVIZ_UPLOAD_MAX_MB (100)."""
    configured = settings.current()
    return Limits(configured.upload_max_files, configured.upload_max_mb * 2**20)


def admit(
    files: list[tuple[str, int]], admitted: dict[str, int], limit: Limits, elsewhere: dict[str, int] | None = None
) -> dict[str, str]:
    """Admit the uploader's files (id, size), in its order, while the session stays within `limit`.

    `admitted` (id -> size: files this uploader may hold, still in it) grows in place; `elsewhere` are those
    the session's other uploaders hold, counted too. The result says, for each file refused, why."""
    refused = {}
    held_files, held_bytes = len(elsewhere or {}), sum((elsewhere or {}).values())
    for file_id, size in files:
        if file_id in admitted:
            continue
        if len(admitted) + held_files >= limit.files:
            refused[file_id] = (
                f"not read: this session's uploader already holds {limit.files} files, the most "
                "it may. Remove some from the list (×) to add others."
            )
        elif held_bytes + sum(admitted.values()) + size > limit.bytes:
            refused[file_id] = (
                f"not read: it would take this session's uploads past {limit.bytes / 2**20:.0f} "
                "MB, the most it may hold. Remove some from the list (×) to add others."
            )
        else:
            admitted[file_id] = size
    return refused


@dataclass(frozen=True)
class Stored:
    """Streamlit's in-memory store of uploaded files, as the quotas use it; made only by streamlit_uploads()."""

    manager: Any  # a MemoryUploadedFileManager
    files: dict[str, dict[str, Any]]  # session id -> {file id: record with .data}, oldest first
    session_id: str | None  # the running script's session; None outside one (the sweep's thread)
    is_active: Callable[[str], bool]  # whether a session's browser is still connected


def streamlit_uploads(*, server: bool = False) -> Stored | None:
    """Streamlit's uploaded files, as the running script's session sees them (or, with `server`, as the server
    holds them for every session: the sweep's view). The one place this module reaches into Streamlit's
    internals, private names an upgrade may rename: tests/ui/test_quotas.py fails loudly then. None where there
    is nothing to bound: no script or server running, or a file store other than the in-memory one."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = None if server else get_script_run_ctx()
    running = runtime.get_instance() if runtime.exists() else None
    manager = ctx.uploaded_file_mgr if ctx is not None else getattr(running, "uploaded_file_mgr", None)
    files = getattr(manager, "file_storage", None)
    if not isinstance(files, dict) or (server and running is None):
        return None
    is_active = running.is_active_session if running is not None else lambda session_id: True
    return Stored(manager, files, ctx.session_id if ctx is not None else None, is_active)


def stored_ids() -> set[str]:
    """The ids of the files Streamlit holds for this session (only its in-memory manager says; else none)."""
    store = streamlit_uploads()
    return set(store.files.get(store.session_id) or {}) if store is not None and store.session_id else set()


def release(file_ids) -> None:
    """Drop these files of this session from Streamlit's storage: what was decoded or refused is not read again."""
    store = streamlit_uploads()
    if store is None or store.session_id is None:
        return
    for file_id in file_ids:
        store.manager.remove_file(store.session_id, file_id)


def release_unlisted(listed: set[str], first_unlisted: dict[str, float], now: float | None = None) -> int:
    """Drop files Streamlit holds for this session that its uploader has not listed for UNLISTED_GRACE_S.

    `first_unlisted` (id -> when first seen unlisted) is this session's memory of them. Returns how many went."""
    store = streamlit_uploads()
    stored = dict(store.files.get(store.session_id) or {}) if store is not None and store.session_id else {}
    now = time.monotonic() if now is None else now
    for file_id in [f for f in first_unlisted if f not in stored or f in listed]:
        del first_unlisted[file_id]
    stale = []
    for file_id in stored.keys() - listed:
        if now - first_unlisted.setdefault(file_id, now) >= UNLISTED_GRACE_S:
            stale.append(file_id)
            del first_unlisted[file_id]
    release(stale)
    return len(stale)


def sweep(store: Stored, limit: Limits) -> int:
    """Drop every stored file of a session whose browser is gone (the page kept what it decoded), and a live
    session's oldest files beyond `limit`. Returns the bytes released."""
    released = 0
    for session_id in list(store.files):
        files = list(dict(store.files.get(session_id) or {}).items())  # oldest first: dicts keep insertion order
        if not store.is_active(session_id):
            released += sum(len(rec.data) for _, rec in files)
            store.manager.remove_session_files(session_id)
            continue
        count, total = len(files), sum(len(rec.data) for _, rec in files)
        for file_id, rec in files:
            if count <= limit.files and total <= limit.bytes:
                break
            store.manager.remove_file(session_id, file_id)
            count, total, released = count - 1, total - len(rec.data), released + len(rec.data)
    return released


_sweeper: threading.Thread | None = None
_sweeper_lock = threading.Lock()


def start_upload_sweep() -> None:
    """Start the server's upload sweep once (cheap to call on every run); not under AppTest's mock runtime."""
    global _sweeper
    with _sweeper_lock:
        if _sweeper is not None and _sweeper.is_alive():
            return
        if streamlit_uploads(server=True) is None:
            return
        _sweeper = threading.Thread(target=_sweep_forever, name="aeviz-upload-sweep", daemon=True)
        _sweeper.start()


def _return_to_os() -> None:
    """Hand freed heap back to the OS: glibc keeps the freed upload buffers mapped otherwise, and the server's
    resident memory would stay at its peak. Nothing to do on other C libraries."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _sweep_forever() -> None:
    while (store := streamlit_uploads(server=True)) is not None:
        try:
            released = sweep(store, limits())
            if released:
                _return_to_os()
                _LOG.info("released %.1f MB of uploads", released / 2**20)
        except Exception:  # a failed sweep must not end the thread: the next one may succeed
            _LOG.exception("upload sweep failed")
        time.sleep(SWEEP_EVERY_S)
