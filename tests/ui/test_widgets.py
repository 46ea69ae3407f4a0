"""Why aeviz.ui.widgets is not Streamlit's `bind="query-params"`: the differences share links depend on, pinned so
that an upgrade which removes one fails here and says which widget kind could move to the built-in binding."""

from __future__ import annotations

from functools import cache

from streamlit.testing.v1 import AppTest

BOUND = """
import streamlit as st
st.radio("Map", ["pca", "umap"], key="method", format_func=str.upper, bind="query-params")
st.toggle("Decoded images under the map", key="under", bind="query-params")
st.slider("Flag", 0.1, 10.0, 1.0, step=0.1, key="flag", bind="query-params")
st.slider("How many", 10, 500, 100, step=10, key="n", bind="query-params")
st.multiselect("Models", ["a", "b", "c"], max_selections=2, key="models", bind="query-params")
"""


@cache
def opened(**query: str | tuple[str, ...]) -> AppTest:
    at = AppTest.from_string(BOUND)
    at.query_params.update({k: list(v) if isinstance(v, tuple) else v for k, v in query.items()})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# as aeviz spells them (?map_method=umap&map_under=1&err_models=a,b), and as the binding does (the flag at its default)
OLD = {"method": "umap", "under": "1", "flag": "0.36", "n": "137", "models": "a,b"}
NEW = {"method": "UMAP", "under": "true", "flag": "1.0", "models": ("a", "b")}


def test_a_bound_choice_is_spelled_by_its_label_so_the_links_made_so_far_would_lose_it():
    assert opened(**OLD).radio(key="method").value == "pca" and "method" not in opened(**OLD).query_params
    assert opened(**NEW).radio(key="method").value == "umap"


def test_a_bound_toggle_refuses_the_1_of_lecture_mode_and_todays_links():
    assert opened(**OLD).toggle(key="under").value is False
    assert opened(**NEW).toggle(key="under").value is True


def test_a_bound_slider_keeps_a_value_off_its_step_grid():
    assert opened(**OLD).slider(key="flag").value == 0.36  # aeviz snaps it to 0.4
    assert opened(**OLD).slider(key="n").value == 137  # and this to 140


def test_a_bound_multiselect_reads_repeated_parameters_not_the_comma_list_of_todays_links():
    assert opened(**OLD).multiselect(key="models").value == []
    assert opened(**NEW).multiselect(key="models").value == ["a", "b"]


def test_a_bound_value_equal_to_its_default_leaves_the_link():
    assert opened(**NEW).slider(key="flag").value == 1.0 and "flag" not in opened(**NEW).query_params
