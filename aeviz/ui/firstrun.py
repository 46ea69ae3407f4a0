"""A session's first screen: charts drawn by the server as stills, the interactive charts once the page is up.

Plotly's bundle costs a new browser about a second of its main thread, and every page's first screen waited
for it (issue 30 section 5). So until the browser reports that the first run is drawn (or is touched: a click,
a key, a wheel), each chart is its still (views/stills.py: the same figure as SVG, at its place and height),
a table is plain HTML, and what lies below the fold waits (`later`). The report reruns the page once with the
live elements; in that run each still stays over its chart until plotly has drawn it, so the figure never
blinks out. Later runs draw the live elements alone.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from functools import cache

import streamlit as st

from ..views.stillaxes import plain
from ..views.stills import data_uri, still_svg
from .theme import theme_type

STATE = "aeviz_live"  # absent: stills; "fresh": the run that brings the charts; True: charts only

# Asks once: when the browser is idle after the run has ended, or at once when the visitor acts first.
LIVE_JS = """
export default function ({ setStateValue }) {
  let asked = false, timer = null;
  const acts = ["pointerdown", "keydown", "wheel", "touchstart"];
  const stop = () => { acts.forEach(a => document.removeEventListener(a, ask, true)); clearTimeout(timer); };
  // a new value each time: a page that reconnects to another server process (a new session) still holds the
  // last session's value, and the same value again would not reach the server
  const ask = () => { if (!asked) { asked = true; stop(); setStateValue("live", Date.now()); } };
  acts.forEach(a => document.addEventListener(a, ask, true));
  const idle = () => {
    if (!document.querySelector("[data-test-script-state='notRunning']")) { timer = setTimeout(idle, 50); return; }
    if (window.requestIdleCallback) requestIdleCallback(ask, { timeout: 600 }); else timer = setTimeout(ask, 100);
  };
  timer = setTimeout(idle, 50);
  const late = setTimeout(ask, 3000);  // a page whose fragments never rest (a job's polling) still gets its charts
  return () => { stop(); clearTimeout(late); };
}
"""
# While plotly loads in the run that brings it, the still lies over the chart's place; once the chart's SVG
# exists the still goes. Without a chart beside it (the first run) the still keeps its own place.
# The scrollbar's room is kept even while the page is short: what `later` adds would otherwise narrow the page
# by a scrollbar a second after it was drawn, moving everything (and a grid sized before would keep old widths).
STACK_CSS = """<style>
[data-testid="stMain"] { scrollbar-gutter: stable; }
.stVerticalBlock[class*="st-key-aeviz_stack_"] { position: relative; }
.stVerticalBlock[class*="st-key-aeviz_stack_"]:has([data-testid="stPlotlyChart"], [data-testid="stDataFrame"])
  > div:first-child { position: absolute; top: 0; left: 0; right: 0; z-index: 1; pointer-events: none; }
.stVerticalBlock[class*="st-key-aeviz_stack_"]:has(.main-svg, [data-testid="stDataFrame"] canvas)
  > div:first-child { display: none; }
.aeviz-table-still table { border-collapse: collapse; width: 100%; font-size: 14px; }
.aeviz-table-still :is(th, td) { height: 34px; padding: 0 8px; text-align: left; white-space: nowrap;
  border: 1px solid rgba(128,128,128,.2); }
