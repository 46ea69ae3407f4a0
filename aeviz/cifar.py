"""CIFAR-10 read from disk without running pickled code: torchvision's python batches, the binary batches, or
an image-folder tree or archive; and the download through torchvision for the CLI."""

from __future__ import annotations

import functools
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .imagesets import ImageSet, ImageSetError, Limits, read_images

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
PY_FOLDER, BIN_FOLDER = "cifar-10-batches-py", "cifar-10-batches-bin"
PY_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
BIN_FILES = {split: tuple(f"{name}.bin" for name in names) for split, names in PY_FILES.items()}
MAX_BATCH_BYTES = 64 << 20  # an official batch is 31 MB; a bigger file is not one
ARCHIVES = ("*.tar.gz", "*.tgz", "*.tar", "*.zip")


class CifarError(ValueError):
    """A CIFAR-10 file that is damaged, foreign or hostile; the message says which and why."""


# --- cifar-10-batches-py: an allow-listing unpickler -----------------------------------------------------------
# The official batches are Python 2 cPickle (protocol 2) dicts: b'data' a uint8 ndarray (N, 3072) pickled as
# numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') then BUILD (1, shape, dtype('u1', 0, 1) + BUILD
# (3, '|', None, None, None, -1, -1, 0), False, raw bytes); b'labels' a list of ints; b'batch_label' and
# b'filenames' text. Those three globals (and numpy 2's numpy._core alias, for a batch re-pickled under numpy
# 2) are the only ones accepted, and each resolves to an inert stand-in that records its arguments: no numpy or
# other code runs on the file's content. The array is then built from the recorded bytes by np.frombuffer.


class _NdarrayTag:
    """What the pickle's numpy.ndarray resolves to: a marker, never called."""


class _DType:
    """numpy.dtype('u1', 0, 1) and its BUILD state, recorded; only unsigned bytes are accepted."""

    def __init__(self, name: Any = None, align: Any = 0, copy: Any = 1) -> None:
        if name not in ("u1", b"u1", "uint8", b"uint8"):
            raise CifarError(f"an array of dtype {name!r}, where CIFAR-10 holds unsigned bytes (u1)")

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("|", b"|"):
            raise CifarError("a dtype state that is not a byte's")


