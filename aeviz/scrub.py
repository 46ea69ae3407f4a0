"""Many frames of one labelled image grid, composed at once for a scrub slider that runs in the browser."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .figures import TEXT, compose_grid, to_uint8

PAD = 2
WHITE_L = 255


def cell_scale(height: int, target: int = 84) -> int:
    """An integer upscale that shows a cell about `target` pixels tall: 3 for 28x28, 10 for 8x8."""
    return max(1, round(target / max(int(height), 1)))


def grey(images) -> np.ndarray:
    """(...,C,H,W) -> (...,H,W): the channel mean, so colour datasets still compose into grey cells."""
    a = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    return a[..., 0, :, :] if a.shape[-3] == 1 else a.mean(axis=-3)


def _frame_rows(rows: Sequence) -> tuple[list[np.ndarray], int]:
    """Rows as uint8, (F,N,H,W) when they change per frame or (N,H,W) when fixed, and the frame count F."""
    cells = [to_uint8(r) for r in rows]
    if any(c.ndim not in (3, 4) for c in cells):
        raise ValueError(f"rows must be (N,H,W) or (F,N,H,W), got {[c.shape for c in cells]}")
    counts = {len(c) for c in cells if c.ndim == 4}
    if len(counts) > 1:
        raise ValueError(f"rows disagree on the number of frames: {sorted(counts)}")
    return cells, counts.pop() if counts else 1


@lru_cache(maxsize=8)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pillow < 10.1
        return ImageFont.load_default()


@lru_cache(maxsize=512)
def _glyph(char: str, size: int) -> np.ndarray:
    """One character in the caption font on a shared baseline, (h, advance + 2) uint8, dark on white."""
    font = _font(size)
    width = max(1, int(np.ceil(font.getlength(char))))
    height = int(font.getbbox("Agjy|0.9", anchor="la")[3])
    canvas = Image.new("L", (width + 2, height), WHITE_L)
    ImageDraw.Draw(canvas).text((0, 0), char, fill=TEXT[0], font=font, anchor="la")
    return np.asarray(canvas)


@lru_cache(maxsize=4096)
def _caption(text: str, size: int) -> np.ndarray:
    """A caption from cached glyphs, cropped at its ink top (where compose_grid's anchor 'mt' puts it).

    PIL draws each character once instead of every caption of every frame.
    """
    font = _font(size)
    glyphs = [_glyph(c, size) for c in text]
    lefts = np.round(np.cumsum([0.0] + [font.getlength(c) for c in text[:-1]])).astype(int)
    out = np.full((glyphs[0].shape[0], int(lefts[-1]) + glyphs[-1].shape[1]), WHITE_L, np.uint8)
    for left, g in zip(lefts, glyphs, strict=True):
        np.minimum(out[:, left:left + g.shape[1]], g, out=out[:, left:left + g.shape[1]])
    top = int(font.getbbox(text, anchor="la")[1])
    return out[max(top, 0):]


def compose_frames(rows: Sequence, *, row_labels: Sequence[str] | None = None, cell_labels=None,
                   scale: int = 3) -> np.ndarray:
    """Frames (F,H',W') uint8 grey, frame f laid out like figures.compose_grid of every row's f-th entry.

    Each row is (F,N,H,W) (it changes from frame to frame) or (N,H,W) (the same in every frame), floats in
    [0,1] or uint8 (grey: drop the channel axis first). `cell_labels[f][r][c]` is the caption under cell
    (r, c) of frame f. The labels and fixed rows are drawn once; per frame only the changing cells and the
    captions are pasted, so 21 frames cost a few milliseconds instead of 21 full compositions.
    """
    cells, frames = _frame_rows(rows)
    blank = [[""] * c.shape[-3] for c in cells] if cell_labels is not None else None
    template = compose_grid([c if c.ndim == 3 else c[0] for c in cells], row_labels=row_labels,
                            cell_labels=blank, scale=scale, pad=PAD)[..., 0]
    h, w = cells[0].shape[-2:]
    ch, cw, n_cols = h * scale, w * scale, max(c.shape[-3] for c in cells)
    label_w = template.shape[1] - n_cols * (cw + PAD) - PAD
    row_h = (template.shape[0] - PAD) // len(cells)  # ch + caption height + pad, from the documented layout
    out = np.repeat(template[None], frames, axis=0)  # (F,H',W')
    for r, row in enumerate(cells):
        if row.ndim == 3:
            continue  # already drawn in the template
        big = row.repeat(scale, axis=2).repeat(scale, axis=3)  # (F,N,ch,cw)
        top = PAD + r * row_h
        for c in range(row.shape[1]):
            left = label_w + PAD + c * (cw + PAD)
            out[:, top:top + ch, left:left + cw] = big[:, c]
    if cell_labels is not None:
        _paste_captions(out, cell_labels, (ch, cw, row_h, label_w))
    return out


def _paste_captions(out: np.ndarray, cell_labels, layout) -> None:
    ch, cw, row_h, label_w = layout
    size = int(np.clip(ch // 7, 10, 14))  # the caption size compose_grid uses
    for f, frame_labels in enumerate(cell_labels):
        for r, texts in enumerate(frame_labels):
            top = PAD + r * row_h + ch + 1
            for c, text in enumerate(texts):
                if not text:
                    continue
                cap = _caption(str(text), size)[:, :cw + PAD]
                mid = label_w + PAD + c * (cw + PAD) + cw // 2
                left = max(mid - cap.shape[1] // 2, 0)
                region = out[f, top:top + cap.shape[0], left:left + cap.shape[1]]
                np.minimum(region, cap[:region.shape[0], :region.shape[1]], out=region)
