"""Home's back-end: the code of one image as a bar chart drawn on the server (no plotly in a new browser)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .. import metrics
from ..checkpoints import device_words
from .figures import PALETTE, compose_grid, png_bytes
from .lettering import Fit, font, lettered, panel

# Without a box on the screen (lettering.Fit): drawn at twice the size it is shown at in its column (about 600
# px wide at 1280x720), 36 px text showing as about 16 px. With one, drawn at the size it is shown, text at
# the page's body size.
WIDTH, HEIGHT = 1200, 720
TITLE_PX, TEXT_PX = 40, 36
VALUES_UP_TO = 16  # codes this short get each value written on its bar (what hovering told before)


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """Round tick values (1, 2 or 5 times a power of ten) covering [low, high], about `count` of them."""
    if not high > low:
        low, high = low - 1, high + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return np.arange(math.floor(low / step), math.ceil(high / step) + 1) * step


def _label(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{digits}f}"


def code_bars(
    code, *, title: str, theme: str | None = "light", size: tuple[int, int] = (WIDTH, HEIGHT), text_px: int = TEXT_PX
) -> np.ndarray:
    """One bar per code unit (its value; x: the unit's index), on the theme's panel: (height, width, 3) uint8."""
    code = np.asarray(code, dtype=np.float64).ravel()
    background, ink = panel(theme)
    grid = (background + ink) // 2 if theme != "dark" else background + 30
    width, height = size
    title_px = round(text_px * TITLE_PX / TEXT_PX)
    image = Image.new("RGB", (width, height), (background,) * 3)
    draw = ImageDraw.Draw(image)
    text, title_face = font(text_px), font(title_px)
    room = 1.2 if len(code) <= VALUES_UP_TO else 1.0  # headroom for the values written past the bars' ends
    ticks = nice_ticks(room * min(float(code.min()), 0.0), room * max(float(code.max()), 0.0))
    step = float(ticks[1] - ticks[0])
    labels = [_label(t, step) for t in ticks]
    left = 30 + text_px + max(draw.textlength(s, font=text) for s in labels) + 16
    top, right, bottom = 30 + title_px + 30, width - 20, height - (2 * text_px + 50)

    def y(v: float) -> float:
        return bottom - (v - ticks[0]) / (ticks[-1] - ticks[0]) * (bottom - top)

    draw.text(((left + right) / 2, 20), title, fill=(ink,) * 3, font=title_face, anchor="mt")
    for t, s in zip(ticks, labels, strict=True):
        draw.line([(left, y(t)), (right, y(t))], fill=(grid,) * 3, width=3 if t == 0 else 1)
        draw.text((left - 12, y(t)), s, fill=(ink,) * 3, font=text, anchor="rm")
    slot = (right - left) / len(code)
    colour = PALETTE[0]
    every = next(k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if len(code) / k <= 16 or k == 1024)
    for i, v in enumerate(code):
        x0, x1 = left + i * slot + 0.12 * slot, left + (i + 1) * slot - 0.12 * slot
        draw.rectangle([x0, min(y(v), y(0)), max(x1, x0 + 1), max(y(v), y(0))], fill=colour)
        if i % every == 0:
            draw.text(((x0 + x1) / 2, bottom + 10), str(i), fill=(ink,) * 3, font=text, anchor="mt")
        if len(code) <= VALUES_UP_TO:
            value = f"{v:.2f}"
            anchor, at = ("md", y(v) - 6) if v >= 0 else ("ma", y(v) + 6)
            draw.text(((x0 + x1) / 2, at), value, fill=(ink,) * 3, font=font(text_px * 5 // 6), anchor=anchor)
    draw.text(((left + right) / 2, height - 14), "code unit", fill=(ink,) * 3, font=text, anchor="md")
    axis = Image.new("RGB", (height, text_px + 12), (background,) * 3)
    ImageDraw.Draw(axis).text((height - (top + bottom) / 2, 4), "value", fill=(ink,) * 3, font=text, anchor="mt")
    image.paste(axis.rotate(90, expand=True), (14, 0))
    return lettered(np.asarray(image), [text_px * 5 // 6 if len(code) <= VALUES_UP_TO else text_px])


def model_caption(name: str, metadata: dict) -> str:
    """Home's line about the model shown, true for every kind: its test error and, for a model trained here,
    for how long and on what; for one trained elsewhere, where it came from and that its error was measured
    here (aeviz cannot know its epochs or machine, and does not pretend to)."""
    mse = (metadata.get("metrics") or {}).get("mse")
    score = f"test MSE {mse:.4f}" if isinstance(mse, (int, float)) and math.isfinite(mse) else ""
    imported = metadata.get("imported")
    if isinstance(imported, dict):
        source = str(imported.get("source") or "another framework")
        origin = Path(str(imported.get("from") or "")).name.replace("`", "")  # a folder's name, never its path
        dataset = str(metadata.get("dataset") or "its dataset's")
        came = f"imported ({source}{f', from `{origin}`' if origin else ''}), trained elsewhere"
        return f"Model `{name}`: {came}" + (f"; {score}, measured here on the {dataset} test set." if score else ".")
    training = metadata.get("training") or {}
    epochs, device = training.get("epochs"), device_words(metadata)
    how = f"trained {epochs} epoch{'s' * (epochs != 1)}" if isinstance(epochs, int) else ""
    how += f" on {device}" if how and device else ""
    said = ", ".join(part for part in (score, how) if part)
    return f"Model `{name}`" + (f": {said}." if said else ".")


def first_look(
    model, image: np.ndarray, theme: str | None = "light", left: Fit | None = None, right: Fit | None = None
) -> dict:
    """What Home shows of one test image (1, C, H, W): the input over its reconstruction (in `left`, the box on
    screen) and the code's bars (in `right`), as PNG bytes, and the MSE. Every new visitor sees the same
    default image, so a page caches this whole."""
    code = metrics.encode_all(model, image)[0]  # (q,)
    recon, error = metrics.reconstruct_and_score(model, image, "mse")  # (1, C, H, W), (1,)
    labels, hw = ["input", "output"], image.shape[-2:]
    scale = max(8, 224 // image.shape[-1])  # 8x8 digits as large
    if left is not None:
        big = Fit(left.width, left.height, left.text_px, max(left.cell_px, 3 * left.text_px * 4))
        scale = big.scale(hw, 2, 1, row_labels=labels, captions=False)
    text = None if left is None else left.text_px
    grid = compose_grid([image, recon], row_labels=labels, scale=scale, theme=theme, text_px=text)  # (1,C,H,W) rows
    title = f"The code: {len(code)} numbers are all the decoder sees"
    size, text_px = (
        ((WIDTH, HEIGHT), TEXT_PX) if right is None else ((right.width, right.height or HEIGHT), right.text_px)
    )
    return {
        "grid": png_bytes(grid),
        "bars": png_bytes(code_bars(code, title=title, theme=theme, size=size, text_px=text_px)),
        "mse": float(error[0]),
    }


def pixels_phrase(dataset: str, shape) -> str:
    """'784 for a 28x28 digit', '3,072 values for a 32x32 colour photo'."""
    from ..data import item_noun

    channels, height, width = shape
    colour = "colour " if channels == 3 else ""
    return f"{channels * height * width:,} values for a {height}x{width} {colour}{item_noun(dataset)}"


def traits(dataset: str) -> str:
    """What the code is known to keep, where the dataset has a textbook answer; '' elsewhere."""
    from ..data import item_noun

    known = {
        "digit": ": stroke thickness, slant, which digit it is",
        "clothing item": ": outline, brightness, which kind of garment it is",
    }
    return known.get(item_noun(dataset), "")


def curse_frame(rows) -> list[dict]:
    """The curse-of-dimensionality table as display rows, the article's figure beside ours where it has one."""
    from ..lessons import ARTICLE_CURSE

    return [
        {
            "d": r.d,
            "nearest neighbour": f"{r.nearest:.3f}",
            "typical distance": f"{r.mean:.3f}",
            "ratio (ours)": f"{r.ratio:.3f}",
            "ratio (article)": str(ARTICLE_CURSE.get(r.d, "—")),
        }
        for r in rows
    ]
