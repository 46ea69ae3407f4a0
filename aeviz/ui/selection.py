"""Latent space's selection: the images of the points picked on the map, or what the decoder draws at a spot."""

from __future__ import annotations

import streamlit as st

from ..views import latent_map as view
from .caches import model_or_message
from .lecture import fit
from .maps import map_images
from .projector import export_buttons
from .theme import theme_type
from .widgets import picture

SHOW = 24  # images in the selection gallery


def decode_here(ctx, model, latent_map, spot, labels, share):
    """What the decoder draws at one map position, beside the nearest real images on the map."""
    decoded = view.decode_at(latent_map, model, spot[None])
    near = view.nearest(latent_map.points, spot, 6)
    a, b = st.columns([1, 3])
    picture(
        view.gallery([("", decoded, ["decoded"])], theme=theme_type(), fit=fit(share / 4, above=None, gaps=2)),
        where=a,
        caption=f"at ({spot[0]:.2f}, {spot[1]:.2f})",
    )
    picture(
        view.gallery(
            [("nearest", map_images(ctx.dataset, near), [ctx.test.classes[labels[i]][:7] for i in near])],
            theme=theme_type(),
            fit=fit(share * 3 / 4, above=None, gaps=2),
        ),
        where=b,
    )
    st.caption(f"Decoding a map position is {view.decode_note(latent_map)}")


def show_selection(ctx, model, info, other, latent_map, picked, labels, per_row):
    """The selected points' images and their reconstructions (by the second model too), or decoded empty spots."""
    chosen = picked.indices
    if len(chosen) == 0 and len(picked.spots) == 0:
        st.info("Select some points, or click anywhere on the map to decode that spot.", icon=":material/touch_app:")
        return
    share = 0.4 if per_row == 8 else 1.0  # beside the map, or under two maps
    if len(picked.spots) == 1 and len(chosen) == 0:  # one point: its neighbours in code space are listed above
        decode_here(ctx, model, latent_map, view.spot_of(latent_map, picked), labels, share)
    if len(chosen):
        st.markdown(
            f"**{len(chosen):,} selected** ({view.selection_summary(chosen, labels, ctx.test.classes)}); "
            + (f"{SHOW} of them, classes in proportion:" if len(chosen) > SHOW else "all of them:")
        )
        second_model = model_or_message(other) if other is not None else None  # its file may break meanwhile
        shown = [(model, info)] + ([(second_model, other)] if second_model is not None else [])
        sample, box = view.representative(chosen, labels, SHOW), fit(share, above=None, gaps=1)
        picture(
            view.selection_gallery(
                map_images(ctx.dataset, sample),
                sample,
                labels,
                ctx.test.classes,
                shown,
                per_row,
                theme_type(),
                box,
            ),
            caption=f"Shown: {view.selection_summary(sample, labels, ctx.test.classes, top=10)}. Under each "
            "input its class, under each reconstruction its mean squared error.",
        )
        export_buttons(info, latent_map, chosen, labels, ctx.test.classes, ctx.dataset)  # CSV and image grid
    elif len(picked.spots) > 1:
        decoded = view.decode_at(latent_map, model, picked.spots[:SHOW])
        picture(
            view.gallery(
                [("decoded", decoded, [""] * len(decoded))],
                per_row,
                theme=theme_type(),
                fit=fit(share, above=None),
            ),
            caption=f"What the decoder draws across the {len(picked.spots)} empty spots you selected.",
        )
