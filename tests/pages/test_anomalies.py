"""The Error gallery page in AppTest on the real zoo: find the shoe, ensembles, threshold, sending an image."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
from apptest import run_page
from skips import require_data

from aeviz import data, images

pytestmark = pytest.mark.slow  # each run scores the full 10k test set under real zoo models

PAGE = "pages/anomalies.py"
STORE = "aeviz_user_images"


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def threshold_line(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Threshold"))


def test_shoes_injected_into_mnist_are_found():
    at = run_page(PAGE, {"dataset": "mnist"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="w_err_models").value[0].name == "mnist-dense-q16-bce"
    shoes = at.multiselect(key="w_err_cls_fashion-mnist").value
    assert [str(c) for c in shoes] == ["5", "7", "9"]  # sandal, sneaker, ankle boot
    assert float(metric(at, "AUROC")) > 0.9 and float(metric(at, "Average precision")) > 0.5
    assert metric(at, "Median rank of an injected image") == "1 of 10,000"  # among the test images alone
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert any(c.startswith("Injected images and their rank among the 10,000 test images") for c in captions)
    assert any("rank among all 10,100 test and injected images" in m.value for m in at.markdown)
    assert "of 100** injected fashion-mnist" in threshold_line(at)
    assert len(at.get("image")) == 3  # where the injected landed, the worst and the best galleries
    assert len(at.get("plotly_chart")) == 3  # histogram, ROC curve, per-class boxes


def test_an_ensemble_and_the_threshold_slider():
    at = run_page(
        PAGE,
        {
            "dataset": "mnist",
            "err_models": "mnist-dense-q16-bce,mnist-conv-q8-bce",
            "err_how": "max",
            "err_metric": "bce",
        },
    )
    assert not at.exception, [e.value for e in at.exception]
    assert [m.name for m in at.multiselect(key="w_err_models").value] == ["mnist-dense-q16-bce", "mnist-conv-q8-bce"]
    assert not at.radio(key="w_err_how").disabled and at.radio(key="w_err_how").value == "max"
    assert float(metric(at, "AUROC")) > 0.9
    assert "flags **100** test images" in threshold_line(at)  # 1 % of 10,000
    at.slider(key="w_err_flag").set_value(5.0).run()
    assert "flags **500** test images" in threshold_line(at)
    assert at.query_params["err_flag"] in ("5.0", ["5.0"])


def test_without_injection_the_gallery_ranks_test_images_and_can_send_one():
    at = run_page(PAGE, {"dataset": "mnist", "err_src": "none"})
    assert not at.exception, [e.value for e in at.exception]
    assert not at.metric and len(at.get("image")) == 2
    assert any("rank among the 10,000 test images" in m.value for m in at.markdown)
    choice = next(s for s in at.selectbox if s.label.startswith("Send an image"))
    assert choice.value.startswith("rank 1: test #")
    next(b for b in at.button if b.label == "Send to your images").click().run()
    (sent,) = at.session_state[STORE]
    assert sent.name == choice.value and sent.image.shape == (28, 28)
    assert any(m.value.startswith("Sent **rank 1") for m in at.success)  # said on the page, not only in a toast
    next(b for b in at.button if b.label == "Send to your images").click().run()
    assert any(m.value.startswith("Already sent") for m in at.success) and len(at.session_state[STORE]) == 1


def test_your_own_images_can_be_injected():
    at = run_page(PAGE, {"dataset": "mnist", "err_src": "your images"})
    blob = np.zeros((28, 28), np.float32)
    blob[4:24, 4:24] = 1.0  # a filled square: nothing like a digit
    at.session_state[STORE] = [images.Preprocessed(blob, (), False, f"square {i}") for i in range(3)]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "AUROC") == "1.000"  # a filled square is worse than every test digit
    # three alike, each worse than every test digit: each is #1 among the test images (among all, #1 to #3)
    assert metric(at, "Median rank of an injected image") == "1 of 10,000"


def test_digits_get_mnist_resized_to_8x8():
    at = run_page(PAGE, {"dataset": "digits"})
    assert not at.exception, [e.value for e in at.exception]
    assert any("resized from 28x28 to 8x8" in c.value for c in at.caption)
    assert float(metric(at, "AUROC")) > 0.8


@pytest.fixture
def only_fashion_here(tmp_path, monkeypatch):
    """A server with Fashion-MNIST but no MNIST, and no network (the dataset status is cached per minute)."""
    require_data("fashion-mnist")
    real = data._local_folder("fashion-mnist")  # where this machine keeps it
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "FashionMNIST").symlink_to(real)
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(data, "_torchvision_download", lambda name: (_ for _ in ()).throw(OSError("offline")))
    from aeviz import ui

    st.cache_data.clear()
    ui.get_dataset.clear()  # MNIST loaded by an earlier test would still be served from memory
    yield
    st.cache_data.clear()
    ui.get_dataset.clear()


def test_offline_the_injected_set_defaults_to_one_on_this_server(only_fashion_here):
    at = run_page(PAGE, {"dataset": "digits"})
    assert not at.exception, [e.value for e in at.exception]
    source = at.selectbox(key="w_err_src")
    assert source.value == "fashion-mnist" and not at.warning  # not MNIST and its "not available" warning
    assert source.options[:2] == ["MNIST handwritten digits (not on this server)", "Fashion-MNIST clothing"]
    assert metric(at, "Median rank of an injected image").endswith("of 360")  # among the 360 test digits
    source.set_value("mnist").run()  # still listed: picking it explains what is missing
    assert any("not available here" in w.value for w in at.warning)


def test_colour_photos_are_not_offered_to_a_grey_set():
    """CIFAR-10's photos cannot join digits (views.anomalies.fit_to refuses colour into grey): not listed, and
    a link that asks for them gets the page's first choice instead of an error."""
    at = run_page(PAGE, {"dataset": "digits", "err_src": "cifar10"})
    assert not at.exception, [e.value for e in at.exception]
    source = at.selectbox(key="w_err_src")
    assert not any("CIFAR" in str(o) for o in source.options) and source.value != "cifar10"


