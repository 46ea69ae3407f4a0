"""Text in composed pictures: theme panels with AA contrast, and sizes that grow with the cells."""

from __future__ import annotations

import numpy as np

from aeviz.views import lettering
from aeviz.views.figures import compose_grid
from aeviz.views.scrub import compose_frames

RNG = np.random.default_rng(0)


def contrast(a: float, b: float) -> float:
    """WCAG contrast ratio of two grey levels 0-255."""

    def lum(v):
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    hi, lo = sorted([lum(a), lum(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def ink_rows(picture: np.ndarray, background: int) -> np.ndarray:
    """Rows of a grey picture's label column that hold text (pixels far from the panel colour)."""
    return np.flatnonzero((np.abs(picture.astype(int) - background) > 100).any(axis=1))


def test_panels_have_aa_contrast_and_unknown_themes_are_light():
    for theme in ("light", "dark"):
        background, ink = lettering.panel(theme)
        assert contrast(background, ink) >= 7
    assert lettering.panel(None) == lettering.panel("light") == lettering.panel("sepia")
    assert lettering.panel("dark")[0] < 64 < 192 < lettering.panel("dark")[1]


def test_dark_grids_have_a_dark_panel_and_light_text():
    rows = [RNG.random((3, 28, 28)), RNG.random((3, 28, 28))]
    kwargs = dict(row_labels=["input", "output"], cell_labels=[["0.0123"] * 3] * 2, scale=4)
    light, dark = compose_grid(rows, **kwargs), compose_grid(rows, theme="dark", **kwargs)
    assert light.shape == dark.shape
    assert light[0, 0, 0] == 255 and dark[0, 0, 0] == lettering.panel("dark")[0]
    label_w = light.shape[1] - 3 * (28 * 4 + 2) - 2
    assert light[:, :label_w].min() < 80  # dark text on white
    assert dark[:, :label_w].max() > 180  # light text on the dark panel
    cells = np.s_[2 : 2 + 112, label_w + 2 : label_w + 2 + 112]
    assert np.array_equal(light[cells], dark[cells])  # the images themselves do not change


def test_text_grows_with_the_cells():
    heights = []
    for scale in (3, 4, 6):
        grid = compose_grid([np.zeros((1, 28, 28))], row_labels=["Agy"], scale=scale, label_width=200)[..., 0]
        rows = ink_rows(grid[:, :200], 255)
        heights.append(rows.max() - rows.min() + 1)
    assert heights[0] < heights[1] < heights[2]
    assert heights[1] >= 16  # 112 px cells: a label at least as tall as body text


def test_captions_of_112_px_cells_are_at_least_22_px_and_fit_their_cell():
    assert lettering.caption_px(112) >= 22
    assert lettering.fitted_caption_px(112, 112, ["0.0713", "#8500 · 4"]) == lettering.caption_px(112)
    long = lettering.fitted_caption_px(112, 112, ["denoise-conv-q32"])
    assert long < lettering.caption_px(112)
    assert lettering.font(long).getlength("denoise-conv-q32") <= 112


def test_scrubber_frames_take_the_theme():
    moving = RNG.random((2, 3, 1, 28, 28))
    captions = [[["1.0 dB"] * 3] for _ in range(2)]
    light = compose_frames([moving], row_labels=["noisy"], cell_labels=captions, scale=4)
    dark = compose_frames([moving], row_labels=["noisy"], cell_labels=captions, scale=4, theme="dark")
    assert light[0, 0, 0] == 255 and dark[0, 0, 0] == lettering.panel("dark")[0]
    caption_strip = dark[0, 2 + 112 :, 120:]  # under the cells: the captions in light ink
    assert caption_strip.max() > 180
