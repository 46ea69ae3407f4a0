"""Scrub figures whose position is in the URL: they open where a link says, and the browser writes back the frame."""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Literal

import numpy as np
import streamlit as st

from ..views.figures import at_frame
from . import firstrun
from .widgets import _from_url, _number, _to_url

# The figure's own slider moves in the browser and Streamlit never hears of it. This listener, mounted next
# to the chart, reports the frame once a drag ends; the report reruns only its fragment, which puts the
# position in the URL. It re-attaches whenever Streamlit remounts the chart (a new figure, a new page).
FOLLOW_JS = """
export default function ({ data, setStateValue }) {
  let gd = null, last = null;
  const moved = (e) => {
    const steps = (e.slider && e.slider.steps) || [];
    const i = e.step && e.step._index !== undefined ? e.step._index : steps.indexOf(e.step);
    if (i >= 0) last = i;
    if (!e.interaction && last !== null) setStateValue("index", last);  // a programmatic move: report now
  };
  const ended = () => { if (last !== null) setStateValue("index", last); };
  const hook = () => {
    const el = document.querySelector(`.st-key-${data.chart} .js-plotly-plot`);
    if (!el || el === gd || !el.on) return;
    gd = el;
    gd.on("plotly_sliderchange", moved);
    gd.on("plotly_sliderend", ended);
  };
  hook();
  const timer = setInterval(hook, 250);
  return () => clearInterval(timer);
}
"""

_COPIES: OrderedDict = OrderedDict()  # (id(figure), frame) -> (figure, copy at that frame), newest last
_LOCK = threading.Lock()


@cache
def _follower():
    return st.components.v2.component("aeviz_scrub_follower", js=FOLLOW_JS, isolate_styles=False)


def position_text(value: float) -> str:
    return f"{round(float(value), 4):g}"


def url_frame(url_key: str, values: Sequence[float], default: int) -> int:
    """The frame whose value is nearest the URL's (a number; anything else, or nothing, gives `default`)."""
    wanted = _from_url(url_key, None, _number)
    if wanted is None or not len(values):
        return default
    grid = np.asarray(values, dtype=float)
    wanted = min(max(wanted, float(grid.min())), float(grid.max()))  # clamped first: a 1,500-digit int has no float
    return int(np.argmin(np.abs(grid - float(wanted))))


def _positioned(fig, frame: int):
    """The shared (cached, read-only) figure opened at `frame`: a copy per frame, a few kept."""
    if fig.layout.sliders[0].active == frame:
        return fig
    with _LOCK:
        hit = _COPIES.get((id(fig), frame))
        if hit is not None and hit[0] is fig:  # the same figure object, not a new one at a reused address
            _COPIES.move_to_end((id(fig), frame))
            return hit[1]
    copy = at_frame(fig, frame)
    with _LOCK:
        _COPIES[(id(fig), frame)] = (fig, copy)
        while len(_COPIES) > 16:
            _COPIES.popitem(last=False)
    return copy


def _moved(state_key: str, url_key: str, values: tuple) -> None:
    index = (st.session_state.get(state_key) or {}).get("index")
    if isinstance(index, int) and 0 <= index < len(values):
        _to_url(url_key, position_text(values[index]))


@st.fragment
def _follow(chart_key: str, url_key: str, values: tuple) -> None:
    state_key = f"{chart_key}_follow"
    _follower()(
        key=state_key, data={"chart": chart_key}, height=0, on_index_change=lambda: _moved(state_key, url_key, values)
    )


STILL_HTML = """<div style="height:{height}px;display:flex;flex-direction:column;align-items:center;gap:8px">
<img src="{src}" alt="{label}" style="max-width:100%;max-height:{room}px;object-fit:contain">
<div style="font-size:1rem">{label}</div></div>"""


@st.fragment
def _layer(fig, key: str, frame: int, height) -> None:
    """The chart at `frame`; in a session's first screen (ui/firstrun.py) the frame's picture and label as a still."""
    shown = _positioned(fig, frame)
    tall = height if isinstance(height, int) else shown.layout.height  # "content": the figure's own height
    still = None
    if tall:
        slider = shown.layout.sliders[0]
        label = f"{slider.currentvalue.prefix or ''}{slider.steps[frame].label}"  # as the chart's slider says it
        room = int(tall) - int(shown.layout.margin.t or 0) - 90  # the chart's own room for its picture
        still = STILL_HTML.format(height=int(tall), label=html.escape(str(label)), src=shown.data[0].source, room=room)
    firstrun.chart(shown, key, still=still, width="stretch", height=height, config={"displayModeBar": False})


def scrub_chart(
    fig, key: str, url_key: str, values: Sequence[float], height: int | Literal["stretch", "content"] = "content"
) -> int:
    """Show a scrub figure (figures.scrub_figure, frame i showing values[i]) at the frame the URL names under
    `url_key` (the figure's own opening frame when it names none), and keep the URL at the frame the viewer
    drags to. Returns the frame it opened at."""
    values = tuple(float(v) for v in values)
    frame = url_frame(url_key, values, int(fig.layout.sliders[0].active or 0))
    _layer(fig, key, frame, height)
    _to_url(url_key, position_text(values[frame]))
    _follow(key, url_key, values)
    return frame
