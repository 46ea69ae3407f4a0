"""Upload decoding and MNIST-style preprocessing: a bad-file corpus, awkward-but-valid formats, geometry."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile

from aeviz.images import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    ImageError,
    Preprocessed,
    canvas_to_image,
    compact,
    load_uploads,
    open_image,
    preprocess,
    step_pictures,
)

# ---------------------------------------------------------------- builders: every file is made here


def seven(size=(90, 110), at=(12, 10), ink=0, paper=255, mode="L") -> Image.Image:
    """An asymmetric, off-centre '7' (so a wrong rotation or flip shows), dark ink on light paper."""
    img = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(img)
    x, y = at
    draw.line([(x, y), (x + 40, y)], fill=ink, width=7)
    draw.line([(x + 40, y), (x + 15, y + 60)], fill=ink, width=7)
    draw.line([(x + 14, y + 30), (x + 36, y + 30)], fill=ink, width=5)
    return img


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int, full: bool = False) -> bytes:
    """A 1-bit PNG header for width x height; with `full`, a complete all-zero (a few kB) image body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    raw = zlib.compress(b"\0" * ((width + 7) // 8 + 1) * height, 9) if full else zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b"")


def noisy_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    return encode(Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)), "JPEG", quality=95)


def paper(rng: np.random.Generator, shape=(300, 400)) -> np.ndarray:
    """Unevenly lit, slightly noisy white paper, as a phone photo shows it (floats in [0,1])."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]] / shape[0]
    return np.clip(0.92 - 0.18 * xs + 0.06 * ys + rng.normal(0, 0.03, shape), 0, 1)  # light falls off


def blank_paper_photo() -> bytes:
    grey = paper(np.random.default_rng(5))
    return encode(Image.fromarray(np.round(grey * 255).astype(np.uint8)), "JPEG", quality=90)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(a.shape)
    return float((ys * a).sum() / a.sum()), float((xs * a).sum() / a.sum())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def prep(data: bytes, name: str = "upload") -> Preprocessed:
    return preprocess(open_image(data, name), name=name)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return prep(encode(seven(), "PNG")).image


# ---------------------------------------------------------------- geometry and the MNIST conventions


def test_output_is_float32_in_unit_range_with_labelled_steps():
    out = prep(encode(seven(), "PNG"), "seven.png")
    assert out.image.shape == (28, 28) and out.image.dtype == np.float32
    assert out.image.min() >= 0 and out.image.max() == pytest.approx(1.0)
    assert out.name == "seven.png"
    labels = [label for label, _ in out.steps]
    assert len(labels) >= 5 and all(isinstance(label, str) and label for label in labels)
    assert any("Crop" in label for label in labels) and any("Centred" in label for label in labels)
    for _, arr in out.steps:
        assert arr.dtype == np.float32 and arr.ndim == 2 and arr.min() >= 0 and arr.max() <= 1
    assert out.steps[-1][1] is out.image


def test_off_centre_blob_is_centred_by_mass():
    img = Image.new("L", (120, 100), 255)
    ImageDraw.Draw(img).ellipse([5, 4, 35, 60], fill=0)  # far in the top-left corner
    ImageDraw.Draw(img).rectangle([30, 50, 50, 58], fill=0)  # lopsided, so mass centre != box centre
    cy, cx = centre_of_mass(prep(encode(img, "PNG")).image)
    assert 13.5 <= cy <= 14.5 and 13.5 <= cx <= 14.5


def test_dark_on_light_is_inverted_and_light_on_dark_is_not():
    dark_on_light = prep(encode(seven(), "PNG"))
    light_on_dark = prep(encode(seven(ink=255, paper=0), "PNG"))
    assert dark_on_light.inverted and not light_on_dark.inverted
    assert similarity(dark_on_light.image, light_on_dark.image) > 0.99
    assert dark_on_light.image[0, 0] == 0 and light_on_dark.image[0, 0] == 0  # black background, as MNIST


def apple(background=(255, 255, 255), radius=70, side=200) -> bytes:
    """A colour photo of an apple: a red disc with a bright highlight and a brown stalk, as JPEG."""
    img = Image.new("RGB", (side, side), background)
    draw, c = ImageDraw.Draw(img), side // 2
    draw.ellipse([c - radius, c - radius, c + radius, c + radius], fill=(200, 30, 30))  # grey 0.32
    draw.ellipse([c - radius // 2, c - radius // 2, c - radius // 5, c - radius // 5], fill=(255, 245, 245))
    draw.rectangle([c - 3, c - radius - 15, c + 3, c - radius + 5], fill=(90, 60, 20))
    return encode(img, "JPEG", quality=90)


@pytest.mark.parametrize(
    "background",
    [(255, 255, 255), (150, 150, 150), (115, 115, 115), (140, 100, 60)],
    ids=["white", "light grey", "mid grey", "wooden table"],
)
def test_an_apple_darker_than_its_background_is_inverted_into_a_light_disc(background):
    """The ink is the side of the border's level that holds more, not whatever is lightest (the highlight)."""
    out = prep(apple(background))
    assert out.inverted
    flipped = out.steps[1][1]
    h, w = flipped.shape
    assert flipped[h // 2 + 20, w // 2 + 20] > flipped[3, 3] + 0.08  # the apple's body is the lighter
    assert np.mean(out.image > 0.2) > 0.25  # the whole disc, not the highlight alone
    assert any("does not look like a digit" in note for note in out.notes)


def test_an_apple_on_black_is_already_light_ink_and_also_flagged():
    out = prep(apple((0, 0, 0)))
    assert not out.inverted and any("does not look like a digit" in note for note in out.notes)


def test_an_object_running_off_the_edges_is_flagged():
    out = prep(apple(radius=130))  # the apple fills the frame: only the corners are background
    assert any("border is not a plain background" in note for note in out.notes)


def test_digits_get_no_notes():
    strokes = Image.new("L", (400, 300), 0)
    ImageDraw.Draw(strokes).line([(210, 90), (290, 90), (240, 210)], fill=255, width=14)
    photo = paper(np.random.default_rng(3)) * (1 - 0.8 * np.asarray(strokes) / 255)
    cases = [
        encode(seven(), "PNG"),
        encode(seven(ink=255, paper=0), "PNG"),
        encode(Image.fromarray(np.round(photo * 255).astype(np.uint8)), "JPEG", quality=90),
    ]
    for data in cases:
        assert prep(data).notes == ()
    zero = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(zero).ellipse([6, 4, 21, 23], outline=255, width=4)  # a bold MNIST-sized '0'
    assert preprocess(zero, mnist_style=False).notes == ()
    blob = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(blob).ellipse([6, 4, 21, 23], fill=255)  # the same size, filled: no strokes at all
    assert "solid shape" in preprocess(blob, mnist_style=False).notes[0]


def test_aspect_ratio_is_kept_for_a_tall_thin_bar():
    img = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(img).rectangle([30, 20, 39, 79], fill=0)  # 10 wide, 60 high
    out = prep(encode(img, "PNG")).image
    rows, cols = np.flatnonzero((out > 0.1).any(axis=1)), np.flatnonzero((out > 0.1).any(axis=0))
    assert 19 <= rows[-1] - rows[0] + 1 <= 21
    assert cols[-1] - cols[0] + 1 <= 6


def test_photo_of_a_digit_on_unevenly_lit_noisy_paper():
    strokes = Image.new("L", (400, 300), 0)
    draw = ImageDraw.Draw(strokes)
    draw.line([(210, 90), (290, 90)], fill=255, width=14)
    draw.line([(290, 90), (240, 210)], fill=255, width=14)
    draw.line([(238, 150), (282, 150)], fill=255, width=10)
    photo = paper(np.random.default_rng(7)) * (1 - 0.8 * np.asarray(strokes) / 255)  # grey pencil
    out = prep(encode(Image.fromarray(np.round(photo * 255).astype(np.uint8)), "JPEG", quality=90)).image
    clean = preprocess(strokes).image  # the same strokes, perfectly scanned
    assert np.median(out) == 0 and out.max() == pytest.approx(1.0)
    assert np.count_nonzero(out) < 0.3 * out.size
    assert out[clean < 0.05].sum() < 0.03 * out.sum()  # the ink mass sits where the strokes are
    assert similarity(out, clean) > 0.97
    cy, cx = centre_of_mass(out)
    assert 13.5 <= cy <= 14.5 and 13.5 <= cx <= 14.5


def test_plain_mode_only_greyscales_inverts_and_resizes():
    mnist_like = np.zeros((28, 28), np.uint8)
    mnist_like[6:22, 12:16] = 255
    out = preprocess(open_image(encode(Image.fromarray(mnist_like), "PNG")), mnist_style=False)
    assert not out.inverted and len(out.steps) == 3
    np.testing.assert_allclose(out.image, mnist_like / 255, atol=1e-5)
    small = preprocess(seven(), mnist_style=False, size=8)
    assert small.inverted and small.image.shape == (8, 8) and small.image.dtype == np.float32


def test_other_sizes_scale_the_box():
    out = preprocess(seven(), size=8).image  # scikit-learn digits: a 6x6 box (20/28 of 8) in 8x8
    rows = np.flatnonzero(out.any(axis=1))
    assert out.shape == (8, 8) and rows[-1] - rows[0] + 1 == 6
    cy, cx = centre_of_mass(out)
    assert 3.5 <= cy <= 4.5 and 3.5 <= cx <= 4.5


# ---------------------------------------------------------------- bad files: each gets a helpful message

BAD = {
    "empty": (lambda: b"", "empty"),
    "text renamed .png": (lambda: b"Hello, this is my homework.\nDigit: 7\n" * 20, "text"),
    "truncated PNG": (
        lambda: encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)), "PNG")[
            :1500
        ],
        "damaged or incomplete",
    ),
    "truncated JPEG": (lambda: noisy_jpeg()[: len(noisy_jpeg()) // 2], "damaged or incomplete"),
    "bomb 6000x6000 (real file)": (lambda: png_claiming(6000, 6000, full=True), "36 megapixels"),
    "bomb past Pillow's warning": (lambda: png_claiming(10_000, 10_000), "far beyond the 20-megapixel"),
    "bomb past Pillow's error": (lambda: png_claiming(20_000, 20_000), "far beyond the 20-megapixel"),
    "SVG": (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "SVG"),
    "HEIC": (lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200, "HEIC"),
    "AVIF": (lambda: b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + b"\0" * 200, "AVIF"),
    "PDF": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    "over-size upload": (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_UPLOAD_BYTES, "limit is 5 MB"),
    "1x1 image": (lambda: encode(Image.new("L", (1, 1), 0), "PNG"), "at least 8 pixels"),
    "random bytes": (lambda: bytes(np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8)), "isn't an image"),
    "all white": (lambda: encode(Image.new("RGB", (64, 64), "white"), "PNG"), "No ink found"),
    "all black": (lambda: encode(Image.new("L", (64, 64), 0), "JPEG"), "No ink found"),
    "photo of blank paper": (blank_paper_photo, "No ink found"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_files_are_rejected_with_a_helpful_message(case):
    make, fragment = BAD[case]
    with pytest.raises(ImageError, match=fragment):
        prep(make(), "digit.png")


def test_rejections_leave_pillow_globals_alone():
    limit = Image.MAX_IMAGE_PIXELS
    for make, _ in BAD.values():
        load_uploads([("x.png", make())])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False and limit == Image.MAX_IMAGE_PIXELS
    assert limit is None or limit > MAX_PIXELS


def test_renamed_text_names_the_misleading_extension():
    with pytest.raises(ImageError, match=r"ends in \.png"):
        open_image(b"just some notes\n", "digit.png")


# ---------------------------------------------------------------- awkward but valid: all give the same digit


def sixteen_bit_png() -> bytes:
    grey = np.asarray(seven(), dtype=np.uint16) * 257  # 0..65535: clipping at 255 would leave it blank
    assert grey.max() == 65535
    return encode(Image.fromarray(grey), "PNG")


def rgba_transparent() -> bytes:
    img = seven(mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))  # black on transparent black
    return encode(img, "PNG")


def animated_gif() -> bytes:
    second = Image.new("L", (90, 110), 255)
    ImageDraw.Draw(second).ellipse([50, 50, 85, 105], fill=0)
    return encode(seven(), "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def exif_rotated_jpeg() -> bytes:
    stored = seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display": undoes the counter-clockwise ROTATE_90 above
    return encode(stored, "JPEG", quality=95, exif=exif)


GOOD = {
    "CMYK JPEG": lambda: encode(
        seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)).convert("CMYK"), "JPEG", quality=95
    ),
    "16-bit PNG": sixteen_bit_png,
    "1-bit PNG": lambda: encode(seven().convert("1", dither=Image.Dither.NONE), "PNG"),
    "palette PNG": lambda: encode(
        seven(mode="RGB", ink=(20, 20, 160), paper=(250, 240, 120)).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=4
        ),
        "PNG",
    ),
    "RGBA transparent background": rgba_transparent,
    "animated GIF": animated_gif,
    "EXIF-rotated JPEG": exif_rotated_jpeg,
    "WebP": lambda: encode(seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)), "WEBP", quality=90),
    "BMP": lambda: encode(seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)), "BMP"),
    "TIFF (2 pages, LZW)": lambda: encode(
        seven(), "TIFF", compression="tiff_lzw", save_all=True, append_images=[Image.new("L", (90, 110), 128)]
    ),
}


