"""The latent map page's pieces: extent and click lattice, the figure, selections, decode-anywhere, galleries."""

from __future__ import annotations

import numpy as np
import plotly.io as pio
import pytest

from aeviz import checkpoints, data, metrics, projection
from aeviz.views import latent_map as view
from aeviz.views.latent_map import GRID, Extent


@pytest.fixture(scope="module")
def test_set():
    return data.load_dataset("digits", "test")


def zoo_model(q: int):
    zoo = checkpoints.list_checkpoints(dataset="digits")
    info = next(c for c in zoo if c.series == "dense-bce" and c.bottleneck == q)
    return checkpoints.load_checkpoint(info.path)


@pytest.fixture(scope="module")
def q2():
    return zoo_model(2)


@pytest.fixture(scope="module")
def q16():
    return zoo_model(16)


@pytest.fixture(scope="module")
def pca_map(q16, test_set):
    return projection.fit_map(metrics.encode_all(q16, test_set.images), "pca")


def test_grid_covers_the_extent_row_major_top_first():
    e = Extent(1.0, -2.0, 3.0)
    g = e.grid(4)
    assert g.shape == (16, 2) and g.dtype == np.float32
    assert np.allclose(g[:4, 1], g[0, 1]) and g[0, 1] > g[-1, 1]  # first row is the top one
    np.testing.assert_allclose(g[:4, 0], [-1.25, 0.25, 1.75, 3.25])  # cell centres, step 1.5
    assert (g[:, 0] > e.x[0]).all() and (g[:, 0] < e.x[1]).all() and (g[:, 1] > e.y[0]).all()


def test_extent_is_a_square_around_the_bulk_of_the_points():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.uniform([0, 0], [10, 4], (2000, 2)), [[1000.0, 1000.0]]])  # one far outlier
    e = view.map_extent(points)
    assert e.x[1] - e.x[0] == pytest.approx(e.y[1] - e.y[0])
    assert 10 < 2 * e.half < 12 and e.cx == pytest.approx(5, abs=0.2) and e.cy == pytest.approx(2, abs=0.2)


def test_map_figure_ships_compact_arrays_and_a_click_lattice():
    rng = np.random.default_rng(0)
    n = 70_000
    points, labels = rng.normal(size=(n, 2)), rng.integers(0, 10, n)
    fig = view.map_figure(points, labels, [str(c) for c in range(10)])
    lattice, *classes = fig.data
    assert len(classes) == 10 and all(t.type == "scattergl" for t in fig.data)
    assert lattice.name == "decode here" and lattice.showlegend is False and len(lattice.x) == GRID * GRID
    assert (np.asarray(lattice.customdata) < 0).all()
    index = np.sort(np.concatenate([np.asarray(t.customdata) for t in classes]))
    np.testing.assert_array_equal(index, np.arange(n))  # every point once, by its global index
    assert classes[0].x.dtype == np.float32
    assert fig.layout.dragmode is None  # Streamlit turns click-to-select off in lasso/box drag modes
    payload = len(pio.to_json(fig, validate=False))
    assert payload < 1_600_000, payload  # typed arrays (base64), not JSON number lists (~3.5 MB)


def test_map_figure_backdrop_and_linked_highlight(q2, test_set):
    codes = metrics.encode_all(q2, test_set.images)
    raw = projection.fit_map(codes, "raw")
    labels = test_set.labels.numpy()
    e = view.map_extent(raw.points)
    picture = view.backdrop(raw, q2, e, n=5)
    assert picture.shape == (40, 40) and picture.dtype == np.uint8
    fig = view.map_figure(
        raw.points, labels, test_set.classes, extent=e, backdrop=picture, grid=0, highlight=np.array([0, 1, 2])
    )
    assert len(fig.data) == len(np.unique(labels)) and fig.layout.images[0].layer == "below"
    selected = [int(t.customdata[i]) for t in fig.data for i in t.selectedpoints]
    assert sorted(selected) == [0, 1, 2]


