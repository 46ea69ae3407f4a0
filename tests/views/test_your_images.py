"""Your images' back-end: wording per dataset, what preprocessing cost an upload, nearest test codes."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import colour_photo
from PIL import Image, ImageDraw

from aeviz import images
from aeviz.views import your_images as yours


def pencil_seven() -> Image.Image:
    img = Image.new("L", (90, 110), 255)
    ImageDraw.Draw(img).line([(20, 20), (70, 20), (35, 95)], fill=0, width=8)
    return img


@pytest.mark.parametrize(
    ("dataset", "channels", "noun"),
    [
        ("mnist", 1, "digit"),
        ("fashion-mnist", 1, "clothing item"),
        ("cifar10", 3, "photo"),
        ("folder:/x", 3, "picture"),
    ],
)
def test_the_wording_follows_the_dataset(dataset, channels, noun):
    say = yours.wording(dataset, channels)
    assert say["title"] == f"Your images: how unusual is your {noun}?"
    assert ("MNIST-style" in say["prep"]) == (channels == 1 and noun != "picture")
    assert ("centre-cropped" in say["prep"]) == (channels == 3 or noun == "picture")
    if noun != "digit":
        assert "digit" not in " ".join(say.values())


def test_a_colour_photo_on_a_grey_digit_model_is_told_what_it_lost():
    photo = images.preprocess(colour_photo(), mnist_style=True)
    assert photo.colourful and photo.photo.shape == (images.PHOTO_SIDE, images.PHOTO_SIDE, 3)
    note = yours.conversion_note(photo, "mnist", 1, mnist_style=True)
    assert note is not None and "colour picture, not a digit" in note and "colours (turned grey)" in note
    assert "as it is" in note
    assert yours.conversion_note(photo, "cifar10", 3, mnist_style=False) is None  # a colour model sees it whole
    seven = images.preprocess(pencil_seven(), mnist_style=True)
    assert not seven.colourful and not seven.notes
    assert yours.conversion_note(seven, "mnist", 1, mnist_style=True) is None  # a digit-like scan: nothing to say
    grey_on_colour = yours.conversion_note(seven, "cifar10", 3, mnist_style=False)
    assert grey_on_colour is not None and "grey in all three channels" in grey_on_colour


def test_a_colour_model_sees_the_centre_square_resized_and_the_steps_say_so():
    photo = images.preprocess(colour_photo((300, 200)), mnist_style=True)
    steps = images.photo_steps(photo, 32)
    assert [label for label, _ in steps] == [
        "Your picture (300 x 200)",
        "Centre-cropped to 200 x 200",
        "Resized to 32 x 32",
    ]
    assert steps[0][1].shape == (107, 160, 3) and steps[2][1].shape == (32, 32, 3)
    batch = images.photo_batch([photo], (3, 32, 32))
    assert batch.shape == (1, 3, 32, 32) and batch.dtype == np.float32
    centre = batch[0, :, 16, 16]
    assert centre[1] > centre[0] and centre[1] > centre[2]  # the green disc, not squashed or greyed
    assert batch[0, 2, 1, 0] < 0.5  # the blue square at the far left was cropped away (300 -> 200 wide)
    grey = images.photo_batch([photo], (1, 28, 28))
    assert grey.shape == (1, 1, 28, 28)
    pictures = images.step_pictures(photo, steps=steps)
    assert all(p.shape == (160, 160, 3) for _, p in pictures)


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "P", "RGBA", "LA", "1"])
def test_every_pillow_mode_gives_an_rgb_square(mode):
    img = colour_photo((80, 60)).convert("RGBA" if mode in ("RGBA", "LA") else "RGB")
    deep = Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257)  # 16-bit grey, as a PNG holds it
    img = deep if mode == "I;16" else img.convert(mode)
    square, whole, _ = images.photo_of(img)
    assert square.shape == (images.PHOTO_SIDE, images.PHOTO_SIDE, 3) and square.dtype == np.uint8
    assert whole.shape[2] == 3 and square.std() > 5  # the picture survived, not a flat frame


def test_nearest_and_vote():
    codes = np.array([[0.0, 0], [1, 0], [5, 5], [0.2, 0], [9, 9], [0.1, 0.1], [3, 3], [2, 2]])
    found = yours.nearest(codes, np.array([0.0, 0.0]), k=7)
    assert found.tolist() == [0, 5, 3, 1, 7, 6, 2]
    labels = np.array([2, 1, 1, 2, 0, 1, 2])
    votes = yours.vote(labels, ["zero", "one", "two"])
    assert votes == [("two", 3), ("one", 3), ("zero", 1)]  # a tie goes to the nearer neighbour's class
    assert yours.vote_sentence(votes, 7) == "**two** (3 of 7), then one 3, zero 1"
