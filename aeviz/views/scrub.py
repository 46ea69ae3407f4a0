"""Many frames of one labelled image grid, composed at once for a scrub slider that runs in the browser."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .figures import compose_grid, scrub_figure, to_uint8
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


def grey(images) -> np.ndarray:
    """(...,C,H,W) -> (...,H,W): the channel mean, so colour datasets still compose into grey cells."""
    a = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    return a[..., 0, :, :] if a.shape[-3] == 1 else a.mean(axis=-3)


def scrub_at(frames, *, labels: Sequence[str], start: int, prefix: str, text_px: int = 14):
    """A figures.scrub_figure opened at frame `start`, its slider's value shown large after `prefix`, its tick
    labels `text_px` tall (the page's type: pictures and slider read alike from the back row)."""
    fig = scrub_figure(frames, labels=labels, text_px=text_px)
    slider = fig.layout.sliders[0]
    slider.active = start
    slider.currentvalue.update(prefix=prefix, font=dict(size=round(text_px * 1.25)))
    fig.data[0].source = fig.frames[start].data[0].source  # what shows before the first drag
    return fig


def _frame_rows(rows: Sequence) -> tuple[list[np.ndarray], int]:
    """Rows as uint8, (F,N,H,W) when they change per frame or (N,H,W) when fixed, and the frame count F."""
    cells = [to_uint8(r) for r in rows]
    if any(c.ndim not in (3, 4) for c in cells):
        raise ValueError(f"rows must be (N,H,W) or (F,N,H,W), got {[c.shape for c in cells]}")
    counts = {len(c) for c in cells if c.ndim == 4}
    if len(counts) > 1:
        raise ValueError(f"rows disagree on the number of frames: {sorted(counts)}")
    return cells, counts.pop() if counts else 1


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
    """Frames (F,H',W') uint8 grey, frame f laid out like figures.compose_grid of every row's f-th entry.

    Each row is (F,N,H,W) (it changes from frame to frame) or (N,H,W) (the same in every frame), floats in
    [0,1] or uint8 (grey: drop the channel axis first). `cell_labels[f][r][c]` is the caption under cell
    (r, c) of frame f; `frame_labels[f][r]` row r's label in frame f (instead of the fixed `row_labels`);
    `col_labels` a fixed header over the columns. The
    fixed labels and rows are drawn once; per frame only the changing cells and texts are pasted, so 21
    frames cost a few milliseconds instead of 21 full compositions.
    """
    cells, frames = _frame_rows(rows)
    blank = [[""] * c.shape[-3] for c in cells] if cell_labels is not None else None
    size = text_px or label_px(cells[0].shape[-2] * scale)
    face = font(size)
    label_width = None
    if frame_labels is not None:
        row_labels = [""] * len(cells)
        label_width = max(text_width(str(t), face) for labels in frame_labels for t in labels) + 2 * PAD + 8
    template = compose_grid(
        [c if c.ndim == 3 else c[0] for c in cells],
        row_labels=row_labels,
        col_labels=col_labels,
        cell_labels=blank,
        scale=scale,
        pad=PAD,
        label_width=label_width,
        theme=theme,
        text_px=text_px,
    )[..., 0]
    h, w = cells[0].shape[-2:]
    ch, cw, n_cols = h * scale, w * scale, max(c.shape[-3] for c in cells)
    label_w = template.shape[1] - n_cols * (cw + PAD) - PAD
    head = text_height(face) + 2 * PAD if col_labels else 0  # compose_grid's header
    row_h = (template.shape[0] - PAD - head) // len(cells)  # ch + caption height + pad, from the documented layout
    out = np.repeat(template[None], frames, axis=0)  # (F,H',W')
    for r, row in enumerate(cells):
        if row.ndim == 3:
            continue  # already drawn in the template
        big = row.repeat(scale, axis=2).repeat(scale, axis=3)  # (F,N,ch,cw)
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
