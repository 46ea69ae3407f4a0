"""The code map's figures: fixed axes holding every map, one frame per epoch, a caption from the numbers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from aeviz.views import codemap

CLASSES = [str(i) for i in range(10)]


def test_the_extent_holds_every_point_of_every_map():
    maps = [np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([[-3.0, 0.5], [0.0, -1.0]])]
    x0, x1, y0, y1 = codemap.extent(maps)
    assert x0 < -3 and x1 > 1 and y0 < -1 and y1 > 2
    assert x1 - x0 < 4 * 1.2  # padded by a little only
    assert codemap.extent([np.zeros((3, 2))])[0] < 0 < codemap.extent([np.zeros((3, 2))])[1]  # never empty


def test_the_replay_has_a_frame_and_a_step_per_epoch_and_opens_at_the_last():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(4, 50, 2)).astype(np.float16), np.arange(50) % 3
    spec = codemap.replay_figure([0, 1, 2, 3], points, labels, CLASSES)
    fig = go.Figure(spec)  # a valid figure
    assert [f.name for f in fig.frames] == ["0", "1", "2", "3"] and len(fig.data) == 3  # a trace per class present
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "1", "2", "3"]
    assert fig.layout.sliders[0].active == 3 and fig.layout.meta == codemap.REPLAY
    np.testing.assert_array_equal(fig.data[1].x, points[3][labels == 1, 0].astype(np.float32))
    np.testing.assert_array_equal(fig.frames[0].data[2].y, points[0][labels == 2, 1].astype(np.float32))
    x0, x1 = fig.layout.xaxis.range
    assert x0 <= points[..., 0].min() and x1 >= points[..., 0].max()  # one box for every frame
    with pytest.raises(ValueError):
        codemap.replay_figure([0, 1], points, labels, CLASSES)


def test_unknown_labels_are_grey_and_named_so():
    spec = codemap.live_figure(np.zeros((4, 2)), [-1, -1, 0, 0], CLASSES, (-1, 1, -1, 1))
    names = [t["name"] for t in go.Figure(spec).to_dict()["data"]]
    assert names == ["unknown", "0"] and spec["data"][0]["marker"]["color"] == "#888888"


def test_the_caption_says_what_the_map_is():
    assert codemap.caption(2000, [0, 1, 12], 16) == (
        "2,000 test images, epoch 0 (untrained) to 12; PCA of the 16-d codes per epoch, aligned to the previous "
        "epoch's axes"
    )
    assert codemap.caption(360, [5], 2) == "360 test images, epoch 5; the raw 2-d codes"
