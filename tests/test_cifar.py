"""CIFAR-10 readers on small generated files: both official layouts, image-folder trees and archives, and
hostile pickles refused without running anything."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import warnings

import numpy as np
import pytest
import torch
from fakes import cifar_arrays, py2_cifar_batch, write_cifar_bin, write_cifar_py
from PIL import Image

from aeviz import cifar, data
from aeviz.data import DatasetUnavailable, available_datasets, load_dataset

TRAIN, TEST = cifar_arrays(15, 0), cifar_arrays(6, 1)


def test_the_fake_batch_is_what_numpy_itself_unpickles():
    """The generated py2 batch is real: plain pickle (which runs numpy) reads the same arrays as the allow-list."""
    blob = py2_cifar_batch(*TEST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core: numpy 2's alias of numpy._core
        trusted = pickle.loads(blob, encoding="bytes")
    assert isinstance(trusted[b"data"], np.ndarray) and trusted[b"data"].shape == (6, 3072)
    np.testing.assert_array_equal(trusted[b"data"].reshape(-1, 3, 32, 32), TEST[0])


@pytest.mark.parametrize("writer", [write_cifar_py, write_cifar_bin])
def test_official_layouts_read_both_splits(tmp_path, writer):
    folder = writer(tmp_path, TRAIN, TEST)
    for split, (images, labels) in (("train", TRAIN), ("test", TEST)):
        got_images, got_labels = cifar.read_batches(folder, split)
        assert got_images.dtype == np.uint8 and got_images.shape == (len(labels), 3, 32, 32)
        np.testing.assert_array_equal(got_images, images)  # R, G, B planes of 1024 each, rows in order
        np.testing.assert_array_equal(got_labels, labels)


def test_a_batch_re_pickled_by_numpy_2_is_read_too(tmp_path):
    folder = write_cifar_py(tmp_path, TRAIN, TEST)
    batch = {"data": TEST[0].reshape(6, -1), "labels": TEST[1].tolist(), "batch_label": "testing batch 1 of 1"}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))  # numpy._core.multiarray._reconstruct
    images, labels = cifar.read_batches(folder, "test")
    np.testing.assert_array_equal(images, TEST[0])
    np.testing.assert_array_equal(labels, TEST[1])


class _Reduce:
    """Pickles as call(argument): what a hostile file makes the unpickler do."""

    def __init__(self, call, argument):
        self.call, self.argument = call, argument

    def __reduce__(self):
        return (self.call, (self.argument,))


@pytest.mark.parametrize("call", [os.system, eval, exec])
def test_a_hostile_pickle_is_refused_without_running(tmp_path, call):
    folder = write_cifar_py(tmp_path, TRAIN, TEST)
    marker = tmp_path / "pwned"
    command = f"touch {marker}" if call is os.system else f"__import__('os').system('touch {marker}')"
    hostile = {"data": _Reduce(call, command), "labels": [0]}
    (folder / "test_batch").write_bytes(pickle.dumps(hostile, protocol=2))
    with pytest.raises(cifar.CifarError, match=r"test_batch: it asks to run (posix|__builtin__)\.(system|eval|exec)"):
        cifar.read_batches(folder, "test")
    assert not marker.exists()


def test_load_dataset_reports_a_hostile_batch_as_a_clear_error(tmp_path, monkeypatch):
    folder = write_cifar_py(tmp_path, TRAIN, TEST)  # torchvision's root: the data dir itself
    marker = tmp_path / "pwned"
    (folder / "test_batch").write_bytes(pickle.dumps({"data": _Reduce(os.system, f"touch {marker}")}, protocol=2))
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="CIFAR-10 could not be read: test_batch: it asks to run posix.system"):
        load_dataset("cifar10", "test")
    assert not marker.exists()


def test_an_object_array_a_foreign_dtype_or_persistent_ids_are_refused(tmp_path):
    folder = write_cifar_py(tmp_path, TRAIN, TEST)
    for value, why in (
        (np.array([None, 1], dtype=object), "dtype"),
        (np.zeros((6, 3072), np.float32), "dtype"),
        (np.zeros((6, 100), np.uint8), r"\(N, 3072\) byte array"),
    ):
        (folder / "test_batch").write_bytes(pickle.dumps({"data": value, "labels": [0] * 6}, protocol=4))
        with pytest.raises(cifar.CifarError, match=why):
            cifar.read_batches(folder, "test")

    class Persistent(pickle.Pickler):
        def persistent_id(self, obj):
            return "outside" if obj == "x" else None

    buffer = io.BytesIO()
    Persistent(buffer, protocol=2).dump({"data": "x"})
    (folder / "test_batch").write_bytes(buffer.getvalue())
    with pytest.raises(cifar.CifarError, match="persistent"):
        cifar.read_batches(folder, "test")


def test_damaged_batches_say_what_is_wrong(tmp_path):
    folder = write_cifar_py(tmp_path, TRAIN, TEST)
    blob = py2_cifar_batch(*TEST)
    (folder / "test_batch").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(cifar.CifarError, match="not a readable CIFAR-10 batch"):
        cifar.read_batches(folder, "test")
    (folder / "test_batch").write_bytes(py2_cifar_batch(TEST[0], np.array([0, 1, 2, 3, 4, 11])))
    with pytest.raises(cifar.CifarError, match="class numbers from 0 to 9"):
        cifar.read_batches(folder, "test")
    (folder / "data_batch_3").unlink()
    with pytest.raises(cifar.CifarError, match="lacks data_batch_3"):
        cifar.read_batches(folder, "train")
    binary = write_cifar_bin(tmp_path, TRAIN, TEST)
    (binary / "test_batch.bin").write_bytes(b"\x00" * 3074)
    with pytest.raises(cifar.CifarError, match="whole number of 3073-byte"):
        cifar.read_batches(binary, "test")


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.transpose(1, 2, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def _image_tar(path, members: dict[str, bytes], extra=()) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
        for info in extra:
            archive.addfile(info)


def _tree_members(prefix: str = "cifar10-png/") -> dict[str, bytes]:
    return {
        f"{prefix}{split}/{cifar.CLASSES[label]}/{i:04d}.png": _png(images[i])
        for split, (images, labels) in (("train", TRAIN), ("test", TEST))
        for i, label in enumerate(labels)
    }


def _sorted_by_class(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((np.arange(len(labels)), labels))
    return images[order], labels[order]


def test_an_image_folder_archive_reads_each_split_through_the_user_archive_reader(tmp_path):
    link = tarfile.TarInfo("cifar10-png/test/cat/link.png")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    members = {
        **_tree_members(),
        "cifar10-png/test/cat/big.png": _png(np.full((3, 40, 64), 200, np.uint8)),  # centre-cropped, resized
        "cifar10-png/test/cat/broken.png": b"not a png",  # unreadable: skipped and counted
        "../test/cat/escape.png": _png(TEST[0][0]),  # a name leading out of the tree: passed over
    }
    archive = tmp_path / "cifar10-png.tar.gz"
    _image_tar(archive, members, [link])
    images, labels = cifar._cifar_from_archive(archive, "test")
    assert images.shape == (len(TEST[1]) + 1, 3, 32, 32)
    assert sorted(labels.tolist()) == sorted([*TEST[1].tolist(), cifar.CLASSES.index("cat")])
    resized = [a for a in images if (a == 200).all()]
    assert len(resized) == 1  # the 40x64 picture, cropped to its centre square and resized to 32x32
    ours = {a.tobytes() for a in images}
    assert {a.tobytes() for a in TEST[0]} <= ours  # PNG: the pixels exactly
    train, _ = cifar._cifar_from_archive(archive, "train")
    assert {a.tobytes() for a in train} == {a.tobytes() for a in TRAIN[0]}
    again, _ = cifar._cifar_from_archive(archive, "test")
    np.testing.assert_array_equal(again, images)  # a fixed order, whatever the archive's


def test_cifar_archives_are_read_by_the_same_reader_as_a_users(tmp_path, monkeypatch):
    from aeviz import imagesets

    calls = []
    real = imagesets.read_images
    monkeypatch.setattr(cifar, "read_images", lambda *a, **k: calls.append(k) or real(*a, **k))
    archive = tmp_path / "c.tar.gz"
    _image_tar(archive, _tree_members())
    cifar._cifar_from_archive(archive, "test")
    assert calls and calls[0]["limits"] == cifar.LIMITS and calls[0]["channels"] == 3


def test_an_archive_without_images_or_not_an_archive_or_foreign_classes_says_so(tmp_path):
    empty = tmp_path / "empty.tar.gz"
    _image_tar(empty, {"readme.txt": b"hello"})
    with pytest.raises(cifar.CifarError, match="No images found"):
        cifar._cifar_from_archive(empty, "test")
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(cifar.CifarError, match="bogus.tar.gz"):
        cifar._cifar_from_archive(bogus, "test")
    unicorn = tmp_path / "unicorn.tar.gz"
    _image_tar(unicorn, {**_tree_members(), "c/test/unicorn/0000.png": _png(TEST[0][0])})
    with pytest.raises(cifar.CifarError, match="not CIFAR-10's: unicorn"):
        cifar._cifar_from_archive(unicorn, "test")
    flat = tmp_path / "flat.tar.gz"
    _image_tar(flat, {"c/cat/0.png": _png(TEST[0][0]), "c/dog/0.png": _png(TEST[0][1])})
    with pytest.raises(cifar.CifarError, match="no train/ and test/"):
        cifar._cifar_from_archive(flat, "test")


@pytest.mark.parametrize("layout", ["py", "bin", "tree", "archive"])
def test_load_dataset_finds_each_layout_under_the_data_dir(tmp_path, monkeypatch, layout):
    root = tmp_path / "CIFAR10"
    if layout == "py":
        write_cifar_py(root, TRAIN, TEST)
    elif layout == "bin":
        write_cifar_bin(root, TRAIN, TEST)
    elif layout == "archive":
        root.mkdir()
        _image_tar(root / "cifar10-png.tar.gz", _tree_members())
    else:
        for name, blob in _tree_members().items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(blob)
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path))
    data.allow_downloads(False)
    try:
        assert available_datasets()["cifar10"] is None
        test = load_dataset("cifar10", "test")
    finally:
        data.allow_downloads(True)
    assert test.shape == (3, 32, 32) and test.classes[3] == "cat" and len(test) == 6
    assert test.images.dtype == torch.float32 and test.images.min() >= 0 and test.images.max() <= 1
    expected = torch.from_numpy(TEST[0].astype(np.float32) / 255)
    if layout in ("py", "bin"):
        assert torch.equal(test.images, expected) and test.labels.tolist() == TEST[1].tolist()
    else:  # sorted by class, then shuffled with a fixed seed
        assert sorted(test.labels.tolist()) == sorted(TEST[1].tolist())
        assert {a.numpy().tobytes() for a in test.images} == {a.numpy().tobytes() for a in expected}
    assert layout in test.source or ("batches" in test.source and layout in ("py", "bin"))
    assert load_dataset("cifar10", "train").images.shape == (15, 3, 32, 32)


def test_missing_cifar_names_every_way_and_downloads_only_when_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "empty"))
    tried = []

    def offline(root):
        tried.append(root)
        raise OSError("network is unreachable")

    monkeypatch.setattr(cifar, "download", offline)
    assert available_datasets()["cifar10"] is not None
    data.allow_downloads(False)
    try:
        with pytest.raises(DatasetUnavailable, match="does not download it") as info:
            load_dataset("cifar10", "test")
    finally:
        data.allow_downloads(True)
    assert not tried and "cifar-10-batches-py" in str(info.value) and "AEVIZ_DATA_DIR" in str(info.value)
    with pytest.raises(DatasetUnavailable, match=r"could not be downloaded \(OSError\)"):
        load_dataset("cifar10", "test")
    assert tried == [data.download_dir() / "CIFAR10"]


def test_other_sets_beside_cifar_in_the_data_root_are_not_taken_for_it(tmp_path, monkeypatch):
    """The data root is shared: an image-folder tree or archive there is some other set; only CIFAR10/ holds one."""
    for name, blob in _tree_members("imagenette/").items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(blob)
    _image_tar(tmp_path / "photos.tar.gz", _tree_members())
    assert cifar.find_source([tmp_path / "CIFAR10", tmp_path]) is None
    write_cifar_bin(tmp_path, TRAIN, TEST)  # torchvision's root holding the official batches: those are CIFAR-10
    assert cifar.find_source([tmp_path / "CIFAR10", tmp_path]) == tmp_path / "cifar-10-batches-bin"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_hostile_archive_in_the_cifar10_folder_is_one_clear_message(tmp_path, monkeypatch):
    """The CIFAR-10 path is the user's archive path: a .tgz bomb is refused from its header, with the reader's
    message, and the app's dataset loader turns it into DatasetUnavailable (a sidebar message, no traceback)."""
    from test_archives import MB, header, zeros_gz

    from aeviz.data import DatasetUnavailable, load_dataset

    root = tmp_path / "CIFAR10"
    root.mkdir()
    (root / "cifar10.tgz").write_bytes(zeros_gz([header("c/test/cat/0.png", 2048 * MB), 2048 * MB, bytes(1024)]))
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="unpacks to more than 1,024 MB"):
        load_dataset("cifar10", "test")
    assert sorted(p.name for p in root.iterdir()) == ["cifar10.tgz"]  # nothing was extracted beside it
