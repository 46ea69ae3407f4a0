"""The Latent space explorer's views: neighbours in code space (against scikit-learn), the class filter, sprite
sheets (layout, the blob the browser reads), the 3-D figure and a selection's exports."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image

from aeviz import list_checkpoints, load_checkpoint, load_dataset
from aeviz.metrics import encode_all
from aeviz.views import projector as view


@pytest.mark.parametrize("q", [2, 16, 256])
def test_code_neighbours_are_scikit_learns_exact_ones(q):
    from sklearn.neighbors import NearestNeighbors

    codes = np.random.default_rng(q).normal(size=(3000, q)).astype(np.float32)
    index = view.CodeIndex(codes)
    exact = NearestNeighbors(n_neighbors=9, algorithm="brute").fit(codes.astype(np.float64))
    for i in (0, 17, 2999):
        found, dist = index.neighbours(i, 8)
        want_dist, want = exact.kneighbors(codes[i : i + 1].astype(np.float64))
        assert i not in found  # the point itself is not its own neighbour
        assert found.tolist() == [j for j in want[0] if j != i][:8]
        assert dist == pytest.approx([d for j, d in zip(want[0], want_dist[0], strict=True) if j != i][:8], abs=1e-9)
        assert (np.diff(dist) >= 0).all()


def test_neighbours_of_a_zoo_model_share_the_digits_class_mostly():
    info = next(c for c in list_checkpoints(dataset="digits") if c.family == "dense" and c.bottleneck == 8)
    test = load_dataset("digits", "test")
    codes = encode_all(load_checkpoint(info.path), test.images)
    labels = test.labels.numpy()
    index = view.CodeIndex(codes)
    same = [np.mean(labels[index.neighbours(i, 8)[0]] == labels[i]) for i in range(0, len(codes), 7)]
    assert np.mean(same) > 0.7  # codes of one class lie together: the list is not arbitrary


def test_ties_and_duplicates_come_in_index_order_and_a_tiny_set_gives_what_it_has():
    codes = np.zeros((5, 3), np.float32)
    codes[4] = 1
    found, dist = view.CodeIndex(codes).neighbours(0, 8)
    assert found.tolist() == [1, 2, 3, 4] and dist.tolist() == pytest.approx([0, 0, 0, np.sqrt(3)])
    assert view.CodeIndex(codes[:1]).neighbours(0, 8)[0].tolist() == []


def test_neighbour_rows_and_note_say_what_was_found():
    points = np.arange(20, dtype=np.float32).reshape(10, 2)
    labels = np.array([0, 0, 1, 0, 1, 1, 0, 0, 1, 0])
    rows = view.neighbour_rows(np.array([3, 2]), np.array([0.5, 1.25]), labels, ["zero", "one"], points)
    assert rows == [
        {"index": 3, "label": "zero", "distance": 0.5, "x": 6.0, "y": 7.0},
        {"index": 2, "label": "one", "distance": 1.25, "x": 4.0, "y": 5.0},
    ]
    note = view.neighbours_note(labels, ["zero", "one"], 0, np.array([3, 2]), np.array([0.5, 1.25]), 16)
    assert note.startswith("1 of its 2 nearest codes are zero too, at distances 0.5 to 1.25 in the 16-d code space")


def test_class_filter_hides_the_others_and_an_empty_filter_hides_none():
    classes = ["a", "b", "c"]
    assert view.hidden_classes(classes, ["b"]) == ("a", "c")
    assert view.hidden_classes(classes, []) == ()
    mask = view.shown_mask(np.array([0, 1, 2, 1]), classes, ("a", "c"))
    assert mask.tolist() == [False, True, False, True]


@pytest.mark.parametrize("count,cols,rows", [(1, 1, 1), (10, 4, 3), (10_000, 100, 100), (360, 19, 19)])
def test_sprite_layout_is_near_square_row_major(count, cols, rows):
    layout = view.sprite_layout(count, 28, 28)
    assert (layout.cols, layout.rows) == (cols, rows)
    assert layout.cell(count - 1) == (((count - 1) // cols) * 28, ((count - 1) % cols) * 28)
    with pytest.raises(IndexError):
        layout.cell(count)


def test_sprite_sheet_puts_each_image_in_its_cell():
    images = np.random.default_rng(0).random((11, 1, 5, 7)).astype(np.float32)
    sheet, layout = view.sprite_sheet(images)
    assert sheet.shape == (layout.rows * 5, layout.cols * 7) == (15, 28)
    for i in range(11):
        top, left = layout.cell(i)
        assert np.array_equal(sheet[top : top + 5, left : left + 7], np.round(images[i, 0] * 255).astype(np.uint8))
    assert not sheet[10:, 21:].any()  # the unused cell stays black


def test_sprite_blob_round_trips_at_sixteen_grey_levels_and_names_its_cells():
    test = load_dataset("digits", "test")
    blob = view.sprite_blob(test.images.numpy(), first=0)
    meta, ident, sheet = view.read_sprite_blob(blob)
    assert meta == {"first": 0, "count": 360, "cols": 19, "height": 8, "width": 8, "mime": "image/png", "levels": 16}
    layout = view.SpriteLayout(meta["count"], meta["cols"], meta["height"], meta["width"])
    original = np.round(test.images.numpy()[123, 0] * 255)
    top, left = layout.cell(123)
    cell = sheet[top : top + 8, left : left + 8].astype(float)
    assert np.abs(cell - original).max() <= 255 / 15 / 2 + 0.5  # 16 levels: within half a level
    assert view.sprite_blob(test.images.numpy(), first=0) == blob  # the same images, the same bytes (cacheable)
    assert view.read_sprite_blob(view.sprite_blob(test.images.numpy()[:100], first=0))[1] != ident
    assert int.from_bytes(blob[:8], "little") % 8 == 0  # the header is padded as the decoder weights' are


def test_colour_sprites_are_webp_and_close():
    ramp = np.linspace(0, 1, 16, dtype=np.float32)
    colours = np.random.default_rng(1).random((6, 3, 1, 1)).astype(np.float32)
    images = colours * (0.5 + 0.5 * ramp[None, None, :, None] * ramp[None, None, None, :])  # smooth, as photos
    meta, _, sheet = view.read_sprite_blob(view.sprite_blob(images, first=10_000))
    assert meta["mime"] == "image/webp" and meta["first"] == 10_000 and sheet.shape == (32, 48, 3)  # 3 columns, 2 rows
    assert np.abs(sheet[:16, :16].astype(float) - images[0].transpose(1, 2, 0) * 255).mean() < 6


def test_sprite_chunks_cover_the_map():
    assert view.sprite_chunks(25_000) == [(0, 10_000), (10_000, 20_000), (20_000, 25_000)]
    assert view.sprite_chunks(360) == [(0, 360)]


def test_map3d_figure_has_a_rotatable_trace_per_class_and_hides_filtered_ones():
    points = np.random.default_rng(2).normal(size=(30, 3))
    labels = np.arange(30) % 3
    fig = view.map3d_figure(points, labels, ["a", "b", "c"], hidden=("b",))
    assert [t.type for t in fig.data] == ["scatter3d"] * 3
    assert [t.visible for t in fig.data] == [True, "legendonly", True]
    assert fig.data[1].customdata.tolist() == list(range(1, 30, 3))
    assert fig.layout.scene.dragmode == "orbit"


def test_selection_csv_holds_index_class_position_and_code():
    points = np.array([[0.5, -1.0], [2.0, 3.0], [4.0, 5.0]], np.float32)
    codes = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9.5]], np.float32)
    text = view.selection_csv(np.array([2, 0]), np.array([0, 1, 1]), ["zero", "one, two"], points, codes)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["index", "class", "x", "y", "z0", "z1", "z2"],
        ["2", "one, two", "4", "5", "7", "8", "9.5"],
        ["0", "zero", "0.5", "-1", "1", "2", "3"],
    ]


def test_selection_grid_shows_every_selected_image():
    test = load_dataset("digits", "test")
    chosen = np.arange(0, 50, 5)
    grid = view.selection_grid(test.images.numpy()[chosen], chosen, test.labels.numpy(), test.classes)
    assert grid.ndim == 3 and grid.shape[2] == 3
    png = Image.open(io.BytesIO(view.figures.png_bytes(grid)))
    cell = 8 * 7  # digits are 8 px, drawn 7 times larger
    assert png.width >= 4 * cell and png.height >= 3 * cell  # 10 images: 4 per row, 3 rows