@pytest.mark.parametrize("case", GOOD, ids=list(GOOD))
def test_awkward_but_valid_files_give_the_same_centred_digit(case, reference):
    out = prep(GOOD[case](), case)
    assert out.inverted
    assert out.image.max() == pytest.approx(1.0) and out.image.sum() > 30
    cy, cx = centre_of_mass(out.image)
    assert 13.5 <= cy <= 14.5 and 13.5 <= cx <= 14.5
    assert similarity(out.image, reference) > 0.9


@pytest.mark.parametrize("paper", [(255, 255, 255, 0), (0, 0, 0, 0)], ids=["transparent white", "transparent black"])
def test_a_white_digit_on_a_transparent_background_is_found(paper, reference):
    """Composited on white, a white digit vanished ("No ink found"): the paper is the strokes' opposite."""
    out = prep(encode(seven(mode="RGBA", ink=(255, 255, 255, 255), paper=paper), "PNG"), "white on transparent")
    assert not out.inverted  # light ink on the dark paper it now lies on, as MNIST's
    assert similarity(out.image, reference) > 0.9


def test_open_image_returns_a_loaded_detached_first_frame():
    img = open_image(animated_gif())
    assert getattr(img, "n_frames", 1) == 1 and img.size == (90, 110)
    assert np.asarray(img.convert("L"))[10, 30] < 128  # the 7's top bar, not the second frame's ellipse


