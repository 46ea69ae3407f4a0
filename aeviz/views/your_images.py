"""Your images' back-end: the wording that follows the dataset, what preprocessing did to an upload, and
which test images its code lies nearest (kNN-7 in code space, and in pixel space for comparison)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..data import item_noun
from ..images import Preprocessed
from ..knn import K
from . import figures


def wording(dataset: str, channels: int) -> dict[str, str]:
    """How the page speaks of one image of this dataset, and of its preprocessing."""
    noun = item_noun(dataset)
    article = "an" if noun[0] in "aeiou" else "a"
    digit_like = channels == 1 and noun in ("digit", "clothing item")
    return {
        "noun": noun,
        "a": f"{article} {noun}",
        "title": f"Your images: how unusual is your {noun}?",
        "upload": (
            f"Upload a photo or scan of {article} {noun}, or draw one"
            if digit_like
            else f"Upload a photo (any picture: it is cropped to its centre square, in "
            f"{'colour' if channels == 3 else 'grey'})"
        ),
        "prep": (
            "It is first turned into an MNIST-style picture, step by step below, because the models only know "
            "white strokes, centred, on black."
            if digit_like
            else f"It is first centre-cropped to a square and resized to the models' {channels}-channel input, step "
            "by step below: the models only know pictures of that size."
        ),
    }


def conversion_note(item: Preprocessed, dataset: str, channels: int, mnist_style: bool) -> str | None:
    """What a model of this dataset's input does not see of the upload, when that matters; None otherwise."""
    noun = item_noun(dataset)
    if item.photo is None:
        return None
    if channels == 3:
        if item.colourful:
            return None
        return f"Your picture is grey: the colour models see it as grey in all three channels, unlike any {noun}."
    lost = []
    if item.colourful:
        lost.append("its colours (turned grey)")
    if mnist_style:
        lost.append("its background (removed" + (", light and dark swapped)" if item.inverted else ")"))
        lost.append("everything outside its brightest shape (cropped, shrunk and centred)")
    if not lost or not (item.colourful or item.notes):
        return None
    unlike = f"a colour picture, not {'an' if noun[0] in 'aeiou' else 'a'} {noun}" if item.colourful else None
    first = f"This is {unlike}" if unlike else f"This does not look like {'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    return (
        f"{first}: for these grey {noun} models it lost {', '.join(lost)}. What they rebuild is that shape, so "
        "its percentile is also given for the picture as it is (only turned grey and resized, no other step): "
        "read that one to ask whether the picture itself is unusual."
    )


def nearest(test_codes: np.ndarray, code: np.ndarray, k: int = K) -> np.ndarray:
    """Indices of the k test codes nearest (Euclidean) to one code (q,), nearest first."""
    flat = np.asarray(test_codes, np.float32).reshape(len(test_codes), -1)
    d = ((flat - np.asarray(code, np.float32).reshape(1, -1)) ** 2).sum(axis=1)
    k = min(k, len(d))
    part = np.argpartition(d, k - 1)[:k]
    return part[np.argsort(d[part], kind="stable")]


def vote(labels: np.ndarray, classes: Sequence[str]) -> list[tuple[str, int]]:
    """The neighbours' classes, most frequent first (ties: the nearer neighbour's class first)."""
    counts = Counter(int(v) for v in labels)
    first_seen = {int(v): i for i, v in reversed(list(enumerate(labels)))}
    order = sorted(counts, key=lambda c: (-counts[c], first_seen[c]))
    return [(classes[c], counts[c]) for c in order]


def vote_sentence(votes: list[tuple[str, int]], k: int) -> str:
    """'**cat** (4 of 7), then dog 2, frog 1'."""
    (top, n), rest = votes[0], votes[1:]
    tail = ", then " + ", ".join(f"{c} {m}" for c, m in rest) if rest else ""
    return f"**{top}** ({n} of {k}){tail}"


def neighbour_rows(
    image: np.ndarray, code_images: np.ndarray, pixel_images: np.ndarray, captions: Sequence[Sequence[str]], theme: str
) -> np.ndarray:
    """Your image, then its nearest test images in code space, then in pixel space (each (K,C,H,W)), captioned."""
    rows = [np.asarray(image, np.float32)[None], code_images, pixel_images]
    scale = max(1, 64 // image.shape[-1])
    return figures.compose_grid(
        rows, row_labels=["yours", "by code", "by pixels"], cell_labels=captions, scale=scale, theme=theme
    )
