"""The VAE page in AppTest: interpolation scrubber and strip, KL-ranked traversal, prior samples, 2-d plane."""

from __future__ import annotations

import json

import numpy as np
import pytest
from apptest import run_page

from aeviz import images

PAGE = "pages/vae.py"


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def picture_urls(at) -> list[str]:
    """Media URLs (hashes of the bytes) of the composed pictures: strip, traversal, samples."""
    return [img.proto.imgs[0].url for img in at.get("image")]


@pytest.mark.needs_data("mnist")
def test_all_four_views_render_on_mnist():
    at = run_page(PAGE, {"dataset": "mnist"})
    assert not at.exception, [e.value for e in at.exception]
    assert [t.label for t in at.tabs] == [
        "Interpolate",
        "One dimension at a time",
        "Sample from the prior",
        "2-d code plane",
        "Drag the code",
    ]
    scrub, plane = charts(at)
    slider = scrub["layout"]["sliders"][0]
    assert len(scrub["frames"]) == 21 and slider["active"] == 10 and slider["currentvalue"]["prefix"] == "t = "
    assert len(plane["layout"]["images"]) == 1  # the decoded plane behind the codes
    assert [t["type"] for t in plane["data"]] == ["scattergl"] * 10  # test codes, one trace per class
    assert len(picture_urls(at)) == 3  # strip, traversal grid, samples
    assert at.selectbox(key="w_vae_model").value.name == "mnist-vae-h256-q16-bce"
    plane_caption = next(c.value for c in at.caption if "mnist-vae-h256-q2-bce" in c.value)  # the 2-d sibling
    assert "5 %…95 % quantiles" in plane_caption and "Kingma & Welling" in plane_caption
    assert plane["layout"]["xaxis"]["range"] == [0, 1]  # drawn on the quantile scale
    assert "holes" not in at.markdown[0].value + at.caption[0].value  # no 'without holes' in the intro
    assert "plain AE (`mnist-dense" in at.get("image")[0].proto.imgs[0].caption  # the strip compares with it


@pytest.mark.needs_data("mnist")
def test_the_code_plane_counts_its_empty_cells_and_toggles_to_a_linear_grid():
    from aeviz import checkpoints, data, metrics
    from aeviz.views import vaeplane as plane

    at = run_page(PAGE, {"dataset": "mnist", "vae_model": "mnist-vae-conv-q2-bce"})
    assert not at.exception, [e.value for e in at.exception]
    path = next(c.path for c in checkpoints.list_checkpoints() if c.name == "mnist-vae-conv-q2-bce")
    codes = metrics.encode_all(checkpoints.load_checkpoint(path), data.load_dataset("mnist", "test").images)
    counts = plane.cell_counts(codes)
    caption = next(c.value for c in at.caption if "mnist-vae-conv-q2-bce" in c.value)
    thin = plane.underfilled(counts)
    assert thin > 0 and f"**{thin}** hold fewer than half that" in caption and "about 100 of the 10,000" in caption
    assert f"the emptiest {counts.min()}, the fullest {counts.max()}" in caption and "leave about 0 so" in caption
    at.toggle(key="w_vae_linear").set_value(True).run()
    assert not at.exception and at.query_params["vae_linear"] in ("1", ["1"])
    caption = next(c.value for c in at.caption if "mnist-vae-conv-q2-bce" in c.value)
    assert "linear over −3…+3" in caption
    plane = charts(at)[-1]
    assert plane["layout"]["xaxis"]["range"] == [-3 - 3 / 19, 3 + 3 / 19]


def test_resample_and_temperature_change_the_samples_and_live_in_the_url():
    at = run_page(PAGE, {"dataset": "digits"})
    strip, traversal, samples = picture_urls(at)
    at.button(key="vae_resample").click().run()
    assert not at.exception and at.query_params["vae_seed"] in ("1", ["1"])
    resampled = picture_urls(at)
    assert resampled[2] != samples and resampled[:2] == [strip, traversal]  # only the samples changed
    at.slider(key="w_vae_temp").set_value(0.1).run()
    assert picture_urls(at)[2] not in (samples, resampled[2]) and at.query_params["vae_temp"] in ("0.1", ["0.1"])
    assert at.get("image")[2].proto.imgs[0].caption == "32 codes drawn from N(0, 0.1²·I) with seed 1, decoded."


def test_traversal_follows_the_image_and_dimension_count():
    at = run_page(PAGE, {"dataset": "digits"})
    before = picture_urls(at)[1]
    at.radio(key="w_vae_trav").set_value("B").run()
    after_b = picture_urls(at)[1]
    at.slider(key="w_vae_dims").set_value(3).run()
    assert len({before, after_b, picture_urls(at)[1]}) == 3 and not at.exception
    assert at.query_params["vae_dims"] in ("3", ["3"])


@pytest.mark.needs_data("mnist")
def test_conv_vae_and_a_single_own_image():
    stroke = np.zeros((28, 28), np.float32)
    stroke[6:22, 10:18] = 1.0
    at = run_page(
        PAGE,
        {"dataset": "mnist", "vae_model": "mnist-vae-conv-q16-bce"},
        own_images=[images.Preprocessed(stroke, (), False, "my block")],
    )
    at.radio(key="w_vae_pair_mode").set_value("your images").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "two images" in at.warning[0].value  # one own image: the second end is a test image
    assert any("my block" in m.value for m in at.markdown)
    assert at.selectbox(key="w_vae_model").value.name == "mnist-vae-conv-q16-bce"
    assert any("mnist-vae-conv-q2-bce" in c.value for c in at.caption)
