"""Image sets member by member: a server folder, a zip or a tar (a path or uploaded bytes), read within bounds.

One walk for every source, so every bound holds for each: directory or archive entries visited, image files,
their unpacked bytes, seconds and a cancel, checked as each entry arrives (an archive's declared sizes before
its data is read, a zip's entry count before its central directory is parsed). Nothing is ever extracted to
disk; still, members named outside the root (`../x`, `/etc/x`), links, device files and encrypted members are
passed over and counted, as are links in a folder that point outside it, and unreadable files.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import settings
from .images import IMAGE_SUFFIXES

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBER_MB = 64  # one picture's file: a 20-megapixel RGBA TIFF stored raw is 80 MB, a photo a few MB
MAX_TAR_HEADER = 64 * 1024  # a tar's long-name or pax header is read whole by tarfile: bounded before that
Progress = Callable[[str], None] | None


class ImageSetError(RuntimeError):
    """A folder, archive or upload that cannot become a training set; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What reading one image set may cost; `variables` names the setting behind each bound in messages."""

    entries: int  # directory or archive entries visited (a home folder can hold hundreds of thousands)
    files: int  # image files read
    megabytes: float  # their unpacked bytes (a tar's: every byte its stream passes)
    seconds: float  # walking and decoding together
    megapixels: float = float("inf")  # pixels decoded, counted from each picture's header before decoding
    variables: dict[str, str] = field(default_factory=dict, compare=False)
    member_mb: float = MAX_MEMBER_MB  # one picture's file

    @classmethod
    def from_env(cls) -> Limits:
        """What reading a server folder or archive may cost: the operator's AEVIZ_FOLDER_* settings."""
        configured = settings.current()
        return cls(
            configured.folder_max_entries,
            configured.folder_max_files,
            configured.folder_max_mb,
            configured.folder_max_s,
            configured.folder_max_megapixels,
            {
                "entries": "AEVIZ_FOLDER_MAX_ENTRIES",
                "files": "AEVIZ_FOLDER_MAX_FILES",
                "megabytes": "AEVIZ_FOLDER_MAX_MB",
                "seconds": "AEVIZ_FOLDER_MAX_S",
                "megapixels": "AEVIZ_FOLDER_MAX_MEGAPIXELS",
            },
        )

    def hint(self, bound: str) -> str:
        variable = self.variables.get(bound)
        return f" ({variable})" if variable else ""


