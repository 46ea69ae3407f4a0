"""Datasets as in-memory tensors: MNIST, Fashion-MNIST, CIFAR-10, scikit-learn digits and image folders."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch

from . import cifar, settings
from .diskcache import cache_dir, load_arrays, save_arrays
from .ownformat import is_own, own_name
from .ownformat import parse as parse_own

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


class DatasetUnavailable(RuntimeError):
    """Raised with a message that tells the user every way to make a dataset available."""


@dataclass(frozen=True)
class Dataset:
    """One split of a dataset: images (N,C,H,W) float32 in [0,1] (C = 1 grey, 3 colour), labels (N,) int64."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int, int]:
        return cast("tuple[int, int, int]", tuple(self.images.shape[1:]))  # (C,H,W) of the (N,C,H,W) images


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a dataset before loading it. `loader(split)` returns uint8 images, (N,H,W)
    grey or (N,C,H,W), labels and a description of the source; `unavailable()` says why the set cannot load
    offline (None when it can), looking for files without parsing them."""

    name: str
    title: str
    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    loader: Callable[[str], tuple[np.ndarray, np.ndarray, str]]
    unavailable: Callable[[], str | None] = lambda: None
    item: str = "picture"  # what one image is called on the pages: "digit", "clothing item", "photo"


def data_dir() -> Path | None:
    """The user-configured data root (torchvision layout), if any."""
    return settings.current().data_dir


def download_dir() -> Path:
    """Where torchvision's download puts MNIST-like sets when nothing local is found."""
    return cache_dir() / "downloads"


# --- IDX parsing -----------------------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (gzipped or raw) into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {body.size}")
    return body.reshape(dims)


def find_idx(folder: Path, stem: str) -> Path | None:
    """The extracted or gzipped IDX file `stem` in `folder` (or its raw/ subfolder)."""
    for sub in (folder, folder / "raw"):
        for candidate in (sub / stem, sub / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _split_files(folder: Path, split: str) -> tuple[Path, Path] | None:
    image_file, label_file = (find_idx(folder, stem) for stem in IDX_FILES[split])
    return None if image_file is None or label_file is None else (image_file, label_file)


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    files = _split_files(folder, split)
    if files is None:
        return None
    try:
        return read_idx(files[0]), read_idx(files[1])
    except (ValueError, OSError, EOFError) as exc:  # truncated, not IDX, a broken gzip stream
        raise DatasetUnavailable(
            f"The {split} files in {folder} are damaged ({exc}); replace them or point AEVIZ_DATA_DIR elsewhere."
        ) from None


def _torchvision_download(tv_name: str) -> Path:
    import torchvision  # lazily: only needed when nothing local exists

    root = download_dir()
    cls = getattr(torchvision.datasets, tv_name)
    cls(root=str(root), train=True, download=True)
    cls(root=str(root), train=False, download=True)
    return root / tv_name / "raw"


_DOWNLOADS = {"allowed": True}


def allow_downloads(allowed: bool) -> None:
    """Let load_dataset fetch a missing built-in set (MNIST-like or CIFAR-10) from the internet (the default), or
    never try.

    The app turns downloads off: behind a firewall that drops packets a download can hang for minutes, and a
    page must never wait on one. A missing set then fails at once with the usual advice."""
    _DOWNLOADS["allowed"] = bool(allowed)


def _mnist_like(tv_name: str, extra_dirs: tuple[Path, ...] = ()) -> Callable:
    def load(split: str) -> tuple[np.ndarray, np.ndarray, str]:
        candidates = [d / tv_name for d in filter(None, [data_dir()])] + list(extra_dirs)
        candidates.append(download_dir() / tv_name)
        for folder in candidates:
            found = _read_split(folder, split)
            if found is not None:
                return found[0], found[1], str(folder)
        if not _DOWNLOADS["allowed"]:
            raise DatasetUnavailable(_unavailable_message(tv_name, None))
        try:
            folder = _torchvision_download(tv_name)
        except Exception as exc:  # no network, proxy, disk: all end in the same advice
            raise DatasetUnavailable(_unavailable_message(tv_name, exc)) from None
        found = _read_split(folder, split)
        if found is None:  # the download ended without this split's files
            raise DatasetUnavailable(_unavailable_message(tv_name, FileNotFoundError(folder)))
        return found[0], found[1], f"{folder} (downloaded)"

    return load


def _unavailable_message(tv_name: str, exc: Exception | None) -> str:
    """Every way to make the set available; `exc` is why a download failed (None: none was tried)."""
    debian = " or install Debian's package `dataset-fashion-mnist`" if tv_name == "FashionMNIST" else ""
    name = "mnist" if tv_name == "MNIST" else "fashion-mnist"
    tried = f"could not be downloaded ({type(exc).__name__})" if exc is not None else "the app does not download it"
    return (
        f"{tv_name} is not available offline and {tried}. "
        f"Either set AEVIZ_DATA_DIR to a folder holding {tv_name}/raw/*-ubyte[.gz] (torchvision's layout)"
        f'{debian}, or download it once with the internet on: `python -c "import aeviz; '
        f"aeviz.load_dataset('{name}')\"` puts it into {download_dir()}. "
        "The scikit-learn 'digits' dataset always works offline."
    )


def _cifar_roots() -> list[Path]:
    """Where CIFAR-10 is looked for: $AEVIZ_DATA_DIR/CIFAR10 (and the data root itself, torchvision's `root`),
    then the download folder."""
    roots = [p for d in filter(None, [data_dir()]) for p in (d / "CIFAR10", d)]
    return [*roots, download_dir() / "CIFAR10"]


def _cifar10(split: str) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        return cifar.load(split, _cifar_roots(), download_dir() / "CIFAR10", allow_download=_DOWNLOADS["allowed"])
    except cifar.CifarError as exc:
        raise DatasetUnavailable(str(exc)) from None


def _digits(split: str) -> tuple[np.ndarray, np.ndarray, str]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)  # 0..16 -> 0..255
    order = np.random.default_rng(0).permutation(len(images))  # fixed split, stratified enough at n=1797
    cut = int(0.8 * len(order))
    index = order[:cut] if split == "train" else order[cut:]
    return images[index], bunch.target[index].astype(np.uint8), "scikit-learn (bundled)"


