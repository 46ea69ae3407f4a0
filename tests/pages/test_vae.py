"""The VAE page in AppTest: interpolation scrubber and strip, KL-ranked traversal, prior samples, 2-d plane."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from apptest import run_page

from aeviz import images
from aeviz.checkpoints import user_dir
from aeviz.models import make_config
from aeviz.train import TrainConfig, train

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
        "Posterior",
        "β",
    ]
    scrub, plane, *rest = charts(at)
    assert len(rest) == 4  # the posterior's per dimension, the 2-d plane's ellipses, the loss terms; the beta tab's
    slider = scrub["layout"]["sliders"][0]
    assert len(scrub["frames"]) == 21 and slider["active"] == 10 and slider["currentvalue"]["prefix"] == "t = "
    assert len(plane["layout"]["images"]) == 1  # the decoded plane behind the codes
    assert [t["type"] for t in plane["data"]] == ["scattergl"] * 10  # test codes, one trace per class
    assert len(picture_urls(at)) == 6  # strip, traversal grid, samples, the posterior's draws; the beta tab's two
    assert at.selectbox(key="w_vae_model").value.name == "mnist-vae-h256-q16-bce"
    plane_caption = next(c.value for c in at.caption if "mnist-vae-h256-q2-bce" in c.value)  # the 2-d sibling
    assert "5 %…95 % quantiles" in plane_caption and "Kingma & Welling" in plane_caption
    assert plane["layout"]["xaxis"]["range"] == [0, 1]  # drawn on the quantile scale
    assert "holes" not in at.markdown[0].value + at.caption[0].value  # no 'without holes' in the intro
    assert "plain AE (`mnist-dense" in at.get("image")[0].proto.imgs[0].caption  # the strip compares with it


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
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
    plane = charts(at)[1]  # after the scrubber, before the beta tab
    assert plane["layout"]["xaxis"]["range"] == [-3 - 3 / 19, 3 + 3 / 19]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_resample_and_temperature_change_the_samples_and_live_in_the_url():
    at = run_page(PAGE, {"dataset": "digits"})
    strip, traversal, samples, *_ = picture_urls(at)  # then the beta tab's two
    at.button(key="vae_resample").click().run()
    assert not at.exception and at.query_params["vae_seed"] in ("1", ["1"])
    resampled = picture_urls(at)
    assert resampled[2] != samples and resampled[:2] == [strip, traversal]  # only the samples changed
    at.slider(key="w_vae_temp").set_value(0.1).run()
    assert picture_urls(at)[2] not in (samples, resampled[2]) and at.query_params["vae_temp"] in ("0.1", ["0.1"])
    assert at.get("image")[2].proto.imgs[0].caption == "32 codes drawn from N(0, 0.1²·I) with seed 1, decoded."


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_traversal_follows_the_image_and_dimension_count():
    at = run_page(PAGE, {"dataset": "digits"})
    before = picture_urls(at)[1]
    at.radio(key="w_vae_trav").set_value("B").run()
    after_b = picture_urls(at)[1]
    at.slider(key="w_vae_dims").set_value(3).run()
    assert len({before, after_b, picture_urls(at)[1]}) == 3 and not at.exception
    assert at.query_params["vae_dims"] in ("3", ["3"])


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
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


def values(array) -> np.ndarray:
    """A plotly spec's array: a list, or a typed array ({dtype, bdata})."""
    import base64

    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), np.dtype(array["dtype"]))
    return np.asarray(array, dtype=np.float64)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_posterior_tab_shows_image_as_posterior_draws_and_loss_terms():
    import torch

    from aeviz import checkpoints, data
    from aeviz.views import posterior as view

    query = {"dataset": "mnist", "vae_model": "mnist-vae-h256-q2-bce", "vae_pair_mode": "by index"}
    query["vae_pair_idx"] = "3,11"
    at = run_page(PAGE, query)
    assert not at.exception, [e.value for e in at.exception]
    info = next(c for c in checkpoints.list_checkpoints() if c.name == "mnist-vae-h256-q2-bce")
    vae = checkpoints.load_checkpoint(info.path)
    image = data.load_dataset("mnist", "test").images[3]
    with torch.inference_mode():
        mu, logvar = vae.encode_stats(image[None])
    specs = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    dims = next(t for t in specs["vae_post_dims"]["data"] if t["name"] == "mean μ")
    assert np.allclose(values(dims["y"]), mu[0].numpy(), atol=1e-5)
    ring = next(t for t in specs["vae_post_plane"]["data"] if t["name"] == "μ ± 2σ")
    std = torch.exp(0.5 * logvar[0]).numpy()
    assert values(ring["x"]).max() == pytest.approx(float(mu[0, 0] + 2 * std[0]), abs=1e-4)
    terms = view.loss_terms(info.metadata["history"])
    assert view.loss_sentence(terms) in [m.value for m in at.markdown]
    assert f"After {info.metadata['training']['epochs']} epochs" in view.loss_sentence(terms)  # the model's own
    draws = next(i for i in at.get("image") if "codes drawn from q(z|x) with seed 0" in i.proto.imgs[0].caption)
    at.button(key="vae_post_redraw").click().run()
    again = next(i for i in at.get("image") if "with seed 1" in i.proto.imgs[0].caption)
    assert again.proto.imgs[0].url != draws.proto.imgs[0].url  # other draws, another picture
    assert at.query_params["vae_post_seed"] in ("1", ["1"])


