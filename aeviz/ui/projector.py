"""The Latent space explorer on the page (issue 30 §2): the class filter and find-by-index, a point's neighbours
in code space (listed by the kit with their thumbnails and ringed on the map), image sprites sent once per set
of images, the 3-D view, and a selection's exports."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import streamlit as st

from .. import diskcache, projection3d
from ..checkpoints import CheckpointInfo
from ..jobs import State, in_cache_dir
from ..projection import LatentMap
from ..views import projector as view
from ..views.figures import png_bytes
from . import firstrun
from .caches import get_dataset, readonly
from .decoder import HIDDEN, _kit
from .lecture import lecture_on
from .maps import _map_key, background_jobs, map_images, map_worker
from .theme import theme_type
from .widgets import set_url_ints, url_ints, url_multiselect

CHART = "map_chart"  # the Latent space map's element key: hover, rings and neighbours find it by it


# --- sprites -----------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=16)
def _sprite_blob(dataset: str, part: str, start: int, stop: int, first: int) -> bytes:
    """One sheet of a split's images [start, stop) whose first is map index `first`: encoded once per server
    (1-2 s for 10,000 digits) and kept on disk under a digest of the pixels."""
    images = get_dataset(dataset, part).images[start:stop].numpy()  # (N,C,H,W)
    digest = hashlib.blake2b(np.ascontiguousarray(images).data, digest_size=16).hexdigest()
    key = diskcache.cache_key(pixels=digest, first=first, v=view.SPRITE_FORMAT)
    blob = diskcache.cached_arrays(
        "sprites", key, lambda: {"blob": np.frombuffer(view.sprite_blob(images, first), np.uint8)}
    )["blob"]
    return bytes(blob)


def _sheets(dataset: str, split: str) -> list[tuple[str, int, int, int]]:
    """(split part, start, stop, first map index) of each sheet a map of `split` needs: test, then train."""
    n_test = len(get_dataset(dataset, "test"))
    sheets = [("test", a, b, a) for a, b in view.sprite_chunks(n_test)]
    if split == "all":
        n_train = len(get_dataset(dataset, "train"))
        sheets += [("train", a, b, n_test + a) for a, b in view.sprite_chunks(n_train)]
    return sheets


@st.cache_resource(show_spinner=False, max_entries=32)
def sprite_index(dataset: str, split: str) -> tuple[dict, ...]:
    """What a view needs to find map point i's image: [{id, first, count}] per sheet."""
    found = []
    for part, start, stop, first in _sheets(dataset, split):
        meta, ident = _blob_header(_sprite_blob(dataset, part, start, stop, first))
        found.append({"id": ident, "first": first, "count": meta["count"]})
    return tuple(found)


def _blob_header(blob: bytes) -> tuple[dict, str]:
    import json

    length = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + length])["__metadata__"]
    return json.loads(meta[view.SPRITES_KEY]), meta[view.ID_KEY]


def send_sprites(dataset: str, split: str, *, key: str = "map_sprites") -> None:
    """Mount the sheets (call last on the page: they are the heaviest message and the map must paint first).
    Each is an element whose message never changes, so Streamlit's message cache sends it once per browser."""
    with st.container(key=HIDDEN + key):
        for i, (part, start, stop, first) in enumerate(_sheets(dataset, split)):
            _kit()(key=f"{key}_{i}", data=_sprite_blob(dataset, part, start, stop, first), height=0)


# --- filter and find ---------------------------------------------------------------------------------------


def explorer_controls(classes: tuple[str, ...], count: int, *, where) -> tuple[tuple[str, ...], int | None]:
    """The class filter and find-by-index, side by side in `where`: (the hidden classes, the found index)."""
    left, right = where.columns([3, 2])
    with left:
        shown = url_multiselect(
            "Show classes", list(classes), "map_classes", [], placeholder="all classes", help="Filter the map by class"
        )
    with right:
        found = find_index(count)
    return view.hidden_classes(classes, shown), found