# ---------------------------------------------------------------- batch uploads, canvas, downloads


def test_load_uploads_splits_good_and_bad_without_raising():
    files = [
        ("a.png", encode(seven(), "PNG")),
        ("notes.png", b"not an image\n"),
        ("empty.jpg", b""),
        ("b.jpg", encode(seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)), "JPEG")),
        ("cut.jpg", noisy_jpeg()[:700]),
    ]
    good, bad = load_uploads(files)
    assert [p.name for p in good] == ["a.png", "b.jpg"]
    assert [name for name, _ in bad] == ["notes.png", "empty.jpg", "cut.jpg"]
    assert all(isinstance(msg, str) and msg for _, msg in bad)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about some damage it skips
def test_load_uploads_survives_corrupted_files():
    rng = np.random.default_rng(11)
    originals = [encode(seven(), fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")]
    files = []
    for i in range(120):
        blob = bytearray(originals[i % len(originals)])
        for pos in rng.integers(0, len(blob), 1 + i % 4):
            blob[pos] = int(rng.integers(0, 256))
        files.append((f"f{i}", bytes(blob[: len(blob) - int(rng.integers(0, 40))])))
    good, bad = load_uploads(files)
    assert len(good) + len(bad) == len(files)


@pytest.mark.parametrize("background", ["transparent", "opaque"])
@pytest.mark.parametrize("stroke", [(0, 0, 0), (255, 255, 255), (230, 30, 60)])
def test_canvas_strokes_become_ink(background, stroke, reference):
    alpha = np.asarray(seven(ink=255, paper=0), dtype=np.uint8)
    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    if background == "opaque":  # a coloured canvas fill, with the stroke painted over it
        fill = (30, 30, 30) if stroke == (255, 255, 255) else (238, 238, 238)
        rgba[...] = (*fill, 255)
        rgba[alpha > 0, :3] = stroke
    else:
        rgba[..., :3] = stroke
        rgba[..., 3] = alpha
    out = preprocess(canvas_to_image(rgba)).image
    assert similarity(out, reference) > 0.95


def test_blank_canvas_asks_for_a_drawing():
    with pytest.raises(ImageError, match="No ink found"):
        preprocess(canvas_to_image(np.zeros((200, 200, 4), np.uint8)))


def test_module_imports_with_numpy_and_pillow_only():
    path = Path(__file__).resolve().parent.parent / "aeviz" / "images.py"
    code = (
        "import sys, importlib.util as u; sys.modules['torch'] = sys.modules['streamlit'] = None; "
        f"s = u.spec_from_file_location('images', {str(path)!r}); m = u.module_from_spec(s); "
        "sys.modules['images'] = m; s.loader.exec_module(m); print(m.ALLOWED_FORMATS)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------- keeping and showing the preprocessing stages


def test_compact_shrinks_big_stages_and_keeps_the_digit():
    big = preprocess(seven(size=(900, 1100), at=(120, 100)), name="big")  # worked on at 512 px
    small = compact(big, side=160)
    assert small.image is big.image and small.name == "big" and small.inverted == big.inverted
    assert compact(prep(apple())).notes == prep(apple()).notes != ()
    assert [label for label, _ in small.steps] == [label for label, _ in big.steps]
    assert max(max(a.shape) for _, a in small.steps) <= 160 < max(big.steps[0][1].shape)
    assert small.steps[-1][1].shape == (28, 28)  # small stages are kept as they are


def test_step_pictures_are_square_uint8_with_the_aspect_kept():
    out = preprocess(seven(size=(90, 110)))
    pictures = step_pictures(out, side=160)
    assert [label for label, _ in pictures] == [label for label, _ in out.steps]
    assert all(p.shape == (160, 160) and p.dtype == np.uint8 for _, p in pictures)
    cropped = dict(pictures)["Cropped to the ink"]
    assert (cropped == 128).any(axis=0).sum() > 0  # a tall crop leaves grey side bars, not a stretched digit
    final = pictures[-1][1]
    assert final[:5, :5].max() <= 128 and final.max() == 255  # 28x28 doubled up to 140 px, crisp
