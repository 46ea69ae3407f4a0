"""What the browser's decoder views are told: which dimensions get sliders, their ranges, a map's inverse."""

from __future__ import annotations

import json

import numpy as np

from aeviz import projection
from aeviz.views import decoding


def test_short_codes_get_every_dimension_long_ones_the_most_varied():
    assert decoding.slider_dims(np.ones(16)) == list(range(16))
    scores = np.arange(64.0)[::-1]  # dimension 0 varies most
    assert decoding.slider_dims(scores) == list(range(decoding.SLIDERS))
    assert decoding.slider_dims(np.r_[np.zeros(20), 5.0, 6.0], limit=2) == [20, 21]


def test_ranges_hold_the_codes_and_the_image_and_a_vae_spans_its_prior():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 4)).astype(np.float32) * [1, 2, 3, 4]
    code = np.array([0.0, 0.0, 50.0, 0.0], dtype=np.float32)  # far outside the test codes in dimension 2
    ranges = decoding.slider_ranges(code, [0, 1, 2, 3], codes)
    for d, (low, high) in enumerate(ranges):
        assert low < codes[:, d].min() and high > codes[:, d].max() and low <= code[d] <= high
    assert ranges[2][1] == 50.0
    assert decoding.slider_ranges(code[:2], [0, 1], None) == [[-3.0, 3.0], [-3.0, 3.0]]


def test_playground_data_is_plain_json_and_says_which_dimensions_it_left_out():
    codes = np.random.default_rng(1).normal(size=(200, 40)).astype(np.float32)
    spec = decoding.playground_data(codes[0], codes.var(axis=0), "σ", codes, image=np.zeros((1, 8, 8)))
    json.dumps(spec)
    assert len(spec["dims"]) == decoding.SLIDERS and len(spec["code"]) == 40
    assert "12 of 40 dimensions" in spec["note"] and spec["original"].startswith("data:image/png;base64,")
    assert spec["labels"][0] == f"z{spec['dims'][0]}" and spec["notes"][0].startswith("σ ")
    vae = decoding.playground_data(codes[0, :8], np.arange(8.0), "KL", None)
    assert vae["note"] == "" and vae["notes"][3] == "KL 3" and vae["ranges"][0] == [-3.0, 3.0]


def test_a_pca_maps_inverse_is_what_latent_map_inverse_computes():
    codes = np.random.default_rng(2).normal(size=(300, 5)).astype(np.float32)
    pca = projection.fit_map(codes, "pca")
    inverse = decoding.map_inverse(pca)
    spot = np.array([[0.7, -1.2]], dtype=np.float32)
    mean, axes = np.array(inverse["mean"]), np.array(inverse["axes"])
    assert np.allclose(mean + spot[0, 0] * axes[0] + spot[0, 1] * axes[1], pca.inverse(spot)[0], atol=1e-6)
    assert decoding.map_inverse(projection.fit_map(codes[:, :2], "raw")) == {"kind": "raw"}
    assert decoding.prior_plane_inverse(True) == {"kind": "probit"}
    assert decoding.map_inverse(projection.LatentMap("umap", codes[:, :2], codes)) is None  # no inverse to send
