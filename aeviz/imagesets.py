"""The user's own training images: one bounded reader for server folders, archives and uploads, member by member.

Classes come from the folders (torchvision's ImageFolder: `ROOT/{train,test|val}/<class>/*.png`), the split
from `train/` and `test/` (or `val/`) folders when the set has both, else a seeded 80/20 split. Each picture's
pixel count is read from its header and counted before it is decoded; it is centre-cropped to a square (never
squashed) and resized to `size`, grey (`channels=1`) or colour (3).
"""

from __future__ import annotations

import functools
import io
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .archives import IMAGE_SUFFIXES, ImageSetError, Limits, Member, Tally, members
from .diskcache import Spec, load_arrays
from .ownformat import GREY28, Format, parse
from .places import sessions_dir

__all__ = ["IMAGE_SUFFIXES", "ImageSet", "ImageSetError", "Limits", "folder_split", "read_images", "scan_folder"]

HEAD_BYTES = 64 * 1024  # a picture's header (a JPEG's EXIF block comes first and may take 64 kB)
SPLITS = {"train": "train", "training": "train", "test": "test", "testing": "test"}
SPLITS |= {"val": "val", "valid": "val", "validation": "val"}
UNREADABLE = "unreadable files"
Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class ImageSet:
    """Pictures read from one source: (N,C,size,size) uint8, their classes, and where each belongs."""

    images: np.ndarray
    labels: np.ndarray  # (N,) int64 indices into classes
    classes: tuple[str, ...]
    test: np.ndarray | None  # (N,) bool from train/ and test/ folders; None: a seeded 80/20 split
    source: str  # what was read, with what was passed over and why
    skipped: tuple[tuple[str, str], ...]  # (member, why) of the pictures that could not be read, the first 20
    megapixels: float  # decoded (or, for a survey, to be decoded)

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of the 'train' or 'test' split."""
        if self.test is not None:
            chosen = self.test if which == "test" else ~self.test
            return self.images[chosen], self.labels[chosen]
        return _seeded_split(self.images, self.labels, which)


def split_sizes(count: int, test: np.ndarray | None) -> tuple[int, int]:
    """(train, test) image counts of a set of `count` images: its test/ folder's, else the seeded 80/20 split."""
    if test is not None:
        return count - int(test.sum()), int(test.sum())
    if count < 2:
        return count, count
    cut = max(1, int(0.8 * count))
    return cut, count - cut