def find_index(count: int) -> int | None:
    """A point chosen by its map index (kept in the URL), or None."""
    held = url_ints("map_find", [], high=max(count - 1, 0), most=1)

    def changed() -> None:
        value = st.session_state.get("w_map_find")
        set_url_ints("map_find", [] if value is None else [value])

    value = st.number_input(
        "Find image #",
        min_value=0,
        max_value=max(count - 1, 0),
        value=held[0] if held else None,
        step=1,
        placeholder="an index",
        key="w_map_find",
        on_change=changed,
        help="A map index: its image and nearest neighbours, as a click on it shows. A click on the map takes over.",
    )
    return None if value is None else int(value)


def selected_points(event) -> list:
    """The points a plotly chart's selection event reports ([] without a 2-D map)."""
    return [] if event is None else list(event.selection.points)


def with_found(picked, found: int | None):
    """The map's selection, or the found point standing in for it when nothing is selected on the map."""
    from ..views.latent_map import Selection

    if found is None or len(picked.indices) or len(picked.spots):
        return picked
    return Selection(np.array([found], dtype=np.int64), np.zeros((0, 2), np.float32))


def focus_of(picked) -> int | None:
    """The one point whose neighbours are listed: a selection of exactly one point (clicked or found)."""
    return int(picked.indices[0]) if len(picked.indices) == 1 and len(picked.spots) == 0 else None


# --- neighbours in code space ----------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=16)
def _index(tag: str, _codes: np.ndarray) -> view.CodeIndex:
    return view.CodeIndex(_codes)


def code_index(info: CheckpointInfo, latent_map: LatentMap, split: str) -> view.CodeIndex:
    """The brute-force index of the map's codes, built once per model and split (the codes are the same for
    every method of the map)."""
    return _index(f"{_map_key(info, split)}|{latent_map.q}|{len(latent_map.codes)}", latent_map.codes)


def show_neighbours(info, latent_map, split, picked, labels, classes, *, where, key: str = "map_near") -> None:
    """For a selection of one point: it and its nearest codes (images from the sprites, index, class, distance)
    in `where`, ringed on the map. Nothing for any other selection."""
    focus = focus_of(picked)
    if focus is None:
        return
    found, distances = code_index(info, latent_map, split).neighbours(focus, view.NEIGHBOURS)
    rows = view.neighbour_rows(found, distances, labels, classes, latent_map.points)
    (point,) = view.neighbour_rows(np.array([focus]), np.zeros(1), labels, classes, latent_map.points)
    data: dict[str, object] = {
        "view": "neighbours",
        "key": key,
        "chart": CHART,
        "sprites": list(sprite_index(info.dataset, split)),
    }
    data |= {"focus": point, "items": rows, "lecture": lecture_on()}
    data["title"] = f"#{focus} and its {len(rows)} nearest codes (ringed on the map)"
    data["note"] = view.neighbours_note(labels, classes, focus, found, distances, latent_map.q) if len(rows) else ""
    with where:
        _kit()(key=key, data=data)


# --- the 3-D view --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=16)
def _pca_3d(tag: str, _codes: np.ndarray) -> projection3d.Map3D:
    return projection3d.cached_3d(_codes, "pca", key=tag)


def map_3d(info: CheckpointInfo, latent_map: LatentMap, split: str, method: str):
    """(the 3-D map, None) when ready; else (None, the background job fitting it). PCA is fitted at once
    (milliseconds); UMAP only ever in the map helper process, through the job queue."""
    tag = f"{_map_key(info, split)}|{len(latent_map.codes)}"
    if method == "pca":
        return readonly_3d(_pca_3d(tag, latent_map.codes)), None
    found = projection3d.find_cached_3d(latent_map.codes, method, key=tag)
    if found is not None:
        return readonly_3d(found), None
    name = f"map3d|{tag}|{method}"
    job = background_jobs().get(name)
    if job is not None and job.state == State.DONE:
        return readonly_3d(job.result), None
    if job is None or job.state != State.FAILED:
        work = functools.partial(_fit_3d_job, codes=latent_map.codes, method=method, key=tag)
        job = background_jobs().submit(
            name,
            work,
            label=f"3-D UMAP of {len(latent_map.codes):,} codes of {info.name}",
            expected_s=None,
            kind="map3d|umap",
            size=len(latent_map.codes),
        )
    return None, job


def readonly_3d(found: projection3d.Map3D) -> projection3d.Map3D:
    readonly(found.points)
    return found


