"""The home page's code chart, drawn on the server: one bar per unit, where its value says, in the theme."""

from __future__ import annotations

import numpy as np
import pytest

from aeviz.views.figures import PALETTE
from aeviz.views.home import HEIGHT, WIDTH, code_bars, first_look, nice_ticks
from aeviz.views.lettering import panel

BAR = tuple(int(PALETTE[0][i : i + 2], 16) for i in (1, 3, 5))


def bar_columns(picture: np.ndarray) -> list[tuple[int, int, int]]:
    """(first column, top row, bottom row) of each run of bar-coloured columns, left to right."""
    mask = np.all(picture == BAR, axis=-1)
    columns = np.flatnonzero(mask.any(axis=0))
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    return [(int(r[0]), *map(int, np.flatnonzero(mask[:, r[len(r) // 2]])[[0, -1]])) for r in runs if len(r)]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_one_bar_per_unit_up_for_positive_down_for_negative(theme):
    code = np.array([1.0, -0.5, 2.0, 0.25, -1.5, 0.0, 0.75, -2.0])
    picture = code_bars(code, title="The code", theme=theme)
    assert picture.shape == (HEIGHT, WIDTH, 3) and picture.dtype == np.uint8
    assert tuple(picture[0, 0]) == (panel(theme)[0],) * 3  # the page's background, so it reads as part of it
    bars = bar_columns(picture)
    assert len(bars) == len(code)
    lefts = [b[0] for b in bars]
    assert lefts == sorted(lefts)
    tops = {v: top for v, (_, top, _) in zip(code, bars, strict=True)}
    bottoms = {v: bottom for v, (_, _, bottom) in zip(code, bars, strict=True)}
    assert bottoms[0.0] - tops[0.0] <= 1  # a zero is a line on the zero line
    zero = bottoms[1.0]  # every positive bar ends on the zero line, every negative one starts on it
    assert all(abs(bottoms[v] - zero) <= 2 for v in (2.0, 0.25, 0.75))
    assert all(abs(tops[v] - zero) <= 3 for v in (-0.5, -1.5, -2.0))
    heights = {v: bottoms[v] - tops[v] for v in tops}
    assert heights[2.0] == pytest.approx(2 * heights[1.0], abs=3)
    assert heights[-2.0] == pytest.approx(4 * heights[-0.5], abs=3)


def test_text_is_the_themes_ink():
    for theme in ("light", "dark"):
        background, ink = panel(theme)
        picture = code_bars(np.ones(4), title="The code", theme=theme)
        greys = picture[..., 0][(picture[..., 0] == picture[..., 1]) & (picture[..., 1] == picture[..., 2])]
        assert np.count_nonzero(greys == ink) > 500  # title, ticks, axis titles and values, at full ink


def test_long_codes_still_get_their_bars():
    picture = code_bars(np.random.default_rng(0).normal(size=256), title="The code", theme="light")
    coloured = np.all(picture == BAR, axis=-1).any(axis=0)
    assert np.count_nonzero(coloured) > 0.6 * WIDTH  # thin bars across the plot, none lost


@pytest.mark.parametrize("low,high", [(0, 1), (-3.2, 7.9), (-0.013, 0.002), (5, 5)])
def test_nice_ticks_cover_the_range_with_round_steps(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and 3 <= len(ticks) <= 12
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert any(np.isclose(mantissa, m) for m in (1, 2, 5, 10))


@pytest.mark.parametrize("family", ["dense", "conv"])
def test_first_look_shows_the_image_its_reconstruction_and_its_code(family):
    import io

    from PIL import Image

    from aeviz import metrics
    from aeviz.data import load_dataset
    from aeviz.models import build_model

    image = load_dataset("digits", "test").images[3:4].numpy()  # (1, 1, 8, 8)
    model = build_model(family, bottleneck=4, input_shape=(1, 8, 8)).eval()
    shown = first_look(model, image, theme="dark")
    recon, error = metrics.reconstruct_and_score(model, image)
    assert shown["mse"] == pytest.approx(float(error[0]))
    grid = np.asarray(Image.open(io.BytesIO(shown["grid"])))
    assert grid.shape[0] > 2 * 8 * 8 and grid.shape[1] >= 8 * 8  # two rows of 8x8 digits drawn at least 8x
    bars = np.asarray(Image.open(io.BytesIO(shown["bars"])).convert("RGB"))
    assert bars.shape == (HEIGHT, WIDTH, 3)
    title = "The code: 4 numbers are all the decoder sees"
    assert np.array_equal(bars, code_bars(metrics.encode_all(model, image)[0], title=title, theme="dark"))
