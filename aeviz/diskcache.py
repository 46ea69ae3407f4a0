"""On-disk .npz array cache: atomic writes, no pickle, one computation per key per process."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import threading
import typing
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from .atomic import atomic_write

# A corrupt or truncated .npz surfaces as one of these, depending on where the damage is.
_CORRUPT_ERRORS = (ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, OSError)

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def cache_dir() -> Path:
    """`$AEVIZ_CACHE_DIR`, else `$XDG_CACHE_HOME/aeviz` (default `~/.cache/aeviz`); created on demand."""
    explicit = settings.current().cache_dir
    if explicit:
        root = explicit
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(base).expanduser() / "aeviz"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _canonical(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    # Anything else (arrays, objects) has no stable text form: refuse rather than hash a repr.
    raise TypeError(f"cache_key: unsupported value of type {type(value).__name__}: {value!r}")


def cache_key(**parts: object) -> str:
    """First 24 hex chars of the sha256 of a canonical JSON of `parts` (sorted keys)."""
    text = json.dumps(_canonical(parts), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Write `arrays` to `path` (.npz) atomically: readers see the old file or the new one, never half."""
    atomic_write(Path(path), _npz_writer(arrays))


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """`arrays` as the bytes of an .npz file (for a file written together with others, atomic.atomic_write_all)."""
    out = io.BytesIO()
    _npz_writer(arrays)(out)
    return out.getvalue()


def _npz_writer(arrays: dict[str, np.ndarray]):
    """A function writing `arrays` as .npz to an open binary file, with no pickle (object dtypes are refused)."""
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"save_arrays: {name!r} has dtype object, which would need pickle")
    # the ignore: numpy's stub matches the unpacked arrays against savez's allow_pickle: bool keyword
    return lambda f: np.savez(f, **arrays)  # type: ignore[arg-type]


MAX_ARRAYS_MB = 2048  # what one cached .npz may hold unpacked (CIFAR-10's train split as uint8: 150 MB)
MAX_MEMBERS = 4096  # arrays in one .npz (a maps file holds about 20)


@dataclass(frozen=True)
class Spec:
    """What one array of an .npz must be: its dtype kinds ('f' float, 'iu' integers, 'b' bool, 'U' text) and
    shape, each size fixed (an int) or named (a str: every array naming it agrees, and `dims` may fix or bound it).
    """

    kinds: str
    shape: tuple[int | str, ...] | None = ()  # None: any shape
    required: bool = True


ANY = Spec("biufcUS", None)  # a plain numeric, boolean or text array of any shape: never an object or a record


Expect = Mapping[str, Spec] | Callable[[str], "Spec | None"]


class BadArrays(ValueError):
    """An .npz that is damaged, or not what its reader expects; the message says what is wrong."""