def _fit_3d_job(job, *, codes, method, key):
    job.begin(f"fitting a 3-D {method.upper()} on {len(codes):,} codes")
    return map_worker().call(
        in_cache_dir, str(diskcache.cache_dir()), projection3d.cached_3d, np.asarray(codes), method, key=key
    )


@st.cache_resource(show_spinner=False, max_entries=16)
def _map3d_spec(tag: str, _points, _labels, classes: tuple, hidden: tuple, height: int) -> dict:
    """The 3-D figure as a plain spec, built once per map, filter and height (plotly validates 10k points in
    ~100 ms; a spec plus a few rings builds without validating)."""
    return view.map3d_figure(_points, _labels, classes, hidden=hidden, height=height).to_plotly_json()


def show_map_3d(info, latent_map, split, labels, classes, hidden, found_index: int | None, *, height: int) -> None:
    """The rotating 3-D view of the map's codes (UMAP for a UMAP map, else PCA), a found point and its neighbours
    marked, each point's image on hover; a UMAP still fitting shows its progress and PCA meanwhile. Returns
    None: a 3-D view selects nothing (pick a point by its index)."""
    from ..views.figures import fast_figure
    from .decoder import hover_decoder
    from .maps import show_job

    method = "umap" if latent_map.method == "umap" else "pca"
    space, job = map_3d(info, latent_map, split, method)
    if space is None:
        if job.state == State.FAILED:
            st.error(f"Could not fit the 3-D UMAP of {info.name}: {job.error}")
        else:
            show_job(job)
        st.caption("Meanwhile: the 3-D PCA of the same codes, which needs no fitting.")
        space, _ = map_3d(info, latent_map, split, "pca")
    tag = f"{_map_key(info, split)}|{space.method}|{len(space.points)}"
    spec = dict(_map3d_spec(tag, space.points, labels, tuple(classes), tuple(hidden), height))
    if found_index is not None:
        near, _ = code_index(info, latent_map, split).neighbours(found_index, view.NEIGHBOURS)
        spec["data"] = [*spec["data"], view.rings_3d(space.points, found_index, near)]
    firstrun.chart(fast_figure(spec), key="map_chart_3d", width="stretch")
    hover_decoder(info, "map_chart_3d", None, key="map_hover_3d", sprites=sprite_index(info.dataset, split))
    kept = "" if space.kept is None else f"; its three axes keep {100 * space.kept:.0f} % of the code variance"
    words = "UMAP" if space.method == "umap" else "PCA"
    note = " (t-SNE is offered in 2-D only)" if latent_map.method == "tsne" else ""
    st.caption(
        f"**3-D {words}** of {len(space.points):,} codes{note}{kept}. Drag to turn it, scroll to zoom: your browser "
        "does both. Hover over a point to see its image; pick a point by its index to ring it and its neighbours."
    )


# --- exports -------------------------------------------------------------------------------------------------


def export_buttons(info: CheckpointInfo, latent_map: LatentMap, chosen: np.ndarray, labels, classes, dataset) -> None:
    """The selection as CSV (index, class, map x/y, code) and as a PNG grid of its images: both made when
    clicked (a 10,000-point selection's CSV of 256-d codes is megabytes), from arrays held by this run."""
    chosen = np.array(chosen, dtype=np.int64)
    points, codes, theme = latent_map.points, latent_map.codes, theme_type()
    shown = chosen[: view.EXPORT_IMAGES]
    images = map_images(dataset, shown)  # (M,C,H,W): at most EXPORT_IMAGES, read now (no Streamlit later)
    left, right = st.columns(2)
    left.download_button(
        "Selection as CSV",
        lambda: view.selection_csv(chosen, labels, classes, points, codes),
        file_name=f"{info.name}-selection.csv",
        mime="text/csv",
        key="map_export_csv",
        icon=":material/table:",
        help="index, class, map x and y, and the code (z0 …) of every selected point",
    )
    right.download_button(
        "Images as PNG" if len(chosen) == len(shown) else f"First {len(shown):,} images as PNG",
        lambda: png_bytes(view.selection_grid(images, shown, labels, classes, theme)),
        file_name=f"{info.name}-selection.png",
        mime="image/png",
        key="map_export_png",
        icon=":material/grid_view:",
        help="the selected images in one picture, each with its index and class",
    )
