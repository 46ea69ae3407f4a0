"""The Error gallery's form for images to inject: another dataset's classes, your own images, or none."""

from __future__ import annotations

import streamlit as st

from .. import data
from .caches import get_dataset
from .shell import DEFAULT_DATASETS, Context
from .training import train_datasets
from .uploads import user_image_batch, user_images
from .widgets import url_multiselect, url_selectbox, url_slider


def injection_form(ctx: Context, injection_class):
    """The source (a dataset, "your images" or "none") and what to inject: (source, injection or None, own
    images, their names); `injection_class(source, classes, count, seed)` describes a draw from a dataset."""
    shape = tuple(ctx.test.shape)
    # views.anomalies.fit_to resizes grey images and widens them to colour; colour photos cannot join a grey set
    fits = [d for d in DEFAULT_DATASETS if data.DATASETS[d].shape[0] == 1 or data.DATASETS[d].shape == shape]
    sources = [d for d in fits if d != ctx.dataset] + ["your images", "none"]
    here = set(train_datasets())  # offline, a missing set stays listed but is not the default
    first = next((s for s in sources if s in here), "your images" if user_images() else "none")
    titles: dict[str, str] = {name: info.title for name, info in data.DATASETS.items()}
    src_col, cls_col, n_col, seed_col = st.columns([1, 2, 1, 1])
    with src_col:
        source = url_selectbox(
            "Inject from",
            sources,
            "err_src",
            first,
            format_func=lambda s: (
                str(titles.get(s, s)) + (" (not on this server)" if s in titles and s not in here else "")
            ),
        )
    injection, own, own_names = None, user_image_batch(ctx.test.shape, []), tuple[str, ...]()
    if source == "your images":
        own_images = user_images()
        own, own_names = user_image_batch(ctx.test.shape, own_images), tuple(p.name or "yours" for p in own_images)
        cls_col.caption(
            "Your uploads and drawings (add some on **Your images**)."
            if own_images
            else "You have no images yet: upload or draw some on **Your images**."
        )
    elif source != "none":
        try:
            other = get_dataset(source, "test")
        except data.DatasetUnavailable as exc:
            st.warning(f"{titles.get(source, source)} is not available here: {exc}")
            other = None
        if other is not None:
            shoes = [5, 7, 9] if source == "fashion-mnist" else list(range(len(other.classes)))
            with cls_col:
                classes = url_multiselect(
                    "Classes",
                    list(range(len(other.classes))),
                    f"err_cls_{source}",
                    shoes,
                    format_func=lambda c: other.classes[c],
                )
            with n_col:
                count = url_slider("How many", 10, 500, 100, "err_n", step=10)
            with seed_col:
                seed = url_slider("Draw", 0, 99, 0, "err_seed")
            injection = injection_class(source, tuple(classes), count, seed)
            if other.shape != ctx.test.shape:
                st.caption(
                    f"{titles[source]} images resized from {other.shape[1]}x{other.shape[2]} to "
                    f"{ctx.test.shape[1]}x{ctx.test.shape[2]} to fit these models."
                )

    return source, injection, own, own_names
