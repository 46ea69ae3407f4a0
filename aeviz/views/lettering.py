"""Text drawn into composed pictures: theme panels, font sizes that grow with the cells, cached glyphs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Grey levels of a picture's label panel and its text. Light: the page's white; dark: a card a little
# lighter than Streamlit's dark page (#171614), so the black digit cells still stand apart. Text contrast:
# 15.9:1 on light, 12.9:1 on dark (WCAG AA asks 4.5:1).
PANELS = {"light": (255, 34), "dark": (40, 235)}
# Text size as a fraction of a cell's height: a picture shown smaller or larger keeps its text in
# proportion; the pages pick cells big enough that this is at least the body text size on screen.
CAPTION_RATIO, LABEL_RATIO = 0.21, 0.21


class Lettered(np.ndarray):
    """A composed picture that remembers the size of the smallest text drawn into it (font pixels), so that
    figures.png_bytes can record it in the PNG (the browser tests compare it with the page's type size)."""

    text_px: int | None = None

    def __array_finalize__(self, obj) -> None:
        self.text_px = getattr(obj, "text_px", None)


def lettered(picture: np.ndarray, sizes) -> np.ndarray:
    """`picture` as a Lettered array holding the smallest of `sizes` (font pixels); unchanged when there are none."""
    sizes = [int(s) for s in sizes if s]
    if not sizes:
        return picture
    before = getattr(picture, "text_px", None)
    out = np.asarray(picture).view(Lettered)
    out.text_px = min(sizes + ([before] if before else []))
    return out


def panel(theme: str | None) -> tuple[int, int]:
    """(background, ink) grey levels for "light" or "dark"; anything else (None: unknown) is light."""
    return PANELS["dark" if theme == "dark" else "light"]


def caption_px(cell_h: int) -> int:
    return max(12, round(cell_h * CAPTION_RATIO))


def fitted_caption_px(cell_h: int, room: int, texts, size: int | None = None) -> int:
    """caption_px, made smaller only where the longest caption would not fit in `room` pixels; a given `size`
    (the page's body type) is kept as it is, and a caption too long for its cell is shortened instead (clipped)."""
    if size:
        return size
    size = caption_px(cell_h)
    widest = max([font(size).getlength(str(t)) for t in texts] + [0.0])
    return size if widest <= room else max(10, int(size * room / widest))


def label_px(cell_h: int) -> int:
    return max(14, round(cell_h * LABEL_RATIO))


@dataclass(frozen=True)
class Fit:
    """Where a picture goes on the viewer's screen: at most `width` x `height` pixels (height None: as tall as
    it needs), its text `text_px` tall (the page's body type). Pages get one from ui.fit."""

    width: int
    height: int | None
    text_px: int
    cell_px: int = 112  # no image drawn larger than this

    def scale(self, image_hw: tuple[int, int], rows: int, cols: int, **layout) -> int:
        """fit_scale of a grid into this box."""
        most = max(1, self.cell_px // max(image_hw))
        return fit_scale(image_hw, rows, cols, (self.width, self.height), self.text_px, most=most, **layout)

    def shorter(self, pixels: int) -> Fit:
        """The same box less `pixels` of its height (room for a slider or a caption under the picture)."""
        height = None if self.height is None else max(self.height - pixels, 60)
        return Fit(self.width, height, self.text_px, self.cell_px)


def fit_scale(
    image_hw: tuple[int, int],
    rows: int,
    cols: int,
    box: tuple[int, int | None],
    text_px: int,
    *,
    row_labels=(),
    header: bool = False,
    captions: bool = True,
    pad: int = 2,
    most: int = 16,
) -> int:
    """The largest whole upscale (1..most) at which a compose_grid of rows x cols images of `image_hw`, with
    text of `text_px`, fits a box of (width, height) pixels (height None: any). Pictures are shown at the size
    they are composed, so this is the size on screen: a picture the browser shrinks blurs its text."""
    h, w = image_hw
    label_w = max([text_width(str(t), font(text_px)) for t in row_labels] + [0]) + 2 * pad + 8 if row_labels else 0
    line = text_height(font(text_px))
    head, under = (line + 2 * pad if header else 0), (line + 3 if captions else 0)
    width, height = box
    for scale in range(most, 1, -1):
        fits_w = label_w + cols * (w * scale + pad) + pad <= width
        if fits_w and (height is None or head + rows * (h * scale + under + pad) + pad <= height):
            return scale
    return 1


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pillow < 10.1: a fixed-size bitmap font
        return ImageFont.load_default()


def text_width(text: str, face) -> int:
    left, _, right, _ = face.getbbox(text)
    return int(right - left)


def text_height(face) -> int:
    """From the ascender line (where anchor 't' puts it) to the lowest descender."""
    return int(face.getbbox("Agjy|0.9", anchor="la")[3])


@lru_cache(maxsize=1024)
def _glyph(char: str, size: int) -> np.ndarray:
    """One character's ink coverage (0 none, 255 full) on a shared baseline, (h, advance + 2) uint8."""
    face = font(size)
    width = max(1, int(np.ceil(face.getlength(char))))
    canvas = Image.new("L", (width + 2, text_height(face)), 0)
    ImageDraw.Draw(canvas).text((0, 0), char, fill=255, font=face, anchor="la")
    return np.asarray(canvas)


@lru_cache(maxsize=4096)
def _caption(text: str, size: int) -> np.ndarray:
    """A caption's coverage built from cached glyphs, cropped at its ink top (where PIL's anchor 'mt' puts it).

    Captions are mostly numbers from a small alphabet: PIL draws each character once per process instead
    of every caption of every grid (11 ms of a 13x8 grid's 25 ms before).
    """
    face = font(size)
    glyphs = [_glyph(c, size) for c in text]
    lefts = np.round(np.cumsum([0.0] + [face.getlength(c) for c in text[:-1]])).astype(int)
    out = np.zeros((glyphs[0].shape[0], int(lefts[-1]) + glyphs[-1].shape[1]), np.uint8)
    for left, g in zip(lefts, glyphs, strict=True):
        np.maximum(out[:, left : left + g.shape[1]], g, out=out[:, left : left + g.shape[1]])
    top = int(face.getbbox(text, anchor="la")[1])
    return out[max(top, 0) :]


def paste_caption(
    canvas: np.ndarray, text: str, size: int, *, mid: int, top: int, width: int, theme: str | None = "light"
) -> None:
    """Blend `text` in the theme's ink into an (H,W) or (H,W,C) canvas, centred on column `mid` below `top`."""
    if not text:
        return
    cover = _caption(clipped(str(text), size, width), size)[:, :width]
    _blend(canvas, cover, max(mid - cover.shape[1] // 2, 0), top, theme)


def paste_label(
    canvas: np.ndarray, text: str, size: int, *, left: int, middle: int, width: int, theme: str | None = "light"
) -> None:
    """Blend a row label into a canvas from column `left`, its ink centred on row `middle`."""
    if not text:
        return
    cover = _caption(clipped(str(text), size, width), size)[:, :width]
    _blend(canvas, cover, left, max(middle - cover.shape[0] // 2, 0), theme)


def clipped(text: str, size: int, room: int) -> str:
    """`text`, shortened to end in "…" where it is wider than `room` pixels at `size` ("Ankle boot*" -> "Ankle…")."""
    face = font(size)
    if face.getlength(text) <= room:
        return text
    while len(text) > 1 and face.getlength(text + "…") > room:
        text = text[:-1]
    return text.rstrip() + "…"


def _blend(canvas: np.ndarray, cover: np.ndarray, left: int, top: int, theme: str | None) -> None:
    region = canvas[top : top + cover.shape[0], left : left + cover.shape[1]]
    cover = cover[: region.shape[0], : region.shape[1]].astype(np.int32)
    if region.ndim == 3:
        cover = cover[..., None]
    ink = panel(theme)[1]
    region[...] = region + ((ink - region.astype(np.int32)) * cover + 127) // 255
