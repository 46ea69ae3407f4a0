"""Lecture mode and page explanations: a page's figure and slider above the fold, big type, arrow-key stepping."""

from __future__ import annotations

import json

import streamlit as st

from ..views.lettering import Fit
from .screen import Screen, screen
from .widgets import url_toggle

_ON = "aeviz_lecture"

# Streamlit's wide layout leaves 6rem above the title and a 2.75rem title: at 1280x720 that pushed every main
# figure below the fold. Always on; lecture mode adds the big type on top.
_COMPACT_CSS = """
.stMainBlockContainer { padding-top: 4rem; padding-bottom: 2rem; }  /* clear of the 3.75rem header */
.stMainBlockContainer h1 { font-size: 1.75rem; padding: 0 0 0.25rem 0; }
.stMainBlockContainer h3 { font-size: 1.35rem; padding: 0.25rem 0; }
[class*="st-key-aeviz_hidden_"] { display: none; }  /* elements that only run code (aeviz/ui/decoder.py) */
/* a file over the upload limit gets a red icon whose reason ("File must be 5.0MB or smaller.") only a hover
   showed: the reason is written beside the file's name */
[data-testid="stFileChip"][aria-invalid="true"] span[role="alert"] { position: static; width: auto; height: auto;
  clip: auto; clip-path: none; overflow: visible; white-space: normal; margin: 0 0.5rem; font-size: 0.875rem; }
"""
# The type grows with the screen (20 px at 720 rows, 30 px at 1080): a page laid out in rem for a 1280x720
# projector fills a 1920x1080 one alike. Pictures are composed at the size they are shown (ui.screen).
_LECTURE_CSS = """
html { font-size: clamp(20px, calc(100vh / 36), 32px); }
.stMainBlockContainer { padding-top: 3.5rem; padding-left: 2rem; padding-right: 2rem; max-width: none; }
.stMainBlockContainer h1 { font-size: 1.9rem; }
"""

# Presenter clickers send PageDown/PageUp; keyboards arrows. Text fields keep their keys; every other key press
# (a focused radio or slider included) steps the page's main slider, so a click elsewhere cannot steal it.
# PageDown/PageUp past the end of the slider's range (or on a page without one) open the lecture playlist's
# next/previous view, by pressing the playlist's hidden buttons (ui/playlist.py).
_KEYS_JS = """
<script>
(() => {
  window.__aevizMainSlider = %s;
  if (window.__aevizKeys) return;
  window.__aevizKeys = true;
  const steps = {ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1};
  const typing = 'textarea, select, [contenteditable=true], input:not([type=range]):not([type=checkbox])'
    + ':not([type=radio])';
  function stepPlotly(gd, step) {
    const opts = gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders[0];
    const ticks = gd.querySelectorAll('.slider-tick-rect');
    const rail = gd.querySelector('.slider-rail-touch-rect');
    if (!opts || !rail || ticks.length !== opts.steps.length) return;
    // plotly moves `active` only once its step has run, so quick clicks start from the step still on its way
    const pending = gd.__aevizPending;
    const from = pending && pending.to !== opts.active && performance.now() - pending.at < 1000 ? pending.to
      : opts.active;
    const to = Math.max(0, Math.min(ticks.length - 1, from + step));
    gd.__aevizPending = {to, at: performance.now()};
    const tick = ticks[to].getBoundingClientRect();
    const at = {bubbles: true, cancelable: true, view: window, button: 0,
                clientX: tick.left + tick.width / 2, clientY: rail.getBoundingClientRect().top + 2};
    rail.dispatchEvent(new MouseEvent('mousedown', at));  // plotly's own click-on-the-rail path
    gd.dispatchEvent(new MouseEvent('mouseup', at));
  }
  function stepSlider(input, step) {  // Streamlit's slider commits on a key press of its own range input
    const key = step > 0 ? 'ArrowRight' : 'ArrowLeft';
    input.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true, cancelable: true}));
    input.dispatchEvent(new KeyboardEvent('keyup', {key, bubbles: true, cancelable: true}));
  }
  function plotlyAtEnd(gd, step) {
    const opts = gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders[0];
    if (!opts) return true;
    const pending = gd.__aevizPending;
    const from = pending && pending.to !== opts.active && performance.now() - pending.at < 1000 ? pending.to
      : opts.active;
    return from + step < 0 || from + step > opts.steps.length - 1;
  }
  function sliderAtEnd(input, step) {
    return step > 0 ? Number(input.value) >= Number(input.max) : Number(input.value) <= Number(input.min);
  }
  // A saved view's turn (ui/playlist.py): PageDown/PageUp past either end of the slider, or on a page without one
  function playlistButton(step) {
    const which = step > 0 ? 'next' : 'prev';
    return document.querySelector('.st-key-aeviz_hidden_playlist .st-key-aeviz_playlist_' + which + ' button');
  }
  document.addEventListener('keydown', (event) => {
    const step = steps[event.key];
    if (!step || event.altKey || event.ctrlKey || event.metaKey || !event.isTrusted) return;
    if (event.target.closest && event.target.closest(typing)) return;
    const key = window.__aevizMainSlider;
    if (key && document.querySelector('.st-key-' + CSS.escape(key + '_still'))) return;  // its chart is on the way
    const box = key && document.querySelector('.st-key-' + CSS.escape(key));
    const gd = box && box.querySelector('.js-plotly-plot');
    const input = box && !gd && box.querySelector('input[type=range]');
    const paging = event.key === 'PageDown' || event.key === 'PageUp';
    const atEnd = gd ? plotlyAtEnd(gd, step) : input ? sliderAtEnd(input, step) : true;
    const turn = paging && atEnd && playlistButton(step);
    if (!gd && !input && !turn) return;
    event.preventDefault();
    event.stopPropagation();
    if (turn) turn.click(); else if (gd) stepPlotly(gd, step); else stepSlider(input, step);
  }, true);
})();
</script>
"""


