"""Scrub frames: many frames of one labelled grid, laid out exactly like figures.compose_grid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from aeviz.views.figures import compose_grid
from aeviz.views.scrub import cell_scale, compose_frames

RNG = np.random.default_rng(0)


def test_frames_equal_compose_grid_of_each_frame():
    fixed, moving = RNG.random((5, 1, 12, 10)), RNG.random((4, 5, 1, 12, 10))
    frames = compose_frames([fixed, moving], row_labels=["fixed", "moving"], scale=2)
    assert frames.dtype == np.uint8 and frames.shape[0] == 4
    for f in range(4):
        reference = compose_grid([fixed, moving[f]], row_labels=["fixed", "moving"], scale=2, pad=2)[..., 0]
        assert np.array_equal(frames[f], reference)
    assert not np.array_equal(frames[0], frames[1])


def test_captions_are_drawn_where_compose_grid_draws_them():
    # cells wide enough for every caption at its full size (narrower ones fit the size to all frames at once)
    fixed, moving = RNG.random((5, 1, 12, 20)), RNG.random((3, 5, 1, 12, 20))
    captions = [[[""] * 5, [f"{v:.1f} dB" for v in RNG.random(5) * 30]] for _ in range(3)]
    frames = compose_frames([fixed, moving], row_labels=["a", "b"], cell_labels=captions, scale=3)
    for f in range(3):
        reference = compose_grid([fixed, moving[f]], row_labels=["a", "b"], cell_labels=captions[f], scale=3, pad=2)[
            ..., 0
        ]
        assert frames[f].shape == reference.shape
        ours, theirs = frames[f] < 128, reference < 128
        # glyph by glyph vs whole strings: the same ink, give or take a pixel of antialiasing
        assert (ours & ~binary_dilation(theirs)).sum() <= 0.005 * theirs.sum()
        assert (theirs & ~binary_dilation(ours)).sum() <= 0.005 * theirs.sum()
    assert not np.array_equal(frames[0], frames[1])


def test_frames_without_row_labels_and_with_uint8_rows():
    moving = (RNG.random((2, 3, 1, 8, 8)) * 255).astype(np.uint8)
    frames = compose_frames([moving], scale=1)
    assert frames.shape == (2, 8 + 2 * 2, 3 * (8 + 2) + 2)
    assert np.array_equal(frames[1, 2:10, 2:10], moving[1, 0, 0])


def test_rows_must_agree_on_the_frame_count_and_shape():
    with pytest.raises(ValueError, match="number of frames"):
        compose_frames([RNG.random((3, 2, 1, 8, 8)), RNG.random((4, 2, 1, 8, 8))])
    with pytest.raises(ValueError, match="rows must be"):
        compose_frames([RNG.random((2, 3, 2, 8, 8))])  # two channels: neither grey nor colour
    with pytest.raises(ValueError, match="rows must be"):
        compose_frames([RNG.random((2, 8, 8))])


def test_colour_frames_keep_their_colours_and_equal_compose_grid():
    fixed = RNG.random((4, 3, 8, 8))  # (N,C,H,W) colour
    moving = RNG.random((5, 4, 3, 8, 8))  # (F,N,C,H,W)
    grey = RNG.random((5, 4, 1, 8, 8))  # a grey row among colour ones
    frames = compose_frames([fixed, moving, grey], row_labels=["clean", "noisy", "grey"], scale=2)
    assert frames.shape[0] == 5 and frames.ndim == 4 and frames.shape[-1] == 3
    for f in (0, 4):
        reference = compose_grid([fixed, moving[f], grey[f]], row_labels=["clean", "noisy", "grey"], scale=2, pad=2)
        assert np.array_equal(frames[f], reference)
    assert not np.array_equal(frames[..., 0], frames[..., 1])  # really in colour


def test_cell_scale():
    assert cell_scale(28) == 3 and cell_scale(8) == 10 and cell_scale(28, 140) == 5 and cell_scale(400) == 1
