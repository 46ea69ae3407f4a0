"""Datasets: offline digits, IDX parsing (.gz and raw), the resolution order and the clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import write_idx

from aeviz import data
from aeviz.data import DatasetUnavailable, load_dataset, read_idx


def test_digits_offline_shapes_and_range():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape[1:] == (1, 8, 8) and train.images.dtype == torch.float32
    assert len(train) + len(test) == 1797
    assert float(train.images.min()) >= 0.0 and float(train.images.max()) == pytest.approx(1.0)
    assert set(train.labels.tolist()) == set(range(10)) and train.classes[3] == "3"


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_roundtrip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "x-idx3-ubyte", array, gz)
    assert np.array_equal(read_idx(path), array)


def test_read_idx_rejects_truncated(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.ones((5, 4, 4), np.uint8), gz=False)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_data_dir_gz_and_extracted(fake_mnist_root, monkeypatch):
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(fake_mnist_root))
    mnist = load_dataset("mnist", "train")  # gzipped files
    fashion = load_dataset("fashion-mnist", "test")  # extracted files
    assert mnist.images.shape == (120, 1, 28, 28) and fashion.images.shape == (40, 1, 28, 28)
    assert fashion.classes[0] == "T-shirt/top" and fashion.classes[9] == "Ankle boot"
    raw = read_idx(fake_mnist_root / "MNIST/raw/train-images-idx3-ubyte.gz")
    assert torch.equal(mnist.images[:, 0], torch.from_numpy(raw.copy()).float() / 255)


def test_second_load_uses_cache(fake_mnist_root, monkeypatch):
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(fake_mnist_root))
    first = load_dataset("mnist", "test")
    for f in (fake_mnist_root / "MNIST/raw").iterdir():
        f.unlink()  # the cache must now answer alone
    second = load_dataset("mnist", "test")
    assert torch.equal(first.images, second.images)


def test_missing_dataset_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")

    def offline(name):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_torchvision_download", offline)
    with pytest.raises(DatasetUnavailable) as info:
        data.DATASETS["fashion-mnist"].loader("train")
    message = str(info.value)
    assert "AEVIZ_DATA_DIR" in message and "dataset-fashion-mnist" in message and "download" in message
    status = data.available_datasets()
    assert status["digits"] is None and status["mnist"] is not None


def test_folder_dataset_any_size(tmp_path):
    from PIL import Image

    for cls, colour in (("cats", 30), ("dogs", 220)):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.new("RGB", (40 + i, 17), (colour, colour, colour)).save(tmp_path / cls / f"{i}.png")
    train = load_dataset(f"folder:{tmp_path}", "train")
    test = load_dataset(f"folder:{tmp_path}", "test")
    assert train.images.shape[1:] == (1, 28, 28) and len(train) + len(test) == 10
    assert train.classes == ("cats", "dogs")


def test_unknown_dataset_and_split():
    with pytest.raises(KeyError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="split"):
        load_dataset("digits", "validation")


def test_a_damaged_file_is_a_clear_dataset_error(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    for split, n in (("train", 20), ("t10k", 10)):
        write_idx(raw / f"{split}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8), gz=False)
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.zeros(n, np.uint8), gz=False)
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:500])  # cut off mid-image
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path))
    assert data.available_datasets()["mnist"] is None  # present: found without parsing
    with pytest.raises(DatasetUnavailable, match="damaged"):
        load_dataset("mnist", "test")


@pytest.mark.parametrize(("tag", "shape"), [("@rgb32", (3, 32, 32)), ("@grey64", (1, 64, 64)), ("@rgb64", (3, 64, 64))])
def test_a_folder_dataset_is_read_at_the_format_its_name_gives(tmp_path, tag, shape):
    from PIL import Image

    for cls, colour in (("red", (220, 10, 10)), ("blue", (10, 10, 220))):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.new("RGB", (80 + i, 50), colour).save(tmp_path / cls / f"{i}.png")
    name = f"folder{tag}:{tmp_path}"
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert train.images.shape[1:] == shape and len(train) + len(test) == 10 and train.name == name
    if shape[0] == 3:  # the colour is kept: a red picture's red channel is high, its blue low
        red = train.images[train.labels == train.classes.index("red")]
        assert red[:, 0].min() > 0.8 and red[:, 2].max() < 0.1
    with pytest.raises(DatasetUnavailable, match="pixels square"):
        load_dataset(f"folder@rgb48:{tmp_path}", "train")