def lecture_on() -> bool:
    """Whether lecture mode is on in this run (the sidebar's toggle, or `?lecture=1` in a shared link)."""
    return bool(st.session_state.get(_ON, False))


def lecture_toggle() -> bool:
    """The sidebar's "Lecture mode" switch; applies the page style and folds the sidebar while it is on."""
    on = url_toggle(
        "Lecture mode",
        "lecture",
        help="For a projector: large type and pictures, the sidebar and "
        "explanations folded; ← → (or a presenter clicker) step the page's main slider.",
    )
    st.session_state[_ON] = on
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")
    st.html(f"<style>{_COMPACT_CSS}{_LECTURE_CSS if on else ''}</style>")
    return on


def explain(lead: str, more: str = "", *, slider: str | None = None) -> None:
    """A page's explanation: `lead` (one sentence) labels a folded expander that holds `more`; in lecture mode
    both are folded away under "About this page".

    `slider` names the element key of the page's main slider, which the arrow keys and PageUp/PageDown step in
    lecture mode: a url_slider's is "w_" + its URL key, a plotly scrubber's its chart key. The main sliders:
    home "w_home_idx" (test image), reconstructions "w_rec_seed" (the image draw), denoising "dn_scrub" (noise
    level), VAE "vae_scrub" (interpolation t), error gallery "w_err_flag" (the threshold); the latent map,
    your images, train and published results have none (they are driven by clicks, uploads and forms).
    """
    if lecture_on():
        with st.expander("About this page", icon=":material/info:"):
            st.markdown(f"{lead} {more}")
    elif more:  # the lead is the fold's label: one line of the page instead of two
        with st.expander(lead, icon=":material/info:"):
            st.markdown(more)
    else:
        st.markdown(lead)
    with st.sidebar:
        st.html(_KEYS_JS % json.dumps(slider if lecture_on() else None), unsafe_allow_javascript=True)


def main_height(normal: int, lecture: int) -> int:
    """The pixel height of a page's main plotly figure, chosen so that it and its slider fit a 1280x720 screen
    under the page's controls: with the sidebar folded a lecture's figure is wider, but its larger type leaves
    less height where controls sit above the figure. Lecture mode's type grows with the screen, and the figure
    with it (`lecture` px at 720 rows, 1.5 times that at 1080)."""
    if not lecture_on():
        return normal
    return round(lecture * current_screen().rem / 20)


def fill_height(normal: int, above: float, *, least: int = 300) -> int:
    """A main figure's pixel height: in lecture mode the window's height less `above` rem (the title and the
    controls over it: the figure fills the screen, whatever its size), else `normal`."""
    if not lecture_on():
        return normal
    sc = current_screen()
    return max(least, sc.height - sc.px(above))


def readable(fig, *, grow: bool = False):
    """A plotly figure as a lecture shows it: a copy (cached figures are shared) whose text is 0.8 of the
    page's type, 16 px at 720 rows and 24 at 1080, where plotly's own 12 px ticks could not be read from the
    back; with `grow`, its height grows with its text (a fixed-height chart's axis title and legend squeezed
    its plot until the title was cut: 'kNN-7 test accuracy (%' at 1080 rows). Outside lecture mode the figure
    itself."""
    if not lecture_on():
        return fig
    spec = fig if isinstance(fig, dict) else fig.to_dict()
    layout = dict(spec.get("layout") or {})
    layout["font"] = {**(layout.get("font") or {}), "size": _chart_text_px()}
    if grow and layout.get("height"):
        layout["height"] = grown(layout["height"])
    return {**spec, "layout": layout}


def grown(height: int) -> int:
    """A chart's pixel height grown as ui.readable grows its text from plotly's 12 px (lecture mode), else as is."""
    return round(height * _chart_text_px() / PLOTLY_TEXT_PX) if lecture_on() else height


PLOTLY_TEXT_PX = 12  # plotly's default font size, which the charts' heights were chosen for


def _chart_text_px() -> int:
    return round(0.8 * current_screen().rem)


def current_screen() -> Screen:
    """The viewer's screen (ui.screen): the browser's report, or a 1280x720 guess before it has reported."""
    return screen(lecture_on())


def fit(share: float = 1.0, *, above: float | None = 0.0, below: float = 0.0, gaps: float = 0.0) -> Fit:
    """Where a page's picture goes (lettering.Fit): `share` of the main column's width less `gaps` rem (the
    gaps between st.columns), and the window's height less `above` and `below` rem (None: no height limit);
    text at the body size. Lecture mode draws images up to 8 rem (160 px at 720 rows, 240 at 1080), else 112 px."""
    sc = current_screen()
    width = int((sc.width - sc.px(gaps)) * share)
    height = None if above is None else sc.height - sc.px(above + below)
    return Fit(width, height, round(sc.rem), sc.px(8) if lecture_on() else 112)