.aeviz-table-still th { font-weight: 400; opacity: .75; }
</style>"""
STILL_HTML = (
    """<div style="height:{height}px"><img src="{src}" alt="{title}" style="width:100%;height:{height}px"></div>"""
)
TABLE_ROW_PX, TABLE_DEFAULT_PX = 35, 400  # st.dataframe's row height, and the height it takes at most unasked
TABLE_HTML = """<div class="aeviz-table-still" style="height:{height}px;overflow:hidden">{body}</div>"""
WAITING_HTML = """<div style="height:{height}px;display:flex;align-items:center;justify-content:center;
border:1px dashed rgba(128,128,128,.35);border-radius:6px;opacity:.7">
{title} (the interactive chart is loading)</div>"""


@cache
def _trigger():
    return st.components.v2.component("aeviz_first_screen", js=LIVE_JS, isolate_styles=False)


def _in_apptest() -> bool:
    from streamlit import config

    return bool(config.get_option("global.appTest"))  # no browser to draw anything: the charts at once


def charts_live() -> bool:
    """Whether this run draws interactive charts (every run after the browser's report, and under AppTest)."""
    return bool(st.session_state.get(STATE)) or _in_apptest()


def _went_live() -> None:
    st.session_state[STATE] = "fresh"


_STILLS: OrderedDict = OrderedDict()  # (id(figure), height, theme) -> (figure, its still): cached figures are shared
_LOCK = threading.Lock()
_BELOW = threading.local()  # inside `later`'s draw (each script run has its thread): nothing there had a still


def still_html(fig, height: int | None) -> str:
    """The figure's still as HTML at `height` px (the figure's own height when None), in the viewer's theme;
    the last few are kept, each with its figure (so that no other object can take its id while it is kept)."""
    theme = theme_type()
    with _LOCK:
        hit = _STILLS.get((id(fig), height, theme))
        if hit is not None and hit[0] is fig:
            _STILLS.move_to_end((id(fig), height, theme))
            return hit[1]
    spec = fig if isinstance(fig, dict) else fig.to_plotly_json()
    tall = int(height or (spec.get("layout") or {}).get("height") or 450)
    svg = still_svg(spec, tall, theme=theme)
    title = html.escape(plain((spec.get("layout") or {}).get("title")) or "Chart")
    made = (
        WAITING_HTML.format(height=tall, title=title)
        if svg is None
        else STILL_HTML.format(height=tall, src=data_uri(svg), title=title)
    )
    with _LOCK:
        _STILLS[(id(fig), height, theme)] = (fig, made)
        while len(_STILLS) > 32:
            _STILLS.popitem(last=False)
    return made


def _layered(key: str, where, still, live):
    """`live()` (an element-drawing call) in a session's later runs; in its first screen `still()`'s HTML in a
    container keyed `{key}_still`; in the run that brings the live elements, both, the still over its element."""
    with (where if where is not None else st).container(key=f"aeviz_stack_{key}", gap=None):
        slot = st.empty()
        state = st.session_state.get(STATE)
        if state is True or _in_apptest() or (state and getattr(_BELOW, "depth", 0)):
            return live()  # below the fold nothing was shown before: no still to keep over it
        with slot.container(key=f"{key}_still", gap=None):
            st.html(still())
        if not state:
            return None
        return live()


def chart(fig, key: str, *, where=None, still: str | None = None, **options):
    """st.plotly_chart(fig, key=key, **options) in `where` (the page when None), or in a session's first
    screen its still (`still`'s HTML, else the figure's SVG) at the chart's height, in a container keyed
    `{key}_still`. Returns what st.plotly_chart returns, or None while only the still shows."""
    height = options.get("height")
    return _layered(
        key,
        where,
        lambda: still or still_html(fig, height if isinstance(height, int) else None),
        lambda: st.plotly_chart(fig, key=key, **options),
    )


def table(data, key: str, *, where=None, **options) -> None:
    """st.dataframe(data, key=key, **options), or in a session's first screen the same rows as a plain HTML
    table of the grid's height: st.dataframe's grid is 1.2 MB of JavaScript a new browser would parse first."""
    height = options.get("height")
    rows = lambda: table_html(data, height if isinstance(height, int) else None, options)
    _layered(key, where, rows, lambda: st.dataframe(data, key=key, **options))


def table_html(data, height: int | None, options: dict) -> str:
    """The rows as st.dataframe shows them at first: its row height, its default of about ten rows in view."""
    import pandas as pd

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    rows = len(frame) + 1
    tall = height or min(rows * TABLE_ROW_PX + 3, TABLE_DEFAULT_PX)
    body = frame.to_html(
        index=not options.get("hide_index", False), border=0, na_rep=str(options.get("placeholder", ""))
    )
    return TABLE_HTML.format(height=tall, body=body)


def later(draw, *args, shown: bool = False, **kwargs):
    """draw(*args, **kwargs) for what lies below the first screen (a section under the fold, a hidden tab): in
    a session's first screen nothing yet, so that run ends sooner and the browser draws less before the fold;
    it comes with the run the browser's report brings, about a second later. `shown`: on the first screen
    after all (a link that opens another tab), so drawn at once. Returns what `draw` returns."""
    if not (shown or charts_live()):
        return None
    _BELOW.depth = getattr(_BELOW, "depth", 0) + (not shown)
    try:
        return draw(*args, **kwargs)
    finally:
        _BELOW.depth -= not shown


def finish_run() -> None:
    """After the page's run (app.py): until the session is live, the trigger, whether or not this page drew a
    still (a chart may first appear in a fragment's rerun, a training job's, where no trigger could be mounted);
    a fresh live run becomes plain."""
    st.html(STACK_CSS)
    if not charts_live():
        _trigger()(key="aeviz_first_screen", on_live_change=_went_live, height=0)
    elif st.session_state.get(STATE) == "fresh":
        st.session_state[STATE] = True
