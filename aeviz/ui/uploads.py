"""The user's own images: uploaded, drawn or sent from a page; kept in this session only, never on disk."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from .. import decodehelper, images
from . import quotas
from .widgets import literal

_USER_IMAGES = "aeviz_user_images"
MAX_USER_IMAGES = 32


def user_images() -> list[images.Preprocessed]:
    """This session's uploaded, drawn or sent images (28x28 MNIST-style), newest last."""
    return st.session_state.setdefault(_USER_IMAGES, [])


def add_user_images(items: list[images.Preprocessed]) -> int:
    """Add images to this session's collection (identical pictures once); returns how many were new."""
    own = user_images()
    seen = {p.image.tobytes() for p in own}
    fresh = [p for p in items if p.image.tobytes() not in seen]
    own.extend(fresh)
    del own[:-MAX_USER_IMAGES]  # keep the newest: a long lecture must not grow one session's memory
    return len(fresh)


def send_image(image: np.ndarray, name: str) -> str:
    """Hand one image (H,W) or (1,H,W) in [0,1] to the other pages, via this session's own images; says so (a
    toast, and the returned line for the page to keep showing: a second click on the same image said nothing)."""
    picture = np.asarray(image, dtype=np.float32).reshape(np.shape(image)[-2:])
    new = add_user_images([images.Preprocessed(picture, (), False, name)])
    done = f"{'Sent' if new else 'Already sent'} **{literal(name)}** to your images: pick *your images* on any page."
    st.toast(done, icon=":material/send:")
    return done


def user_image_batch(
    shape: tuple[int, int, int], items: list[images.Preprocessed] | None = None, *, raw: bool = False
) -> np.ndarray:
    """The user's images for a dataset's (C,H,W), stacked as (N,C,H,W) float32: for a colour dataset (or with
    `raw`) the pictures themselves, centre-cropped and resized; for a grey one their MNIST-style preprocessing."""
    items = user_images() if items is None else items
    channels, h, w = shape
    if not items:
        return np.zeros((0, *shape), np.float32)
    if channels == 3 or raw:
        return images.photo_batch(items, shape)
    return np.stack([images.resize_to(p.image, (h, w)) for p in items])[:, None]


_UPLOADS = "aeviz_uploads"  # + the uploader's key: each uploader's bookkeeping


def _upload_state(key: str, listed: set[str]) -> dict:
    """An uploader's bookkeeping, forgetting files no longer in it: per (file id, style) the warnings its
    decoding gave, the files admitted (id -> size), refused (id -> (name, why)), and stray ones."""
    empty: dict = {"done": {}, "admitted": {}, "refused": {}, "unlisted": {}}
    state = st.session_state.setdefault(f"{_UPLOADS}_{key}", empty)
    for name in ("admitted", "refused"):
        state[name] = {i: v for i, v in state[name].items() if i in listed}
    state["done"] = {tag: v for tag, v in state["done"].items() if tag[0] in listed}
    return state


def _held_elsewhere(key: str) -> dict[str, int]:
    """Files this session's other uploaders admitted that Streamlit still holds: the limits are the session's."""
    stored = quotas.stored_ids()
    held: dict[str, int] = {}
    for name, state in st.session_state.items():
        if str(name).startswith(f"{_UPLOADS}_") and name != f"{_UPLOADS}_{key}":
            held |= {i: size for i, size in state.get("admitted", {}).items() if i in stored}
    return held


