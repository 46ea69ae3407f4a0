"""Latent space explored as TensorFlow's Embedding Projector does: a point's nearest neighbours in code space,
a class filter, image sprites for hover thumbnails, a 3-D view that rotates in the browser, and a selection's
exports (CSV of index, class, map position and code; a PNG grid of its images)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import figures

NEIGHBOURS = 8  # a clicked point's nearest codes listed
SPRITE_CHUNK = 10_000  # images per sprite sheet: one element (one message) per sheet
SPRITE_LEVELS = 16  # grey thumbnails keep 16 levels: a 4-bit PNG, MNIST's test set in 1.0 MB (1.7 MB at 256)
SPRITE_FORMAT = 1  # bump when a sheet's bytes for the same images change, so cached sheets retire
SPRITES_KEY, ID_KEY = "aeviz.sprites", "aeviz.id"  # the blob's metadata, as the decoder weights' (kernel.js)
EXPORT_IMAGES = 1024  # a PNG export shows at most this many images: 32 x 32 cells
_CANDIDATES = 8  # nearest codes ranked in float32 beyond k, re-measured in float64 (ties and rounding)


class CodeIndex:
    """Exact Euclidean nearest neighbours among N codes (N,q), by brute force: one pass over the codes per
    query, which for 10,000 codes of q <= 256 takes about a millisecond (benchmarks/knn_codes.py)."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = np.ascontiguousarray(codes, dtype=np.float32)  # (N,q)
        if self.codes.ndim != 2 or len(self.codes) == 0:
            raise ValueError(f"codes must be (N,q) with N >= 1, got {self.codes.shape}")
        self.norms = np.einsum("ij,ij->i", self.codes, self.codes)  # (N,) squared lengths

    def __len__(self) -> int:
        return len(self.codes)

    def query(self, code: np.ndarray, k: int, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances) of the k codes nearest `code` (q,), nearest first, ties by index; `exclude`
        (the point itself) is left out."""
        x = np.asarray(code, dtype=np.float32).ravel()
        rough = self.norms - 2 * (self.codes @ x)  # (N,) ||c - x||² - ||x||²: the same order, one product
        if exclude is not None:
            rough[exclude] = np.inf
        k = min(k, len(self) - (exclude is not None))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        take = min(len(rough), k + _CANDIDATES)
        near = np.argpartition(rough, take - 1)[:take]
        near = near[np.isfinite(rough[near])]
        exact = np.sqrt(((self.codes[near].astype(np.float64) - x) ** 2).sum(axis=1))  # (take,)
        order = np.lexsort((near, exact))[:k]
        return near[order].astype(np.int64), exact[order]

    def neighbours(self, i: int, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest other codes of point i: (indices, distances)."""
        return self.query(self.codes[i], k, exclude=i)


def neighbour_rows(
    indices: np.ndarray, distances: np.ndarray, labels: np.ndarray, classes: Sequence[str], points: np.ndarray
) -> list[dict]:
    """What the neighbour list shows and the map rings: index, class, distance and map position per neighbour."""
    return [
        {
            "index": int(i),
            "label": str(classes[labels[i]]),
            "distance": round(float(d), 6),
            "x": float(points[i, 0]),
            "y": float(points[i, 1]),
        }
        for i, d in zip(indices, distances, strict=True)
    ]


def neighbours_note(
    labels: np.ndarray, classes: Sequence[str], focus: int, found: np.ndarray, distances, q: int
) -> str:
    """One sentence on a point's neighbours: how many share its class, and how far they lie."""
    same = int((labels[found] == labels[focus]).sum())
    return (
        f"{same} of its {len(found)} nearest codes are {classes[labels[focus]]} too, at distances "
        f"{np.min(distances):.3g} to {np.max(distances):.3g} in the {q}-d code space (Euclidean; distances on "
        "the map are not these)."
    )


def hidden_classes(classes: Sequence[str], shown: Sequence[str]) -> tuple[str, ...]:
    """The classes a filter hides (none when it names none: showing nothing is no useful map)."""
    return () if not shown else tuple(c for c in classes if c not in set(shown))


def shown_mask(labels: np.ndarray, classes: Sequence[str], hidden: Sequence[str]) -> np.ndarray:
    """(N,) bool: the points whose class is not hidden."""
    keep = np.array([c not in set(hidden) for c in classes], dtype=bool)
    return keep[np.asarray(labels, dtype=np.int64)]


