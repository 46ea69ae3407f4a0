"""The viewer's light or dark theme: which label panels pictures get, and chart text that reads on both."""

from __future__ import annotations

import streamlit as st

# Streamlit's plotly theme writes tick labels, axis titles and legends in #808495: 3.8:1 on its white page
# (under WCAG AA's 4.5:1). The page's own text colour (currentColor: #31333f on light, #fafafa on dark) is
# used instead, slightly muted for ticks. A stylesheet rule with !important outranks plotly's inline fill,
# and it follows a theme switched in the settings menu at once, without a rerun.
_CHART_TEXT = """<style>
[data-testid="stPlotlyChart"] :is(.xtitle, .ytitle, .gtitle, .legendtext, .legendtitletext, .annotation-text,
  .slider-label, .slider-current-value, .colorbar text) { fill: currentColor !important; fill-opacity: 1 !important; }
[data-testid="stPlotlyChart"] :is(.xtick, .ytick) text { fill: currentColor !important; fill-opacity: .85 !important; }
</style>"""


def theme_type() -> str:
    """ "dark" or "light": what the viewer's browser showed at this run (light when it did not say, as under
    AppTest). A theme switched in the menu is seen from the next rerun on: a picture drawn for the other theme
    until then keeps its own readable panel."""
    try:
        kind = st.context.theme.type
    except (AttributeError, RuntimeError):  # an older Streamlit, or no script run
        kind = None
    return "dark" if kind == "dark" else "light"


def chart_text_style() -> None:
    """Give every plotly chart's text the page's text colour (see _CHART_TEXT); once per run, no layout space."""
    st.html(_CHART_TEXT)
