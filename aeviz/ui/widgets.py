"""URL-synced widgets: every choice a lecturer would share round-trips through the query string."""

from __future__ import annotations

import streamlit as st


def literal(text: str, limit: int = 80) -> str:
    """Text (a file name, a message naming one) as literal markdown: no formatting, links or colours smuggled in,
    and not a page long."""
    clean = "".join(c for c in text if c.isprintable())[:limit] or "(unnamed file)"
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|:$~=" else c for c in clean)


def _from_url(key: str, default, cast):
    raw = st.query_params.get(key)
    if raw is None:
        return default
    try:
        return cast(raw)
    except (TypeError, ValueError):
        return default


def _to_url(key: str, value) -> None:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def url_selectbox(label: str, options: list, key: str, default=None, **kwargs):
    """A selectbox whose choice round-trips through the URL query string under `key`."""
    options = list(options)
    if not options:
        return None
    by_text = {str(o): o for o in options}
    initial = by_text.get(_from_url(key, None, str), default if default in options else options[0])
    value = st.selectbox(label, options, index=options.index(initial), key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def url_radio(label: str, options: list, key: str, default=None, **kwargs):
    options = list(options)
    by_text = {str(o): o for o in options}
    initial = by_text.get(_from_url(key, None, str), default if default in options else options[0])
    value = st.radio(label, options, index=options.index(initial), key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def url_slider(label: str, min_value, max_value, default, key: str, step=None, **kwargs):
    cast = type(default)
    initial = min(max(_from_url(key, default, cast), min_value), max_value)
    value = st.slider(label, min_value, max_value, initial, step=step, key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def url_ints(key: str, default: list[int]) -> list[int]:
    return _from_url(key, default, lambda s: [int(v) for v in s.split(",") if v.strip()])


def set_url_ints(key: str, values) -> None:
    _to_url(key, [int(v) for v in values])


def url_multiselect(label: str, options: list, key: str, default: list | None = None, **kwargs) -> list:
    """A multiselect whose choices round-trip through the URL (comma separated, so no commas in options)."""
    options = list(options)
    by_text = {str(o): o for o in options}
    raw = _from_url(key, None, str)
    initial = ([by_text[t] for t in raw.split(",") if t in by_text] if raw is not None
               else [d for d in default or [] if d in options])
    value = st.multiselect(label, options, default=initial, key=f"w_{key}", **kwargs)
    _to_url(key, [str(v) for v in value])
    return value


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "on"):
        return True
    if text.lower() in ("0", "false", "off"):
        return False
    raise ValueError(text)


def url_toggle(label: str, key: str, default: bool = False, **kwargs) -> bool:
    value = st.toggle(label, value=_from_url(key, default, _flag), key=f"w_{key}", **kwargs)
    _to_url(key, int(value))
    return value


def picture(image, *, where=None, **kwargs) -> None:
    """Show a composed picture (array, or PNG bytes) as a lossless PNG: st.image would send an array as JPEG
    (grey halos around digits and captions) and re-encode bytes it does not recognise as its chosen format."""
    from ..figures import png_bytes

    data = image if isinstance(image, bytes) else png_bytes(image)
    (where or st).image(data, output_format="PNG", **kwargs)
