"""Lecture playlists: a named, ordered list of saved views (a page and its query string), as small JSON or a link."""

from __future__ import annotations

import base64
import json
import re
import zlib
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode

FORMAT = "aeviz-playlist"  # the JSON's "format" field: a file of anything else is refused by name
VERSION = 1
MAX_VIEWS = 60  # a 90-minute lecture at one view every 1.5 minutes
MAX_BYTES = 64_000  # a playlist's JSON (or its link's decoded text); 60 views of real share links take ~15 KB
MAX_NAME = 80  # characters of a playlist's name and of a view's title
MAX_QUERY = 4_000  # characters of one view's query string
LINK_KEY = "playlist"  # the query key of a playlist sent as a link
# Query keys a view never keeps: the playlist itself, and lecture mode (the presenter's, not the view's)
SESSION_KEYS = frozenset({LINK_KEY, "lecture"})
_PAGE = re.compile(r"[a-z0-9_-]{0,40}")


class PlaylistError(ValueError):
    """A playlist that cannot be read; its message is one line a page can show as it is."""


@dataclass(frozen=True)
class View:
    """One saved view: the page's URL path ("" is Home), its query string, and a title to list it by."""

    page: str
    query: str
    title: str

    def link(self, base: str = "") -> str:
        """The view's share link under `base` (the app's root URL; "" gives a relative link)."""
        path = f"{base.rstrip('/')}/{self.page}" if base else f"./{self.page}"
        return f"{path}?{self.query}" if self.query else path

    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass(frozen=True)
class Playlist:
    name: str = "Lecture"
    views: tuple[View, ...] = ()

    def add(self, view: View) -> Playlist:
        if len(self.views) >= MAX_VIEWS:
            raise PlaylistError(f"A playlist holds at most {MAX_VIEWS} views; remove one first.")
        return replace(self, views=(*self.views, view))

    def remove(self, index: int) -> Playlist:
        return replace(self, views=self.views[:index] + self.views[index + 1 :])

    def move(self, index: int, by: int) -> Playlist:
        """The view at `index` moved `by` places (clamped to the list)."""
        views = list(self.views)
        target = min(max(index + by, 0), len(views) - 1)
        views.insert(target, views.pop(index))
        return replace(self, views=tuple(views))

    def index_of(self, page: str, query: str) -> int | None:
        """Where the view (page, query) is in the list, ignoring lecture mode and the order of keys."""
        wanted = (page, _canonical(query))
        return next((i for i, v in enumerate(self.views) if (v.page, _canonical(v.query)) == wanted), None)


def _text(value, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise PlaylistError(f"{what} must be text.")
    clean = "".join(c for c in value if c.isprintable()).strip()
    if len(clean) > limit:
        raise PlaylistError(f"{what} is longer than {limit} characters.")
    return clean


def _canonical(query: str) -> str:
    """The query with the session's keys dropped and the rest sorted: two links to one view compare equal."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in SESSION_KEYS]
    return urlencode(sorted(pairs))


def make_view(page: str, params: dict[str, str], title: str) -> View:
    """A view of `page` with the URL's query `params` (the session's keys dropped), checked like a read one."""
    pairs = {k: v for k, v in params.items() if k not in SESSION_KEYS}
    return _view({"page": page, "query": urlencode(pairs), "title": title}, 1)


def _view(item, number: int) -> View:
    if not isinstance(item, dict):
        raise PlaylistError(f"View {number} must be an object with page, query and title.")
    page = item.get("page", "")
    if not isinstance(page, str) or not _PAGE.fullmatch(page):
        raise PlaylistError(f"View {number} names no page of this app.")
    query = item.get("query", "")
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise PlaylistError(f"View {number}'s query must be text of at most {MAX_QUERY} characters.")
    title = _text(item.get("title", page or "home"), f"View {number}'s title", MAX_NAME) or (page or "home")
    return View(page, _canonical(query), title)


def to_json(playlist: Playlist) -> str:
    body = {"format": FORMAT, "version": VERSION, "name": playlist.name}
    body["views"] = [{"page": v.page, "query": v.query, "title": v.title} for v in playlist.views]
    return json.dumps(body, indent=1, ensure_ascii=False)


def from_json(raw: str | bytes, pages: frozenset[str] | None = None) -> Playlist:
    """A playlist read from JSON text; `pages` (the app's URL paths) refuses views of pages it does not have.
    Anything else raises PlaylistError with one line saying what is wrong."""
    if len(raw) > MAX_BYTES:
        raise PlaylistError(f"This playlist is larger than {MAX_BYTES // 1000} KB; is it the right file?")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise PlaylistError(f"This is not a playlist: it is not JSON{where}.") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise PlaylistError(f'This is not an aeviz playlist (its "format" is not "{FORMAT}").')
    if body.get("version") != VERSION:
        raise PlaylistError(f"This playlist is version {body.get('version')!r}; this aeviz reads version {VERSION}.")
    views = body.get("views")
    if not isinstance(views, list) or len(views) > MAX_VIEWS:
        raise PlaylistError(f'A playlist\'s "views" must be a list of at most {MAX_VIEWS} views.')
    read = tuple(_view(item, i + 1) for i, item in enumerate(views))
    for i, view in enumerate(read):
        if pages is not None and view.page not in pages:
            raise PlaylistError(f"View {i + 1} names no page of this app ({view.page!r}).")
    return Playlist(_text(body.get("name", ""), "The playlist's name", MAX_NAME) or "Lecture", read)


def to_link_value(playlist: Playlist) -> str:
    """The playlist as one URL-safe query value: its JSON, deflated and base64url-encoded."""
    packed = zlib.compress(to_json(playlist).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def from_link_value(value: str, pages: frozenset[str] | None = None) -> Playlist:
    """A playlist from its link's value (to_link_value); a damaged link raises PlaylistError."""
    if len(value) > MAX_BYTES:
        raise PlaylistError("This playlist link is too long to be one aeviz made.")
    try:
        packed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_BYTES + 1)  # bounded: a small link cannot inflate to gigabytes
    except (ValueError, zlib.error):
        raise PlaylistError("This playlist link is damaged (cut short or mistyped?).") from None
    return from_json(raw, pages)