def load_arrays(
    path: Path,
    *,
    delete_corrupt: bool = True,
    expect: Expect | None = None,
    dims: Mapping[str, int | range] | None = None,
    max_mb: float = MAX_ARRAYS_MB,
) -> dict[str, np.ndarray] | None:
    """The arrays in the .npz at `path`, or None if it is missing or unusable (then deleted, if asked).

    Unusable: damaged, holding object arrays (pickles), more than `max_mb` unpacked, or unlike `expect` (arrays
    a name maps to None are not read). Every array's dtype and shape is checked from its .npy header, against
    `expect` and the size bound, before any of its data is read; nothing is read whole before a check.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            opened = os.fstat(f.fileno())
            try:
                return read_checked(f, expect, dims or {}, max_mb)
            except (BadArrays, MemoryError, *_CORRUPT_ERRORS):
                pass
    except FileNotFoundError:
        return None
    if delete_corrupt:
        _unlink_if_same(path, opened)
    return None


def read_checked(f, expect: Expect | None, dims: Mapping[str, int | range], max_mb: float) -> dict[str, np.ndarray]:
    """load_arrays' reading, raising BadArrays (or the zip's own errors) with what is wrong."""
    from .archives import central_directory

    if central_directory(f)[0] > MAX_MEMBERS:
        raise BadArrays(f"more than {MAX_MEMBERS} arrays")
    with zipfile.ZipFile(f) as archive:
        wanted = {}
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            spec = (expect.get(name) if isinstance(expect, Mapping) else expect(name)) if expect else ANY
            if spec is not None:
                wanted[name] = (info, spec)
        if isinstance(expect, Mapping):
            missing = [n for n, s in expect.items() if s.required and n not in wanted]
            if missing:
                raise BadArrays(f"no {', '.join(missing)}")
        headers, bound, total = {}, dict(dims), 0
        for name, (info, spec) in wanted.items():
            with archive.open(info) as member:
                headers[name] = _header(member, info, spec, bound, name)
            total += headers[name][3]
            if total > max_mb * 2**20:
                raise BadArrays(f"more than {max_mb:g} MB of arrays")
        return {name: _data(archive, wanted[name][0], *headers[name]) for name in headers}


def _header(member, info, spec: Spec, bound: dict, name: str) -> tuple:
    """(shape, dtype, fortran order, data bytes, header bytes) of one .npy member, checked against `spec`."""
    version = np.lib.format.read_magic(member)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = reader(member)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in spec.kinds:
        raise BadArrays(f"{name} has dtype {dtype.str}, not one of kinds {spec.kinds!r}")
    if spec.shape is not None:
        _check_shape(name, shape, spec.shape, bound)
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if info.file_size != member.tell() + nbytes:  # a member whose data outgrows its header is not read
        raise BadArrays(f"{name}: {info.file_size} bytes, its header says {member.tell() + nbytes}")
    return shape, dtype, fortran, nbytes, member.tell()


def _check_shape(name: str, shape: tuple, template: tuple, bound: dict) -> None:
    wanted = tuple(bound.get(size, size) if isinstance(size, str) else size for size in template)
    if len(shape) != len(template):
        raise BadArrays(f"{name} has shape {shape}, not {wanted}")
    for size, want in zip(shape, template, strict=True):
        if isinstance(want, int):
            ok = size == want
        else:
            known = bound.get(want)
            ok = size in known if isinstance(known, range) else known is None or size == known
            bound[want] = size
        if not ok:
            raise BadArrays(f"{name} has shape {shape}, not {wanted}")


def _data(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape, dtype, fortran: bool, nbytes: int, skip: int
) -> np.ndarray:
    buffer = bytearray(nbytes)
    view, got = memoryview(buffer), 0
    with archive.open(info) as opened:
        member = typing.cast(zipfile.ZipExtFile, opened)  # typeshed's IO[bytes] lacks readinto
        member.read(skip)
        while got < nbytes:
            read = member.readinto(view[got:])
            if not read:
                raise BadArrays(f"{info.filename} ends early")
            got += read
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _unlink_if_same(path: Path, opened: os.stat_result) -> None:
    # Another process may have atomically replaced the bad file with a good one meanwhile: keep that one.
    with contextlib.suppress(OSError):
        now = os.stat(path)
        if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino):
            os.unlink(path)


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), threading.Lock())


def _check_component(name: str, what: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"cached_arrays: {what} {name!r} is not a plain file name")


def cached_arrays(namespace: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Load `cache_dir()/namespace/key.npz`, or call `compute()` once, store its arrays and return them.

    Threads asking for the same key wait for one computation. Separate processes may both compute a
    missing key; the atomic write makes that wasteful but harmless (last identical result wins).
    """
    _check_component(namespace, "namespace")
    _check_component(key, "key")
    path = cache_dir() / namespace / f"{key}.npz"
    with _lock_for(path):
        hit = load_arrays(path)
        if hit is not None:
            return hit
        result = {name: np.asarray(a) for name, a in compute().items()}
        try:
            save_arrays(path, **result)
        except OSError as exc:
            # A full or read-only disk costs recomputation later, not a failure now.
            warnings.warn(f"aeviz cache: could not write {path}: {exc}", RuntimeWarning, stacklevel=2)
        return result
