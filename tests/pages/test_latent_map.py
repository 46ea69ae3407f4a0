"""The Latent space page in AppTest on the real zoo: map, selections, decode-anywhere, side by side, jobs, kNN."""

from __future__ import annotations

import time

import pytest
from apptest import run_page
from plotly_events import chart, select

from aeviz import checkpoints

PAGE = "pages/latent_map.py"


def open_page(timeout: float = 180, **query):
    return run_page(PAGE, {"dataset": "digits", **query}, timeout)


def settle(at, timeout: float = 240):
    """Rerun until no background job shows progress any more (a browser polls; AppTest must ask)."""
    deadline = time.monotonic() + timeout
    while at.get("progress") and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.get("progress"), [p.proto.text for p in at.get("progress")]
    return at


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info") for e in at.get(kind))


def zoo(series: str, q: int) -> str:
    return next(
        c.name for c in checkpoints.list_checkpoints(dataset="digits") if c.series == series and c.bottleneck == q
    )


def test_pca_map_then_a_box_selection_shows_the_gallery():
    at = ok(open_page(map_method="pca"))
    assert at.title[0].value.startswith("Latent space")
    assert "PCA of 360 codes" in texts(at) and "Select some points" in texts(at)
    assert "(kNN-7 on its codes" in texts(at)  # whether the classes form islands, from the numbers
    spec = chart(at, "map_chart").proto.spec
    assert '"decode here"' in spec and '"bdata"' in spec  # click lattice, typed arrays
    ok(select(at, "map_chart", [0, 5, 9, 12, 40, -3, -4]))  # a box catches points and lattice spots
    assert "**5 selected**" in texts(at)
    assert "map_other" not in at.query_params  # "no second model" is a link without the key, not "map_other=None"
    assert len(at.image) == 1  # one composed gallery, not one image per point
    assert at.get("download_button")


def test_a_click_on_an_empty_spot_decodes_its_projection_on_pca():
    import re

    import numpy as np
    from sklearn.decomposition import PCA

    from aeviz import data, metrics

    at = ok(select(ok(open_page(map_method="pca")), "map_chart", [-1 - 465]))
    name = at.selectbox(key="w_map_model").value.name
    model = checkpoints.load_checkpoint(next(c.path for c in checkpoints.list_checkpoints() if c.name == name))
    codes = metrics.encode_all(model, data.load_dataset("digits", "test").images)
    kept = PCA(2).fit(codes.astype(np.float64)).explained_variance_ratio_.sum()
    said = texts(at)
    assert "Decoding a map position is a projection" in said and "exact" not in said
    assert f"the other {model.bottleneck - 2} PCA coordinates held at their mean" in said
    shares = set(re.findall(r"keeps (\d+) % of the code variance", said))
    assert shares == {f"{100 * kept:.0f}"}, (shares, kept)  # the caption and the map line agree with it
    assert len(at.image) == 2  # the decoded image and its nearest neighbours on the map
    assert "selected" not in texts(at)


def kit_data(at, key: str):
    """The aeviz.kit element with user key `key`: its JSON data (a view), or its bytes (weights, sprites)."""
    import json

    def walk(node):
        for child in getattr(node, "children", {}).values():
            yield child
            yield from walk(child)

    found = [n.proto for n in walk(at._tree) if getattr(n, "type", "") == "bidi_component" and n.proto.id.endswith(key)]
    assert found, f"no kit element {key!r}"
    return json.loads(found[0].json) if found[0].WhichOneof("data") == "json" else found[0].bytes


def digits_codes(name: str):
    from aeviz import data, metrics

    model = checkpoints.load_checkpoint(next(c.path for c in checkpoints.list_checkpoints() if c.name == name))
    test = data.load_dataset("digits", "test")
    return metrics.encode_all(model, test.images), test


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_click_on_a_point_lists_its_neighbours_in_code_space():
    from aeviz.views.projector import CodeIndex

    at = ok(select(ok(open_page(map_method="pca")), "map_chart", [17]))
    assert "**1 selected**" in texts(at) and len(at.image) == 1  # its gallery; not the map's nearest images
    near = kit_data(at, "map_near")
    codes, test = digits_codes(at.selectbox(key="w_map_model").value.name)
    found, distances = CodeIndex(codes).neighbours(17, 8)
    assert near["focus"]["index"] == 17 and [r["index"] for r in near["items"]] == found.tolist()
    assert [r["distance"] for r in near["items"]] == pytest.approx(distances.tolist(), abs=1e-5)
    assert [r["label"] for r in near["items"]] == [test.classes[test.labels[i]] for i in found]
    assert near["chart"] == "map_chart" and near["sprites"][0]["count"] == 360
    assert [b.label for b in at.get("download_button")] == ["Selection as CSV", "Images as PNG"]


