"""The user's own training images: bounded folder scans, links, unreadable files, splits, crops and colour."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from aeviz import imagesets
from aeviz.data import DatasetUnavailable, load_dataset
from aeviz.imagesets import ImageSetError, Limits, read_images, scan_folder


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


def test_a_folder_is_read_once_for_both_splits(tmp_path, monkeypatch):
    picture_folder(tmp_path)
    calls = []
    real = imagesets.read_images
    monkeypatch.setattr(imagesets, "read_images", lambda *a, **k: calls.append(1) or real(*a, **k))
    load_dataset(f"folder:{tmp_path}", "train")
    load_dataset(f"folder:{tmp_path}", "test")
    assert len(calls) == 1


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_uploaded_files_and_a_zip_read_as_one_set_classes_from_the_folders():
    members = {f"{cls}/{i}.png": png(40 * i) for cls in ("cat", "dog") for i in range(6)}
    members["notes.txt"] = b"ignored: not an image name"
    members["cat/broken.png"] = b"not a png"
    found = read_images([("pets.zip", zipped(members)), ("x.png", png(9))], what="your upload")
    assert found.images.shape == (13, 1, 28, 28) and found.images.dtype == np.uint8
    assert found.classes == ("all", "cat", "dog") and found.test is None
    assert found.skipped == (("cat/broken.png", "not an image that can be read here"),)
    assert "1 unreadable files skipped" in found.source and "1 not named like a picture ignored" not in found.source
    train, test = found.split("train"), found.split("test")
    assert len(train[0]) + len(test[0]) == 13 and len(test[0]) == 3


def test_train_and_test_folders_give_the_split_and_the_class_is_the_folder_below_them(tmp_path):
    for split, count in (("train", 6), ("test", 2)):
        picture_folder(tmp_path / "set" / split, count, ("cat", "dog"))
    picture_folder(tmp_path / "set" / "extra", 3, ("cat",))  # neither train/ nor test/: not used
    found = read_images(tmp_path / "set")
    assert found.classes == ("cat", "dog") and len(found) == 8 and int(found.test.sum()) == 2
    assert "3 pictures outside train/ and test/ ignored" in found.source
    images, labels = found.split("test")
    assert images.shape == (2, 1, 28, 28) and sorted(labels.tolist()) == [0, 1]
    assert len(folder_split_of(tmp_path / "set", "train")[0]) == 6


def folder_split_of(path, split):
    return imagesets.folder_split(str(path), split)


def test_colour_is_kept_and_a_wide_picture_is_centre_cropped_not_squashed(tmp_path):
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20] = (255, 0, 0)  # red left third, green middle, blue right: only the middle survives a crop
    wide[:, 20:40] = (0, 255, 0)
    wide[:, 40:] = (0, 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, format="PNG")
    found = read_images([("wide.png", buffer.getvalue())], size=10, channels=3)
    picture = found.images[0]
    assert picture.shape == (3, 10, 10) and picture[1].min() > 240 and picture[0].max() < 15 and picture[2].max() < 15
    grey = read_images([("wide.png", buffer.getvalue())], size=10)
    assert grey.images.shape == (1, 1, 10, 10) and abs(int(grey.images[0, 0, 5, 5]) - 150) < 3  # green's luma
    with pytest.raises(ValueError, match="channels"):
        read_images([("wide.png", buffer.getvalue())], channels=2)


@pytest.mark.parametrize("name", ["upload:../../etc/passwd", "upload:", "upload:0123456789abcdeg"])
def test_an_upload_name_cannot_point_anywhere_else(name):
    with pytest.raises(DatasetUnavailable, match="not the name of an uploaded training set"):
        load_dataset(name, "test")


def test_an_archive_on_the_server_is_a_dataset_like_a_folder(tmp_path, monkeypatch):
    import tarfile

    from aeviz.jobs import setup

    picture_folder(tmp_path / "set" / "train", 8, ("cat", "dog"))
    picture_folder(tmp_path / "set" / "test", 4, ("cat", "dog"))
    archive = tmp_path / "pets.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "set", arcname="pets")
    monkeypatch.setenv("AEVIZ_TRAIN_FOLDERS", str(tmp_path))
    name = setup.folder_dataset(str(archive))
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert (
        (len(train), len(test)) == (8, 4) and train.classes == ("cat", "dog") and train.images.shape[1:] == (1, 28, 28)
    )
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a folder or an archive"):
        setup.folder_dataset(str(tmp_path / "notes.txt"))
