"""AppTest of every page on a colour dataset: a small CIFAR-10 (official binary layout) and a tiny colour zoo."""

from __future__ import annotations

import colourworld
import pytest
from apptest import routed_pages, run_page

pytestmark = pytest.mark.slow  # a tiny colour zoo is trained first, then every page runs on it


@pytest.fixture(scope="module")
def colour_world(tmp_path_factory):
    mk = tmp_path_factory.mktemp
    return colourworld.build(mk("data"), mk("zoo"), mk("cache"))


@pytest.fixture
def on_colour(colour_world, monkeypatch):
    """The colour world's data and zoo; the server's caches emptied before and after: they key a dataset by its
    name (one data folder per server), and this world's 40-image MNIST must not reach later tests' pages."""
    import streamlit as st

    data, zoo = colour_world
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(data))
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(zoo))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.mark.parametrize("page", routed_pages())
def test_every_page_renders_on_cifar10(page, on_colour):
    at = run_page(page, {"dataset": "cifar10"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"
    assert at.query_params["dataset"] in ("cifar10", ["cifar10"])
    if page == "pages/reproduce.py":  # the article's MNIST figures, whatever the dataset: digits are its subject
        return
    shown = " ".join(str(e.value) for e in (*at.markdown, *at.caption, *at.info, *at.warning))
    injected = ("find the digit", "MNIST handwritten digits")  # the anomalies injected from MNIST are digits
    for phrase in injected:
        shown = shown.replace(phrase, "")
    assert "digit" not in shown, f"{page} speaks of digits on CIFAR-10"


def _photo():
    from fakes import colour_photo

    from aeviz import images

    return images.compact(images.preprocess(colour_photo(), mnist_style=True, name="garden.jpg"))


def test_your_images_on_cifar10_shows_the_colour_steps_and_which_class(on_colour):
    at = run_page("pages/your_images.py", {"dataset": "cifar10"}, own_images=[_photo()])
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Your images: how unusual is your photo?"
    assert not any("MNIST" in t.label for t in at.toggle)  # no digit steps offered for a colour model
    shown = " ".join(m.value for m in at.markdown)
    assert "Which class is it?" in " ".join(h.value for h in at.subheader)
    assert "nearest test photos are **" in shown and "by raw pixels **" in shown
    assert not at.warning, [w.value for w in at.warning]  # a colour photo on a colour model: nothing was lost


def test_a_colour_photo_on_the_digits_model_is_not_presented_as_an_ordinary_digit():
    at = run_page("pages/your_images.py", {"dataset": "digits"}, own_images=[_photo()])
    assert not at.exception, [e.value for e in at.exception]
    warned = " ".join(w.value for w in at.warning)
    assert "This is a colour picture, not a digit" in warned and "its colours (turned grey)" in warned
    least = next(m.value for m in at.markdown if m.value.startswith("Least surprised"))
    assert least.count("(the picture as it is: **") == 2