def test_an_index_found_stands_in_for_a_click_and_a_click_takes_over():
    at = ok(open_page(map_method="pca", map_find="42"))
    assert kit_data(at, "map_near")["focus"]["index"] == 42 and "**1 selected**" in texts(at)
    at = ok(select(at, "map_chart", [3, 4, 5]))
    assert "**3 selected**" in texts(at)
    with pytest.raises(AssertionError, match="no kit element"):
        kit_data(at, "map_near")  # three points: no one point's neighbours


def test_the_class_filter_hides_the_other_classes_on_the_map():
    import json

    at = ok(open_page(map_method="pca", map_classes="3,5"))
    traces = json.loads(chart(at, "map_chart").proto.spec)["data"]
    shown = {t["name"] for t in traces if t.get("visible", True) is True and t["name"] != "decode here"}
    assert shown == {"3", "5"}
    assert {t["name"] for t in traces if t.get("visible") == "legendonly"} == {str(d) for d in range(10)} - shown


def test_sprites_are_sent_once_per_map_with_every_test_image():
    from aeviz.views.projector import read_sprite_blob

    at = ok(open_page(map_method="pca"))
    meta, ident, sheet = read_sprite_blob(kit_data(at, "map_sprites_0"))
    assert meta["count"] == 360 and sheet.shape == (19 * 8, 19 * 8)
    assert kit_data(at, "map_hover")["sprites"] == [{"id": ident, "first": 0, "count": 360}]


def test_the_3d_view_turns_pca_codes_and_rings_a_found_point():
    import json

    at = ok(open_page(map_method="pca", map_3d="1", map_find="7"))
    spec = json.loads(chart(at, "map_chart_3d").proto.spec)
    assert {t["type"] for t in spec["data"]} == {"scatter3d"}
    assert spec["data"][-1]["name"] == "#7 and neighbours" and spec["data"][-1]["customdata"][0] == 7
    assert "3-D PCA** of 360 codes" in texts(at) and "Drag to turn it" in texts(at)
    assert kit_data(at, "map_hover_3d")["chart"] == "map_chart_3d"
    two_d = ok(open_page(map_model=zoo("vae-h64-bce", 2), map_3d="1"))
    assert two_d.toggle(key="w_map_3d").proto.disabled and chart(two_d, "map_chart")  # a 2-d code: the plane


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_two_d_model_offers_the_code_plane_and_the_decoded_manifold_underneath():
    at = ok(open_page(map_model=zoo("vae-h64-bce", 2), map_under="1"))
    assert at.radio(key="w_map_method").options[0] == "code plane"
    assert "code plane of 360 codes" in texts(at)
    spec = chart(at, "map_chart").proto.spec
    assert '"images":[' in spec and "iVBORw0KGgo" in spec  # the decoded manifold as a PNG, under the points
    at = ok(select(at, "map_chart", [-1]))
    assert "exact: the code is the position itself" in texts(at)


def test_side_by_side_lights_up_the_same_images_in_the_second_map():
    at = ok(open_page(map_method="pca", map_model=zoo("dense-bce", 16), map_other=zoo("dense-bce", 2)))
    assert "selectedpoints" not in chart(at, "map_chart_other").proto.spec
    at = ok(select(at, "map_chart", [1, 2, 3]))
    assert "selectedpoints" in chart(at, "map_chart_other").proto.spec
    assert f"**{zoo('dense-bce', 2)}** · PCA" in texts(at)  # both mapped the same way


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_unknown_url_values_fall_back_to_defaults():
    at = ok(open_page(map_method="isomap", map_model="no-such-model", map_split="everything"))
    assert at.radio(key="w_map_method").value == "umap"
    assert at.radio(key="w_map_split").value == "test"


