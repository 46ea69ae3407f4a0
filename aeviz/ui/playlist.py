"""The lecture playlist in the sidebar: "Add this view", the ordered list, export and import (JSON or a link), and
the hidden next/previous buttons that PageDown/PageUp press in lecture mode at the end of a slider's range."""

from __future__ import annotations

import os
from urllib.parse import urlencode

import streamlit as st

from .. import playlists
from ..playlists import Playlist, PlaylistError
from .lecture import lecture_on

_LIST = "aeviz_playlist"  # this session's Playlist
_AT = "aeviz_playlist_at"  # the index of the view last opened from it (or added)
_NAME = "aeviz_playlist_name"  # the name field's key
_GO = "aeviz_playlist_go"  # the view a click asked for, opened at the start of the next run
_FLASH = "aeviz_playlist_flash"  # said once, in the run after a link was opened
HIDDEN = "aeviz_hidden_playlist"  # lecture.py's keys click the buttons in this container


def _pages() -> dict[str, dict]:
    """The app's pages by URL path ("" is the default page), from Streamlit's own page table."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return {}
    pages = ctx.pages_manager.get_pages().values()
    return {("" if p.get("is_default") else p.get("url_pathname", "")): dict(p) for p in pages}


def _current() -> tuple[str, dict]:
    """(URL path, page info) of the page this run shows."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    current = ctx.pages_manager.current_page_script_hash if ctx else ""
    return next(((path, p) for path, p in _pages().items() if p.get("page_script_hash") == current), ("", {}))


def current_playlist() -> Playlist:
    return st.session_state.get(_LIST) or Playlist()


def _store(playlist: Playlist, at: int | None = None) -> None:
    st.session_state[_LIST] = playlist
    st.session_state[_NAME] = playlist.name  # called before the name's field is drawn: it shows the new name
    if at is not None:
        st.session_state[_AT] = at


def _position(playlist: Playlist) -> int | None:
    """Which view this run shows: the saved view that matches the URL, or the one last opened from the list."""
    page, _ = _current()
    found = playlist.index_of(page, urlencode(st.query_params.to_dict()))
    return found if found is not None else st.session_state.get(_AT)


def _open(index: int) -> None:
    """Switch to the playlist's view `index` (in lecture mode it stays on): its page with exactly its query."""
    playlist = current_playlist()
    if not 0 <= index < len(playlist.views):
        return
    view = playlist.views[index]
    st.session_state[_AT] = index
    params = view.params()
    if lecture_on():
        params["lecture"] = "1"
    for key in [k for k in st.session_state if str(k).startswith("w_")]:
        del st.session_state[key]  # widgets reread the URL: a view of the same page must not keep this one's
    target = _pages().get(view.page)
    if target is None:
        st.warning(f"This app has no page '{view.page}' any more: skipped view {index + 1}.")
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    home = os.path.dirname(ctx.main_script_path) if ctx else os.getcwd()
    st.switch_page(os.path.relpath(target["script_path"], home), query_params=params)


def _ask(index: int) -> None:
    st.session_state[_GO] = index  # a callback may not switch pages: the next run does


def follow_request() -> None:
    """Open the view a click or a key asked for in the last run (call once per run, before anything is drawn)."""
    index = st.session_state.pop(_GO, None)
    if index is not None:
        _open(index)


def _import_link() -> None:
    """A playlist sent as a link (?playlist=...) becomes this session's; the key leaves the URL."""
    value = st.query_params.get("playlist")  # playlists.LINK_KEY, written out: tests/test_url_fuzz.py reads it
    if value is None:
        return
    del st.query_params["playlist"]
    try:
        playlist = playlists.from_link_value(value, frozenset(_pages()))
    except PlaylistError as exc:
        st.session_state["aeviz_playlist_error"] = str(exc)
        return
    _store(playlist)
    st.session_state.pop(_AT, None)
    st.session_state[_FLASH] = f"Playlist “{playlist.name}”: {len(playlist.views)} views; PageDown steps on."
    if playlist.views:  # a lecture's link opens its first view
        _open(0)


def _imported_file() -> None:
    upload = st.session_state.get("aeviz_playlist_file")
    if upload is None:
        return
    try:
        playlist = playlists.from_json(upload.getvalue(), frozenset(_pages()))
    except PlaylistError as exc:
        st.session_state["aeviz_playlist_error"] = f"{upload.name}: {exc}"
        return
    _store(playlist)
    st.session_state.pop(_AT, None)
    st.session_state.pop("aeviz_playlist_error", None)