def test_read_selection_splits_points_from_empty_spots():
    e = Extent(0, 0, 1)
    points = [
        {"customdata": 7},
        {"customdata": [3]},
        {"customdata": 7},
        {"customdata": -1},
        {"customdata": -1 - (GRID * GRID - 1)},
        {"x": 1.0},
    ]
    picked = view.read_selection(points, e)
    np.testing.assert_array_equal(picked.indices, [7, 3])
    np.testing.assert_allclose(picked.spots, e.grid(GRID)[[0, -1]])
    np.testing.assert_array_equal(view.read_selection(points, e, count=5).indices, [3])  # 7: not on this map
    empty = view.read_selection([], e)
    assert empty.indices.shape == (0,) and empty.spots.shape == (0, 2)


def test_a_selection_is_shown_by_a_sample_in_proportion_to_its_classes():
    """The lasso around MNIST's 7s: plotly reports points class by class, so the first 24 were its fringe of 0s,
    2s, 3s and a 4. The sample keeps the selection's proportions: 7s first and most, then 9s."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 20_000)
    counts = {0: 12, 2: 20, 3: 9, 4: 7, 7: 928, 9: 239}
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == c), n, replace=False) for c, n in counts.items()])
    sample = view.representative(chosen, labels, 24)
    assert len(sample) == 24 and len(set(sample)) == 24 and set(sample) <= set(chosen)
    shown = np.bincount(labels[sample], minlength=10)
    assert shown[7] == round(24 * 928 / 1215) == 18 and shown[9] == 5  # 18.3 and 4.7 of 24
    assert shown.sum() - shown[7] - shown[9] == 1 and labels[sample[0]] == 7  # one of the fringe; 7s first
    assert view.selection_summary(sample, labels, [str(c) for c in range(10)]).startswith("7 ×18, 9 ×5")
    np.testing.assert_array_equal(view.representative(chosen, labels, 24), sample)  # the same every rerun
    np.testing.assert_array_equal(view.representative(chosen[:10], labels, 24), chosen[:10])  # few: all of them
    even = view.representative(np.arange(100), np.repeat(np.arange(4), 25), 8)
    assert np.bincount(np.repeat(np.arange(4), 25)[even]).tolist() == [2, 2, 2, 2]


def test_nearest_orders_by_distance():
    points = np.array([[0, 0], [5, 5], [1, 0], [0, 2]], np.float32)
    np.testing.assert_array_equal(view.nearest(points, np.array([0.1, 0.0]), 3), [0, 2, 3])


def test_decode_at_is_the_decoder_at_the_inverse_of_the_map(q2, q16, pca_map, test_set):
    spots = np.array([[0.0, 0.0], [1.5, -2.0]], np.float32)
    images = view.decode_at(pca_map, q16, spots)
    assert images.shape == (2, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_allclose(images, metrics.decode_all(q16, pca_map.inverse(spots)), atol=1e-6)
    raw = projection.LatentMap("raw", spots, spots)
    np.testing.assert_allclose(view.decode_at(raw, q2, spots), metrics.decode_all(q2, spots), atol=1e-6)


def test_reconstruct_and_gallery(q16, test_set):
    images = test_set.images[:10].numpy()
    recon, errors = metrics.reconstruct_and_score(q16, images)
    assert recon.shape == images.shape and errors.shape == (10,)
    np.testing.assert_allclose(errors, metrics.image_errors(images, recon), rtol=1e-6)
    picture = view.gallery([("input", images, ["a"] * 10), ("q=16", recon, ["b"] * 10)], per_row=4, cell=16)
    block = view.gallery([("input", images[:4], ["a"] * 4), ("q=16", recon[:4], ["b"] * 4)], cell=16)
    assert picture.ndim == 3 and picture.shape[1] == block.shape[1]  # 10 images wrap into rows of 4...
    assert picture.shape[0] > 2.5 * block.shape[0]  # ...in 3 blocks of input + reconstruction
