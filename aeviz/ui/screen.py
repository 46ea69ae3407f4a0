"""The viewer's screen as the browser reports it: the page's width, the window's height, the type size, the theme.

Pictures are composed at the size they are shown (a picture the browser shrinks blurs its text to 7 px), so
the server must know how wide the page is and how tall the screen; Streamlit tells it neither. A small
component reports them on load, on a resize and on a theme switched in the settings menu (whose pictures
would otherwise keep the other theme's panel until something else reran the page).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import streamlit as st

_KEY = "aeviz_screen"

_REPORT_JS = """
export default function ({ data, setStateValue }) {
  let last = JSON.stringify(data.known || null);
  const measure = () => {
    const main = document.querySelector("[data-testid='stMainBlockContainer']");
    const app = document.querySelector("[data-testid='stApp']");
    if (!main || !app) return null;
    const style = getComputedStyle(main);
    const width = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const rgb = (getComputedStyle(app).backgroundColor.match(/[\\d.]+/g) || [255, 255, 255]).map(Number);
    const dark = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] < 128;
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    return [Math.round(width), window.innerHeight, Math.round(rem * 10) / 10, dark ? 1 : 0];
  };
  // Streamlit's browser side sends a widget's rerun for the page it last ran until the server says a newly
  // chosen page has started: a report in that gap would run the old page again (without its URL settings).
  // So nothing is reported from a click on a page link until the next run has started and finished.
  let navigating = null;  // null, or {since, sawRun}
  const scriptState = () => {
    const root = document.querySelector("[data-test-script-state]");
    return root ? root.getAttribute("data-test-script-state") : null;
  };
  const onNavigate = (event) => {
    const link = event.type === "popstate" || (event.target.closest && event.target.closest(
      "[data-testid='stSidebarNav'] a, [data-testid='stSidebarNavLink'], [data-testid='stPageLink'] a"));
    if (link) navigating = { since: Date.now(), sawRun: false };
  };
  const busy = () => {
    const state = scriptState();
    if (navigating !== null) {
      if (state !== null && state !== "notRunning") navigating.sawRun = true;
      else if (navigating.sawRun || Date.now() - navigating.since > 30000) navigating = null;
    }
    return navigating !== null || (state !== null && state !== "notRunning");
  };
  const report = () => {
    if (busy()) { soon(); return; }
    const now = measure();
    if (now === null || JSON.stringify(now) === last) return;
    last = JSON.stringify(now);
    setStateValue("screen", now);
  };
  let timer = null;
  function soon() { clearTimeout(timer); timer = setTimeout(report, 300); }
  soon();
  window.addEventListener("resize", soon);
  document.addEventListener("click", onNavigate, true);
  window.addEventListener("popstate", onNavigate);
  const poll = setInterval(report, 1000);  // the settings menu's theme switch and the sidebar's fold
  return () => {
    window.removeEventListener("resize", soon);
    document.removeEventListener("click", onNavigate, true);
    window.removeEventListener("popstate", onNavigate);
    clearInterval(poll);
    clearTimeout(timer);
  };
}
"""


@dataclass(frozen=True)
class Screen:
    """The main column's width and the window's height in CSS pixels, the root type size (1rem), the theme."""

    width: int
    height: int
    rem: float
    dark: bool | None = None  # None: not reported (AppTest, or the first run of a session)

    def px(self, rems: float) -> int:
        return round(rems * self.rem)


# Before the browser has reported (the first run of a session, AppTest): a 1280x720 projector, the smallest
# screen the pages are laid out for. Lecture mode folds the sidebar and sets the type to 20 px there.
GUESS = {True: Screen(1280 - 80, 720, 20.0), False: Screen(1280 - 336 - 96, 720, 16.0)}


@cache
def _reporter():
    return st.components.v2.component("aeviz_screen", js=_REPORT_JS, isolate_styles=False)


def _reported() -> list | None:
    value = (st.session_state.get(_KEY) or {}).get("screen")
    ok = isinstance(value, list) and len(value) == 4 and all(isinstance(v, (int, float)) for v in value)
    return value if ok else None


def watch_screen() -> None:
    """Mount the reporter (once per run, in the sidebar: no room taken on the page); a change reruns the app."""
    _reporter()(key=_KEY, data={"known": _reported()}, height=0, on_screen_change=lambda: None)


def screen(lecture: bool) -> Screen:
    """What the browser last reported, or the 1280x720 guess; sizes clamped to what a screen can be."""
    value = _reported()
    if value is None:
        return GUESS[lecture]
    width, height, rem, dark = value
    return Screen(
        int(min(max(width, 240), 8000)), int(min(max(height, 240), 5000)), min(max(rem, 8.0), 64.0), bool(dark)
    )
