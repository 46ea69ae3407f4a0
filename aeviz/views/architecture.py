"""A model's architecture as one picture: a bar per layer (its height grows with the values it outputs), each
labelled with what it computes, its output shape and its parameters; the code in the middle."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..architecture import Layer, parameter_count, size
from .figures import PALETTE
from .lettering import font, panel

WIDTH, HEIGHT = 1400, 480  # drawn at about twice the size shown in the page's main column
TITLE_PX, TEXT_PX, SMALL_PX = 32, 28, 24
SHAPE_ONLY = ("Flatten", "Unflatten", "view", "reshape", "unflatten", "flatten", "_unsafe_view")
SHORT = {
    "ConvTranspose2d": "ConvT",
    "conv_transpose2d": "convT",
    "BatchNorm1d": "BatchNorm",
    "BatchNorm2d": "BatchNorm",
}
CODE_COLOUR = "#c2410c"  # the app's primary colour (light theme): the code stands out as on the pages


@dataclass
class Step:
    """One bar of the picture: a weighted layer with the activations and reshapes after it merged in."""

    name: str
    detail: str
    shape: tuple[int, ...]
    params: int
    after: str = ""


def steps(layers: list[Layer]) -> list[Step]:
    """Merge activations and reshapes into the layer before them (the first reshape of an encoder into nothing)."""
    merged: list[Step] = []
    for layer in layers:
        if (layer.passive or layer.kind in SHAPE_ONLY) and merged:
            last = merged[-1]
            last.shape = layer.shape
            if layer.passive and layer.kind not in ("Identity", "Dropout", "dropout", "clone", "alias"):
                last.after = f"{last.after} + {layer.kind}" if last.after else layer.kind
        elif not (layer.passive or layer.kind in SHAPE_ONLY):
            merged.append(Step(SHORT.get(layer.kind, layer.kind), layer.detail, layer.shape, layer.params))
    return merged


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) if s > 0 else "?" for s in shape)  # the pictures' font has no "×"


def count_text(n: int) -> str:
    if n == 0:
        return "no weights"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def architecture_picture(description: dict, *, theme: str = "light") -> np.ndarray:
    """The diagram of `architecture.describe(model)`: (HEIGHT, WIDTH, 3) uint8 on the theme's panel."""
    q = description["code"]
    encoder, decoder = steps(description["encoder"]), steps(description["decoder"])
    code = Step("code", "Gaussian" if description["variational"] else "", (q,), 0)
    bars = [Step("input", "", description["input"], 0), *encoder, code, *decoder]
    background, ink = panel(theme)
    image = Image.new("RGB", (WIDTH, HEIGHT), (background,) * 3)
    draw = ImageDraw.Draw(image)
    title = (
        f"encoder: {parameter_count(description['encoder']):,} parameters  ·  code: {q} numbers  ·  "
        f"decoder: {parameter_count(description['decoder']):,} parameters"
    )
    draw.text((WIDTH / 2, 14), title, fill=(ink,) * 3, font=font(TITLE_PX), anchor="mt")
    top, bottom = 170, HEIGHT - 110  # the bars' area; names above, shapes and weights below
    slot = (WIDTH - 40) / len(bars)
    biggest = max(math.log2(size(b.shape) + 1) for b in bars)
    for i, bar in enumerate(bars):
        centre = 20 + slot * (i + 0.5)
        height = max(8.0, (bottom - top) * math.log2(size(bar.shape) + 1) / biggest)
        colour = CODE_COLOUR if bar is code else PALETTE[0] if i <= len(encoder) else PALETTE[3]
        width = min(slot * 0.42, 60)
        y0 = (top + bottom) / 2 - height / 2
        draw.rounded_rectangle([centre - width / 2, y0, centre + width / 2, y0 + height], radius=6, fill=colour)
        if i:
            draw.line(
                [centre - slot + width / 2 + 6, (top + bottom) / 2, centre - width / 2 - 6, (top + bottom) / 2],
                fill=(ink,) * 3,
                width=2,
            )
        lines_above = [bar.name, bar.detail, bar.after]
        for k, text in enumerate(t for t in lines_above if t):
            face = font(TEXT_PX if k == 0 else SMALL_PX)
            draw.text((centre, 64 + 32 * k), _fit(text, face, slot - 6), fill=(ink,) * 3, font=face, anchor="mt")
        below = [shape_text(bar.shape)] + ([count_text(bar.params)] if bar.name not in ("input", "code") else [])
        for k, text in enumerate(below):
            face = font(TEXT_PX if k == 0 else SMALL_PX)
            draw.text(
                (centre, bottom + 16 + 34 * k), _fit(text, face, slot - 6), fill=(ink,) * 3, font=face, anchor="mt"
            )
    draw.text((20, HEIGHT - 12), "encoder", fill=PALETTE[0], font=font(SMALL_PX), anchor="ld")
    draw.text((WIDTH - 20, HEIGHT - 12), "decoder", fill=PALETTE[3], font=font(SMALL_PX), anchor="rd")
    return np.asarray(image)


def _fit(text: str, face, room: float) -> str:
    """`text`, cut with an ellipsis where it would run into the next bar's."""
    if face.getlength(text) <= room:
        return text
    while len(text) > 1 and face.getlength(text + "…") > room:
        text = text[:-1]
    return text + "…"