def _seeded_split(images: np.ndarray, labels: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(0).permutation(len(labels))
    if len(labels) < 2:
        return images, labels
    cut = max(1, int(0.8 * len(labels)))
    chosen = order[:cut] if split == "train" else order[cut:]
    return images[chosen], labels[chosen]


def read_images(
    source: Path | Sequence[tuple[str, bytes | Path]],
    *,
    size: int = 28,
    channels: int = 1,
    limits: Limits | None = None,
    progress: Progress = None,
    stop: Callable[[], bool] | None = None,
    headers_only: bool = False,
    what: str = "",
) -> ImageSet:
    """Every readable picture of a folder, a zip or tar (path), or uploaded files (name, bytes or stored path),
    member by member within `limits` (default: the folder settings); `headers_only` reads headers alone (a
    survey: pixel counts and classes, nothing decoded). Raises ImageSetError past a bound or with no picture."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (colour), not {channels}")
    what = what or (str(source) if isinstance(source, Path) else "your upload")
    tally = Tally(limits or Limits.from_env(), what, stop)
    pictures: list = []
    places: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    last = time.monotonic()
    for member in members(source, tally):
        name = "/".join(member.parts)
        try:
            picture = _picture(member, size, channels, tally, headers_only)
        except ImageSetError:
            raise
        except Exception as exc:
            tally.pass_over(UNREADABLE)
            if len(skipped) < 20:
                skipped.append((name, _why(exc)))
            continue
        pictures.append(picture)
        places.append(_place(member.parts))
        tally.tick()
        if progress is not None and time.monotonic() - last > 0.5:
            progress(f"reading images: {len(pictures):,} so far ({tally.entries:,} entries)")
            last = time.monotonic()
    return _assemble(pictures, places, tally, tuple(skipped), (channels, size))


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _Refused) else "not an image that can be read here"


class _Refused(ValueError):
    """A picture refused before decoding; the message says why."""


def _picture(member: Member, size: int, channels: int, tally: Tally, headers_only: bool) -> np.ndarray | None:
    cap = int(tally.limits.member_mb * 2**20)
    if member.size > cap:
        raise _Refused(f"over {tally.limits.member_mb:g} MB")
    data = member.read(HEAD_BYTES if headers_only else cap + 1)
    if len(data) > cap:  # a zip member may lie about its size: what it holds beyond is never read
        raise _Refused(f"over {tally.limits.member_mb:g} MB")
    try:
        return decode_picture(data, size, channels, tally.add_pixels, headers_only)
    except (OSError, SyntaxError, ValueError) as exc:
        if not headers_only or member.size <= len(data) or isinstance(exc, _Refused):
            raise
        return decode_picture(member.read(cap), size, channels, tally.add_pixels, True)


def decode_picture(
    data: bytes, size: int, channels: int = 1, count: Callable[[int], None] | None = None, header_only: bool = False
) -> np.ndarray | None:
    """One picture as (channels,size,size) uint8: centre-cropped to a square, then resized. Only the formats
    uploads accept are parsed; its pixel count is checked (MAX_PIXELS) and handed to `count` from the header,
    before any decoding, and a JPEG is decoded at a reduced scale (a 12-megapixel photo in a fraction of the time).
    """
    from PIL import Image, ImageOps

    from .images import ALLOWED_FORMATS, MAX_PIXELS

    mode = "L" if channels == 1 else "RGB"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise _Refused(f"{w} x {h} pixels, beyond the {MAX_PIXELS / 1e6:.0f}-megapixel limit")
            img.draft(mode, (4 * size, 4 * size))
            if count is not None:
                count(img.size[0] * img.size[1])
            if header_only:
                return None
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:
                img.load()
            picture = _square(img.convert(mode)).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    array = np.asarray(picture, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def _square(img):
    """The centred square of a picture: a non-square photo is cropped, not squashed."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)) if w != h else img


def decode(source: bytes | Path, size: int) -> np.ndarray:
    """One picture as a (size,size) grey float32 array in [0,1]; raises on anything unusable."""
    data = Path(source).read_bytes() if isinstance(source, Path) else source
    picture = decode_picture(data, size)
    assert picture is not None
    return picture[0].astype(np.float32) / 255.0


def _place(parts: tuple[str, ...]) -> tuple[str, str]:
    """(split folder: 'train', 'test', 'val' or '', class) of a member: its folder names the class."""
    folders = [p for p in parts[:-1]]
    split = next((SPLITS[p.lower()] for p in folders if p.lower() in SPLITS), "")
    return split, folders[-1] if folders and folders[-1].lower() not in SPLITS else "all"


def _assemble(pictures: list, places: list, tally: Tally, skipped: tuple, shape: tuple[int, int]) -> ImageSet:
    splits = [s for s, _ in places]
    held = set(splits)
    test = None
    if "train" in held and held & {"test", "val"}:
        test_split = "test" if "test" in held else "val"
        keep = [s in ("train", test_split) for s in splits]
        for _ in range(keep.count(False)):
            tally.pass_over(f"pictures outside train/ and {test_split}/")
        pictures = [p for p, k in zip(pictures, keep, strict=True) if k]
        places = [p for p, k in zip(places, keep, strict=True) if k]
        test = np.array([s == test_split for s, _ in places], bool)
    if not pictures:
        unread = tally.passed.get(UNREADABLE, 0)
        if unread:
            raise ImageSetError(f"None of the {unread:,} image files in {tally.what} could be read.")
        raise ImageSetError(f"No images found in {tally.what} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    classes = tuple(sorted({c for _, c in places}))
    labels = np.array([classes.index(c) for _, c in places], np.int64)
    channels, size = shape
    decoded = pictures[0] is not None
    images = np.stack(pictures) if decoded else np.zeros((0, channels, size, size), np.uint8)
    return ImageSet(images, labels, classes, test, _describe(tally), skipped, tally.pixels / 1e6)


def _describe(tally: Tally) -> str:
    notes = []
    for why, count in tally.passed.items():
        notes.append(f"{count:,} {why} skipped" if why == UNREADABLE else f"{count:,} {why} ignored")
    return tally.what + (f" ({'; '.join(notes)})" if notes else "")


# --- server folders and archives ---------------------------------------------------------------------------------


def scan_folder(root: Path, limits: Limits, progress: Progress = None) -> tuple[list[Path], int]:
    """(image files under `root`, how many links pointing outside it were passed over), bounded by `limits`,
    without reading a picture (how the CLI counts a folder's images before it trains)."""
    tally = Tally(limits, str(root))
    root = Path(root).resolve()
    found = [root.joinpath(*m.parts) for m in members(root, tally)]
    return found, tally.passed.get("links to outside the folder", 0)


@functools.lru_cache(maxsize=4)
def _read_cached(root: str, stamp: int, size: int, channels: int) -> ImageSet:
    return read_images(Path(root), size=size, channels=channels)


def read_set(path: str | Path, size: int = 28, channels: int = 1, progress: Progress = None) -> ImageSet:
    """A server folder or archive (.zip, .tar, .tar.gz, .tgz) read once per change of it, within the folder
    settings; with `progress` it is read afresh and reports as it goes (a training job)."""
    path = Path(path).expanduser()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise ImageSetError(f"{path} is not a folder or an archive on this server.") from None
    if progress is None:
        return _read_cached(str(path), stamp, size, channels)  # train and test: one read
    return read_images(path, size=size, channels=channels, progress=progress)


def folder_split(root: str | Path, split: str, fmt: Format = GREY28, progress: Progress = None):
    """(images (N,C,size,size) uint8, labels, classes, description) of a folder or archive's `split`."""
    found = read_set(root, fmt.size, fmt.channels, progress)
    images, labels = found.split(split)
    return images, labels, found.classes, found.source


# --- training sets uploaded from a browser: what pages read (aeviz.uploadsets keeps, surveys and decodes them) ------

PREFIX = "upload:"  # grey 28x28; `upload@rgb32:` and the like read the same files at another format (ownformat)
FOLDER = "uploads"  # in a session's workspace: the sets expire with its models
MANIFEST = "files.json"


def decoded_file(fmt: Format) -> str:
    """The decoded set's file for one format (each format a training job asked for is kept)."""
    return "decoded.npz" if fmt == GREY28 else f"decoded-{fmt.channels}x{fmt.size}.npz"


def _decoded_spec(fmt: Format) -> dict:
    pictures = ("N", fmt.size, fmt.size) if fmt == GREY28 else ("N", fmt.channels, fmt.size, fmt.size)
    return {
        "images": Spec("u", pictures),  # the grey 28x28 file keeps the (N,28,28) layout earlier versions wrote
        "labels": Spec("i", ("N",)),
        "classes": Spec("U", ("K",)),
        "test": Spec("b", ("T",)),  # (N,) from train/ and test/ folders, or (0,): a seeded split
        "source": Spec("U", ()),
    }


def upload_format(name: str) -> tuple[str, Format]:
    """(the upload's digest, the format it is read at) of an 'upload…:<digest>' name; ImageSetError if none."""
    try:
        kind, fmt, key = parse(name)
    except ValueError:
        kind, fmt, key = "", GREY28, ""
    if kind != "upload" or len(key) != 16 or any(c not in "0123456789abcdef" for c in key):
        raise ImageSetError(f"{name[:80]!r} is not the name of an uploaded training set.")
    return key, fmt


def folder_of(name: str) -> Path | None:
    """Where an uploaded set's files are (any workspace holding the same content will do), or None."""
    key, _ = upload_format(name)
    return next((p for p in sessions_dir().glob(f"*/{FOLDER}/{key}") if (p / MANIFEST).is_file()), None)


def upload_files(name: str) -> list[str]:
    """The names the uploaded set's files had on the user's machine, in upload order ([] when unreadable)."""
    try:
        folder = folder_of(name)
        listed = json.loads((folder / MANIFEST).read_text()) if folder is not None else []
        return [str(original) for _, original in listed]
    except (ImageSetError, OSError, ValueError, TypeError):
        return []


def upload_title(name: str) -> str:
    """What an uploaded set is called where people read it: its file's name ('shoes.zip', 'a.png and 79 more
    files'), never its 'upload:<digest>' key."""
    files = upload_files(name)
    if not files:
        return "your uploaded images"
    first = Path(files[0].replace("\\", "/")).name or files[0]
    return first if len(files) == 1 else f"{first} and {len(files) - 1} more file{'s' * (len(files) > 2)}"


def upload_stem(name: str) -> str:
    """A short name for models of an uploaded set: its (first) file's name without suffixes ('shoes')."""
    files = upload_files(name)
    stem = Path(files[0].replace("\\", "/")).name.split(".")[0] if files else ""
    return stem or "upload"


def decoded(name: str) -> ImageSet | None:
    """The decoded set a training job left at the name's format, None before one has (or once it expired)."""
    _, fmt = upload_format(name)
    folder = folder_of(name)
    arrays = None if folder is None else load_arrays(folder / decoded_file(fmt), expect=_decoded_spec(fmt))
    if arrays is None or len(arrays["test"]) not in (0, len(arrays["labels"])):
        return None
    classes = tuple(str(c) for c in arrays["classes"])
    if arrays["labels"].size and not 0 <= arrays["labels"].min() <= arrays["labels"].max() < len(classes):
        return None
    test = arrays["test"] if len(arrays["test"]) else None
    images = arrays["images"][:, None] if arrays["images"].ndim == 3 else arrays["images"]
    return ImageSet(images, arrays["labels"], classes, test, str(arrays["source"]), (), 0.0)


def upload_split(name: str, split: str):
    """(images (N,C,size,size) uint8, labels, classes, description) of an uploaded set's train or test split."""
    found = decoded(name)
    if found is None:
        exists = folder_of(name) is not None
        raise ImageSetError(
            "This uploaded training set is read when a model starts training on it; start one first."
            if exists
            else "This uploaded training set is no longer on the server; upload the images again."
        )
    images, labels = found.split(split)
    return images, labels, found.classes, f"{len(found):,} uploaded images"
