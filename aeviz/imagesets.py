"""The user's own training images: server folders read within bounds, and sets uploaded from a browser."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from .diskcache import cache_dir, load_arrays, save_arrays

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
UPLOAD_PREFIX = "upload:"
Progress = Callable[[str], None] | None


class ImageSetError(RuntimeError):
    """A folder or upload that cannot become a training set; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What reading one folder may cost; each can be set in the environment."""

    entries: int  # directory entries visited (a home folder can hold hundreds of thousands)
    files: int  # image files read
    megabytes: float  # their total size on disk
    seconds: float  # scanning and decoding together

    @classmethod
    def from_env(cls) -> Limits:
        configured = settings.current()
        return cls(
            configured.folder_max_entries,
            configured.folder_max_files,
            configured.folder_max_mb,
            configured.folder_max_s,
        )


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def scan_folder(root: Path, limits: Limits, progress: Progress = None) -> tuple[list[Path], int]:
    """(image files under `root`, how many links pointing outside it were passed over), bounded by `limits`.

    Linked folders are not followed and a linked file is read only when it resolves inside `root`, so a link
    cannot smuggle in files from elsewhere on the server.
    """
    root = root.resolve()
    files, outside, visited, total = [], 0, 0, 0
    pending, started, last = [root], time.monotonic(), time.monotonic()
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue  # unreadable sub-folder: skipped like an unreadable file
        for entry in entries:
            visited += 1
            if visited > limits.entries:
                raise ImageSetError(
                    f"{root} holds more than {limits.entries:,} files and folders; point at a "
                    "smaller folder (AEVIZ_FOLDER_MAX_ENTRIES)."
                )
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
                continue
            path = Path(entry.path)
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if entry.is_symlink() and not _inside(path.resolve(), root):
                outside += 1
                continue
            try:
                if not path.is_file():
                    continue
                total += path.stat().st_size
            except OSError:
                continue
            files.append(path)
            _check_bounds(root, len(files), total, started, limits)
        if progress is not None and time.monotonic() - last > 0.5:
            progress(f"looking for images: {visited:,} entries, {len(files):,} images so far")
            last = time.monotonic()
    return sorted(files), outside


def _check_bounds(root: Path, count: int, total: int, started: float, limits: Limits) -> None:
    if count > limits.files:
        raise ImageSetError(
            f"{root} holds more than {limits.files:,} images; train on a smaller folder (AEVIZ_FOLDER_MAX_FILES)."
        )
    if total > limits.megabytes * 2**20:
        raise ImageSetError(
            f"The images in {root} take more than {limits.megabytes:,.0f} MB; train on a smaller "
            "folder or smaller pictures (AEVIZ_FOLDER_MAX_MB)."
        )
    if time.monotonic() - started > limits.seconds:
        raise ImageSetError(
            f"Reading {root} took longer than {limits.seconds:,.0f} s; train on a smaller folder (AEVIZ_FOLDER_MAX_S)."
        )


def decode(source, size: int) -> np.ndarray:
    """One picture (a path or bytes) as a (size,size) grey float32 array in [0,1]; raises on anything unusable.

    Only the formats uploads accept are parsed, the pixel count is checked from the header before any
    decoding, and JPEGs are decoded at a reduced scale (a 12-megapixel photo in a fraction of the time).
    """
    from PIL import Image, ImageOps

    from .images import ALLOWED_FORMATS, MAX_PIXELS

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=ALLOWED_FORMATS) as img:
            if img.size[0] * img.size[1] > MAX_PIXELS:
                raise ValueError(f"{img.size[0]} x {img.size[1]} pixels is beyond the limit")
            img.draft("L", (4 * size, 4 * size))
            grey = ImageOps.exif_transpose(img).convert("L").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(grey, dtype=np.float32) / 255.0


@functools.lru_cache(maxsize=4)
def _read_folder(root: str, stamp: int, size: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    return read_folder(Path(root), size)


def read_folder(
    root: Path, size: int = 28, progress: Progress = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """(images (N,size,size) uint8, labels, class names, a description) of every readable image in `root`.

    Sub-folders name the classes (like torchvision's ImageFolder); unreadable files are skipped and counted.
    """
    limits = Limits.from_env()
    files, outside = scan_folder(root, limits, progress)
    if not files:
        raise ImageSetError(f"No images found in {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    started, last = time.monotonic(), time.monotonic()
    pictures, parents = [], []
    for i, path in enumerate(files):
        try:
            pictures.append(np.round(decode(path, size) * 255).astype(np.uint8))
            parents.append(path.parent)
        except Exception:  # noqa: BLE001 - Pillow raises many types for a damaged or foreign file: skip it
            pass
        if time.monotonic() - started > limits.seconds:
            raise ImageSetError(
                f"Decoding the images in {root} took longer than {limits.seconds:,.0f} s; train "
                "on fewer or smaller pictures (AEVIZ_FOLDER_MAX_S)."
            )
        if progress is not None and time.monotonic() - last > 0.5:
            progress(f"reading images: {i + 1:,} of {len(files):,}")
            last = time.monotonic()
    if not pictures:
        raise ImageSetError(f"None of the {len(files):,} image files in {root} could be read.")
    root = root.resolve()
    classes = sorted({p.name for p in parents}) if any(p != root for p in parents) else ["all"]
    labels = [classes.index(p.name) if len(classes) > 1 else 0 for p in parents]
    return (
        np.stack(pictures),
        np.array(labels, np.int64),
        tuple(classes),
        _describe(root, len(files), pictures, outside),
    )


def _describe(root: Path, found: int, pictures: list, outside: int) -> str:
    notes = [f"{found - len(pictures):,} unreadable files skipped"] if found > len(pictures) else []
    notes += [f"{outside:,} links to outside the folder ignored"] if outside else []
    return f"{root}" + (f" ({'; '.join(notes)})" if notes else "")


def folder_split(root: str | Path, split: str, size: int = 28, progress: Progress = None):
    """The fixed 80/20 train/test split of a folder's images: (images uint8, labels, classes, description)."""
    path = Path(root).expanduser()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise ImageSetError(f"{path} is not a folder on this server.") from None
    if progress is None:
        images, labels, classes, source = _read_folder(str(path), stamp, size)  # train and test: one scan
    else:
        images, labels, classes, source = read_folder(path, size, progress)
    return (*_split(images, labels, split), classes, source)


def _split(images: np.ndarray, labels: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(0).permutation(len(images))
    if len(images) < 2:
        return images, labels
    cut = max(1, int(0.8 * len(images)))
    chosen = order[:cut] if split == "train" else order[cut:]
    return images[chosen], labels[chosen]


# --- training sets uploaded from a browser -----------------------------------------------------------------

MAX_UPLOAD_IMAGES = 5000
MAX_UNZIPPED_MB = 200


def _upload_path(name: str) -> Path:
    digest = name.removeprefix(UPLOAD_PREFIX)
    if len(digest) != 16 or any(c not in "0123456789abcdef" for c in digest):
        raise ImageSetError(f"{name!r} is not the name of an uploaded training set.")
    return cache_dir() / "uploads" / f"{digest}.npz"


def save_upload_set(images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> str:
    """Keep an uploaded set (uint8 (N,H,W)) on the server under a content name 'upload:<16 hex>'."""
    digest = hashlib.sha256(images.tobytes() + labels.tobytes() + "|".join(classes).encode()).hexdigest()[:16]
    name = UPLOAD_PREFIX + digest
    if not _upload_path(name).exists():
        save_arrays(_upload_path(name), images=images, labels=labels, classes=np.array(classes, dtype=str))
    return name


def upload_split(name: str, split: str):
    """(images uint8, labels, classes, description) of an uploaded set's fixed train/test split."""
    arrays = load_arrays(_upload_path(name))
    if arrays is None:
        raise ImageSetError("This uploaded training set is no longer on the server; upload the images again.")
    classes = tuple(str(c) for c in arrays["classes"])
    return (*_split(arrays["images"], arrays["labels"], split), classes, f"{len(arrays['images']):,} uploaded images")


def images_from_uploads(files: list[tuple[str, bytes]], size: int = 28):
    """Decode uploaded images and zips into (images uint8, labels, classes, skipped [(name, why)]).

    A zip's first folder level names the classes; loose images form one class. Zips are read within bounds
    (members, unpacked bytes) so a zip bomb costs nothing.
    """
    members: list[tuple[str, str, bytes]] = []
    skipped: list[tuple[str, str]] = []
    for name, blob in files:
        if name.lower().endswith(".zip"):
            members += _unzip(name, blob, skipped)
        else:
            members.append(("all", name, blob))
    pictures, groups = [], []
    for group, name, blob in members[:MAX_UPLOAD_IMAGES]:
        try:
            pictures.append(np.round(decode(blob, size) * 255).astype(np.uint8))
            groups.append(group)
        except Exception:  # noqa: BLE001 - a damaged or foreign file is named and skipped
            skipped.append((name, "not an image that can be read here"))
    if len(members) > MAX_UPLOAD_IMAGES:
        skipped.append((f"{len(members) - MAX_UPLOAD_IMAGES:,} more files", f"over {MAX_UPLOAD_IMAGES:,} images"))
    classes = tuple(sorted(set(groups))) or ("all",)
    labels = np.array([classes.index(g) for g in groups], np.int64)
    stacked = np.stack(pictures) if pictures else np.zeros((0, size, size), np.uint8)
    return stacked, labels, classes, skipped


def _unzip(name: str, blob: bytes, skipped: list) -> list[tuple[str, str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        infos = [i for i in archive.infolist() if not i.is_dir() and Path(i.filename).suffix.lower() in IMAGE_SUFFIXES]
    except (zipfile.BadZipFile, OSError, ValueError):
        skipped.append((name, "not a zip archive that can be read"))
        return []
    budget, found = MAX_UNZIPPED_MB * 2**20, []
    for info in infos[:MAX_UPLOAD_IMAGES]:
        budget -= info.file_size
        if budget < 0 or info.file_size > 5 * 2**20:
            skipped.append((info.filename, f"beyond {MAX_UNZIPPED_MB} MB unpacked or over 5 MB"))
            continue
        try:
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)  # a member lying about its size is cut off here
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError):
            skipped.append((info.filename, "damaged inside the zip"))
            continue
        parts = Path(info.filename).parts
        found.append((parts[-2] if len(parts) > 1 else "all", info.filename, data))
    return found
