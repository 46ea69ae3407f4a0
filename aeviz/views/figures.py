"""Pictures for the pages: image stacks composed into one labelled grid, error heatmaps, plotly figures."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from .lettering import fitted_caption_px, font, label_px, lettered, panel, paste_caption, text_height, text_width

# Tableau 10: distinct, kinder to colour-blind eyes than plotly's default; one class colour on every page.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
SLIDER_LINES = 6.4  # a scrub figure's slider under its picture (value, rail, ticks, labels), in its type's px
TEXT_PX_KEY = "aeviz:text_px"  # PNG text chunk: the smallest text drawn in a composed picture, font pixels
# Top margin (px) that holds plotly's toolbar (26 px, top right): a legend at the plot's top-right corner
# starts below it instead of under its buttons.
MODEBAR_CLEARANCE = 40


def _numpy(a) -> np.ndarray:
    """Arrays and (CPU or GPU, grad or not) torch tensors alike, without importing torch here."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def to_uint8(a) -> np.ndarray:
    """uint8 stays as it is; floats are read as [0,1], clipped (NaN -> 0) and rounded to 0..255."""
    a = _numpy(a)
    if a.dtype == np.uint8:
        return a
    return (np.clip(np.nan_to_num(a.astype(np.float32)), 0, 1) * 255 + 0.5).astype(np.uint8)


def channels_last(images) -> np.ndarray:
    """(...,C,H,W) images, C = 1 or 3, as pictures: (...,H,W) grey or (...,H,W,3) colour."""
    a = _numpy(images)
    if a.ndim < 3 or a.shape[-3] not in (1, 3):
        raise ValueError(f"images must be (...,C,H,W) with C = 1 or 3, got {a.shape}")
    return a[..., 0, :, :] if a.shape[-3] == 1 else np.moveaxis(a, -3, -1)


def _cells(row) -> np.ndarray:
    """One row of images as (N,H,W,1) grey or (N,H,W,3) colour uint8, from (N,H,W), (N,C,H,W) with C = 1 or 3,
    or (N,H,W,3)."""
    a = _numpy(row)
    if a.size == 0:
        return np.zeros((0, 1, 1, 1), np.uint8)  # an empty row: takes no part in the cell size
    if a.ndim == 4 and a.shape[1] in (1, 3) and a.shape[-1] != 3:  # channels first: (N,C,H,W)
        a = channels_last(a)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3):
        raise ValueError(f"a row must be (N,H,W), (N,C,H,W) or (N,H,W,3), got {a.shape}")
    return to_uint8(a)


