"""The user's own training images: bounded folder scans, links, unreadable files, and uploaded sets."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from aeviz import imagesets
from aeviz.data import DatasetUnavailable, load_dataset
from aeviz.imagesets import ImageSetError, Limits, images_from_uploads, save_upload_set, scan_folder


def png(value: int = 128, size: tuple[int, int] = (20, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, value).save(buffer, format="PNG")
    return buffer.getvalue()


def picture_folder(root, count: int = 10, classes=("a", "b")):
    for i in range(count):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(png(20 * i % 256))
    return root


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    picture_folder(tmp_path)
    for i in range(5):  # text files named like pictures, added after training
        (tmp_path / "a" / f"notes{i}.png").write_text("not a picture")
    train, test = load_dataset(f"folder:{tmp_path}", "train"), load_dataset(f"folder:{tmp_path}", "test")
    assert len(train) + len(test) == 10 and train.classes == ("a", "b")
    assert "5 unreadable files skipped" in train.source


def test_a_folder_of_nothing_readable_says_so(tmp_path):
    (tmp_path / "x.png").write_text("text")
    with pytest.raises(DatasetUnavailable, match="None of the 1 image files"):
        load_dataset(f"folder:{tmp_path}", "train")


def test_links_never_reach_outside_the_folder(tmp_path):
    inside, outside = picture_folder(tmp_path / "mine", 4), picture_folder(tmp_path / "theirs", 6, ("secret",))
    os.symlink("/etc/passwd", inside / "passwd.png")
    os.symlink(outside / "secret" / "0.png", inside / "stolen.png")
    os.symlink(outside, inside / "linked-folder")  # a linked folder is not followed
    os.symlink(inside / "a" / "0.png", inside / "alias.png")  # a link that stays inside is fine
    files, skipped = scan_folder(inside, Limits.from_env())
    assert skipped == 2 and all(str(outside) not in str(f.resolve()) for f in files) and len(files) == 5
    data = load_dataset(f"folder:{inside}", "train")
    assert "secret" not in data.classes and "2 links to outside the folder ignored" in data.source


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AEVIZ_FOLDER_MAX_FILES", "5", "more than 5 images"),
        ("AEVIZ_FOLDER_MAX_ENTRIES", "8", "more than 8 files and folders"),
        ("AEVIZ_FOLDER_MAX_MB", "0.0001", "take more than 0 MB"),
    ],
)
def test_a_folder_scan_is_bounded(tmp_path, monkeypatch, variable, value, message):
    picture_folder(tmp_path, 12)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ImageSetError, match=message):
        scan_folder(tmp_path, Limits.from_env())


def test_a_folder_is_scanned_once_for_both_splits(tmp_path, monkeypatch):
    picture_folder(tmp_path)
    calls = []
    real = imagesets.scan_folder
    monkeypatch.setattr(imagesets, "scan_folder", lambda *a, **k: calls.append(1) or real(*a, **k))
    load_dataset(f"folder:{tmp_path}", "train")
    load_dataset(f"folder:{tmp_path}", "test")
    assert len(calls) == 1


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_uploaded_zip_becomes_a_training_set_of_this_server(tmp_path):
    members = {f"{cls}/{i}.png": png(40 * i) for cls in ("cat", "dog") for i in range(6)}
    members["notes.txt"] = b"ignored: not an image name"
    members["cat/broken.png"] = b"not a png"
    images, labels, classes, skipped = images_from_uploads([("pets.zip", zipped(members)), ("x.png", png(9))])
    assert images.shape == (13, 28, 28) and images.dtype == np.uint8 and classes == ("all", "cat", "dog")
    assert skipped == [("cat/broken.png", "not an image that can be read here")]
    name = save_upload_set(images, labels, classes)
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert name.startswith("upload:") and len(train) + len(test) == 13 and train.classes == classes


def test_a_zip_bomb_or_a_foreign_file_costs_nothing():
    bomb = zipped({"big.png": b"\0" * (50 * 2**20)})  # 50 MB of zeros in ~50 kB
    images, _, _, skipped = images_from_uploads([("bomb.zip", bomb), ("fake.zip", b"PK no zip")])
    assert len(images) == 0 and [why for _, why in skipped] == [
        "beyond 200 MB unpacked or over 5 MB",
        "not a zip archive that can be read",
    ]


@pytest.mark.parametrize("name", ["upload:../../etc/passwd", "upload:", "upload:0123456789abcdeg"])
def test_an_upload_name_cannot_point_anywhere_else(name):
    with pytest.raises(DatasetUnavailable, match="not the name of an uploaded training set"):
        load_dataset(name, "test")