def test_knn_panel_lists_raw_pixels_pca_and_every_model():
    at = settle(ok(open_page(map_method="pca")))
    table = at.dataframe[0].value
    models = checkpoints.list_checkpoints(dataset="digits")
    pca = [f"PCA-{q}" for q in sorted({m.bottleneck for m in models if m.bottleneck < 64})]
    assert list(table["codes of"][: 1 + len(pca)]) == ["raw pixels", *pca] and len(table) == 1 + len(pca) + len(models)
    assert table["kNN-7 %"][0] > 95 and table["kNN-7 %"].notna().all()
    assert set(table["from"]) <= {"shipped run", "this server", "at training"}
    assert at.dataframe[0].proto.placeholder == "—"  # a missing figure (no published one) is a dash, not "None"
    assert "PCA of the same size" in texts(at)  # the verdict, from the numbers


def test_map_jobs_name_each_map_as_the_radio_does():
    from aeviz.ui import maps

    words = {method: maps._map_words(method, 1797) for method in maps.MAP_METHODS}
    assert words["raw"] == ("code plane of 1,797 codes", "placing 1,797 codes on the code plane")  # was "RAW map"
    assert words["tsne"] == ("t-SNE map of 1,797 codes", "fitting t-SNE on 1,797 codes")  # was "TSNE"
    for method, name in maps.MAP_METHODS.items():
        assert words[method][0].startswith(name)


@pytest.mark.slow
def test_all_images_map_is_fitted_in_the_background_then_shown():
    at = ok(open_page(map_method="pca", map_split="all"))
    if "test + train" not in texts(at) or "1,797" not in texts(at):
        assert "Meanwhile: the PCA map of the test set" in texts(at)  # never blocks: the test map meanwhile
        at = settle(at)
    assert "PCA of 1,797 codes" in texts(at) and "Indices from 360 on are training images" in texts(at)
    ok(select(at, "map_chart", [1000, 1500]))
    assert "**2 selected**" in texts(at)


@pytest.mark.slow
def test_cold_tsne_shows_progress_then_the_map(monkeypatch):
    from aeviz import projection
    from aeviz.ui import caches, maps

    shipped = projection.load_maps  # the zoo now ships t-SNE maps: these models play ones trained here, without
    monkeypatch.setattr(
        projection, "load_maps", lambda *a, **k: {m: v for m, v in shipped(*a, **k).items() if m != "tsne"}
    )
    monkeypatch.setattr(maps, "_STORED_MAPS", set())
    caches._map.clear()
    at = ok(open_page(map_method="tsne", map_model=zoo("dense-bce", 8)))
    assert at.get("progress") and "Meanwhile: the PCA map" in texts(at)
    assert "left" not in at.get("progress")[0].proto.text  # no t-SNE timed on this server yet: no promise
    at = ok(settle(at))
    assert "t-SNE of 360 codes" in texts(at)
    again, seen = ok(open_page(map_method="tsne", map_model=zoo("dense-bce", 4))), []
    while again.get("progress"):
        seen.append(again.get("progress")[0].proto.text)
        time.sleep(0.2)
        again.run()
    assert any(" s left" in text or "longer than the last one" in text for text in seen), seen  # the first, timed
    at = ok(select(at, "map_chart", [-100]))
    assert "approximate" in texts(at) and "t-SNE has no inverse" in texts(at)


@pytest.mark.slow  # a real t-SNE fit in the helper process
def test_the_map_helper_starts_only_when_a_fit_is_queued(monkeypatch):
    """The zoo ships its maps: home and the UMAP map open with no helper process (and none scheduled)."""
    import threading

    from aeviz import ui

    monkeypatch.setenv("AEVIZ_WARM_UP", "1")  # as a real server runs
    ui.map_worker.clear()
    assert not run_page("pages/home.py", {"dataset": "digits"}).exception
    at = ok(open_page(map_method="umap"))
    assert not at.get("progress")  # the shipped map, no job
    assert not ui.map_worker().alive
    assert not any(isinstance(t, threading.Timer) for t in threading.enumerate())  # nor one about to start
    info = at.session_state["aeviz_context"].default_model()
    job = ui.submit_map(info, "tsne")  # no map shipped for t-SNE: a fit is queued, and the helper starts for it
    deadline = time.monotonic() + 240
    while job.state.name not in ("DONE", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.state.name == "DONE", job.state
    assert ui.map_worker().alive
    ui.map_worker().stop()
