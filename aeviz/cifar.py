"""CIFAR-10 read from disk without running pickled code: torchvision's python batches, the binary batches, or
an image-folder tree or archive; and the download through torchvision for the CLI."""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
PY_FOLDER, BIN_FOLDER = "cifar-10-batches-py", "cifar-10-batches-bin"
PY_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
BIN_FILES = {split: tuple(f"{name}.bin" for name in names) for split, names in PY_FILES.items()}
MAX_BATCH_BYTES = 64 << 20  # an official batch is 31 MB; a bigger file is not one
ARCHIVES = ("*.tar.gz", "*.tgz", "*.tar")
# bounds of the interim image-folder reader (60,000 images of about 1 kB in the shared copy)
MAX_IMAGES, MAX_IMAGE_BYTES, MAX_TOTAL_BYTES = 100_000, 1 << 20, 2 << 30
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


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


def _cifar_from_archive(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split of an image-folder tree (a folder) or a .tar/.tar.gz archive of one, as CIFAR-10 arrays.

    INTERIM: a minimal bounded reader (regular files only, sizes and counts capped, 32x32 images only), to be
    replaced by the shared image-folder reader (aeviz.imagesets: folders, .zip, .tar/.tar.gz, bounded,
    centre-cropped) when it lands; the cifar10 loader calls nothing else for this path."""
    found: list[tuple[int, str, np.ndarray]] = []
    total = skipped = 0
    for name, size, read in _members(path):
        label = _member_label(name, split)
        if label is None:
            continue
        total += size
        if len(found) >= MAX_IMAGES or total > MAX_TOTAL_BYTES:
            raise CifarError(f"{path} holds more than {MAX_IMAGES:,} images or {MAX_TOTAL_BYTES >> 20:,} MB")
        pixels = _decode(read()) if size <= MAX_IMAGE_BYTES else None
        if pixels is None:
            skipped += 1
        else:
            found.append((label, name, pixels))
    if not found:
        raise CifarError(f"{path} holds no 32x32 images under {split}/<class>/ ({skipped} unreadable)")
    found.sort(key=lambda item: (item[0], item[1]))  # archives list members in any order
    # then a fixed shuffle: classes mixed as in the official batches, so the first N images (a subset, a
    # page's sample) hold every class, and the same N on every machine
    order = np.random.default_rng(0).permutation(len(found))
    return np.stack([found[i][2] for i in order]), np.array([found[i][0] for i in order], dtype=np.uint8)


def _member_label(name: str, split: str) -> int | None:
    """The class number of `<anything>/<split>/<class>/<file>.<image suffix>`, else None."""
    parts = name.replace("\\", "/").split("/")
    if (
        len(parts) < 3
        or ".." in parts
        or parts[0] == ""
        or parts[-3] != split
        or not parts[-1].lower().endswith(IMAGE_SUFFIXES)
    ):
        return None
    return CLASSES.index(parts[-2]) if parts[-2] in CLASSES else None


def _members(path: Path) -> Iterator[tuple[str, int, Any]]:
    """(relative name, size, read()) of every regular file in a folder (no links followed) or a tar archive."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                yield file.relative_to(path).as_posix(), file.stat().st_size, file.read_bytes
        return
    try:
        with tarfile.open(path, "r|*") as archive:  # a stream: one pass, nothing extracted to disk
            for member in archive:
                if member.isfile():
                    stream = archive.extractfile(member)
                    yield member.name, member.size, (lambda s=stream: s.read(MAX_IMAGE_BYTES + 1) if s else b"")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CifarError(f"{path} is not a readable tar archive ({exc})") from None


def _decode(raw: bytes) -> np.ndarray | None:
    """(3,32,32) uint8 of one image file, or None when it is unreadable or not 32x32."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.size != SHAPE[1:]:
                return None  # checked before decoding: no pixels are read for a bomb
            return np.asarray(img.convert("RGB")).transpose(2, 0, 1).copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


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
        ".tar/.tar.gz archive of it (train/<class>/*.png and test/<class>/*.png), or download it once with the "
        'internet on: `aeviz train --dataset cifar10 ...` or `python -c "import aeviz; '
        f"aeviz.load_dataset('cifar10')\"` puts it into {download_root}."
    )


def download(root: Path) -> Path:
    """The official python batches fetched and checked (md5) by torchvision into root; nothing is unpickled."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    return root / PY_FOLDER