# --- sprite sheets: every point's image, sent once, for thumbnails in the browser ---------------------------


@dataclass(frozen=True)
class SpriteLayout:
    """Where image i of a sheet lies: row i // cols, column i % cols, cells of height x width pixels."""

    count: int
    cols: int
    height: int
    width: int

    @property
    def rows(self) -> int:
        return -(-self.count // self.cols)

    def cell(self, i: int) -> tuple[int, int]:
        """(top, left) pixel of image i."""
        if not 0 <= i < self.count:
            raise IndexError(f"image {i} of {self.count}")
        return (i // self.cols) * self.height, (i % self.cols) * self.width


def sprite_layout(count: int, height: int, width: int) -> SpriteLayout:
    """A near-square sheet: ceil(sqrt(count)) columns (2,800 px a side for 10,000 MNIST digits)."""
    return SpriteLayout(count, max(1, int(np.ceil(np.sqrt(count)))), height, width)


def sprite_sheet(images: np.ndarray) -> tuple[np.ndarray, SpriteLayout]:
    """Images (N,C,H,W) in [0,1] (or uint8) tiled into one picture: (rows*H, cols*W) grey or (.., 3) colour."""
    cells = figures.to_uint8(np.asarray(images))  # (N,C,H,W)
    n, c, h, w = cells.shape
    layout = sprite_layout(n, h, w)
    padded = np.zeros((layout.rows * layout.cols, c, h, w), np.uint8)
    padded[:n] = cells
    sheet = padded.reshape(layout.rows, layout.cols, c, h, w).transpose(0, 3, 1, 4, 2)  # rows, H, cols, W, C
    sheet = sheet.reshape(layout.rows * h, layout.cols * w, c)
    return (sheet[..., 0] if c == 1 else sheet[..., :3]), layout


def _encoded(sheet: np.ndarray) -> tuple[bytes, str]:
    """Grey: 16 levels in a 4-bit PNG (lossless at those levels); colour: WebP at quality 80."""
    buffer = io.BytesIO()
    if sheet.ndim == 2:
        step = 255 / (SPRITE_LEVELS - 1)
        image = Image.fromarray(np.round(sheet / step).astype(np.uint8), mode="P")
        image.putpalette([round(v * step) for v in range(SPRITE_LEVELS) for _ in range(3)])
        image.save(buffer, format="PNG", bits=4, compress_level=6)
        return buffer.getvalue(), "image/png"
    Image.fromarray(sheet).save(buffer, format="WEBP", quality=80)
    return buffer.getvalue(), "image/webp"


def sprite_blob(images: np.ndarray, first: int = 0) -> bytes:
    """One sheet as the browser's kit reads it: the safetensors layout of the decoder weights (an 8-byte header
    length, a JSON header whose metadata says where each image lies, the encoded picture as one U8 tensor).
    `first`: the map index of the first image. The id is a digest of the pixels, so the same images give the
    same bytes (and Streamlit's message cache sends them once), whichever model's map shows them."""
    sheet, layout = sprite_sheet(images)
    encoded, mime = _encoded(sheet)
    digest = hashlib.blake2b(np.ascontiguousarray(sheet).data, digest_size=8)
    digest.update(f"{SPRITE_FORMAT}|{first}|{layout}".encode())
    meta: dict[str, int | str] = {"first": first, "count": layout.count, "cols": layout.cols, "height": layout.height}
    meta |= {"width": layout.width, "mime": mime, "levels": SPRITE_LEVELS if sheet.ndim == 2 else 256}
    table = {
        "__metadata__": {SPRITES_KEY: json.dumps(meta, separators=(",", ":")), ID_KEY: digest.hexdigest()},
        "sheet": {"dtype": "U8", "shape": [len(encoded)], "data_offsets": [0, len(encoded)]},
    }
    header = json.dumps(table, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + encoded


def read_sprite_blob(blob: bytes) -> tuple[dict, str, np.ndarray]:
    """(metadata, id, the decoded sheet) of a sprite blob: what the browser reads, for tests and tools."""
    length = int.from_bytes(blob[:8], "little")
    table = json.loads(blob[8 : 8 + length])
    start, end = table["sheet"]["data_offsets"]
    picture = Image.open(io.BytesIO(blob[8 + length + start : 8 + length + end]))
    sheet = np.asarray(picture.convert("L" if picture.mode == "P" else "RGB"))
    return json.loads(table["__metadata__"][SPRITES_KEY]), table["__metadata__"][ID_KEY], sheet


def sprite_chunks(count: int, chunk: int = SPRITE_CHUNK) -> list[tuple[int, int]]:
    """(first, stop) of each sheet a map of `count` points needs."""
    return [(start, min(start + chunk, count)) for start in range(0, count, chunk)]


# --- the 3-D view ---------------------------------------------------------------------------------------------


def map3d_figure(
    points: np.ndarray, labels: np.ndarray, classes: Sequence[str], *, hidden: Sequence[str] = (), height: int = 560
):
    """A Scatter3d per class, each point's index in customdata: plotly rotates, zooms and pans it in the
    browser. Hidden classes start as legend entries only (a legend click brings them back)."""
    import plotly.graph_objects as go

    points = np.asarray(points, np.float32)
    labels = np.asarray(labels, np.int64)
    size = figures.marker_size(len(points)) * 0.6  # 3-D markers read larger than 2-D ones
    fig = go.Figure()
    for c in np.unique(labels):
        mask = labels == c
        name = str(classes[c])
        fig.add_trace(
            go.Scatter3d(
                x=points[mask, 0],
                y=points[mask, 1],
                z=points[mask, 2],
                mode="markers",
                name=name,
                customdata=np.flatnonzero(mask),
                hovertemplate="#%{customdata}<extra>%{fullData.name}</extra>",
                marker=dict(size=size, color=figures.PALETTE[c % len(figures.PALETTE)], opacity=0.8),
                visible="legendonly" if name in set(hidden) else True,
            )
        )
    axis = dict(showbackground=False, showticklabels=False, title="", showspikes=False)
    fig.update_layout(
        height=height,
        scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube", dragmode="orbit"),
        legend=dict(itemsizing="constant"),
        margin=dict(l=0, r=0, t=10, b=0),
        uirevision="keep",  # a rerun keeps the camera where the user turned it
    )
    return fig


def rings_3d(points: np.ndarray, focus: int, near: np.ndarray) -> dict:
    """A Scatter3d trace (a plain spec) marking the focus point and its neighbours in a 3-D view."""
    chosen = np.concatenate([[focus], np.asarray(near, np.int64)])
    return {
        "type": "scatter3d",
        "x": points[chosen, 0].tolist(),
        "y": points[chosen, 1].tolist(),
        "z": points[chosen, 2].tolist(),
        "mode": "markers",
        "name": f"#{focus} and neighbours",
        "customdata": chosen.tolist(),
        "hovertemplate": "#%{customdata}<extra>neighbour</extra>",
        "marker": {"size": [14] + [10] * len(near), "symbol": "circle-open", "color": "#c2410c", "opacity": 1},
    }


# --- exports ------------------------------------------------------------------------------------------------


def selection_csv(
    indices: np.ndarray, labels: np.ndarray, classes: Sequence[str], points: np.ndarray, codes: np.ndarray
) -> str:
    """index, class, map x and y, then the code's q values (z0 ...), one row per selected point."""
    indices = np.asarray(indices, dtype=np.int64)
    q = codes.shape[1]
    lines = [",".join(["index", "class", "x", "y", *(f"z{d}" for d in range(q))])]
    for i in indices:
        values = [f"{v:.6g}" for v in (*points[i], *codes[i])]
        lines.append(",".join([str(i), _csv_text(str(classes[labels[i]])), *values]))
    return "\n".join(lines) + "\n"


def _csv_text(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(ch in text for ch in ',"\n') else text


def selection_grid(
    images: np.ndarray, indices: np.ndarray, labels: np.ndarray, classes: Sequence[str], theme: str = "light"
) -> np.ndarray:
    """The selected images (N,C,H,W) as one picture, each captioned with its index and class, rows of up to 32
    (about square), cells twice the images' size."""
    n = len(indices)
    per_row = max(1, min(32, int(np.ceil(np.sqrt(n)))))
    captions = [f"#{i} {str(classes[labels[i]])[:7]}" for i in indices]
    rows = [images[s : s + per_row] for s in range(0, n, per_row)]
    texts = [captions[s : s + per_row] for s in range(0, n, per_row)]
    return figures.compose_grid(rows, cell_labels=texts, scale=max(1, 56 // images.shape[-1]), theme=theme)
