"""Text drawn into composed pictures: theme panels, font sizes that grow with the cells, cached glyphs."""

from __future__ import annotations

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


def panel(theme: str | None) -> tuple[int, int]:
    """(background, ink) grey levels for "light" or "dark"; anything else (None: unknown) is light."""
    return PANELS["dark" if theme == "dark" else "light"]


def caption_px(cell_h: int) -> int:
    return max(12, round(cell_h * CAPTION_RATIO))


def fitted_caption_px(cell_h: int, room: int, texts) -> int:
    """caption_px, made smaller only where the longest caption would not fit in `room` pixels."""
    size = caption_px(cell_h)
    widest = max([font(size).getlength(str(t)) for t in texts] + [0.0])
    return size if widest <= room else max(10, int(size * room / widest))


def label_px(cell_h: int) -> int:
    return max(14, round(cell_h * LABEL_RATIO))


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
    cover = _caption(str(text), size)[:, :width]
    left = max(mid - cover.shape[1] // 2, 0)
    region = canvas[top : top + cover.shape[0], left : left + cover.shape[1]]
    cover = cover[: region.shape[0], : region.shape[1]].astype(np.int32)
    if region.ndim == 3:
        cover = cover[..., None]
    ink = panel(theme)[1]
    region[...] = region + ((ink - region.astype(np.int32)) * cover + 127) // 255
