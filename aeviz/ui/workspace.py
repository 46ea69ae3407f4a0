"""Which session workspaces a browser session sees: its own, and those of the share links it opened."""

from __future__ import annotations

import time

import streamlit as st

from .. import workspaces
from .widgets import literal

_SEEN = "aeviz_workspaces"  # tokens of the share links this session opened
EXPIRY_EVERY_S = 600


def session_workspaces() -> tuple[str, ...]:
    """The workspaces whose models this session lists: its browser's own first (every tab and every visit of
    the same browser has the same, see ui.identity), then any a link it opened carried (`?ws=`).

    The URL keeps those that hold models, so a reload, a bookmark or a link sent to a neighbour shows the same
    models; tokens are 128 bits, so no other session can list them by guessing."""
    own = own_workspace()
    seen = st.session_state.setdefault(_SEEN, [])
    for token in (st.query_params.get("ws") or "").split(",")[:8]:
        if token != own and token not in seen and workspaces.exists(token):
            seen.append(token)
    seen[:] = [t for t in seen if workspaces.exists(t)]  # expired ones drop out, and out of the URL
    listed = [own, *seen]
    text = ",".join(t for t in listed if workspaces.exists(t))
    if text and st.query_params.get("ws") != text:
        st.query_params["ws"] = text
    elif not text and "ws" in st.query_params:
        del st.query_params["ws"]
    return tuple(listed)


def own_workspace() -> str:
    """The token of the workspace this browser trains into (its folder is made on first save)."""
    from .identity import browser_workspace

    return browser_workspace()


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
    token = own_workspace()
    paths = workspaces.models(token)
    label = f"Your models ({len(paths)} of at most {workspaces.max_models()})"
    with st.expander(label, expanded=False, icon=":material/folder_open:"):
        st.caption(
            f"Models you train are kept for this browser (every tab, and your next visit) for "
            f"{workspaces.retention_s() / 3600:g} h after your last change; nobody else sees them unless you "
            f"send them a link. This server keeps at most {workspaces.max_total():,} visitors' models: when "
            "they are all taken, a new one replaces the oldest model of the visitor who changed nothing for "
            "longest."
        )
        for path in paths:
            name = path.name.removesuffix(".safetensors")
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.markdown(literal(name, 120))
            if right.button("Delete", key=f"del_{name}", icon=":material/delete:"):
                workspaces.delete_model(token, name)
                refresh()
                st.rerun()
