"""Hostile image sets, built in the test: tars and zips climbing out of their root, links, device files, a .tgz
bomb, a forged tar header, 100,000 tiny files, decode bombs; every bound holds for archives as for folders."""

from __future__ import annotations

import dataclasses
import io
import struct
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from aeviz import uploadsets
from aeviz.archives import ImageSetError, Limits, central_directory
from aeviz.imagesets import read_images

MB = 2**20


def png(value: int = 128, size: tuple[int, int] = (20, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, value).save(buffer, format="PNG")
    return buffer.getvalue()


def tar_of(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_a_tar_reads_member_by_member_and_passes_over_what_climbs_out_links_and_devices():
    hostile = [
        ("../outside.png", png(1)),
        ("/etc/absolute.png", png(2)),
        ("cls/../../up.png", png(3)),
        special("cls/passwd.png", tarfile.SYMTYPE, "/etc/passwd"),
        special("cls/hard.png", tarfile.LNKTYPE, "cls/0.png"),
        special("cls/tty.png", tarfile.CHRTYPE),
        special("cls/disk.png", tarfile.BLKTYPE),
        special("cls/pipe.png", tarfile.FIFOTYPE),
    ]
    good = [(f"cls/{i}.png", png(30 * i)) for i in range(3)]
    for name, blob in [("set.tar.gz", tar_of(good + hostile)), ("set.tar", tar_of(good + hostile, "w"))]:
        found = read_images([(name, blob)])
        assert len(found) == 3 and found.classes == ("cls",)
        assert "3 members named outside the archive ignored" in found.source
        assert "2 links ignored" in found.source and "3 device files ignored" in found.source


def zip_with(entries: dict[str, tuple[int, bytes]]) -> bytes:
    """A zip whose members carry unix file types (mode << 16), as `zip -y` writes links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (mode, data) in entries.items():
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def test_a_zip_passes_over_links_devices_and_names_outside_it():
    blob = zip_with(
        {
            "a/0.png": (0o100644, png(10)),
            "a/1.png": (0o100644, png(90)),
            "a/passwd.png": (0o120777, b"/etc/passwd"),
            "a/tty.png": (0o020644, b""),
            "../../x.png": (0o100644, png(5)),
            "C:\\windows\\x.png": (0o100644, png(5)),
        }
    )
    found = read_images([("set.zip", blob)])
    assert len(found) == 2 and "1 links ignored" in found.source and "1 device files ignored" in found.source
    assert "2 members named outside the archive ignored" in found.source


def zeros_gz(parts: list[bytes | int]) -> bytes:
    """gzip of the pieces, an int meaning that many zero bytes, compressed as it streams (no big buffer)."""
    packer, out = zlib.compressobj(9, zlib.DEFLATED, 31), []
    for part in parts:
        if isinstance(part, int):
            chunk = bytes(MB)
            for _ in range(part // MB):
                out.append(packer.compress(chunk))
        else:
            out.append(packer.compress(part))
    return b"".join([*out, packer.flush()])


def header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.GNU_FORMAT)  # sizes past 8 GB in base 256


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_tgz_bomb_is_refused_at_its_header_before_its_data_is_inflated():
    bomb = zeros_gz([header("bomb/zeros.png", 300 * MB), 300 * MB, bytes(1024)])  # 300 MB of zeros in 300 kB
    assert len(bomb) < 400_000
    tracemalloc.start()
    with pytest.raises(ImageSetError, match="unpacks to more than 200 MB"):
        read_images([("bomb.tgz", bomb)], limits=uploadsets.limits())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * MB, peak
    claimed = header("x.png", 10**11) + b"\0" * 1024  # a header claiming 100 GB, and no data at all
    with pytest.raises(ImageSetError, match="unpacks to more than"):
        read_images([("claim.tar", claimed)], limits=uploadsets.limits())


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_forged_extended_header_is_never_read_into_memory():
    """tarfile reads a pax or long-name header whole: 96 MB of one, in 100 kB, would sit in memory at once."""
    forged = zeros_gz([header("././@PaxHeader", 96 * MB, tarfile.XHDTYPE), 96 * MB, header("a/0.png", 0), bytes(1024)])
    tracemalloc.start()
    with pytest.raises(ImageSetError, match="No images found"):
        read_images([("forged.tgz", forged)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * MB, peak


def many_files_zip(count: int) -> bytes:
    """A real zip64 of `count` empty members named 'c/x.png' (built directly: zipfile takes seconds for this)."""
    name = b"c/x.png"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    central = [
        struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, i * len(local))
        + name
        for i in range(count)
    ]
    body, directory = local * count, b"".join(central)
    at = len(body) + len(directory)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), len(body))
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + directory + record + locator + end


def many_files_tgz(count: int) -> bytes:
    """A real .tgz of `count` empty members (one header each, all alike: a tar may repeat a name)."""
    return zeros_gz([header("c/x.png", 0) * count, bytes(1024)])


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_hundred_thousand_tiny_files_trip_a_bound_early(monkeypatch):
    tar = many_files_tgz(100_000)
    with pytest.raises(ImageSetError, match="holds more than 5,000 images"):
        read_images([("tiny.tgz", tar)], limits=uploadsets.limits(), headers_only=True)
    monkeypatch.setenv("AEVIZ_FOLDER_MAX_FILES", "100")  # a server archive: the folder settings
    with pytest.raises(ImageSetError, match=r"holds more than 100 images.*AEVIZ_FOLDER_MAX_FILES"):
        read_images([("tiny.tgz", tar)], headers_only=True)
    zipped = many_files_zip(100_000)
    assert central_directory(io.BytesIO(zipped)) == (100_000, 100_000 * 53)  # a real zip64 end record
    tracemalloc.start()
    with pytest.raises(ImageSetError, match="holds more than 20,000 files and folders"):
        read_images([("tiny.zip", zipped)], limits=uploadsets.limits(), headers_only=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * MB, peak  # refused from its end record: its 100,000 entries were never parsed


def test_a_zip_bomb_member_is_cut_off_at_the_per_picture_cap():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.png", bytes(50 * MB))  # 50 MB of zeros in 50 kB
    tracemalloc.start()
    with pytest.raises(ImageSetError, match="None of the 1 image files"):
        read_images([("bomb.zip", buffer.getvalue())], limits=uploadsets.limits())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 12 * MB, peak


@pytest.fixture(scope="module")
def black_20mp() -> bytes:
    """A 20-megapixel black PNG: 20 kB to send, 20 MB (and about 0.2 s) to decode."""
    buffer = io.BytesIO()
    Image.new("L", (5000, 4000), 0).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    """How many pictures Pillow actually decoded."""
    count: list[int] = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (self.tile and count.append(1)) or real(self))
    return count


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_decode_bombs_are_counted_from_their_headers_and_refused_before_decoding(black_20mp, decodes):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(400):
            archive.writestr(f"black/{i}.png", black_20mp)
    bomb = buffer.getvalue()
    assert len(bomb) < 200_000  # 8,000 megapixels in an upload of 0.2 MB
    with pytest.raises(ImageSetError, match="more than 200 megapixels"):
        read_images([("bomb.zip", bomb)], limits=uploadsets.limits(), headers_only=True)
    assert decodes == []  # the survey: headers only
    with pytest.raises(ImageSetError, match="more than 200 megapixels"):
        read_images([("bomb.zip", bomb)], limits=uploadsets.limits())
    assert len(decodes) == 10  # the job: 10 of 20 megapixels fit the budget; the 11th is refused from its header


def test_cancel_time_and_pixels_bound_a_server_archive(tmp_path, monkeypatch):
    path = tmp_path / "set.tar.gz"
    path.write_bytes(tar_of([(f"c/{i}.png", png(i)) for i in range(30)]))
    with pytest.raises(ImageSetError, match="Stopped while reading"):
        read_images(path, stop=lambda: True)
    with pytest.raises(ImageSetError, match=r"took longer than -1 s.*AEVIZ_FOLDER_MAX_S"):
        read_images(path, limits=dataclasses.replace(Limits.from_env(), seconds=-1))
    monkeypatch.setenv("AEVIZ_FOLDER_MAX_MEGAPIXELS", "0.005")  # 12 pictures of 400 pixels
    with pytest.raises(ImageSetError, match=r"more than 0 megapixels.*AEVIZ_FOLDER_MAX_MEGAPIXELS"):
        read_images(path)
    monkeypatch.setenv("AEVIZ_FOLDER_MAX_MB", "0.001")
    with pytest.raises(ImageSetError, match=r"unpacks to more than 0 MB.*AEVIZ_FOLDER_MAX_MB"):
        read_images(path)


def test_unreadable_members_are_skipped_and_counted_and_a_truncated_tar_keeps_what_came_before():
    members = [(f"c/{i}.png", png(10 * i)) for i in range(4)] + [("c/fake.png", b"text, not a picture")]
    whole = tar_of(members, "w")
    with tarfile.open(fileobj=io.BytesIO(whole)) as archive:
        third = archive.getmembers()[2]
    found = read_images([("set.tar", whole[: third.offset_data + 10])])  # cut inside the third picture
    assert len(found) == 2 and "archives damaged part-way ignored" in found.source
    found = read_images([("set.tar", whole)])
    assert len(found) == 4 and "1 unreadable files skipped" in found.source


def test_a_folder_with_a_device_and_a_pipe_reads_neither(tmp_path):
    import os

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "0.png").write_bytes(png(10))
    os.mkfifo(tmp_path / "c" / "pipe.png")  # reading it would block forever
    os.symlink("/dev/zero", tmp_path / "c" / "zero.png")  # a device outside the folder
    found = read_images(tmp_path)
    assert len(found) == 1 and "1 links to outside the folder ignored" in found.source
    assert "1 not regular files ignored" in found.source


@pytest.mark.slow
def test_the_offline_cifar10_archive_reads_through_the_same_path():
    path = Path("/work/shared/data/CIFAR10/cifar10-jpeg.tar.gz")
    if not path.exists():
        pytest.skip("the offline CIFAR-10 archive is not on this machine")
    found = read_images(path, size=32, channels=3, limits=Limits(100_000, 60_000, 1024, 600, 4000))
    assert found.images.shape == (60_000, 3, 32, 32) and len(found.classes) == 10
    assert int(found.test.sum()) == 10_000
    train, labels = found.split("train")
    assert np.bincount(labels).tolist() == [5000] * 10
    mean = train.reshape(len(train), 3, -1).mean(axis=(0, 2)) / 255
    assert np.allclose(mean, [0.491, 0.482, 0.447], atol=0.002)  # /work/shared/README.md's figures
