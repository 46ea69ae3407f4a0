"""The decoder in the browser under AppTest (which runs no component): each page mounts the weights once, as bytes,
and the view's plain data, and says what the browser will do; nothing else on the page depends on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from apptest import run_page

from aeviz import checkpoints, data, metrics, webdecoder


def kit_elements(at) -> tuple[list[bytes], list[dict]]:
    """(weights blobs, views' data) of every aeviz.kit element on the page."""
    found = [e.proto for e in at.get("bidi_component") if e.proto.component_name == "aeviz.kit"]
    blobs = [p.bytes for p in found if p.WhichOneof("data") == "bytes"]
    views = [json.loads(p.json) for p in found if p.WhichOneof("data") == "json"]
    return blobs, views


def zoo(name: str):
    info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == name)
    return info, checkpoints.load_checkpoint(info.path)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist")
def test_home_sends_the_models_decoder_and_the_images_code():
    at = run_page("pages/home.py", {"dataset": "mnist", "home_model": "mnist-conv-q16-bce", "home_idx": "5"})
    assert not at.exception
    blobs, views = kit_elements(at)
    info, model = zoo("mnist-conv-q16-bce")
    assert blobs == [webdecoder.export(model).to_bytes(str(info.metadata["hash"]))]  # once, this model's
    (view,) = views
    code = metrics.encode_all(model, data.load_dataset("mnist", "test").images[5:6])[0]
    assert view["view"] == "playground" and view["model"] == info.metadata["hash"] and view["shape"] == [1, 28, 28]
    assert np.abs(np.array(view["code"]) - code).max() < 1e-6 and view["dims"] == list(range(16))
    assert "fallback" not in view
    assert any("The layers of mnist\\-conv\\-q16\\-bce" in e.label for e in at.expander)  # the diagram (escaped)


def decoders(blobs: list[bytes]) -> list[bytes]:
    """The decoder weights among the kit's blobs (the Latent space page also sends its sprite sheets)."""
    return [b for b in blobs if b'"aeviz.decoder"' in b[:4096]]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_latent_map_hovers_on_pca_and_says_why_not_on_umap():
    query = {"dataset": "mnist", "map_model": "mnist-dense-q16-bce", "map_method": "pca"}
    at = run_page("pages/latent_map.py", query)
    assert not at.exception
    blobs, views = kit_elements(at)
    (view,) = views
    assert len(decoders(blobs)) == 1 and view["view"] == "hover" and view["chart"] == "map_chart"
    assert view["inverse"]["kind"] == "linear" and len(view["inverse"]["mean"]) == 16
    assert any("Hover over the map" in c.value and "The plane keeps" in c.value for c in at.caption)
    at = run_page("pages/latent_map.py", query | {"map_method": "umap"})
    blobs, views = kit_elements(at)
    assert decoders(blobs) == []  # no weights: nothing decodes (the hover thumbnails' sprites are still sent)
    assert [v["inverse"] for v in views if v["view"] == "hover"] in ([], [None])
    assert any("Hover-decoding is off here" in c.value for c in at.caption)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_vae_page_has_a_playground_ranked_by_kl_and_a_hover_plane():
    at = run_page("pages/vae.py", {"dataset": "mnist", "vae_model": "mnist-vae-h256-q16-bce"})
    assert not at.exception
    blobs, views = kit_elements(at)
    kinds = {v["view"]: v for v in views}
    assert set(kinds) == {"playground", "hover"} and len(blobs) == 2  # the q16 VAE's and its 2-d sibling's
    assert kinds["playground"]["notes"][0].startswith("KL ") and kinds["playground"]["ranges"][0] == [-3.0, 3.0]
    assert kinds["hover"]["inverse"] == {"kind": "probit"} and kinds["hover"]["chart"] == "vae_plane"


def test_a_code_sent_back_is_used_only_when_it_is_this_images_and_well_formed():
    from aeviz.ui.decoder import _sent_code

    good = {"code": {"origin": "m-1", "values": [0.5, -1.0, 2.0]}}
    assert np.array_equal(_sent_code(good, "m-1", 3), np.array([0.5, -1.0, 2.0], dtype=np.float32))
    for state in (
        None,
        {"code": {"origin": "m-2", "values": [0.5, -1.0, 2.0]}},  # another image's
        {"code": {"origin": "m-1", "values": [0.5, -1.0]}},  # too short
        {"code": {"origin": "m-1", "values": ["x", 1, 2]}},  # not numbers
        {"code": {"origin": "m-1", "values": [1e39, 0, 0]}},  # past float32: infinite
        {"code": {"origin": "m-1", "values": [[1], [2], [3]]}},
        {"code": [1, 2, 3]},
    ):
        assert _sent_code(state, "m-1", 3) is None
