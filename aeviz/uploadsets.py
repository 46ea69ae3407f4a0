"""Training sets uploaded from a browser: kept with the session's models, surveyed from headers, decoded by the job.

A page never unpacks or decodes an upload. It writes the files as sent into `<workspace>/uploads/<digest>/`, so
they expire with the session's models (AEVIZ_SESSION_RETENTION_H); a helper process surveys them from their
headers alone (images, classes, pixels, every bound checked); the training job's own process, under its memory
budget, decodes them member by member and leaves the decoded 28x28 set beside them for the pages to show.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from . import settings
from .archives import ImageSetError, Limits, kind_of
from .diskcache import cache_dir, save_arrays
from .images import MAX_UPLOAD_BYTES
from .imagesets import (
    FOLDER,
    MANIFEST,
    PREFIX,
    ImageSet,
    Progress,
    decoded_file,
    folder_of,
    read_images,
    upload_format,
)
from .ownformat import GREY28

MAX_IMAGES = 5000  # pictures in one uploaded set, all its files together
MAX_UNZIPPED_MB = 200  # their bytes unpacked
MAX_ENTRIES = 20_000  # entries its archives may list (folders and other files too)
SETS_KEPT = 4  # uploaded sets a workspace keeps: a fifth pushes out the oldest


def limits() -> Limits:
    """What one uploaded set may cost, all its files together; the time bound is the folders' one."""
    configured = settings.current()
    return Limits(
        MAX_ENTRIES,
        MAX_IMAGES,
        MAX_UNZIPPED_MB,
        configured.folder_max_s,
        configured.upload_max_megapixels,
        {"seconds": "AEVIZ_FOLDER_MAX_S", "megapixels": "AEVIZ_UPLOAD_MAX_MEGAPIXELS"},
        member_mb=MAX_UPLOAD_BYTES / 2**20,
    )


def store(files: list[tuple[str, bytes]], uploads: Path) -> str:
    """Write uploaded files as sent into `uploads/<digest>/` (atomically: a folder is complete or absent);
    returns the set's name 'upload:<digest>'. The oldest sets beyond SETS_KEPT are deleted."""
    digest = hashlib.sha256()
    for name, blob in files:
        digest.update(f"{len(name)}:{name}|{len(blob)}|".encode())
        digest.update(blob)
    key = digest.hexdigest()[:16]
    target = uploads / key
    if not target.is_dir():
        partial = uploads / f".{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        listed = []
        for i, (name, blob) in enumerate(files):
            stored = f"{i:03d}.{kind_of(name) or 'other'}"
            (partial / stored).write_bytes(blob)
            listed.append([stored, name])
        (partial / MANIFEST).write_text(json.dumps(listed))
        partial.rename(target)
    target.touch()  # the newest, whatever it was before
    _keep_newest(uploads)
    return PREFIX + key


def _keep_newest(uploads: Path) -> None:
    sets = sorted((p for p in uploads.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_mtime)
    for old in sets[:-SETS_KEPT]:
        shutil.rmtree(old, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _sources(folder: Path) -> list[tuple[str, Path]]:
    try:
        listed = json.loads((folder / MANIFEST).read_text())
        return [(str(name), folder / str(stored)) for stored, name in listed if "/" not in str(stored)]
    except (OSError, ValueError, TypeError):
        raise ImageSetError("This uploaded training set is damaged; upload the images again.") from None


def survey(folder: str, bounds: Limits) -> ImageSet:
    """An uploaded set from its headers alone: pictures, classes, pixels, skipped files; raises past `bounds`
    (the server's limits(): the helper's own environment may be older). Runs in the decoding helper
    (aeviz.decodehelper), never in a page's thread. The pixel counts are the files', whatever the format."""
    return read_images(_sources(Path(folder)), limits=bounds, headers_only=True, what="your upload")


def decode(name: str, progress: Progress = None) -> ImageSet:
    """Decode an uploaded set once at the name's format and keep it beside its files; the training job's process
    calls this."""
    _, fmt = upload_format(name)
    folder = folder_of(name)
    if folder is None:
        raise ImageSetError("This uploaded training set is no longer on the server; upload the images again.")
    found = read_images(
        _sources(folder), size=fmt.size, channels=fmt.channels, limits=limits(), progress=progress, what="your upload"
    )
    test = found.test if found.test is not None else np.zeros(0, bool)
    classes = np.array(found.classes, dtype=str)
    save_arrays(
        folder / decoded_file(fmt),
        images=found.images[:, 0] if fmt == GREY28 else found.images,  # grey 28x28: the layout it always had
        labels=found.labels,
        classes=classes,
        test=test,
        source=np.array(found.source),
    )
    return found


def remove_legacy() -> int:
    """Delete the decoded sets earlier versions kept in the cache folder forever; returns how many."""
    old = list((cache_dir() / FOLDER).glob("*.npz"))
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)
