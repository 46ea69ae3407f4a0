"""The Your images page in AppTest: uploads (good and bad) through the real file_uploader, the toggle, removal."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from apptest import run_page
from PIL import Image, ImageDraw
from test_images import apple, encode, paper, png_claiming, seven

from aeviz import images, projection, ui

pytestmark = pytest.mark.slow  # AppTest runs over the whole zoo (every model rebuilds each upload)

PAGE = "pages/your_images.py"
STORE = "aeviz_user_images"


def photo_of_a_two() -> bytes:
    """A phone-photo-like '2': grey pencil on unevenly lit, noisy, warm paper, saved as JPEG."""
    strokes = Image.new("L", (400, 300), 0)
    draw = ImageDraw.Draw(strokes)
    draw.arc([150, 50, 250, 150], 200, 20, fill=255, width=14)
    draw.line([(246, 115), (160, 240)], fill=255, width=14)
    draw.line([(160, 240), (260, 240)], fill=255, width=14)
    grey = paper(np.random.default_rng(7)) * (1 - 0.8 * np.asarray(strokes) / 255)
    rgb = np.stack([grey, grey * 0.97, grey * 0.9], axis=-1)
    return encode(Image.fromarray(np.round(rgb * 255).astype(np.uint8)), "JPEG", quality=88)


BAD = {  # name -> (bytes, a fragment of the message the user must see)
    "homework.png": (b"Dear teacher, here is my digit: 7\n" * 10, "contains text"),
    "empty.jpg": (b"", "empty"),
    "cut.png": (encode(seven(), "PNG")[:300], "damaged or incomplete"),
    "bomb.png": (png_claiming(20_000, 20_000), "megapixel"),
    "drawing.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "SVG"),
    "IMG_0001.heic": (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200, "HEIC"),
    "scan.pdf": (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    "dot.png": (encode(Image.new("L", (1, 1), 0), "PNG"), "at least 8 pixels"),
    "white.png": (encode(Image.new("RGB", (64, 64), "white"), "PNG"), "No ink found"),
    "huge.png": (b"\x89PNG\r\n\x1a\n" + b"\0" * images.MAX_UPLOAD_BYTES, "limit is 5 MB"),
}


def marked(k: int, mode: str = "L") -> Image.Image:
    """A '7' with a small mark at a k-dependent place, so no two uploads preprocess to the same picture."""
    img = seven(mode=mode, ink=(0, 0, 0) if mode == "RGB" else 0, paper=(255, 255, 255) if mode == "RGB" else 255)
    ImageDraw.Draw(img).rectangle([16 + 6 * k, 52, 19 + 6 * k, 55], fill=(0, 0, 0) if mode == "RGB" else 0)
    return img


GOOD = {  # awkward but valid files: each one becomes an image
    "photo.jpg": photo_of_a_two(),
    "cmyk.jpg": encode(marked(1, "RGB").convert("CMYK"), "JPEG", quality=95),
    "deep.png": encode(Image.fromarray(np.asarray(marked(2), dtype=np.uint16) * 257), "PNG"),
    "onebit.png": encode(marked(3).convert("1", dither=Image.Dither.NONE), "PNG"),
    "anim.gif": encode(marked(4), "GIF", save_all=True, append_images=[Image.new("L", (90, 110), 0)]),
}


def upload(at, files: dict[str, bytes]):
    at.file_uploader(key="w_you_upload").set_value(
        [(name, data, "application/octet-stream") for name, data in files.items()]
    )
    return at.run()


@pytest.fixture
def uploaded():
    at = run_page(PAGE, {"dataset": "mnist"})
    assert [i.value for i in at.info][-1].startswith("Upload an image or draw")
    return upload(at, {**GOOD, **{name: data for name, (data, _) in BAD.items()}})


def test_every_bad_file_gets_its_own_clear_warning_and_good_ones_proceed(uploaded):
    at = uploaded
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value.replace("\\", "") for w in at.warning]  # names are shown with markdown escaped
    for name, (_, fragment) in BAD.items():
        mine = [w for w in warnings if w.startswith(f"**{name}**")]
        assert len(mine) == 1 and fragment in mine[0], (name, warnings)
    assert len(warnings) == len(BAD)
    assert [p.name for p in at.session_state[STORE]] == list(GOOD)
    assert at.selectbox(key="w_you_pick").value == len(GOOD) - 1  # the newest is studied


def test_the_image_is_rebuilt_by_every_model_with_percentile_and_rank(uploaded):
    at = uploaded
    at.selectbox(key="w_you_pick").set_value(0).run()  # the photo
    assert not at.exception
    steps = [img for img in at.get("image") if img.proto.imgs and img.proto.imgs[0].caption]
    captions = [i.proto.imgs[0].caption for i in steps]
    assert captions[0] == "Greyscale" and any("Centred by mass" in c for c in captions)
    summary = next(m.value for m in at.markdown if m.value.startswith("Least surprised"))
    assert "more unusual than" in summary and "rank" in summary and "of 10,001" in summary
    assert len(at.get("plotly_chart")) == 2  # percentiles per model, and the latent map with stars
    placed = next(c.value for c in at.caption if c.value.startswith("Your images are placed"))
    assert "projected onto the PCA plane" in placed and "no measure of how unusual" in placed
    kept = ui.find_map(at.selectbox(key="w_you_map_model").value, "pca").kept_variance
    assert f"keeps {100 * kept:.0f} % of their variance" in placed
    at.radio(key="w_you_map_method").set_value("umap").run()  # the zoo ships its UMAP maps: no job
    placed = next(c.value for c in at.caption if c.value.startswith("Your images are placed"))
    assert f"of the {projection.NEIGHBOURS} test codes nearest" in placed and "not by UMAP's own transform" in placed
    assert "the error percentile (left) is" in placed


def test_a_photo_unlike_a_digit_is_said_to_be_one_under_its_steps():
    at = upload(run_page(PAGE, {"dataset": "mnist"}), {"apple.jpg": apple((115, 115, 115))})
    assert not at.exception
    (item,) = at.session_state[STORE]
    assert item.inverted  # the red apple is darker than its grey table: it is the ink, not its highlight
    notes = [w.value for w in at.warning]
    assert len(notes) == 2 and notes[0].startswith("This does not look like a digit")
    assert notes[1].startswith("This is a colour picture, not a digit") and "colours (turned grey)" in notes[1]
    summary = next(m.value for m in at.markdown if m.value.startswith("Least surprised"))
    assert summary.count("(the picture as it is: **") == 2  # the raw percentile beside the preprocessed one
    upload(at, {"photo.jpg": photo_of_a_two()})
    assert at.selectbox(key="w_you_pick").value == 1 and not at.warning  # a digit, now studied, gets no note


def test_turning_preprocessing_off_keeps_only_the_plain_steps():
    at = run_page(PAGE, {"dataset": "mnist", "you_prep": "0"})
    assert at.toggle(key="w_you_prep").value is False
    mnist_like = np.zeros((28, 28), np.uint8)
    mnist_like[6:22, 12:16] = 255
    upload(at, {"one.png": encode(Image.fromarray(mnist_like), "PNG")})
    (item,) = at.session_state[STORE]
    assert len(item.steps) == 3 and not item.inverted
    np.testing.assert_allclose(item.image, mnist_like / 255, atol=1e-5)
    at.toggle(key="w_you_prep").set_value(True).run()  # the same upload, now also MNIST-style
    assert len(at.session_state[STORE]) == 2 and len(at.session_state[STORE][1].steps) > 3
    assert at.query_params["you_prep"] in ("1", ["1"])


def test_removing_images_and_other_sessions_never_see_them(uploaded, isolated_dirs):
    other = run_page(PAGE, {"dataset": "mnist"})  # a second browser session on the same server
    assert STORE not in other.session_state or not other.session_state[STORE]
    assert other.info and not other.warning
    photo = GOOD["photo.jpg"][1000:1064]
    assert not any(photo in p.read_bytes() for p in isolated_dirs.rglob("*") if p.is_file())  # never on disk
    at = uploaded
    before = len(at.session_state[STORE])
    next(b for b in at.button if b.label == "Remove it").click().run()
    assert len(at.session_state[STORE]) == before - 1
    next(b for b in at.button if b.label == "Remove all").click().run()
    assert not at.session_state[STORE] and at.info and not at.exception


def test_images_sent_from_other_pages_show_up_without_steps_on_digits():
    at = run_page(PAGE, {"dataset": "digits"})
    at.session_state[STORE] = [images.Preprocessed(np.eye(28, dtype=np.float32), (), False, "sent")]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("sent from another page" in c.value for c in at.caption)
    assert "of 361" in next(m.value for m in at.markdown if m.value.startswith("Least surprised"))


def test_an_empty_canvas_asks_for_a_drawing():
    at = run_page(PAGE, {"dataset": "mnist"})
    next(b for b in at.button if "drawing" in b.label).click().run()
    assert not at.exception and any("Draw a digit" in w.value for w in at.warning)


def test_without_the_canvas_package_uploads_still_work(monkeypatch):
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", None)  # as if it were not installed
    at = run_page(PAGE, {"dataset": "mnist"})
    assert not at.exception and any("streamlit-drawable-canvas" in i.value for i in at.info)
    upload(at, {"photo.jpg": GOOD["photo.jpg"]})
    assert [p.name for p in at.session_state[STORE]] == ["photo.jpg"] and not at.exception