class _Array:
    """numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') and its BUILD state, recorded as (shape, bytes)."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] = ()
        self.raw = b""

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _DType)):
            raise CifarError("an array state that is not (version, shape, dtype, fortran, bytes)")
        _, shape, _, fortran, raw = state
        if isinstance(raw, str):  # a Python 2 str read as text: latin-1 gives its bytes back one to one
            raw = raw.encode("latin-1")
        if fortran or not isinstance(raw, (bytes, bytearray)) or not isinstance(shape, tuple):
            raise CifarError("an array that is not a C-ordered block of bytes")
        if not all(isinstance(s, int) and s >= 0 for s in shape) or int(np.prod(shape)) != len(raw):
            raise CifarError(f"an array of shape {shape!r} holding {len(raw):,} bytes")
        self.shape, self.raw = shape, bytes(raw)

    def array(self) -> np.ndarray:
        return np.frombuffer(self.raw, dtype=np.uint8).reshape(self.shape)


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _Array:
    if cls is not _NdarrayTag or typecode not in (b"b", "b"):
        raise CifarError("an array reconstruction other than numpy's own")
    return _Array()


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NdarrayTag,
    ("numpy", "dtype"): _DType,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise CifarError(
                f"it asks to run {module}.{name}, which a CIFAR-10 batch never does: refused without running it "
                "(an official batch holds only a dict of lists, text and one numpy byte array)"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise CifarError("it refers to persistent objects, which a CIFAR-10 batch never does")


def read_py_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N,3,32,32) uint8, labels (N,) uint8) from one python batch file, read by the allow-list."""
    if path.stat().st_size > MAX_BATCH_BYTES:
        raise CifarError(f"{path.name} is {path.stat().st_size:,} bytes; a CIFAR-10 batch is about 31 MB")
    try:
        with open(path, "rb") as f:
            entry = _Unpickler(f, encoding="bytes").load()
    except CifarError as exc:
        raise CifarError(f"{path.name}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise CifarError(f"{path.name} is not a readable CIFAR-10 batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(entry, dict):
        raise CifarError(f"{path.name} holds {type(entry).__name__}, not a CIFAR-10 batch's dict")
    entry = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    data, labels = entry.get("data"), entry.get("labels")
    if not isinstance(data, _Array) or len(data.shape) != 2 or data.shape[1] != PIXELS:
        raise CifarError(f"{path.name}: 'data' is not an (N, {PIXELS}) byte array")
    return data.array().reshape(-1, *SHAPE), _labels(path.name, labels, data.shape[0])


def _labels(name: str, labels: Any, count: int) -> np.ndarray:
    ok = isinstance(labels, list) and len(labels) == count
    if not ok or not all(type(v) is int and 0 <= v < len(CLASSES) for v in labels):
        raise CifarError(f"{name}: 'labels' is not a list of {count:,} class numbers from 0 to 9")
    return np.asarray(labels, dtype=np.uint8)


# --- cifar-10-batches-bin: <1 label byte><3072 pixel bytes> per image ----------------------------------------


def read_bin_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    size = path.stat().st_size
    if size > MAX_BATCH_BYTES or size == 0 or size % (PIXELS + 1):
        raise CifarError(f"{path.name} is {size:,} bytes, not a whole number of {PIXELS + 1}-byte CIFAR-10 records")
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, PIXELS + 1)
    if records[:, 0].max() >= len(CLASSES):
        raise CifarError(f"{path.name}: a label byte above 9, so not CIFAR-10's binary format")
    return records[:, 1:].reshape(-1, *SHAPE).copy(), records[:, 0].copy()


