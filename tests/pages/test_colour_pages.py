"""AppTest of every page on a colour dataset: a small CIFAR-10 (official binary layout) and a tiny colour zoo."""

from __future__ import annotations

import numpy as np
import pytest
from apptest import routed_pages, run_page
from fakes import write_cifar_bin, write_idx

from aeviz import cifar

COLOUR_ZOO = (
    ("conv", {"bottleneck": 8}),
    ("conv", {"bottleneck": 32}),
    ("vae", {"bottleneck": 8, "arch": "conv", "beta": 0.1}),
    ("denoising", {"bottleneck": 8, "arch": "conv", "noise": "gaussian:0.2"}),
)


def colour_photos(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,3,32,32) uint8 pictures whose mean colour follows the class, with a bright square somewhere: what a
    small conv net can learn in one epoch, so the pages have real structure to show."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(cifar.CLASSES), n).astype(np.uint8)
    hues = rng.uniform(40, 215, (len(cifar.CLASSES), 3))
    images = hues[labels][:, :, None, None] + rng.normal(0, 20, (n, 3, 32, 32))
    for i, (top, left) in enumerate(rng.integers(0, 24, (n, 2))):
        images[i, :, top : top + 8, left : left + 8] = 250
    return np.clip(images, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def colour_world(tmp_path_factory):
    """A data folder with CIFAR-10 (240 train / 80 test) and a small MNIST, and a zoo of colour models."""
    from aeviz.models import make_config
    from aeviz.train import TrainConfig, train

    data, zoo = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("zoo")
    write_cifar_bin(data / "CIFAR10", colour_photos(240, 0), colour_photos(80, 1))
    rng = np.random.default_rng(0)
    for split, n in (("train", 120), ("t10k", 40)):
        raw = data / "MNIST" / "raw"
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), True)
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8), True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEVIZ_DATA_DIR", str(data))
        mp.setenv("AEVIZ_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        for family, fields in COLOUR_ZOO:
            config = make_config(family, input_shape=(3, 32, 32), loss="mse", **fields)
            train(family, config, "cifar10", TrainConfig(epochs=1, batch_size=64, device="cpu"), out_dir=zoo)
    return data, zoo


@pytest.fixture
def on_colour(colour_world, monkeypatch):
    data, zoo = colour_world
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(data))
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(zoo))


@pytest.mark.parametrize("page", routed_pages())
def test_every_page_renders_on_cifar10(page, on_colour):
    at = run_page(page, {"dataset": "cifar10"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"
    assert at.query_params["dataset"] in ("cifar10", ["cifar10"])
    shown = " ".join(str(e.value) for e in (*at.markdown, *at.caption, *at.info, *at.warning))
    assert "digit" not in shown.replace("find the digit", ""), f"{page} speaks of digits on CIFAR-10"


def _photo():
    from fakes import colour_photo

    from aeviz import images

    return images.compact(images.preprocess(colour_photo(), mnist_style=True, name="garden.jpg"))


def test_your_images_on_cifar10_shows_the_colour_steps_and_which_class(on_colour):
    at = run_page("pages/your_images.py", {"dataset": "cifar10"}, own_images=[_photo()])
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Your images: how unusual is your photo?"
    assert not any("MNIST" in t.label for t in at.toggle)  # no digit steps offered for a colour model
    shown = " ".join(m.value for m in at.markdown)
    assert "Which class is it?" in " ".join(h.value for h in at.subheader)
    assert "nearest test photos are **" in shown and "by raw pixels **" in shown
    assert not at.warning, [w.value for w in at.warning]  # a colour photo on a colour model: nothing was lost


def test_a_colour_photo_on_the_digits_model_is_not_presented_as_an_ordinary_digit():
    at = run_page("pages/your_images.py", {"dataset": "digits"}, own_images=[_photo()])
    assert not at.exception, [e.value for e in at.exception]
    warned = " ".join(w.value for w in at.warning)
    assert "This is a colour picture, not a digit" in warned and "its colours (turned grey)" in warned
    least = next(m.value for m in at.markdown if m.value.startswith("Least surprised"))
    assert least.count("(the picture as it is: **") == 2