@dataclass
class Tally:
    """The running cost of one read against its Limits, and what was passed over and why."""

    limits: Limits
    what: str  # "/srv/photos", "your upload": how messages name the set
    stop: Callable[[], bool] | None = None
    entries: int = 0
    files: int = 0
    bytes: int = 0
    pixels: int = 0
    passed: dict[str, int] = field(default_factory=dict)  # reason -> count of members passed over
    started: float = field(default_factory=time.monotonic)

    def pass_over(self, why: str) -> None:
        self.passed[why] = self.passed.get(why, 0) + 1

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.entries:
            self.fail(f"{self.what} holds more than {self.limits.entries:,} files and folders", "entries")
        self.tick()

    def file(self, size: int) -> None:
        self.files += 1
        if self.files > self.limits.files:
            self.fail(f"{self.what} holds more than {self.limits.files:,} images", "files")
        self.add_bytes(size)

    def add_bytes(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.megabytes * 2**20:
            self.fail(f"The images in {self.what} take more than {self.limits.megabytes:,.0f} MB unpacked", "megabytes")

    def add_pixels(self, count: int) -> None:
        self.pixels += count
        if self.pixels > self.limits.megapixels * 1e6:
            self.fail(
                f"The images in {self.what} add up to more than {self.limits.megapixels:,.0f} megapixels (counted "
                "from their headers, before decoding)",
                "megapixels",
            )

    def tick(self) -> None:
        """Between members: the time bound and a cancel."""
        if self.stop is not None and self.stop():
            raise ImageSetError(f"Stopped while reading {self.what}.")
        if time.monotonic() - self.started > self.limits.seconds:
            self.fail(f"Reading {self.what} took longer than {self.limits.seconds:,.0f} s", "seconds")

    def fail(self, text: str, bound: str) -> None:
        raise ImageSetError(f"{text}: use fewer or smaller pictures{self.limits.hint(bound)}.")


@dataclass(frozen=True)
class Member:
    """One image file of a set: its path inside the set, its size, and how to read (up to n of) its bytes."""

    parts: tuple[str, ...]
    size: int
    read: Callable[[int], bytes]


def kind_of(name: str) -> str:
    """'zip', 'tar' or 'image' by a file's name, '' for anything else."""
    lower = name.lower()
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    return "image" if PurePosixPath(lower).suffix in IMAGE_SUFFIXES else ""


def members(source: Path | Sequence[tuple[str, bytes | Path]], tally: Tally) -> Iterator[Member]:
    """The image members of a folder or archive path, or of uploaded files (name, bytes or a stored path): a
    loose uploaded picture is a member of its own, an uploaded archive gives its members."""
    if isinstance(source, Path):
        if source.is_dir():
            yield from _folder(source.resolve(), tally)
        else:
            yield from _archive(source.name, source, tally)
        return
    for name, blob in source:
        kind = kind_of(name)
        if kind in ("zip", "tar"):
            yield from _archive(name, blob, tally)
            continue
        tally.entry()
        if kind != "image":
            tally.pass_over("not named like a picture")
            continue
        size = len(blob) if isinstance(blob, bytes) else blob.stat().st_size
        tally.file(size)
        yield Member((name,), size, _reader(blob))


def _reader(blob: bytes | Path) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        if isinstance(blob, bytes):
            return blob[:n]
        with open(blob, "rb") as f:
            return f.read(n)

    return read


def _archive(name: str, blob: bytes | Path, tally: Tally) -> Iterator[Member]:
    opened: BinaryIO = io.BytesIO(blob) if isinstance(blob, bytes) else open(blob, "rb")  # noqa: SIM115
    with opened:
        if kind_of(name) == "zip" or (kind_of(name) != "tar" and zipfile.is_zipfile(opened)):
            yield from _zip(name, opened, tally)
        else:
            yield from _tar(name, opened, tally)


# --- folders ---------------------------------------------------------------------------------------------------


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _folder(root: Path, tally: Tally) -> Iterator[Member]:
    """Depth first in name order (the same order on every machine, so a seeded split is the same too)."""
    pending: list[Iterator[os.DirEntry]] = [_sorted_entries(root, tally)]
    while pending:
        entry = next(pending[-1], None)
        if entry is None:
            pending.pop()
            continue
        if entry.is_dir(follow_symlinks=False):
            pending.append(_sorted_entries(Path(entry.path), tally))  # a linked folder is a file here: not followed
            continue
        path = Path(entry.path)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if entry.is_symlink() and not _inside(path.resolve(), root):
            tally.pass_over("links to outside the folder")
            continue
        try:
            if not path.is_file():  # a device, a pipe, a dangling link
                tally.pass_over("not regular files")
                continue
            size = path.stat().st_size
        except OSError:
            tally.pass_over("unreadable files")
            continue
        tally.file(size)
        yield Member(path.relative_to(root).parts, size, _reader(path))


def _sorted_entries(folder: Path, tally: Tally) -> Iterator[os.DirEntry]:
    listed = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                tally.entry()  # counted as listed: a folder of a million entries is refused part-way
                listed.append(entry)
    except OSError:
        tally.pass_over("unreadable folders")
    return iter(sorted(listed, key=lambda e: e.name))


# --- zips ------------------------------------------------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory: signature, disks, entry counts, size, offset
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def central_directory(f: BinaryIO) -> tuple[int, int]:
    """(entries, bytes) of a zip's central directory, from its end record alone (zipfile parses it whole)."""
    f.seek(0, io.SEEK_END)
    end = f.tell()
    f.seek(max(0, end - _EOCD.size - 65535))
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise zipfile.BadZipFile("no end of central directory")
    _, _, _, _, entries, size, _, _ = _EOCD.unpack_from(tail, at)
    if (entries == 0xFFFF or size == 0xFFFFFFFF) and at >= _ZIP64_LOCATOR.size:
        sig, _, offset, _ = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
        if sig == b"PK\x06\x07":
            f.seek(offset)
            record = f.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                entries, size = _ZIP64_EOCD.unpack(record)[7:9]
    return entries, size


def _zip(name: str, f: BinaryIO, tally: Tally) -> Iterator[Member]:
    try:
        entries, size = central_directory(f)
        if entries > tally.limits.entries - tally.entries or size > 1024 * max(entries, 1):
            tally.fail(f"{name} holds more than {tally.limits.entries:,} files and folders", "entries")
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        tally.pass_over("archives that cannot be read")
        return
    with archive:
        for info in archive.infolist():
            tally.entry()
            parts, why = _zip_refusal(info)
            if _is_picture(tally, parts, why):
                tally.file(info.file_size)
                yield Member(parts, info.file_size, _zip_reader(archive, info))


def _is_picture(tally: Tally, parts: tuple[str, ...], why: str) -> bool:
    """Whether an archive member is read as a picture; a refused one (links, devices, '..') counts as passed over."""
    if why:
        tally.pass_over(why)
        return False
    return bool(parts) and PurePosixPath(parts[-1]).suffix.lower() in IMAGE_SUFFIXES


def _zip_refusal(info: zipfile.ZipInfo) -> tuple[tuple[str, ...], str]:
    """(the member's clean path, '') or ((), why it is passed over)."""
    mode = info.external_attr >> 16 if info.create_system == 3 else 0  # unix permissions and file type
    if info.is_dir() or stat.S_ISDIR(mode):
        return (), ""
    if stat.S_ISLNK(mode):
        return (), "links"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # a zip may carry a file type: only plain files
        return (), "device files"
    if info.flag_bits & 0x1:
        return (), "encrypted members"
    parts = clean_parts(info.filename)
    return (parts, "") if parts else ((), "members named outside the archive")


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        with archive.open(info) as member:
            return member.read(n)  # a member lying about its size is cut off at n

    return read


def clean_parts(name: str) -> tuple[str, ...]:
    """A member's path as parts, or () when it is absolute or climbs out of the archive (`../x`, `C:\\x`)."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return ()
    parts = tuple(p for p in PurePosixPath(text).parts if p not in ("", "."))
    return () if ".." in parts or not parts or "\0" in text else parts


# --- tars: read as a stream, one member at a time ------------------------------------------------------------------


class _BoundedInfo(tarfile.TarInfo):
    """A tar header whose long-name and pax records are bounded: tarfile reads each one whole, and a forged size
    would have it read gigabytes into memory before any member is seen."""

    def _proc_member(self, tarfile_):
        if self.type in _HEADER_TYPES and self.size > MAX_TAR_HEADER:
            raise tarfile.HeaderError(f"an extended header of {self.size:,} bytes")
        return super()._proc_member(tarfile_)  # type: ignore[misc]  # private in typeshed, present since 2.x


_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


def _tar(name: str, f: BinaryIO, tally: Tally) -> Iterator[Member]:
    try:
        archive = tarfile.open(fileobj=f, mode="r|*", tarinfo=_BoundedInfo)  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError, EOFError, ValueError):
        tally.pass_over("archives that cannot be read")
        return
    unpacked = int(tally.limits.megabytes * 2**20)
    with archive:
        while True:
            try:
                info = archive.next()
            except (tarfile.TarError, OSError, EOFError, ValueError, RecursionError, MemoryError):
                tally.pass_over("archives damaged part-way")
                return
            if info is None:
                return
            archive.members.clear()  # type: ignore[attr-defined]  # a stream never looks back: keep no headers
            tally.entry()
            if info.offset_data + info.size > unpacked:  # its data must be inflated to pass it: bound it first
                tally.fail(f"{name} unpacks to more than {tally.limits.megabytes:,.0f} MB", "megabytes")
            parts, why = _tar_refusal(info)
            if _is_picture(tally, parts, why):
                tally.file(info.size)
                yield Member(parts, info.size, _tar_reader(archive, info))


def _tar_refusal(info: tarfile.TarInfo) -> tuple[tuple[str, ...], str]:
    if info.isdir():
        return (), ""
    if info.issym() or info.islnk():
        return (), "links"
    if not info.isreg():
        return (), "device files"
    parts = clean_parts(info.name)
    return (parts, "") if parts else ((), "members named outside the archive")


def _tar_reader(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Callable[[int], bytes]:
    opened: list = []  # a stream cannot go back: a longer read goes on from where the shorter one stopped
    got = bytearray()

    def read(n: int) -> bytes:
        if not opened:
            opened.append(archive.extractfile(info))
        if len(got) < n and opened[0] is not None:
            got.extend(opened[0].read(n - len(got)))
        return bytes(got[:n])

    return read