def _idx_set(name: str, title: str, classes: tuple[str, ...], extra: tuple[Path, ...] = ()) -> DatasetInfo:
    tv_name = "MNIST" if name == "mnist" else "FashionMNIST"
    item = "digit" if name == "mnist" else "clothing item"
    load, missing = _mnist_like(tv_name, extra), lambda: _mnist_unavailable(name)
    return DatasetInfo(name, title, (1, 28, 28), classes, load, missing, item)


DATASETS: dict[str, DatasetInfo] = {
    "mnist": _idx_set("mnist", "MNIST handwritten digits", MNIST_CLASSES),
    "fashion-mnist": _idx_set("fashion-mnist", "Fashion-MNIST clothing", FASHION_CLASSES, (DEBIAN_FASHION_DIR,)),
    "digits": DatasetInfo(
        "digits", "scikit-learn 8x8 digits (offline)", (1, 8, 8), MNIST_CLASSES, _digits, item="digit"
    ),
    "cifar10": DatasetInfo(
        "cifar10",
        "CIFAR-10 colour photographs",
        cifar.SHAPE,
        cifar.CLASSES,
        _cifar10,
        lambda: cifar.unavailable(_cifar_roots(), download_dir() / "CIFAR10"),
        "photo",
    ),
}


def item_noun(name: str) -> str:
    """What one image of a dataset is called on the pages ('digit', 'clothing item', 'photo', 'picture')."""
    info = DATASETS.get(name)
    return info.item if info is not None else "picture"


def _cache_path(name: str, split: str) -> Path:
    tag = hashlib.sha256(f"{name}|{split}|{data_dir()}".encode()).hexdigest()[:16]
    return cache_dir() / "datasets" / f"{name}-{split}-{tag}.npz"