def read_batches(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split from cifar-10-batches-py or cifar-10-batches-bin (which one: the folder's name)."""
    binary = folder.name == BIN_FOLDER
    names = (BIN_FILES if binary else PY_FILES)[split]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise CifarError(f"{folder} lacks {', '.join(missing)}")
    parts = [(read_bin_batch if binary else read_py_batch)(folder / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --- an image-folder tree or archive: <root>/{train,test}/<class>/<image> ------------------------------------
# Read by aeviz.imagesets, the same bounded reader a user's folder or archive takes, with bounds that fit
# CIFAR-10's 60,000 small pictures (the folder settings' defaults are sized for a user's own photos).

LIMITS = Limits(
    entries=80_000,  # 60,000 pictures, 22 folders, a few stray files
    files=70_000,
    megabytes=1024,  # the shared JPEG copy is about 100 MB unpacked; PNGs about 150 MB
    seconds=900,  # 60,000 decodes on a busy 2-core machine
    megapixels=100,  # 60,000 x 1,024 pixels = 61 megapixels, counted from the headers first
)


@functools.lru_cache(maxsize=1)
def _read_tree(path: str, stamp: int) -> ImageSet:
    """Both splits in one read (the second split is then free), kept until another source is read."""
    return read_images(Path(path), size=SHAPE[1], channels=SHAPE[0], limits=LIMITS, what=path)


def _cifar_from_archive(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split of an image-folder tree or archive (.tar, .tar.gz, .tgz, .zip) as CIFAR-10 arrays."""
    try:
        found = _read_tree(str(path), path.stat().st_mtime_ns)
    except ImageSetError as exc:
        raise CifarError(str(exc)) from None
    if found.test is None:
        raise CifarError(f"{path} has no train/ and test/ folders, which CIFAR-10's image-folder layout has")
    strays = sorted(set(found.classes) - set(CLASSES))
    if strays:
        raise CifarError(f"{path} has class folders that are not CIFAR-10's: {', '.join(strays[:5])}")
    images, labels = found.split(split)
    if not len(labels):
        raise CifarError(f"{path} holds no readable images under {split}/<class>/")
    labels = np.array([CLASSES.index(found.classes[i]) for i in range(len(found.classes))], np.uint8)[labels]
    # then a fixed shuffle: classes mixed as in the official batches, so the first N images (a subset, a
    # page's sample) hold every class, and the same N on every machine (the reader goes in name order)
    order = np.random.default_rng(0).permutation(len(labels))
    return np.ascontiguousarray(images[order]), labels[order]


# --- where CIFAR-10 is found ---------------------------------------------------------------------------------


def find_source(roots: list[Path]) -> Path | None:
    """The first CIFAR-10 copy under the roots: batches-py, batches-bin, an image-folder tree, an archive. A root
    named CIFAR10 is the set's own folder, searched for every layout; any other (torchvision's `root`, which
    other sets share) only for the official batch folders, whose names say what they hold."""
    for root in roots:
        for folder in (root / PY_FOLDER, root / BIN_FOLDER):
            if all((folder / n).is_file() for n in (BIN_FILES if folder.name == BIN_FOLDER else PY_FILES)["test"]):
                return folder
        if root.name != "CIFAR10":
            continue
        for tree in (root, *sorted(p for p in root.glob("*") if p.is_dir())):
            if (tree / "train").is_dir() and (tree / "test").is_dir():
                return tree
        archives = sorted(p for pattern in ARCHIVES for p in root.glob(pattern) if p.is_file())
        if archives:
            return archives[0]
    return None


def read_split(source: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(images (N,3,32,32) uint8, labels (N,) uint8, a description of the source) of one split."""
    if source.name in (PY_FOLDER, BIN_FOLDER):
        images, labels = read_batches(source, split)
        return images, labels, f"{source} (official {'binary' if source.name == BIN_FOLDER else 'python'} batches)"
    images, labels = _cifar_from_archive(source, split)
    kind = "image-folder tree" if source.is_dir() else "image-folder archive"
    return images, labels, f"{source} ({kind})"


def load(
    split: str, roots: list[Path], download_root: Path, *, allow_download: bool
) -> tuple[np.ndarray, np.ndarray, str]:
    """A split from the first copy found under `roots`, else downloaded into `download_root` when allowed;
    CifarError (with every way to make the set available) when neither works."""
    source = find_source(roots)
    if source is None:
        if not allow_download:
            raise CifarError(unavailable_message(download_root, None))
        try:
            source = download(download_root)
        except Exception as exc:  # no network, proxy, disk: all end in the same advice
            raise CifarError(unavailable_message(download_root, exc)) from None
    try:
        return read_split(source, split)
    except (CifarError, OSError) as exc:
        raise CifarError(f"CIFAR-10 could not be read: {exc}. Replace it or point AEVIZ_DATA_DIR elsewhere.") from None


def unavailable(roots: list[Path], download_root: Path) -> str | None:
    """Why CIFAR-10 cannot load offline; None when a copy is found (without parsing it)."""
    return None if find_source(roots) is not None else unavailable_message(download_root, None)


def unavailable_message(download_root: Path, exc: Exception | None) -> str:
    tried = f"could not be downloaded ({type(exc).__name__})" if exc is not None else "the app does not download it"
    return (
        f"CIFAR-10 is not available offline and {tried}. Either set AEVIZ_DATA_DIR to a folder holding "
        f"CIFAR10/{PY_FOLDER} or CIFAR10/{BIN_FOLDER} (torchvision's layout), or an image-folder tree or "
        ".tar/.tar.gz/.zip archive of it (train/<class>/*.png and test/<class>/*.png), or download it once with the "
        'internet on: `aeviz train --dataset cifar10 ...` or `python -c "import aeviz; '
        f"aeviz.load_dataset('cifar10')\"` puts it into {download_root}."
    )


def download(root: Path) -> Path:
    """The official python batches fetched and checked (md5) by torchvision into root; nothing is unpickled."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    return root / PY_FOLDER
