"""A session's first screen (ui/firstrun.py): stills and the trigger first, no plotly or grid element; the run
the browser's report brings draws the live elements under their stills; later runs draw them alone."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from aeviz.ui import firstrun


def page():
    import plotly.graph_objects as go
    import streamlit as st

    from aeviz import ui

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="a"))
    fig.update_layout(title="A line")
    ui.chart(fig, "line")
    ui.table({"q": [2, 4], "mse": [0.05, 0.03]}, "rows", hide_index=True)
    ui.later(st.markdown, "below the fold")
    ui.later(st.markdown, "a linked tab", shown=True)
    ui.finish_run()


def stills(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "<style>" not in h.proto.body]


@pytest.fixture
def browser_like(monkeypatch):
    """AppTest itself draws live elements at once (no browser to report); here the runs go as a browser's do."""
    monkeypatch.setattr(firstrun, "_in_apptest", lambda: False)


def test_stills_first_then_the_live_elements_under_them_then_alone(browser_like):
    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    assert not at.get("plotly_chart") and not at.get("dataframe")  # nothing that needs a big bundle
    shown = stills(at)
    assert len(shown) == 2 and "data:image/svg+xml;base64," in shown[0] and 'alt="A line"' in shown[0]
    assert "<table" in shown[1] and "0.05" in shown[1]  # the rows themselves, as plain HTML
    assert len(at.get("bidi_component")) == 1  # the trigger that asks for the live run
    assert [m.value for m in at.markdown] == ["a linked tab"]  # what lies below the fold waits

    at.session_state[firstrun.STATE] = "fresh"  # what the trigger's callback sets when the browser reports
    at.run()
    assert len(at.get("plotly_chart")) == 1 and len(at.get("dataframe")) == 1
    assert len(stills(at)) == 2  # kept over their elements until those are drawn (CSS in STACK_CSS)
    assert not at.get("bidi_component")
    assert at.session_state[firstrun.STATE] is True
    assert [m.value for m in at.markdown] == ["below the fold", "a linked tab"]

    at.run()
    assert len(at.get("plotly_chart")) == 1 and len(at.get("dataframe")) == 1
    assert stills(at) == []


def test_the_trigger_callback_brings_the_live_run(browser_like):
    at = AppTest.from_function(page, default_timeout=60).run()
    assert firstrun.STATE not in at.session_state
    with pytest.MonkeyPatch.context() as patch:
        state: dict = {}
        patch.setattr(firstrun.st, "session_state", state)
        firstrun._went_live()
    assert state == {firstrun.STATE: "fresh"}


def test_under_apptest_the_charts_come_at_once():
    at = AppTest.from_function(page, default_timeout=60).run()
    assert len(at.get("plotly_chart")) == 1 and len(at.get("dataframe")) == 1
    assert stills(at) == [] and not at.get("bidi_component")


def test_a_still_is_kept_per_figure_and_theme_and_never_for_another_figure():
    import plotly.graph_objects as go

    one, two = (go.Figure(go.Scatter(x=[1, 2], y=[1, v], name=f"n{v}")) for v in (2, 3))
    first = firstrun.still_html(one, 200)
    assert firstrun.still_html(one, 200) is first  # the kept one
    assert firstrun.still_html(two, 200) != first
    assert firstrun.still_html(one, 300) != first  # another height, another drawing


def test_a_page_without_stills_asks_too():
    """A chart may first appear in a fragment's rerun (a training job's), where no trigger can be mounted: so
    every full run of a session not yet live mounts it."""

    def plain():
        import streamlit as st

        from aeviz import ui

        st.markdown("no chart here")
        ui.finish_run()

    firstrun_live = AppTest.from_function(plain, default_timeout=60)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(firstrun, "_in_apptest", lambda: False)
        firstrun_live.run()
        assert len(firstrun_live.get("bidi_component")) == 1
        firstrun_live.session_state[firstrun.STATE] = True
        firstrun_live.run()
        assert not firstrun_live.get("bidi_component")