def _cached_uint8(name: str, split: str, loader: Callable) -> tuple[np.ndarray, np.ndarray, str]:
    """Parse once, then keep a compact .npz so the next load takes milliseconds."""
    path = _cache_path(name, split)
    cached = load_arrays(path)
    if cached is not None:
        return cached["images"], cached["labels"], str(cached["source"])
    images, labels, source = loader(split)
    save_arrays(path, images=images, labels=labels, source=np.array(source))
    return images, labels, source


def load_dataset(name: str, split: str = "train", *, limit: int | None = None, progress=None) -> Dataset:
    """Load `split` ('train' or 'test') of a registered dataset, a folder via 'folder:PATH' or an upload.

    `progress(text)` hears how reading a folder goes (the only slow case).
    """
    if split not in IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if is_own(name):
        return load_own(name, split, limit=limit, progress=progress)
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)} or 'folder:PATH'")
    info = DATASETS[name]
    images, labels, source = _cached_uint8(name, split, info.loader)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Dataset(name, split, as_images(images), torch.from_numpy(labels.astype(np.int64)), info.classes, source)


def as_images(images: np.ndarray) -> torch.Tensor:
    """uint8 (N,H,W) grey or (N,C,H,W) -> float32 (N,C,H,W) in [0, 1]."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return x.unsqueeze(1) if x.dim() == 3 else x  # (N,H,W) -> (N,1,H,W)


_FINGERPRINTS: dict[tuple[str, str], str] = {}


def fingerprint(name: str) -> str:
    """sha256 of a registered dataset's parsed contents (both splits, images and labels, as stored uint8): a
    result shipped for one copy of the data (the zoo's PCA baselines) is never taken for another copy's."""
    key = (name, str(data_dir()))
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256(name.encode())
        for split in IDX_FILES:
            images, labels, _ = _cached_uint8(name, split, DATASETS[name].loader)
            for a in (np.ascontiguousarray(images), np.ascontiguousarray(labels)):
                digest.update(f"|{split}|{a.dtype}|{a.shape}|".encode())
                digest.update(a.data)
        _FINGERPRINTS[key] = digest.hexdigest()
    return _FINGERPRINTS[key]


def available_datasets() -> dict[str, str | None]:
    """Each registered dataset mapped to None when it is on this machine, else the reason it is not.

    Looks for files without parsing them (parsing both MNIST-like test sets took 1.5 s of a cold start);
    a damaged file is reported when the set is first loaded, with the same kind of message.
    """
    return {name: None if _cache_path(name, "test").exists() else info.unavailable() for name, info in DATASETS.items()}


def _mnist_unavailable(name: str) -> str | None:
    here = _local_folder(name) is not None
    return None if here else _unavailable_message("MNIST" if name == "mnist" else "FashionMNIST", None)


def _local_folder(name: str) -> Path | None:
    """The folder an MNIST-like set would be read from offline (its test split), or None."""
    tv_name = "MNIST" if name == "mnist" else "FashionMNIST"
    extra = [DEBIAN_FASHION_DIR] if name == "fashion-mnist" else []
    roots = [d / tv_name for d in filter(None, [data_dir()])] + extra + [download_dir() / tv_name]
    return next((folder for folder in roots if _split_files(folder, "test") is not None), None)


def load_own(name: str, split: str, *, limit: int | None = None, progress=None) -> Dataset:
    """A 'folder:PATH' (read within bounds, unreadable files skipped) or 'upload:<id>' dataset, at the format its
    name gives ('folder@rgb32:PATH': colour, 32x32; aeviz.ownformat)."""
    from .imagesets import ImageSetError, folder_split, upload_split

    try:
        kind, fmt, rest = parse_own(name)
        if kind == "folder":
            images, labels, classes, source = folder_split(rest, split, fmt, progress=progress)
            name = own_name(kind, str(Path(rest).expanduser()), fmt)
        else:
            images, labels, classes, source = upload_split(name, split)
    except (ImageSetError, ValueError) as exc:
        raise DatasetUnavailable(str(exc)) from None
    return Dataset(
        name, split, as_images(images[:limit]), torch.from_numpy(labels[:limit].astype(np.int64)), classes, source
    )