def _refusals(refused: dict[str, tuple[str, str]], listed: list) -> None:
    """One warning per reason, naming a few of the files: a hundred files at once get two lines, not a hundred."""
    by_reason: dict[str, list[str]] = {}
    for f in listed:
        if f.file_id in refused:
            name, why = refused[f.file_id]
            by_reason.setdefault(why, []).append(literal(name))
    for why, names in by_reason.items():
        shown = ", ".join(f"**{n}**" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        st.warning(f"{shown}: {why}", icon=":material/warning:")


def admitted_uploads(key: str) -> tuple[list, dict]:
    """The files of uploader `key` (drawn before) within this session's upload limits (quotas.limits, all its
    uploaders together), and its bookkeeping. Files beyond are refused with one warning per reason, never read,
    and dropped from Streamlit's storage."""
    files = st.session_state.get(f"w_{key}") or []
    # the widget's own value also lists files Streamlit no longer stores, so their warnings stay
    listed = list(files)
    files = [f for f in files if isinstance(f, UploadedFile)]
    state = _upload_state(key, {f.file_id for f in listed})
    refused = quotas.admit(
        [(f.file_id, f.size) for f in files if f.file_id not in state["refused"]],
        state["admitted"],
        quotas.limits(),
        _held_elsewhere(key),
    )
    state["refused"].update({f.file_id: (f.name, refused[f.file_id]) for f in files if f.file_id in refused})
    quotas.release(refused)  # never to be read: Streamlit need not keep the bytes either
    quotas.release_unlisted({f.file_id for f in listed}, state["unlisted"])
    _refusals(state["refused"], listed)
    return [f for f in files if f.file_id in state["admitted"]], state


def upload_images(key: str, *, mnist_style: bool = True) -> list[images.Preprocessed]:
    """A multi-file uploader: each file is checked by content and preprocessed once, in the decoding helper
    process (aeviz.decodehelper), good ones go to this session's images, each bad one gets a warning with its name;
    files past this session's upload limits (quotas.limits) are refused unread, pictures past this run's pixel
    budget undecoded. Bytes stay in memory, never on disk. Returns this run's new images."""
    st.file_uploader(
        "Upload images: PNG, JPEG, WebP, GIF, BMP or TIFF (several at once, 5 MB each)",
        accept_multiple_files=True,
        key=f"w_{key}",
    )
    files, state = admitted_uploads(key)
    fresh: list[images.Preprocessed] = []
    left = decodehelper.budget()  # this run's new files together: one upload's pixels
    for f in files:
        tag = (f.file_id, mnist_style)
        if tag in state["done"]:
            continue
        good, bad, used = decodehelper.load_uploads([(f.name, f.getvalue())], mnist_style=mnist_style, left=left)
        left -= used
        add_user_images(good)
        fresh += good
        state["done"][tag] = bad
    for f in st.session_state.get(f"w_{key}") or []:
        for name, message in state["done"].get((f.file_id, mnist_style), []):
            st.warning(f"**{literal(name)}**: {message}", icon=":material/warning:")
    return fresh


def draw_image(key: str, *, mnist_style: bool = True, side: int = 280) -> images.Preprocessed | None:
    """A canvas to draw a digit with the mouse or a finger; its button adds the drawing to this session's images."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # not installed, or built for another Streamlit: uploads still work
        st.info(
            "Drawing needs the `streamlit-drawable-canvas` package (`pip install streamlit-drawable-canvas`); "
            "uploading images works without it."
        )
        return None
    st.space(16)  # the canvas's toolbar floats 36 px above it, over the tab strip without this space
    result = st_canvas(
        stroke_width=max(6, side // 14),
        stroke_color="#000000",
        background_color="#ffffff",
        height=side,
        width=side,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"w_{key}",
    )
    if not st.button("Add the drawing to your images", key=f"w_{key}_add", icon=":material/add:"):
        return None
    data = None if result is None else result.image_data
    if data is None:
        st.warning("Draw a digit on the canvas first.", icon=":material/edit:")
        return None
    try:
        name = f"drawing {sum(p.name.startswith('drawing') for p in user_images()) + 1}"
        pre = images.compact(images.preprocess(images.canvas_to_image(data), mnist_style=mnist_style, name=name))
    except images.ImageError as exc:
        st.warning(str(exc), icon=":material/edit:")
        return None
    add_user_images([pre])
    return pre


def remove_user_images(indices=None) -> None:
    """Forget some (by position) or all of this session's images."""
    own = user_images()
    drop = set(range(len(own))) if indices is None else {int(i) for i in indices}
    own[:] = [p for i, p in enumerate(own) if i not in drop]
