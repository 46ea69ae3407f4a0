"""The denoising page in AppTest: each noise kind ships a 21-frame scrub figure; controls and own images work."""

from __future__ import annotations

import json

import numpy as np
import pytest
from apptest import run_page

from aeviz import images
from aeviz.noise import NOISE_KINDS

PAGE = "pages/denoising.py"


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def scrub_spec(at) -> dict:
    spec = charts(at)[0]
    assert len(spec["frames"]) == 21, "the first chart is the level scrubber"
    return spec


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_every_noise_kind_gets_its_own_scrubber_and_curve():
    at = run_page(PAGE, {"dataset": "digits"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="w_dn_kind").options == [k.label for k in NOISE_KINDS.values()]
    captions = [c.value for c in at.caption]
    assert "Gaussian adds N(0, sigma²) to every pixel, then clips the result to [0, 1]." in captions
    assert any("the mean of per-image PSNR" in c for c in captions)
    seen = set()
    for kind, spec in NOISE_KINDS.items():
        at.radio(key="w_dn_kind").set_value(kind).run()
        assert not at.exception, [e.value for e in at.exception]
        scrub, curve = charts(at)
        slider = scrub["layout"]["sliders"][0]
        assert len(scrub["frames"]) == len(slider["steps"]) == 21
        assert slider["currentvalue"]["prefix"].startswith(spec.label)
        assert slider["steps"][0]["args"][1]["transition"]["duration"] == 0  # snaps while dragging
        names = [t["name"] for t in curve["data"]]
        assert names == ["noisy", "plain (dense)", "denoising (dense)", "plain (conv)", "denoising (conv)"]
        seen.add(scrub["frames"][5]["data"][0]["source"])
        assert at.query_params["dn_kind"] in (kind, [kind])
    assert len(seen) == len(NOISE_KINDS)  # each kind corrupts differently


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_other_images_and_seed_change_the_frames():
    at = run_page(PAGE, {"dataset": "digits", "dn_kind": "masking"})
    first = scrub_spec(at)["frames"][10]["data"][0]["source"]
    at.slider(key="w_dn_seed").set_value(7).run()
    reseeded = scrub_spec(at)["frames"][10]["data"][0]["source"]
    assert reseeded != first and at.query_params["dn_seed"] in ("7", ["7"])
    at.radio(key="w_dn_img_mode").set_value("by index").run()
    at.text_input(key="w_dn_img_idx").input("5, 6, 7").run()
    assert not at.exception and scrub_spec(at)["frames"][10]["data"][0]["source"] not in (first, reseeded)
    assert any("\\#5 ·" in c.value and "\\#7 ·" in c.value for c in at.caption)  # escaped markdown


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist")
def test_mnist_opens_at_sigma_half_and_names_the_models():
    at = run_page(PAGE, {"dataset": "mnist"})
    assert not at.exception, [e.value for e in at.exception]
    scrub = scrub_spec(at)
    slider = scrub["layout"]["sliders"][0]
    assert slider["active"] == 10 and slider["steps"][10]["label"] == "0.50"
    assert scrub["data"][0]["source"] == scrub["frames"][10]["data"][0]["source"]
    text = " ".join(c.value for c in at.caption)
    assert "mnist-denoising-q32-bce-gaussian0.5" in text and "mnist-dense-q32-bce" in text
    assert "Gaussian noise at 0.5" in text


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_users_own_images_are_denoised_too():
    stroke = np.zeros((28, 28), np.float32)
    stroke[4:24, 12:16] = 1.0
    at = run_page(PAGE, {"dataset": "mnist"}, own_images=[images.Preprocessed(stroke, (), False, "my stroke")])
    assert "your images" in at.radio(key="w_dn_img_mode").options
    at.radio(key="w_dn_img_mode").set_value("your images").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(scrub_spec(at)["frames"]) == 21
    assert any("my stroke" in c.value for c in at.caption)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("dataset", ["fashion-mnist"])
def test_model_picker_lists_denoisers_per_architecture(dataset):
    at = run_page(PAGE, {"dataset": dataset})
    assert not at.exception, [e.value for e in at.exception]
    dense, conv = at.selectbox(key="w_dn_dense"), at.selectbox(key="w_dn_conv")
    assert all("denoising" in str(o) and "conv" not in str(o) for o in dense.options)
    assert all("denoising-conv" in str(o) for o in conv.options)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_occlusion_says_which_model_fills_a_hidden_block_best_from_the_numbers():
    from aeviz.checkpoints import load_checkpoint, scan_checkpoints
    from aeviz.data import load_dataset
    from aeviz.pca import pca_baseline
    from aeviz.views import denoising as view
    from aeviz.zoo import catalog

    at = run_page(PAGE, {"dataset": "digits"})
    assert not any("**Imputation**" in m.value for m in at.markdown)  # the lesson belongs to a hidden block
    at = run_page(PAGE, {"dataset": "digits", "dn_kind": "occlusion"})
    assert not at.exception, [e.value for e in at.exception]
    shown = next(m.value for m in at.markdown if m.value.startswith("**Imputation**"))
    every = catalog.imputation_models([i for i in scan_checkpoints()[0] if i.dataset == "digits"])
    models = {i.name.removeprefix("digits-"): load_checkpoint(i.path) for i in every}
    assert shown == view.imputation_for(models, load_dataset("digits", "test"), pca_baseline("digits"))
    assert "**denoising-q16-bce-occlusion0.25** fills it best" in shown and "closer than the mean" in shown

    assert "occlusion" in str(at.selectbox(key="w_dn_dense").value)  # its rows show the model trained for it
    gaussian = run_page(PAGE, {"dataset": "digits"}).selectbox(key="w_dn_dense").value
    assert "gaussian" in str(gaussian)  # and Gaussian noise opens on the Gaussian-trained one
    switched = run_page(PAGE, {"dataset": "digits"})
    switched.radio(key="w_dn_kind").set_value("occlusion").run()
    assert "occlusion" in str(switched.selectbox(key="w_dn_dense").value)