def test_a_vae_without_loss_terms_says_so():
    from streamlit.testing.v1 import AppTest

    def app():
        from types import SimpleNamespace

        from aeviz.ui.posterior import loss_terms

        loss_terms(SimpleNamespace(name="imported-vae", metadata={"history": []}, config={}))

    at = AppTest.from_function(app).run()
    assert not at.exception and "`imported-vae` records no per-epoch reconstruction and KL terms" in at.info[0].value


def plotly_array(spec: dict) -> list[float]:
    """A numeric array as plotly's JSON sends it: {'dtype': 'f8', 'bdata': base64 bytes}."""
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=spec["dtype"]).tolist()


@pytest.fixture
def beta2_vae():
    """The zoo's digits VAE (h64, q=8) again at beta = 2 (the zoo has 0.25, 1, 4 and 16), trained briefly into the
    server's folder: another recipe than the zoo's, which the page must say."""
    config = make_config("vae", bottleneck=8, hidden=(64,), input_shape=(1, 8, 8), beta=2.0)
    return train("vae", config, "digits", TrainConfig(epochs=20, batch_size=64), out_dir=user_dir())


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_beta_tab_switches_among_the_same_vae_at_each_beta(beta2_vae):
    from aeviz import checkpoints, data
    from aeviz.collapse import posterior_collapse

    at = run_page(PAGE, {"dataset": "digits", "vae_model": "digits-vae-h64-q8-bce"})
    assert not at.exception, [e.value for e in at.exception]
    radio = at.radio(key="w_vae_beta")
    assert list(radio.options) == ["0.25", "1", "2", "4", "16"] and radio.value == 1.0  # the page's VAE first
    test = data.load_dataset("digits", "test")
    zoo = {c.name: c for c in checkpoints.list_checkpoints(dataset="digits")}
    shipped = lambda name: posterior_collapse(checkpoints.load_checkpoint(zoo[name].path), test.images)
    one, four = shipped("digits-vae-h64-q8-bce"), posterior_collapse(beta2_vae.model, test.images)
    lo, hi = shipped("digits-vae-h64-q8-bce-beta0.25"), shipped("digits-vae-h64-q8-bce-beta16")
    text = " ".join(m.value for m in at.markdown)
    assert f"At **β = 1**, **{one.active_units} of 8** code dimensions are active" in text
    assert f"carries **{one.kl_total:.1f} nats** per image" in text
    assert f"From β = 0.25 to β = 16 the active dimensions go from {lo.active_units} to {hi.active_units}" in text
    assert hi.kl_total < lo.kl_total  # a stronger pull to the prior: less information in the code
    assert "Trained differently (β = 0.25, 1, 4, 16: 200 epochs on 1,437 images; β = 2: 20 epochs" in text

    radio.set_value(2.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["vae_beta"] in ("2.0", ["2.0"])
    text = " ".join(m.value for m in at.markdown)
    assert f"At **β = 2**, **{four.active_units} of 8** code dimensions are active" in text
    bars = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"][0]
    heights = bars["y"] if isinstance(bars["y"], list) else plotly_array(bars["y"])
    assert sorted(heights, reverse=True) == pytest.approx(sorted(four.kl.tolist(), reverse=True), rel=1e-5)
    assert bars["marker"]["color"].count("#e4572e") == four.active_units  # active dimensions coloured