def compose_grid(
    rows: Sequence,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_labels: Sequence[Sequence[str]] | None = None,
    scale: int = 3,
    pad: int = 2,
    label_width: int | None = None,
    theme: str | None = "light",
    text_px: int | None = None,
) -> np.ndarray:
    """Rows of images composed into one RGB picture on the theme's label panel, (H', W', 3) uint8.

    Each row is (N,H,W), (N,1,H,W) or (N,3,H,W) floats in [0,1] (clipped) or uint8, or (N,H,W,3) colour; grey
    rows beside colour ones are drawn in grey on the RGB canvas. Rows may differ in
    length (left-aligned) but share H and W. Cells are upscaled by `scale` (nearest neighbour) and separated
    by `pad` pixels. Layout: W' = label_w + n_cols·(W·scale + pad) + pad and
    H' = header_h + n_rows·(H·scale + caption_h + pad) + pad, where label_w, header_h and caption_h are 0
    unless row_labels, col_labels or cell_labels (captions under each cell) are given. Text is `text_px`
    tall (the page's body size: pages compose a picture at the size it is shown, lettering.fit_scale), else
    lettering.label_px / caption_px of the cell height; `theme` "dark" gives a dark panel with light text.
    """
    cells = [_cells(r) for r in rows]
    # all-grey grids are composed with one channel (a third of the copying) and widened to RGB at the end
    channels = max(c.shape[-1] for c in cells)
    cells = [np.repeat(c, channels // c.shape[-1], axis=-1) for c in cells]
    sizes = {c.shape[1:3] for c in cells if len(c)}
    if len(sizes) != 1:
        raise ValueError(f"rows need images of one size, got {sorted(sizes) or 'no images at all'}")
    if row_labels is not None and len(row_labels) != len(cells):
        raise ValueError(f"{len(row_labels)} row labels for {len(cells)} rows")
    (h, w), n_cols = sizes.pop(), max(len(c) for c in cells)
    ch, cw = h * scale, w * scale
    label_size = text_px or label_px(ch)
    big = font(label_size)
    small = fitted_caption_px(ch, cw + pad - 2, [t for texts in cell_labels or [] for t in texts], text_px)
    if row_labels is None:
        label_w = 0
    else:
        label_w = (
            label_width
            if label_width is not None
            else max([text_width(str(t), big) for t in row_labels] + [0]) + 2 * pad + 8
        )
    header_h = text_height(big) + 2 * pad if col_labels else 0
    caption_h = text_height(font(small)) + 3 if cell_labels else 0
    canvas = np.full(
        (header_h + len(cells) * (ch + caption_h + pad) + pad, label_w + n_cols * (cw + pad) + pad, channels),
        panel(theme)[0],
        np.uint8,
    )
    for r, row in enumerate(cells):
        top = header_h + pad + r * (ch + caption_h + pad)
        upscaled = row.repeat(scale, axis=1).repeat(scale, axis=2)  # (N,ch,cw,C), one call per row
        for c, img in enumerate(upscaled):
            left = label_w + pad + c * (cw + pad)
            canvas[top : top + ch, left : left + cw] = img
    if row_labels is not None or col_labels:
        canvas = _draw_labels(
            canvas, (ch, cw, pad, label_w, header_h, caption_h), big, row_labels, col_labels, panel(theme)[1]
        )
    for r, texts in enumerate(cell_labels or []):
        for c, text in enumerate(texts):
            paste_caption(
                canvas,
                text,
                small,
                mid=label_w + pad + c * (cw + pad) + cw // 2,
                top=header_h + pad + r * (ch + caption_h + pad) + ch + 1,
                width=cw + pad,
                theme=theme,
            )
    drawn = ([label_size] if row_labels is not None or col_labels else []) + ([small] if cell_labels else [])
    return lettered(canvas if channels == 3 else np.repeat(canvas, 3, axis=-1), drawn)


def _draw_labels(canvas, layout, face, row_labels, col_labels, ink: int) -> np.ndarray:
    ch, cw, pad, label_w, header_h, caption_h = layout
    grey = canvas.shape[-1] == 1
    image = Image.fromarray(canvas[..., 0] if grey else canvas)
    draw = ImageDraw.Draw(image)
    fill = ink if grey else (ink, ink, ink)
    for r, text in enumerate(row_labels or []):
        draw.text(
            (pad + 4, header_h + pad + r * (ch + caption_h + pad) + ch // 2),
            str(text),
            fill=fill,
            font=face,
            anchor="lm",
        )
    for c, text in enumerate(col_labels or []):
        draw.text(
            (label_w + pad + c * (cw + pad) + cw // 2, header_h // 2 + pad // 2),
            str(text),
            fill=fill,
            font=face,
            anchor="mm",
        )
    out = np.array(image)  # writable: the cell captions are pasted into it next
    return out[..., None] if grey else out


def diff_heatmap(x, y, *, vmax: float | None = 1.0) -> np.ndarray:
    """|x - y| per pixel coloured black -> red -> yellow, (N,H,W,3) uint8; vmax=None: the largest error. Colour
    images (N,3,H,W) show each pixel's mean error over its channels."""
    err = np.abs(_numpy(x).astype(np.float32) - _numpy(y).astype(np.float32))
    if err.ndim == 4 and err.shape[1] in (1, 3):
        err = err.mean(axis=1)  # (N,C,H,W) -> (N,H,W)
    if vmax is None:
        vmax = float(err.max()) if err.size else 1.0
    t = np.clip(err / max(vmax, 1e-12), 0, 1)
    rgb = np.stack([np.clip(2 * t, 0, 1), np.clip(2 * t - 1, 0, 1), np.zeros_like(t)], axis=-1)
    return to_uint8(rgb)


def png_bytes(image) -> bytes:
    """A (H,W), (H,W,3) or (H,W,4) picture (uint8, or floats in [0,1]) encoded as PNG.

    Encoding sits on every slider's path, so it is tuned for time: an RGB picture whose channels agree is
    stored as greyscale, and zlib runs at level 1. A 13x8 grid of digits: 9 ms instead of 47 ms, 27 % fewer
    bytes than RGB at level 6.
    """
    text_px = getattr(image, "text_px", None)  # lettering.Lettered: the smallest text in the picture
    pixels = np.ascontiguousarray(to_uint8(image))
    if (
        pixels.ndim == 3
        and pixels.shape[2] == 3
        and np.array_equal(pixels[..., 0], pixels[..., 1])
        and np.array_equal(pixels[..., 1], pixels[..., 2])
    ):
        pixels = np.ascontiguousarray(pixels[..., 0])
    buffer = io.BytesIO()
    info = None
    if text_px:
        info = PngInfo()
        info.add_text(TEXT_PX_KEY, str(int(text_px)))
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1, pnginfo=info)
    return buffer.getvalue()


def png_data_uri(image) -> str:
    """A picture as a PNG data URI: plotly ships a string as it is, a PIL image it re-encodes on every call."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def fast_figure(spec: dict):
    """A plotly Figure from a spec that is valid already (a cached figure's to_dict() with a few additions).

    Plotly validates every property as a figure is built (a 60-bin histogram: ~30 ms); a slider that only
    moves a marker over a cached figure needs none of that: this takes under a millisecond.
    """
    import plotly.graph_objects as go

    try:
        return go.Figure(spec, _validate=False)
    except TypeError:  # a plotly without the private switch: validate after all
        return go.Figure(spec)


def _bare_axes(fig, height: int) -> None:
    fig.update_xaxes(visible=False, showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False, showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(
        height=max(int(height), 10),  # plotly refuses heights under 10
        # transparent: the page's own background (light or dark) shows around the picture
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
    )


def _step(name: str, label: str) -> dict:
    instant = dict(frame=dict(duration=0, redraw=True), transition=dict(duration=0), mode="immediate")
    return dict(method="animate", label=label, args=[[name], instant])


def scrub_figure(frames, *, labels: Sequence[str], title: str = "", scale: int = 1, text_px: int = 14):
    """A figure whose slider swaps between pictures in the browser, without a Streamlit rerun.

    `frames` is (F,H',W') or (F,H',W',3), floats in [0,1] or uint8, each one composed picture. Every frame
    is shipped once as a PNG; the slider snaps (zero durations) and there is no play button. Its tick labels
    are `text_px` tall, and the rail keeps clear of the figure's edges so the first and last are whole.
    """
    import plotly.graph_objects as go

    text = getattr(frames, "text_px", None)
    pics = to_uint8(frames)
    if len(pics) != len(labels) or len(pics) == 0:
        raise ValueError(f"need one label per frame (and a frame): {len(pics)} frames, {len(labels)} labels")
    pics = lettered(pics.repeat(scale, axis=1).repeat(scale, axis=2), [text * scale if text else None])
    uris = [png_data_uri(p) for p in pics]
    names = [str(i) for i in range(len(uris))]
    frames = [go.Frame(data=[go.Image(source=u)], name=n) for u, n in zip(uris, names, strict=True)]
    fig = go.Figure(data=[go.Image(source=uris[0], hoverinfo="skip")], frames=frames)
    slider = dict(
        active=0,
        steps=[_step(n, str(lab)) for n, lab in zip(names, labels, strict=True)],
        transition=dict(duration=0),
        currentvalue=dict(visible=True, prefix="", xanchor="center"),
        x=0,
        len=1,
        # the rail starts and ends a label's half width in: "0.00" and "1.00" were cut to ".00" and "1.0("
        pad=dict(t=8, b=0, l=2 * text_px, r=2 * text_px),
        font=dict(size=text_px),
        tickcolor="#888888",
    )  # plotly's #333 vanishes on a dark page; 3.5:1 on white, 5.3:1 on dark
    top, room = 40 if title else 6, round(SLIDER_LINES * text_px)
    _bare_axes(fig, pics.shape[1] + top + room)
    # the slider's room as the bottom margin (plotly only ever widens a margin for it): the plot area is then
    # the picture's own height, and the picture is drawn at its size, neither shrunk nor stretched
    fig.update_layout(
        sliders=[slider],
        updatemenus=[],
        title=dict(text=title) if title else None,
        margin=dict(l=0, r=0, t=top, b=room),
    )
    return fig


def at_frame(fig, frame: int):
    """A copy of a scrub_figure opened at `frame`: its slider there, and that frame's picture showing before
    the first drag (the figure itself is left as it was: cached figures are shared)."""
    import plotly.graph_objects as go

    copy = go.Figure(fig)
    copy.layout.sliders[0].active = frame
    copy.data[0].source = copy.frames[frame].data[0].source
    return copy


def marker_size(n: int) -> float:
    """Big dots for a few hundred points, fine ones for 60k so clusters still read as shapes."""
    return float(np.interp(np.log10(max(n, 1)), [2, 3, 4, 5], [9, 6, 4, 2.5]))


def scatter_map(points, labels, class_names: Sequence[str], *, customdata=None, hover_text=None, title: str = ""):
    """A 2-D code map, one Scattergl trace per class present, ready for lasso selection.

    `customdata` (default arange(N)) holds each point's GLOBAL index (first column if 2-D): Streamlit's
    selection reports it in selection.points, which is how a page maps a lasso back to its images.
    """
    import plotly.graph_objects as go

    points, labels = _numpy(points), _numpy(labels).astype(np.int64)
    n = len(points)
    custom = np.arange(n) if customdata is None else _numpy(customdata)
    if points.shape != (n, 2) or labels.shape != (n,) or len(custom) != n:
        raise ValueError(f"points {points.shape}, labels {labels.shape}, customdata {custom.shape} disagree")
    texts = None if hover_text is None else np.asarray(hover_text, dtype=str)
    index = "%{customdata}" if custom.ndim == 1 else "%{customdata[0]}"
    template = ("%{hovertext}<br>" if texts is not None else "") + f"#{index}"
    template += "<extra>%{fullData.name}</extra>"
    fig = go.Figure()
    for c in np.unique(labels):
        mask = labels == c
        name = str(class_names[c]) if 0 <= c < len(class_names) else str(c)
        fig.add_trace(
            go.Scattergl(
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=name,
                customdata=custom[mask],
                hovertext=None if texts is None else texts[mask],
                hovertemplate=template,
                marker=dict(
                    size=marker_size(n),
                    color=PALETTE[c % len(PALETTE)] if c >= 0 else "#888888",
                    opacity=0.75,
                    line=dict(width=0),
                ),
                unselected=dict(marker=dict(opacity=0.12)),
            )
        )
    fig.update_layout(
        title=dict(text=title) if title else None,
        dragmode="lasso",
        hovermode="closest",
        legend=dict(itemsizing="constant"),  # legend dots readable even when markers are tiny
        margin=dict(l=10, r=10, t=MODEBAR_CLEARANCE, b=10),
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


# --- live training curves -------------------------------------------------------------------------------


def loss_curves(steps: Sequence, tests: Sequence, epochs: int, *, height: int = 380):
    """Train losses by fractional epoch (one line per loss part, recon solid) and test recon per epoch; a
    denoiser's test images are corrupted like its training images (see train._mean_losses), so the two compare.

    `steps` holds (epoch as float, {part: loss}) pairs, `tests` (epoch, {part: loss}); the x axis spans
    all `epochs` from the start, so a growing curve fills the plot as training goes on.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    parts = sorted({name for _, losses in steps for name in losses}, key=lambda n: (n != "recon", n))
    for i, part in enumerate(parts):
        line = dict(color=PALETTE[0 if i == 0 else 2 + i], dash="dot" if i else None)  # penalties dotted
        fig.add_scatter(
            x=[x for x, _ in steps],
            y=[losses.get(part) for _, losses in steps],
            mode="lines",
            name=f"train {part}",
            line=line,
        )
    fig.add_scatter(
        x=[e for e, _ in tests],
        y=[losses.get("recon") for _, losses in tests],
        name="test recon",
        mode="lines+markers",
        line=dict(color=PALETTE[1], width=3),
    )
    # Only the reconstruction part is a mean per pixel: a sparse L1 or contractive penalty is a sum per image
    fig.update_layout(
        height=height,
        yaxis=dict(title="loss (log); recon: mean per pixel", type="log"),
        xaxis=dict(title="epoch", range=[0, max(1, epochs)]),
        legend=dict(orientation="h", y=1.1),
        margin=dict(t=40, b=40, l=60, r=10),
    )
    return fig
