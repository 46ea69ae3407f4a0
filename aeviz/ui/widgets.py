"""URL-synced widgets: every choice a lecturer would share round-trips through the query string.

A URL is typed, pasted and forwarded by people, so every value read from it is checked here and only here:
anything that does not parse, is out of range or too long falls back to the default or is clamped, and the
widget writes the cleaned value back, so a broken shared link heals on its first run instead of crashing.

Why not Streamlit's own `bind="query-params"` (1.67; each difference pinned by tests/ui/test_widgets.py, which fails
the day an upgrade removes it): a bound radio or selectbox spells its value by its shown label (`map_method=PCA`,
`dataset=scikit-learn 8x8 digits (offline)`), so every link made so far with a `format_func` would open the default;
a bound multiselect reads repeated parameters, not the `err_models=a,b` of today's links; a bound toggle reads only
true/false, not the `1` of `?lecture=1`; a bound slider keeps a value off its step grid (0.36 on a 0.1 grid, 137 on
a 10 grid); and a value equal to the default leaves the URL, so a link would open another view once a default moves
(the default model is picked from the zoo, `vae_dims` from the code size). Links here carry every value, so they
keep opening the view they were made on.
"""

from __future__ import annotations

import math

import streamlit as st

MAX_URL_VALUE = 2000  # characters; no real choice is longer, and a page-long value must not be parsed at all
MAX_SEED = 2**31 - 1  # torch and numpy seeds both accept this range


def literal(text: str, limit: int = 80) -> str:
    """Text (a file name, a message naming one) as literal markdown: no formatting, links or colours smuggled in,
    and not a page long."""
    clean = "".join(c for c in text if c.isprintable())[:limit] or "(unnamed file)"
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|:$~=" else c for c in clean)


def _from_url(key: str, default, cast):
    raw = st.query_params.get(key)
    if raw is None or len(raw) > MAX_URL_VALUE:
        return default
    try:
        value = cast(raw)
    except (TypeError, ValueError, OverflowError):
        return default
    return default if value is None else value


def _to_url(key: str, value) -> None:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def _initial_option(options: list, key: str, default):
    by_text = {str(o): o for o in options}
    return by_text.get(_from_url(key, None, str), default if default in options else options[0])


_NO_CHOICE = "\0none"  # stands in for a None option: Streamlit takes a stored None for "nothing chosen"


def _url_choice(widget, label: str, options: list, key: str, default, kwargs: dict):
    """`widget` (st.selectbox or st.radio) whose choice round-trips through the URL under `key`.

    None may be an option ("no second model"). Streamlit itself would keep a chosen None as an empty choice
    and, once the options change (another dataset), show an empty "Choose an option" box; a stand-in
    keeps it an ordinary option, which falls back to the default like any other vanished choice."""
    options = list(options)
    if not options:
        return None
    initial = _initial_option(options, key, default)
    shown = [_NO_CHOICE if o is None else o for o in options]
    name = kwargs.pop("format_func", str)
    value = widget(
        label,
        shown,
        index=options.index(initial),
        key=f"w_{key}",
        format_func=lambda o: name(None if o == _NO_CHOICE else o),
        **kwargs,
    )
    value = None if value == _NO_CHOICE else value
    if value is None and default is None:  # "no choice" is what a link without the key means: no "key=None"
        st.query_params.pop(key, None)
    else:
        _to_url(key, value)
    return value


def url_selectbox(label: str, options: list, key: str, default=None, **kwargs):
    return _url_choice(st.selectbox, label, options, key, default, kwargs)


def url_radio(label: str, options: list, key: str, default=None, **kwargs):
    return _url_choice(st.radio, label, options, key, default, kwargs)


def _number(text: str) -> int | float:
    """A finite number from URL text: "12", "1e23", "0.5"; ints stay exact (2**64 must clamp, not round)."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def slider_value(value, min_value, max_value, step=None):
    """`value` clamped to [min_value, max_value] and snapped to the slider's grid, in the slider's own type.

    Streamlit refuses a value outside the range, and one off the step grid shows a position the handle can
    never return to; an int slider given "1e23" or "2.5" gets an int."""
    is_float = any(isinstance(v, float) for v in (min_value, max_value, step))
    step = step or (0.01 if is_float else 1)
    value = min(max(value, min_value), max_value)
    ticks = round((value - min_value) / step)
    snapped = min(min_value + ticks * step, max_value)
    return round(float(snapped), 10) if is_float else int(snapped)


def url_slider(label: str, min_value, max_value, default, key: str, step=None, **kwargs):
    if min_value >= max_value:  # nothing to choose, and Streamlit refuses a slider with an empty range
        return min_value
    initial = slider_value(_from_url(key, default, _number), min_value, max_value, step)
    value = st.slider(label, min_value, max_value, initial, step=step, key=f"w_{key}", **kwargs)
    _to_url(key, value)
    return value


def _ints(text: str, low: int, high: int, most: int) -> list[int] | None:
    values = []
    for part in text.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            continue  # not a whole number: "", "0x10", "1e3", "nan"
        if low <= value <= high:
            values.append(value)
            if len(values) == most:
                break
    return values or None


def url_ints(key: str, default: list[int], low: int = 0, high: int = MAX_SEED, most: int = 64) -> list[int]:
    """Whole numbers in [low, high] from the URL (comma separated, at most `most`); `default` when none is."""
    return _from_url(key, default, lambda s: _ints(s, low, high, most))


def set_url_ints(key: str, values) -> None:
    _to_url(key, [int(v) for v in values])


def url_multiselect(label: str, options: list, key: str, default: list | None = None, **kwargs) -> list:
    """A multiselect whose choices round-trip through the URL (comma separated, so no commas in options).

    An empty value is an empty choice; one naming no option at all is a broken link and gets the default.
    Repeats are dropped and the choice is cut to `max_selections`: Streamlit raises on a longer default."""
    options = list(options)
    by_text = {str(o): o for o in options}
    raw = _from_url(key, None, str)
    wanted = [by_text[t] for t in raw.split(",") if t in by_text] if raw is not None else []
    if raw is None or (not wanted and raw.strip(", ")):
        wanted = list(default or [])
    initial = []
    for choice in wanted:
        if choice in options and choice not in initial:
            initial.append(choice)
    initial = initial[: kwargs.get("max_selections") or len(initial)]
    held = st.session_state.get(f"w_{key}") or []
    reset = bool(held) and not any(choice in options for choice in held)
    if reset:
        # every held choice vanished with the options (another dataset's models): Streamlit would keep an empty
        # choice; start again from the link or the default, as a freshly opened page does (set, so the browser's
        # copy of the choice is replaced too)
        st.session_state[f"w_{key}"] = initial
    value = st.multiselect(label, options, default=None if reset else initial, key=f"w_{key}", **kwargs)
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
    from ..views.figures import png_bytes

    data = image if isinstance(image, bytes) else png_bytes(image)
    if "width" not in kwargs and data[12:16] == b"IHDR":  # its own width: a caption wider than the picture
        kwargs["width"] = int.from_bytes(data[16:20], "big")  # stretched it (1.12x, blurring its text)
    (where or st).image(data, output_format="PNG", **kwargs)
