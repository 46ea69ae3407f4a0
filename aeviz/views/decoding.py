"""What the browser's decoder views are told: the playground's sliders (which dimensions, their ranges and notes)
and a map's inverse (map position -> code) for hover-decoding, as plain JSON-ready values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..projection import LatentMap
from .figures import png_data_uri

ALL_UP_TO = 16  # codes this short get a slider per dimension
SLIDERS = 12  # longer codes: this many sliders, on the dimensions that vary most (or carry most KL)
PRIOR_SPAN = 3.0  # a VAE's sliders: the prior's ±3σ
PAD = 0.1  # an autoencoder's sliders: the test codes' range, widened by this share on each side


def slider_dims(scores: Sequence[float] | np.ndarray, limit: int = SLIDERS) -> list[int]:
    """Every dimension of a code up to ALL_UP_TO long; else the `limit` with the highest scores, in index order."""
    ranked = np.asarray(scores, dtype=np.float64)
    if len(ranked) <= ALL_UP_TO:
        return list(range(len(ranked)))
    return sorted(int(d) for d in np.argsort(-ranked, kind="stable")[:limit])


def slider_ranges(code: np.ndarray, dims: Sequence[int], codes: np.ndarray | None) -> list[list[float]]:
    """[low, high] per slider: the prior's ±3σ (codes None: a VAE), else the test codes' range padded by PAD;
    widened, if need be, to hold the image's own value."""
    ranges = []
    for d in dims:
        if codes is None:
            low, high = -PRIOR_SPAN, PRIOR_SPAN
        else:
            low, high = float(codes[:, d].min()), float(codes[:, d].max())
            pad = PAD * max(high - low, 1e-3)
            low, high = low - pad, high + pad
        ranges.append([min(low, float(code[d])), max(high, float(code[d]))])
    return ranges


def playground_data(
    code: np.ndarray,
    scores: Sequence[float] | np.ndarray,
    score_name: str,
    codes: np.ndarray | None,
    image: np.ndarray | None = None,
) -> dict[str, Any]:
    """The playground's sliders for one image's `code` (q,): dimensions, ranges, labels and notes ("σ 1.2" or
    "KL 0.8" per slider), the test image as a data URI, and a sentence when only some dimensions have sliders.
    `scores` rank the dimensions (variance over the test codes, or a VAE's KL); `codes` None means a VAE."""
    code = np.asarray(code, dtype=np.float32).ravel()
    ranked = np.asarray(scores, dtype=np.float64)
    dims = slider_dims(ranked)
    shown = np.sqrt(ranked) if score_name == "σ" else ranked
    note = ""
    if len(dims) < len(code):
        which = "carry the most KL" if score_name == "KL" else "vary most over the test set"
        note = (
            f"Sliders for the {len(dims)} of {len(code)} dimensions that {which} (orange in the strip above); "
            f"the other {len(code) - len(dims)} stay at this image's code."
        )
    return {
        "code": [float(v) for v in code],
        "dims": dims,
        "ranges": slider_ranges(code, dims, codes),
        "labels": [f"z{d}" for d in dims],
        "notes": [f"{score_name} {shown[d]:.2g}" for d in dims],
        "note": note,
        "original": png_data_uri(_grey_or_rgb(image)) if image is not None else None,
    }


def _grey_or_rgb(image: np.ndarray) -> np.ndarray:
    """(C,H,W) in [0,1] -> (H,W) or (H,W,3) for a PNG."""
    image = np.asarray(image)
    return image[0] if image.shape[0] == 1 else np.moveaxis(image[:3], 0, -1)


def map_inverse(latent_map: LatentMap) -> dict[str, Any] | None:
    """How the browser turns a map position into a code, exactly as LatentMap.inverse does: a PCA plane's mean
    and axes, or a raw 2-d code as it is; None for UMAP and t-SNE (their inverse needs every stored code)."""
    if latent_map.method == "raw":
        return {"kind": "raw"}
    if latent_map.method == "pca" and latent_map.mean is not None and latent_map.components is not None:
        return {"kind": "linear", "mean": latent_map.mean.tolist(), "axes": latent_map.components.tolist()}
    return None


def prior_plane_inverse(gaussian: bool) -> dict[str, Any]:
    """The VAE page's 2-d code plane: drawn on the prior's quantile scale (a position u is the code Φ⁻¹(u)),
    or linearly in z."""
    return {"kind": "probit"} if gaussian else {"kind": "raw"}
