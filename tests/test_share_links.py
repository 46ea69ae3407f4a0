"""A shared link opens the view it was made on: every page, opened with a non-default value for each control in the
URL, shows those values (widgets, tab, scrub position) and keeps them in its URL."""

from __future__ import annotations

import json

import numpy as np
import pytest
from apptest import run_page

from aeviz import images

CONTROLS = {  # page -> a link with every control away from its default (digits: the fastest zoo)
    "pages/home.py": {"home_model": "digits-conv-q8-bce", "home_idx": "7"},
    "pages/reconstructions.py": {"rec_family": "conv", "rec_mode": "by class", "rec_class": "3", "rec_seed": "5"},
    "pages/latent_map.py": {
        "map_model": "digits-conv-q2-bce",
        "map_other": "digits-dense-q8-bce",
        "map_method": "pca",
        "map_under": "1",
    },
    "pages/denoising.py": {
        "dn_kind": "masking",
        "dn_level": "0.35",
        "dn_seed": "7",
        "dn_img_mode": "by index",
        "dn_img_idx": "3,4,5",
    },
    "pages/vae.py": {
        "vae_model": "digits-vae-h64-q2-bce",
        "vae_tab": "Sample from the prior",
        "vae_t": "0.2",
        "vae_trav": "B",
        "vae_dims": "1",
        "vae_temp": "0.5",
        "vae_seed": "3",
        "vae_pair_mode": "by class",
        "vae_pair_class": "4",
        "vae_pair_seed": "2",
    },
    "pages/anomalies.py": {
        "err_models": "digits-dense-q8-bce,digits-conv-q16-bce",
        "err_metric": "mse",
        "err_how": "max",
        "err_src": "mnist",
        "err_cls_mnist": "1,2",
        "err_n": "50",
        "err_seed": "4",
        "err_flag": "2.5",
        "err_k": "6",
    },
    "pages/your_images.py": {
        "you_prep": "0",
        "you_tab": ":material/draw: Draw",
        "you_metric": "bce",
        "you_map_model": "digits-conv-q8-bce",
    },
    "pages/train.py": {"train_data": "mnist", "train_family": "denoising", "train_noise": "masking"},
}
TABS = {"vae_tab", "you_tab"}  # st.tabs bound to the URL: their state is the tab's label
SCRUBS = {"dn_level": "35 %", "vae_t": "0.20"}  # the figure's own slider: the label it opens at
NO_WIDGET = {"vae_seed", "dn_img_idx"}  # read with url_ints (the seed; the picker's text box is checked below)


def url_text(value) -> str:
    """A widget's value as the URL spells it (what aeviz.ui.widgets writes)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def scrub_label(at) -> str:
    slider = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["sliders"][0]
    return slider["steps"][slider["active"]]["label"]


NEEDS_MNIST = {"pages/anomalies.py", "pages/train.py"}  # their links name MNIST as a source or training set


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize(
    "page", [pytest.param(p, marks=pytest.mark.needs_data("mnist")) if p in NEEDS_MNIST else p for p in CONTROLS]
)
def test_a_link_restores_every_control(page):
    query = {"dataset": "digits", **CONTROLS[page]}
    own = [images.Preprocessed(np.eye(8, dtype=np.float32), (), False, "sent")] if "your" in page else None
    at = run_page(page, query, own_images=own)
    assert not at.exception, [e.value for e in at.exception]
    for key, value in CONTROLS[page].items():
        if key in TABS:
            shown = at.session_state[key]
        elif key in SCRUBS:
            shown = value if scrub_label(at) == SCRUBS[key] else scrub_label(at)
        elif key in NO_WIDGET:
            shown = value
        else:
            shown = url_text(at.session_state[f"w_{key}"])
        assert shown == value, f"{page}: {key} opened as {shown!r}, the link says {value!r}"
        if key not in TABS:  # Streamlit keeps a bound tab's parameter in the browser's URL itself
            assert at.query_params[key] in (value, [value]), f"{page}: the URL lost {key}"
    if page == "pages/vae.py":
        assert "with seed 3, decoded" in at.get("image")[2].proto.imgs[0].caption
    if page == "pages/denoising.py":
        assert at.text_input(key="w_dn_img_idx").value == "3,4,5"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_scrub_position_is_snapped_to_a_frame_and_a_broken_one_falls_back():
    at = run_page("pages/vae.py", {"dataset": "digits", "vae_t": "0.33"})
    assert scrub_label(at) == "0.35" and at.query_params["vae_t"] in ("0.35", ["0.35"])  # the nearest of 21
    at = run_page("pages/denoising.py", {"dataset": "digits", "dn_level": "nan"})
    assert scrub_label(at) == "0.50" and at.query_params["dn_level"] in ("0.5", ["0.5"])  # the kind's usual level


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist")
def test_a_dataset_switch_leaves_a_second_model_choice_not_an_empty_box():
    at = run_page("pages/latent_map.py", {"dataset": "digits", "map_method": "pca"})
    at.selectbox(key="w_dataset").set_value("mnist").run()
    assert not at.exception, [e.value for e in at.exception]
    box = at.selectbox(key="w_map_other")
    assert box.index == 0 and box.options[0] == "(no second model)"  # the box shows that option, not an empty one
    assert "map_other" not in at.query_params  # 'no second model' is the default: no map_other=None in links
    assert any(o.startswith("mnist-") for o in box.options[1:])  # and offers this dataset's models


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist")
def test_a_dataset_switch_gives_the_ensemble_picker_this_datasets_default_not_nothing():
    at = run_page("pages/anomalies.py", {"dataset": "mnist"})
    assert [m.name for m in at.multiselect(key="w_err_models").value] == ["mnist-dense-q16-bce"]
    at.selectbox(key="w_dataset").set_value("digits").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.name for m in at.multiselect(key="w_err_models").value] == ["digits-dense-q16-bce"]
    assert at.query_params["err_models"] in ("digits-dense-q16-bce", ["digits-dense-q16-bce"])
    assert not any("Pick at least one" in i.value for i in at.info)
