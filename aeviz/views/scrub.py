"""Many frames of one labelled image grid, composed at once for a scrub slider that runs in the browser."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .figures import channels_last, compose_grid, scrub_figure, to_uint8
from .lettering import (
    fitted_caption_px,
    font,
    label_px,
    lettered,
    paste_caption,
    paste_label,
    text_height,
    text_width,
)

PAD = 2


def cell_scale(height: int, target: int = 84) -> int:
    """An integer upscale that shows a cell about `target` pixels tall: 3 for 28x28, 10 for 8x8."""
    return max(1, round(target / max(int(height), 1)))


def scrub_at(frames, *, labels: Sequence[str], start: int, prefix: str, text_px: int = 14):
    """A figures.scrub_figure opened at frame `start`, its slider's value shown large after `prefix`, its tick
    labels `text_px` tall (the page's type: pictures and slider read alike from the back row)."""
    fig = scrub_figure(frames, labels=labels, text_px=text_px)
    slider = fig.layout.sliders[0]
    slider.active = start
    slider.currentvalue.update(prefix=prefix, font=dict(size=round(text_px * 1.25)))
    fig.data[0].source = fig.frames[start].data[0].source  # what shows before the first drag
    return fig


def _frame_rows(rows: Sequence) -> tuple[list[np.ndarray], int, int]:
    """Rows as uint8, (F,N,C,H,W) when they change per frame or (N,C,H,W) when fixed; the frame count F and the
    channels of the composed picture (3 when any row is colour)."""
    cells = [to_uint8(r) for r in rows]
    if any(c.ndim not in (4, 5) or c.shape[-3] not in (1, 3) for c in cells):
        raise ValueError(f"rows must be (N,C,H,W) or (F,N,C,H,W) with C = 1 or 3, got {[c.shape for c in cells]}")
    counts = {len(c) for c in cells if c.ndim == 5}
    if len(counts) > 1:
        raise ValueError(f"rows disagree on the number of frames: {sorted(counts)}")
    return cells, counts.pop() if counts else 1, max(c.shape[-3] for c in cells)


def compose_frames(
    rows: Sequence,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_labels=None,
    scale: int = 3,
    theme: str | None = "light",
    text_px: int | None = None,
    frame_labels: Sequence[Sequence[str]] | None = None,
) -> np.ndarray:
    """Frames (F,H',W') uint8 grey, or (F,H',W',3) when any row is colour, frame f laid out like
    figures.compose_grid of every row's f-th entry.

    Each row is (F,N,C,H,W) (it changes from frame to frame) or (N,C,H,W) (the same in every frame), C = 1 or 3,
    floats in [0,1] or uint8. `cell_labels[f][r][c]` is the caption under cell (r, c) of frame f;
    `frame_labels[f][r]` row r's label in frame f (instead of the fixed `row_labels`); `col_labels` a fixed
    header over the columns. The fixed labels and rows are drawn once; per frame only the changing cells and
    texts are pasted, so 21 frames cost a few milliseconds instead of 21 full compositions.
    """
    cells, frames, channels = _frame_rows(rows)
    blank = [[""] * c.shape[-4] for c in cells] if cell_labels is not None else None
    size = text_px or label_px(cells[0].shape[-2] * scale)
    face = font(size)
    label_width = None
    if frame_labels is not None:
        row_labels = [""] * len(cells)
        label_width = max(text_width(str(t), face) for labels in frame_labels for t in labels) + 2 * PAD + 8
    template = compose_grid(
        [c if c.ndim == 4 else c[0] for c in cells],
        row_labels=row_labels,
        col_labels=col_labels,
        cell_labels=blank,
        scale=scale,
        pad=PAD,
        label_width=label_width,
        theme=theme,
        text_px=text_px,
    )
    template = template if channels == 3 else template[..., 0]  # compose_grid widens grey to RGB
    h, w = cells[0].shape[-2:]
    ch, cw, n_cols = h * scale, w * scale, max(c.shape[-4] for c in cells)
    label_w = template.shape[1] - n_cols * (cw + PAD) - PAD
    head = text_height(face) + 2 * PAD if col_labels else 0  # compose_grid's header
    row_h = (template.shape[0] - PAD - head) // len(cells)  # ch + caption height + pad, from the documented layout
    out = np.repeat(template[None], frames, axis=0)  # (F,H',W'[,3])
    for r, row in enumerate(cells):
        if row.ndim == 4:
            continue  # already drawn in the template
        pictures = channels_last(row)  # (F,N,H,W) or (F,N,H,W,3)
        if channels == 3 and row.shape[-3] == 1:
            pictures = np.repeat(pictures[..., None], 3, axis=-1)  # a grey row in a colour picture
        big = pictures.repeat(scale, axis=2).repeat(scale, axis=3)  # (F,N,ch,cw[,3])
        top = head + PAD + r * row_h
        for c in range(row.shape[1]):
            left = label_w + PAD + c * (cw + PAD)
            out[:, top : top + ch, left : left + cw] = big[:, c]
    if cell_labels is not None:
        out = lettered(out, [_paste_captions(out, cell_labels, (ch, cw, row_h, label_w, head), theme, text_px)])
    for f, labels in enumerate(frame_labels or []):
        for r, text in enumerate(labels):
            paste_label(
                out[f], text, size, left=PAD + 4, middle=head + PAD + r * row_h + ch // 2, width=label_w, theme=theme
            )
    return lettered(out, [size] if frame_labels is not None or col_labels else [])


def _paste_captions(out: np.ndarray, cell_labels, layout, theme, text_px: int | None) -> int:
    ch, cw, row_h, label_w, head = layout
    texts = [t for frame in cell_labels for row in frame for t in row]
    size = fitted_caption_px(ch, cw + PAD - 2, texts, text_px)
    for f, frame_labels in enumerate(cell_labels):
        for r, texts in enumerate(frame_labels):
            for c, text in enumerate(texts):
                paste_caption(
                    out[f],
                    text,
                    size,
                    mid=label_w + PAD + c * (cw + PAD) + cw // 2,
                    top=head + PAD + r * row_h + ch + 1,
                    width=cw + PAD,
                    theme=theme,
                )
    return size
