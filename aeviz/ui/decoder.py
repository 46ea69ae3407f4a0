"""The decoder in the browser: its weights sent once per model, the decoder playground and hover-decoding.

One Streamlit component ("aeviz.kit", the bundle built from aeviz/ui/components/frontend) draws every view;
its data says which. A model's weights travel in an element of their own whose message never changes, so
Streamlit's message cache sends them once and a rerun only a reference (see `_weights`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from .. import metrics, webdecoder
from ..checkpoints import CheckpointInfo
from ..headers import CheckpointError
from ..projection import LatentMap
from ..views import decoding
from ..views.figures import png_data_uri
from .lecture import lecture_on
from .memo import per_model
from .widgets import literal

NAME = "aeviz.kit"  # pyproject.toml's [tool.streamlit.component] declares its asset_dir (the bundle's folder)
BUNDLE = Path(__file__).parent / "components" / "frontend" / "bundle" / "kit.js"
HIDDEN = "aeviz_hidden_"  # key prefix of containers whose elements only run code (lecture.py's CSS hides them)


@cache
def _kit():
    """The component, its JS served as a file when the manifest was found (an installed aeviz), else inline."""
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager

    served = get_bidi_component_manager().get_component_asset_root(NAME) is not None
    return st.components.v2.component(NAME, js="kit.js" if served else BUNDLE.read_text(), isolate_styles=True)


@per_model(max_entries=64)
def _blob(model, ident: str) -> tuple[bytes | None, str]:
    """The decoder's weights as the browser reads them, or None and why it cannot run there."""
    try:
        return webdecoder.export(model).to_bytes(ident), ""
    except webdecoder.Unsupported as exc:
        return None, str(exc)


def _ident(info: CheckpointInfo) -> str:
    return str(info.metadata["hash"])


def _weights(info: CheckpointInfo, key: str) -> str:
    """Mount the model's weights (call inside a hidden container); '' when they are here, else why the browser
    cannot decode."""
    blob, reason = _blob(info, _ident(info))
    if blob is None:
        return reason or "its decoder cannot run in the browser"
    _kit()(key=f"{key}_weights", data=blob, height=0)
    return ""


def _server_picture(info: CheckpointInfo, code: np.ndarray) -> str:
    """The server's decoding of `code` (q,) as a PNG data URI, for a decoder the browser cannot run."""
    from .caches import get_model

    decoded = metrics.decode_all(get_model(info), code[None])[0]  # (C,H,W)
    image = decoded[0] if decoded.shape[0] == 1 else np.moveaxis(decoded[:3], 0, -1)
    return png_data_uri(image)


def _sent_code(state: Any, origin: str, q: int) -> np.ndarray | None:
    """The code the browser sent back on release, if it is one for this image and model: q finite numbers
    (anything else, which only a tampered page sends, is ignored)."""
    sent = state.get("code") if isinstance(state, dict) else None
    if not isinstance(sent, dict) or sent.get("origin") != origin or not isinstance(sent.get("values"), list):
        return None
    try:
        with np.errstate(over="ignore"):  # a number past float32 becomes inf, refused below
            code = np.asarray(sent["values"], dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return code if code.shape == (q,) and np.isfinite(code).all() else None


def _plain(text: str) -> str:
    """Text without the Markdown escapes a caption may carry (the component shows text as it is)."""
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|~<>$])", r"\1", text)


def _origin(info: CheckpointInfo, code: list[float]) -> str:
    digest = hashlib.blake2b(json.dumps(code).encode(), digest_size=8).hexdigest()
    return f"{_ident(info)[:12]}-{digest}"


