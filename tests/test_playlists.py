"""Lecture playlists: JSON and link round trips, edits, and one-line refusals of anything else."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from aeviz import playlists
from aeviz.playlists import Playlist, PlaylistError, View

PAGES = frozenset({"", "vae", "denoising", "latent_map"})


def lecture() -> Playlist:
    views = [
        playlists.make_view("denoising", {"dataset": "mnist", "dn_level": "0.5", "lecture": "1"}, "Denoising · mnist"),
        playlists.make_view("vae", {"vae_t": "0.25", "dataset": "mnist", "ws": "ab" * 16}, "VAE · mnist"),
        playlists.make_view("", {"home_idx": "7"}, "Home"),
    ]
    playlist = Playlist("Week 3: what a code means")
    for view in views:
        playlist = playlist.add(view)
    return playlist


def test_json_and_link_round_trip_the_playlist_in_order():
    playlist = lecture()
    assert playlists.from_json(playlists.to_json(playlist), PAGES) == playlist
    assert playlists.from_link_value(playlists.to_link_value(playlist), PAGES) == playlist
    assert [v.page for v in playlist.views] == ["denoising", "vae", ""]
    assert len(playlists.to_json(playlist)) < 1000 and len(playlists.to_link_value(playlist)) < 400


def test_a_view_keeps_its_query_but_not_lecture_mode_or_the_playlist():
    view = lecture().views[0]
    assert view.params() == {"dataset": "mnist", "dn_level": "0.5"}
    assert view.link("http://host:8501/") == "http://host:8501/denoising?dataset=mnist&dn_level=0.5"
    assert lecture().views[2].link() == "./?home_idx=7"


def test_the_same_view_is_found_whatever_the_order_of_its_keys_and_lecture_mode():
    playlist = lecture()
    assert playlist.index_of("vae", f"ws={'ab' * 16}&lecture=1&dataset=mnist&vae_t=0.25") == 1
    assert playlist.index_of("vae", "dataset=mnist&vae_t=0.5") is None
    assert playlist.index_of("denoising", "dataset=mnist&dn_level=0.5") == 0


def test_edits_move_and_remove_views():
    playlist = lecture()
    assert [v.page for v in playlist.move(2, -1).views] == ["denoising", "", "vae"]
    assert [v.page for v in playlist.move(0, -1).views] == ["denoising", "vae", ""]  # clamped
    assert [v.page for v in playlist.remove(1).views] == ["denoising", ""]
    full = Playlist("full", (View("", "", "Home"),) * playlists.MAX_VIEWS)
    with pytest.raises(PlaylistError, match="at most"):
        full.add(View("", "", "Home"))


def _with(**change) -> str:
    body = json.loads(playlists.to_json(lecture()))
    body.update(change)
    return json.dumps(body)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "not JSON"),
        ("{'name': 1}", "not JSON (line 1)"),
        (b"\xff\xfe\x00", "not JSON"),
        ("[1, 2]", "not an aeviz playlist"),
        (json.dumps({"name": "x", "views": []}), "not an aeviz playlist"),
        (_with(version=2), "version 2"),
        (_with(views="vae"), "must be a list"),
        (_with(views=[{"page": "vae"}] * (playlists.MAX_VIEWS + 1)), "at most"),
        (_with(views=[3]), "View 1 must be an object"),
        (_with(views=[{"page": "../../etc/passwd"}]), "View 1 names no page"),
        (_with(views=[{"page": "vae"}, {"page": "secret_admin"}]), "View 2 names no page of this app"),
        (_with(views=[{"page": "vae", "query": 5}]), "View 1's query"),
        (_with(views=[{"page": "vae", "title": "x" * 500}]), "longer than"),
        (_with(name=["a"]), "name must be text"),
        ("{" * 100_000, "larger than"),
    ],
)
def test_bad_playlist_json_gets_one_line_saying_what_is_wrong(raw, says):
    with pytest.raises(PlaylistError) as caught:
        playlists.from_json(raw, PAGES)
    message = str(caught.value)
    assert says in message and "\n" not in message and len(message) < 120


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        playlists.to_link_value(lecture())[:-12],  # cut short
        base64.urlsafe_b64encode(zlib.compress(b"\0" * 10_000_000)).decode(),  # a bomb: refused, not inflated
        "A" * (playlists.MAX_BYTES + 1),
    ],
)
def test_a_damaged_link_gets_one_line(value):
    with pytest.raises(PlaylistError) as caught:
        playlists.from_link_value(value, PAGES)
    assert "\n" not in str(caught.value)


def test_titles_lose_control_characters_and_views_keep_only_a_page_and_query():
    raw = _with(views=[{"page": "vae", "query": "a=1", "title": "T\x1b[31mitle\n", "code": "alert(1)"}])
    view = playlists.from_json(raw, PAGES).views[0]
    assert view == View("vae", "a=1", "T[31mitle")


def test_the_ui_reads_the_link_key_it_writes():
    from pathlib import Path

    assert (
        f'st.query_params.get("{playlists.LINK_KEY}")'
        in Path(playlists.__file__).with_name("ui").joinpath("playlist.py").read_text()
    )
