"""Which session workspaces a browser session sees: its own, and those of the share links it opened."""

from __future__ import annotations

import threading
import time

import streamlit as st

from .. import workspaces
from .widgets import literal

_SEEN = "aeviz_workspaces"  # tokens this session lists models from, its own first
_OWN = "aeviz_own_workspace"
EXPIRY_EVERY_S = 600


@st.cache_resource(show_spinner=False)
def _by_browser() -> tuple[dict[str, str], threading.Lock]:
    """Browser id -> its workspace token: a reloaded page (a new session, the same browser) trains into the
    same workspace and keeps its cap."""
    return {}, threading.Lock()


def session_workspaces() -> tuple[str, ...]:
    """The workspaces whose models this session lists: its own, and any a link it opened carried (`?ws=`).

    The URL keeps those that hold models, so a reload, a bookmark or a link sent to a neighbour shows the same
    models; tokens are 128 random bits, so no other session can list them by guessing."""
    seen = st.session_state.setdefault(_SEEN, [])
    for token in (st.query_params.get("ws") or "").split(",")[:8]:
        if token not in seen and workspaces.exists(token):
            seen.append(token)
    own = st.session_state.get(_OWN)
    seen[:] = [t for t in seen if t == own or workspaces.exists(t)]  # expired ones drop out, and out of the URL
    text = ",".join(t for t in seen if workspaces.exists(t))
    if text and st.query_params.get("ws") != text:
        st.query_params["ws"] = text
    elif not text and "ws" in st.query_params:
        del st.query_params["ws"]
    return tuple(seen)


def own_workspace() -> str:
    """The token of the workspace this session trains into, made on first use (its folder on first save)."""
    from .training import browser_id

    token = st.session_state.get(_OWN)
    if token is None:
        browser = browser_id()
        mapping, lock = _by_browser()
        with lock:
            token = mapping.get(browser) if browser else None
            token = token or workspaces.new_token()
            if browser:
                mapping[browser] = token
        st.session_state[_OWN] = token
        seen = st.session_state.setdefault(_SEEN, [])
        if token not in seen:
            seen.insert(0, token)
    return token


@st.cache_resource(show_spinner=False)
def _expiry_clock() -> list[float]:
    return [0.0]


def expire_old_workspaces() -> None:
    """Delete workspaces past their retention, at most every EXPIRY_EVERY_S (any session's run may do it)."""
    clock = _expiry_clock()
    now = time.monotonic()
    if now - clock[0] >= EXPIRY_EVERY_S:
        clock[0] = now
        workspaces.expire()


def your_models(refresh) -> None:
    """This session's own models with a delete button each (the per-session cap counts them)."""
    token: str = st.session_state.get(_OWN) or ""  # "": none made yet
    paths = workspaces.models(token) if token else []
    label = f"Your models ({len(paths)} of at most {workspaces.max_models()})"
    with st.expander(label, expanded=False, icon=":material/folder_open:"):
        if not paths:
            st.caption(
                "Models you train here are saved for this browser session (and links you share from it) "
                f"for {workspaces.retention_s() / 3600:g} h after your last change; nobody else sees them."
            )
        for path in paths:
            name = path.name.removesuffix(".safetensors")
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.markdown(literal(name, 120))
            if right.button("Delete", key=f"del_{name}", icon=":material/delete:"):
                workspaces.delete_model(token, name)
                refresh()
                st.rerun()