@pytest.mark.slow  # two page runs
def test_why_not_a_bigger_code_is_said_from_the_shipped_measurements():
    from aeviz import lessons
    from aeviz.zoo import references

    rows = references.load_results()["datasets"]["digits"]["identity"]
    at = run_page(PAGE, {"dataset": "digits"})
    assert not at.exception
    why = [e for e in at.expander if e.label == "Why not a bigger code?"]
    assert len(why) == 1
    shown = " ".join(m.value for m in why[0].markdown)
    assert lessons.identity_sentence(rows, "digit") in shown and "learned to copy" in shown
    mnist = run_page(PAGE, {"dataset": "mnist"}) if data.available_datasets()["mnist"] is None else None
    if mnist is not None:  # over-complete on MNIST: plain, denoising and TopK models with q = 1024
        (why,) = [e for e in mnist.expander if e.label == "Why not a bigger code?"]
        said = lessons.identity_sentence(references.load_results()["datasets"]["mnist"]["identity"], "digit")
        assert "mnist-dense-q1024-bce (no regulariser)" in said and "mnist-linear-q784-mse rebuilds the test" in said
        assert said in " ".join(m.value for m in why.markdown)


@pytest.mark.slow  # an MNIST page run
@pytest.mark.needs_data("mnist")
def test_anomalies_in_the_training_set_are_said_from_the_shipped_measurements():
    from aeviz import choices
    from aeviz.zoo import references

    rows = references.load_results()["datasets"]["mnist"]["outliers"]
    assert [r["share"] for r in sorted(rows, key=lambda r: r["share"])] == [0, 0.01, 0.05, 0.2]
    at = run_page(PAGE, {"dataset": "mnist"})
    assert not at.exception
    (lesson,) = [e for e in at.expander if e.label == "Anomalies in training?"]
    said = choices.outlier_sentence(rows, "Fashion-MNIST clothing")
    assert said in " ".join(m.value for m in lesson.markdown) and said.endswith("the less its error flags them.")
    assert not [e for e in run_page(PAGE, {"dataset": "digits"}).expander if e.label == "Anomalies in training?"]
