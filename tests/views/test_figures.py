"""Composed grids, heatmaps, PNG encoding and the plotly figures the pages show."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from aeviz.views.figures import (
    PALETTE,
    compose_grid,
    diff_heatmap,
    marker_size,
    png_bytes,
    scatter_map,
    scrub_figure,
)

RNG = np.random.default_rng(0)


def test_grid_shape_without_labels():
    rows = [RNG.random((5, 28, 28)), RNG.random((5, 28, 28))]
    grid = compose_grid(rows, scale=3, pad=2)
    assert grid.dtype == np.uint8 and grid.shape == (2 * (84 + 2) + 2, 5 * (84 + 2) + 2, 3)


def test_grid_shape_with_labels_grows_by_the_label_areas():
    rows = [RNG.random((4, 10, 12)), RNG.random((4, 10, 12))]
    plain = compose_grid(rows, scale=2, pad=1)
    labelled = compose_grid(rows, row_labels=["input", "recon"], scale=2, pad=1, label_width=50)
    assert labelled.shape == (plain.shape[0], plain.shape[1] + 50, 3)
    headed = compose_grid(rows, col_labels=list("abcd"), scale=2, pad=1)
    captioned = compose_grid(rows, cell_labels=[["0.1"] * 4] * 2, scale=2, pad=1)
    assert headed.shape[1] == captioned.shape[1] == plain.shape[1]
    assert headed.shape[0] > plain.shape[0] and captioned.shape[0] > plain.shape[0]
    auto = compose_grid(rows, row_labels=["a", "a much longer label"], scale=2, pad=1)
    assert auto.shape[1] > plain.shape[1] + 50  # automatic width fits the longest label


def test_labels_are_drawn_in_dark_text():
    rows = [np.ones((2, 28, 28))]
    grid = compose_grid(rows, row_labels=["digits"], label_width=80, cell_labels=[["0.01", "0.02"]])
    label_area = grid[:, :80]
    assert label_area.min() < 100  # some dark text pixels
    assert (grid[:, 80:] < 100).any()  # captions under the white cells


def test_value_mapping_black_and_white():
    row = np.stack([np.zeros((4, 4)), np.ones((4, 4)), np.full((4, 4), 0.5), np.full((4, 4), 7.0)])
    grid = compose_grid([row], scale=1, pad=1)
    cells = [grid[1:5, 1 + i * 5 : 5 + i * 5] for i in range(4)]
    assert (cells[0] == 0).all() and (cells[1] == 255).all()
    assert (cells[2] == 128).all() and (cells[3] == 255).all()  # out-of-range values are clipped
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()  # white background and gaps


def test_rows_of_different_lengths_and_input_layouts():
    rows = [torch.rand(3, 1, 6, 6), np.zeros((1, 6, 6)), np.zeros((0, 6, 6))]
    grid = compose_grid(rows, scale=1, pad=1)
    assert grid.shape == (3 * 7 + 1, 3 * 7 + 1, 3)
    assert (grid[8:14, 1:7] == 0).all()  # second row: one black cell, left-aligned
    assert (grid[8:14, 8:] == 255).all()  # ... and white after it
    colour = np.zeros((2, 6, 6, 3), np.uint8)
    colour[..., 0] = 200
    assert (compose_grid([colour], scale=1, pad=1)[1:7, 1:7] == [200, 0, 0]).all()


def test_colour_rows_channels_first_show_their_colours_beside_grey_ones():
    colour = np.zeros((2, 3, 6, 6), np.float32)  # (N,C,H,W), as models return them
    colour[0, 0], colour[1, 2] = 1.0, 0.5  # a red image and a dark blue one
    grey = np.full((1, 1, 6, 6), 0.5, np.float32)
    grid = compose_grid([colour, grey], scale=1, pad=1)
    assert grid.shape == (2 * 7 + 1, 2 * 7 + 1, 3)
    assert (grid[1:7, 1:7] == [255, 0, 0]).all() and (grid[1:7, 8:14] == [0, 0, 128]).all()
    assert (grid[8:14, 1:7] == [128, 128, 128]).all()  # grey stays grey on the colour canvas
    assert np.array_equal(compose_grid([torch.from_numpy(colour)], scale=2), compose_grid([colour], scale=2))


def test_diff_heatmap_of_colour_images_is_the_mean_error_over_channels():
    x = np.zeros((1, 3, 4, 4), np.float32)
    y = x.copy()
    y[0, 0] = 1.0  # red wrong by 1, green and blue exact: a mean error of 1/3
    heat = diff_heatmap(x, y)
    assert heat.shape == (1, 4, 4, 3) and (heat == [170, 0, 0]).all()


def test_grid_rejects_mixed_sizes_and_wrong_label_counts():
    with pytest.raises(ValueError, match="one size"):
        compose_grid([np.zeros((1, 6, 6)), np.zeros((1, 7, 7))])
    with pytest.raises(ValueError, match="row labels"):
        compose_grid([np.zeros((1, 6, 6))], row_labels=["a", "b"])


def test_png_bytes_round_trip():
    image = RNG.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    data = png_bytes(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), image)
    grey = np.asarray(Image.open(io.BytesIO(png_bytes(np.full((3, 3), 1.0)))))
    assert (grey == 255).all()


def test_diff_heatmap_colours():
    x = torch.rand(3, 1, 8, 8)
    heat = diff_heatmap(x, x)
    assert heat.shape == (3, 8, 8, 3) and heat.dtype == np.uint8 and (heat == 0).all()
    full = diff_heatmap(np.zeros((1, 8, 8)), np.ones((1, 8, 8)))
    assert (full == [255, 255, 0]).all()  # largest error: yellow
    half = diff_heatmap(np.zeros((1, 8, 8)), np.full((1, 8, 8), 0.5))
    assert (half == [255, 0, 0]).all()  # half way: red
    assert (diff_heatmap(np.zeros((1, 2, 2)), np.full((1, 2, 2), 0.1), vmax=None) == [255, 255, 0]).all()


def test_scrub_figure_frames_and_instant_slider():
    frames = RNG.random((6, 20, 30))
    labels = [f"p={p:.1f}" for p in np.linspace(0, 0.5, 6)]
    fig = scrub_figure(frames, labels=labels, title="masking", scale=2)
    assert len(fig.frames) == 6 and all(f.data[0].source.startswith("data:image/png") for f in fig.frames)
    slider = fig.layout.sliders[0]
    assert len(slider.steps) == 6 and slider.transition.duration == 0
    assert [s.label for s in slider.steps] == labels
    for step, frame in zip(slider.steps, fig.frames, strict=True):
        assert step.method == "animate" and list(step.args[0]) == [frame.name]
        assert step.args[1]["frame"] == {"duration": 0, "redraw": True}
        assert step.args[1]["transition"]["duration"] == 0
    assert not fig.layout.updatemenus  # no play button
    assert fig.layout.xaxis.visible is False
    first = np.asarray(Image.open(io.BytesIO(_png_of(fig.frames[0].data[0].source))))
    assert first.shape[:2] == (40, 60)
    with pytest.raises(ValueError, match="label"):
        scrub_figure(frames, labels=labels[:-1])


def _png_of(uri: str) -> bytes:
    import base64

    return base64.b64decode(uri.split(",", 1)[1])


def test_scatter_map_traces_and_global_indices():
    n = 300
    points = RNG.normal(size=(n, 2)).astype(np.float32)
    labels = RNG.choice([0, 2, 7], size=n)
    global_index = np.arange(n) * 10 + 1000  # e.g. a subsample of the test set
    names = [f"digit {i}" for i in range(10)]
    fig = scatter_map(points, labels, names, customdata=global_index, hover_text=[f"p{i}" for i in range(n)])
    assert [t.name for t in fig.data] == ["digit 0", "digit 2", "digit 7"]
    assert all(t.type == "scattergl" and isinstance(t.x, np.ndarray) for t in fig.data)
    assert fig.data[1].marker.color == PALETTE[2]
    for trace, c in zip(fig.data, (0, 2, 7), strict=True):
        assert np.array_equal(trace.customdata, global_index[labels == c])
        assert np.array_equal(trace.x, points[labels == c, 0])
    assert fig.layout.dragmode == "lasso" and fig.layout.hovermode == "closest"
    assert fig.layout.yaxis.scaleanchor == "x"
    default = scatter_map(points, labels, names)
    assert np.array_equal(np.sort(np.concatenate([t.customdata for t in default.data])), np.arange(n))


def test_marker_size_shrinks_with_n():
    assert marker_size(100) > marker_size(10_000) > marker_size(60_000) > 1


# --- live training curves -----------------------------------------------------------------------------------


def test_loss_curves_draw_each_train_part_and_the_test_loss_over_all_epochs():
    from aeviz.views.figures import loss_curves

    steps = [(0.5, {"recon": 0.4, "kl": 0.01}), (1.0, {"recon": 0.3, "kl": 0.02}), (1.5, {"recon": 0.25, "kl": 0.02})]
    fig = loss_curves(steps, [(1, {"recon": 0.28, "kl": 0.02})], epochs=30)
    assert [t.name for t in fig.data] == ["train recon", "train kl", "test recon"]
    assert list(fig.data[0].x) == [0.5, 1.0, 1.5] and list(fig.data[1].y) == [0.01, 0.02, 0.02]
    assert list(fig.data[2].x) == [1] and fig.data[1].line.dash == "dot" and fig.data[0].line.dash is None
    assert tuple(fig.layout.xaxis.range) == (0, 30) and fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "loss (log); recon: mean per pixel"  # a sparse L1 penalty is not
    empty = loss_curves([], [], epochs=5)  # a job that has not reported yet still gets axes
    assert [t.name for t in empty.data] == ["test recon"] and tuple(empty.layout.xaxis.range) == (0, 5)