def _add_this_view() -> None:
    page, info = _current()
    title = f"{info.get('page_name') or page or 'Home'} · {st.query_params.get('dataset', '')}".rstrip(" ·")
    playlist = current_playlist()
    try:
        view = playlists.make_view(page, st.query_params.to_dict(), title)
        _store(playlist.add(view), len(playlist.views))
    except PlaylistError as exc:
        st.session_state["aeviz_playlist_error"] = str(exc)


def _rename() -> None:
    name = st.session_state.get(_NAME, "").strip()[: playlists.MAX_NAME] or "Lecture"
    st.session_state[_LIST] = Playlist(name, current_playlist().views)


def _edit(action: str, index: int) -> None:
    playlist = current_playlist()
    edited = playlist.remove(index) if action == "remove" else playlist.move(index, -1)
    _store(edited)
    st.session_state.pop(_AT, None)


def _listing(playlist: Playlist, at: int | None) -> None:
    for i, view in enumerate(playlist.views):
        go, up, drop = st.columns([6, 1, 1], gap="small", vertical_alignment="center")
        mark = "▶ " if i == at else ""
        go.button(f"{mark}{i + 1}. {view.title}", key=f"aeviz_pl_go_{i}", on_click=_ask, args=(i,), width="stretch")
        up.button("", icon=":material/arrow_upward:", key=f"aeviz_pl_up_{i}", help="Move up",
                  on_click=_edit, args=("up", i), disabled=i == 0)  # fmt: skip
        drop.button("", icon=":material/close:", key=f"aeviz_pl_rm_{i}", help="Remove", on_click=_edit,
                    args=("remove", i))  # fmt: skip


def _sharing(playlist: Playlist) -> None:
    st.download_button(
        "Export as JSON",
        playlists.to_json(playlist),
        file_name=f"{playlist.name or 'playlist'}.aeviz-playlist.json",
        mime="application/json",
        icon=":material/download:",
        key="aeviz_playlist_export",
    )
    page, here = _current()[0], (st.context.url or "").rstrip("/")
    root = here.removesuffix("/" + page) if page else here  # the app's root URL ("" where unknown: AppTest)
    link = f"{root}/?{playlists.LINK_KEY}={playlists.to_link_value(playlist)}"
    st.caption("As a link (opens the playlist in any browser):")
    st.code(link, language=None, wrap_lines=True)


def playlist_sidebar(lecture: bool) -> None:
    """The sidebar's playlist panel, and in lecture mode the hidden buttons the presenter keys press."""
    _import_link()
    if _FLASH in st.session_state:
        st.toast(st.session_state.pop(_FLASH), icon=":material/playlist_play:")
    playlist = current_playlist()
    at = _position(playlist)
    error, slot = st.session_state.pop("aeviz_playlist_error", None), st.empty()  # a slot either way: the panel
    if error:  # keeps its place (and stays open); above it, a link's error shows with the panel folded
        slot.error(error, icon=":material/error:")
    with st.expander("Lecture playlist", icon=":material/playlist_play:"):  # one label: a new one would fold it
        st.session_state.setdefault(_NAME, playlist.name)
        if playlist.views:
            st.caption(f"{len(playlist.views)} saved view{'s' * (len(playlist.views) != 1)}, in order:")
        st.text_input("Name", key=_NAME, on_change=_rename, max_chars=playlists.MAX_NAME)
        st.button("Add this view", icon=":material/playlist_add:", key="aeviz_playlist_add", on_click=_add_this_view)
        _listing(playlist, at)
        if playlist.views:
            _sharing(playlist)
        st.file_uploader(
            "Import a playlist (.json)", type=["json"], key="aeviz_playlist_file", on_change=_imported_file
        )
        st.caption(
            "In lecture mode PageDown / PageUp (a presenter remote) at the end of a page's slider open the "
            "next / previous view."
        )
    if lecture and playlist.views:
        with st.container(key=HIDDEN):
            nxt = 0 if at is None else at + 1
            if nxt < len(playlist.views):
                st.button("next view", key="aeviz_playlist_next", on_click=_ask, args=(nxt,))
            if at is not None and at > 0:
                st.button("previous view", key="aeviz_playlist_prev", on_click=_ask, args=(at - 1,))