@st.fragment
def playground(info: CheckpointInfo, spec: dict[str, Any], *, key: str, title: str, caption: str) -> None:
    """The decoder playground for one image's code (`spec` from views.decoding.playground_data): a slider per
    dimension drawn as the code's bars, the decoded picture redrawn in the browser at every frame while one
    moves. A decoder the browser cannot run is decoded here when the slider is let go (the page says so)."""
    with st.container(key=HIDDEN + key):
        reason = _weights(info, key)
    shape = list(info.config["input_shape"])
    data: dict[str, Any] = {"view": "playground", "key": key, "model": _ident(info), "shape": shape}
    data |= {
        "title": _plain(title),
        "caption": _plain(caption),
        "origin": _origin(info, spec["code"]),
        "lecture": lecture_on(),
        **spec,
    }
    if reason:
        sent = _sent_code(st.session_state.get(key), data["origin"], len(spec["code"]))
        code = sent if sent is not None else np.asarray(spec["code"], dtype=np.float32)
        try:
            data["fallback"] = {"reason": reason, "picture": _server_picture(info, code)}
        except CheckpointError as exc:  # an imported model failing on this server: its message, not a traceback
            st.warning(f"Cannot decode with **{literal(info.label)}**: {literal(str(exc), 300)}")
            return
        data["caption"] = f"Decoded on the server when you let go: {reason}."
    _kit()(key=key, data=data, on_code_change=lambda: None)


def hover_decoder(
    info: CheckpointInfo, chart: str, inverse: dict[str, Any] | None, *, key: str, sprites: Sequence[dict] = ()
) -> str:
    """Decode the map position under the mouse over the plotly chart with element key `chart`, in the browser
    (`inverse` from views.decoding: how a position becomes a code). Returns '' when on, else why it is off (the
    map has no such inverse, or the decoder cannot run in the browser). With `sprites` (ui.projector's index of
    the image sheets), the tip also shows the image of the point under the cursor, whether decoding is on or not."""
    data: dict[str, Any] = {"view": "hover", "key": key, "model": _ident(info), "chart": chart, "inverse": inverse}
    data |= {"shape": list(info.config["input_shape"]), "size": 168 if lecture_on() else 112, "sprites": list(sprites)}
    with st.container(key=HIDDEN + key):
        reason = _weights(info, key) if inverse is not None else ""
        if reason:
            data["inverse"] = None
        if data["inverse"] is not None or sprites:
            _kit()(key=key, data=data, height=0)
    if inverse is None:
        return "a UMAP or t-SNE position has no code of its own until the server interpolates one"
    return f"this model's decoder cannot run in your browser ({reason})" if reason else ""


def map_hover(
    info: CheckpointInfo, latent_map: LatentMap, chart: str, *, key: str, sprites: Sequence[dict] = ()
) -> None:
    """Hover-decoding on the Latent space map, and one sentence on how exact it is (or why it is off); with
    `sprites`, each point's image under the cursor too."""
    from ..views.latent_map import decode_note

    off = hover_decoder(info, chart, decoding.map_inverse(latent_map), key=key, sprites=sprites)
    points = "Hover over a point to see its image. " if sprites else ""
    if off:
        st.caption(f"{points}Hover-decoding is off here: {off}. Click a spot to decode it on the server.")
    else:
        st.caption(
            "Hover over the map: your browser decodes the spot under the cursor as the mouse moves"
            + (", beside the image of the point under it" if sprites else "")
            + f". Decoding a map position is {decode_note(latent_map)}"
        )


@per_model(max_entries=256, models=False)
def code_sliders(info: CheckpointInfo, image: np.ndarray, kl: np.ndarray | None = None) -> dict[str, Any]:
    """The playground's sliders for one image (C,H,W): an autoencoder's ranked by their variance over the test
    codes and spanning their range, a VAE's (pass its KL per dimension) by KL over the prior's ±3σ."""
    from .caches import get_codes, get_model

    code = metrics.encode_all(get_model(info), np.asarray(image, dtype=np.float32)[None])[0]  # (q,)
    if kl is not None:
        return decoding.playground_data(code, kl, "KL", None, image)
    codes = get_codes(info)
    return decoding.playground_data(code, codes.var(axis=0), "σ", codes, image)
