"""VAE: walk between two images, along one code dimension at a time, and sample new images from the prior."""

import streamlit as st

from aeviz import ui
from aeviz.views import betas, decoding
from aeviz.views import vae as view
from aeviz.views import vaeplane as plane
from aeviz.walks import rank_dims_by_kl
from aeviz.zoo import catalog

st.title("Variational autoencoders: a code space you can walk through")
ui.explain(
    "A **VAE** encodes each image as a small Gaussian cloud and pays a penalty (the **KL** term) when the clouds "
    "stray from a standard normal N(0, I), which pulls its codes towards one region around the origin.",
    "You can **interpolate** between two images, turn **one code dimension** at a time, or **sample** brand-new "
    "images, and compare with a plain autoencoder, whose codes feel no such pull. The pull does not fill the "
    "whole prior: the **2-d code plane** counts the parts of it that a model's codes leave empty. **β** weighs "
    "the KL term: the **β** tab switches among the same VAE trained at several β and shows what moves.",
    slider="vae_scrub",
)

ctx = ui.page_context(need_models=False)  # its own message when its family is missing
choices = catalog.vaes(ctx.models)
if not choices:
    st.info("No VAE for this dataset yet. Open **Train**, pick the *vae* family, and come back.")
    st.stop()
controls, views = st.columns([1, 3], gap="medium")  # the views beside their controls: above the fold
with controls:
    info = ui.url_selectbox("VAE", choices, "vae_model", choices[0], format_func=lambda m: m.label)
    picked = ui.image_picker(ctx, "vae_pair", count=2)
vae = ui.model_or_message(info)
if vae is None:
    st.stop()
pair, names = view.two_images(picked.images, ui.shown_captions(picked), ctx.test)
if len(picked.images) < 2:
    st.warning("Interpolation needs two images: the second one is test image #0.", icon=":material/warning:")
twin = catalog.plain_twin(info, ctx.models, same_size=False)
ae = ui.model_or_message(twin) if twin is not None else None


interpolation = ui.per_model(
    view.interpolation_pictures, spinner="Decoding every step of the paths…", max_entries=32, ttl=3600
)
traversal = ui.per_model(view.traversal_png, max_entries=64)
samples = ui.per_model(view.samples_png, max_entries=64)  # PNG bytes: st.image shows them without re-encoding
blur_note = ui.per_model(view.blur_note, max_entries=64)


@ui.per_model(max_entries=32)
def kl(vae, dataset: str):
    return view.dataset_kl(vae, ui.get_dataset(dataset, "test"))


@ui.per_model(spinner="Decoding the code plane…", max_entries=8, models=False)
def manifold(flat, gaussian: bool):
    return plane.plane_figure(ui.get_model(flat), ui.get_codes(flat), ui.get_dataset(flat.dataset, "test"), gaussian)


@ui.per_model(spinner="Reading every code dimension over the test set (once)…", max_entries=32)
def collapse(vae, dataset: str):
    return betas.dataset_collapse(vae, ui.get_dataset(dataset, "test"))


tab_path, tab_dims, tab_sample, tab_plane, tab_play, tab_post, tab_beta = views.tabs(
    [
        "Interpolate",
        "One dimension at a time",
        "Sample from the prior",
        "2-d code plane",
        "Drag the code",
        "Posterior",
        "β",
    ],
    key="vae_tab",
    bind="query-params",
)

with tab_path:
    fit = ui.fit(0.75, above=13, gaps=2)  # the right column under the tabs: pictures and slider on one screen
    scrub_fig, strip = interpolation(info, pair, ui.theme_type(), twin if ae is not None else None, fit)
    ui.scrub_chart(scrub_fig, "vae_scrub", "vae_t", view.scrub_positions(scrub_fig))
    st.markdown(
        f"From **A** = {names[0]} to **B** = {names[1]}. Drag **t**: the middle column is decoded from "
        "the code (1 - t)·z_A + t·z_B (linear) or along the great circle (spherical)."
    )
    ui.picture(
        strip,
        caption="Every step at once. "
        + (
            f"The plain AE (`{twin.name}`, code size {twin.bottleneck}) walks through codes it never saw: "
            "watch the middle."
            if ae is not None
            else "No plain autoencoder with this code size to compare with."
        ),
    )


@st.fragment
def dims_view():
    q = vae.bottleneck
    left, right = st.columns([1, 3])
    with left:
        which = ui.url_radio("Image", ["A", "B"], "vae_trav", horizontal=True)
        count = ui.url_slider("Dimensions", 1, q, min(q, 8), "vae_dims")
        values = kl(info, ctx.dataset)
        st.caption(
            f"Each row sets one code dimension to −3…+3 (the prior's ±3σ) and keeps the rest. {view.kl_note(values)}"
        )
    dims = tuple(int(d) for d in rank_dims_by_kl(values)[:count])
    with right:
        ui.picture(
            traversal(info, pair["AB".index(which)], dims, values, ui.theme_type(), ui.fit(0.56, above=None, gaps=4))
        )


def next_seed() -> None:
    ui.set_url_ints("vae_seed", [ui.url_ints("vae_seed", [0])[0] + 1])  # in the URL: a link shows the same draw


@st.fragment
def sample_view():
    left, right = st.columns([1, 3])
    with left:
        temperature = ui.url_slider("Temperature", 0.1, 2.0, 1.0, "vae_temp", step=0.1)
        st.button("Re-sample", icon=":material/casino:", key="vae_resample", on_click=next_seed)
        seed = ui.url_ints("vae_seed", [0])[0]
        st.caption(
            "Temperature scales the codes: below 1 stays near the centre (safe, average-looking images), "
            "above 1 reaches where little training data was encoded."
        )
    with right:
        ui.picture(
            samples(info, temperature, seed, ui.theme_type(), ui.fit(0.56, above=13, gaps=4)),
            caption=f"32 codes drawn from N(0, {temperature:g}²·I) with seed {seed}, decoded.",
        )
        st.caption(blur_note(info, ctx.test.images[:32].numpy(), temperature, seed))


# The first tab is the first screen; the others come with the run that brings the live charts (ui/firstrun.py),
# unless a link opens another tab: then all at once.
linked = "vae_tab" in st.query_params
with tab_dims:
    ui.later(dims_view, shown=linked)
with tab_sample:
    ui.later(sample_view, shown=linked)


def plane_view():
    """A 2-d VAE's whole code plane, decoded, with the test codes over it and hover-decoding."""
    plane_model = ui.model_or_message(flat) if flat is not None else None
    if plane_model is None:
        st.info("No VAE with a 2-d code for this dataset: train one with code size 2 to see its whole code plane.")
    else:
        linear = ui.url_toggle("Linear grid over −3…+3 instead of prior quantiles", "vae_linear")
        ui.chart(manifold(flat, not linear), width="stretch", config={"displayModeBar": False}, key="vae_plane")
        if not ui.hover_decoder(flat, "vae_plane", decoding.prior_plane_inverse(not linear), key="vae_hover"):
            st.caption(
                "Move the mouse over the plane: your browser decodes the code under the cursor as it moves, "
                "exactly (with a 2-d code the plane is the whole code space)."
            )
        grid = (
            "a 20×20 grid, linear over −3…+3 in both code dimensions"
            if linear
            else "a 20×20 grid at the prior's 5 %…95 % quantiles of both code dimensions (equal prior mass per "
            "cell, as in Kingma & Welling), drawn on that quantile scale"
        )
        codes = ui.get_codes(flat)
        st.caption(
            f"`{flat.name}`: the background is decoded from {grid}; the dots are test images' codes "
            f"(posterior means), coloured by class. {plane.fill_note(plane.cell_counts(codes))}"
        )


def play_view():
    ui.playground(
        info,
        ui.code_sliders(info, pair[0], kl=kl(info, ctx.dataset)),
        key="vae_play",
        title="One slider per code dimension, over the prior's ±3σ: drag one (or click it and use the arrow keys)",
        caption=f"decoded from the code, image A ({names[0]}) to start with",
    )


flat = catalog.two_d_vae(info, ctx.models)
with tab_plane:
    ui.later(plane_view, shown=linked)
with tab_play:
    ui.later(play_view, shown=linked)
with tab_post:  # image A's q(z|x): per dimension, on the 2-d plane, drawn from; the loss's two terms
    ui.later(ui.posterior_view, info, pair[0], f"Image A ({names[0]})", flat, shown=linked)


@st.fragment
def beta_view():
    family, planes = catalog.beta_siblings(info, ctx.models), catalog.beta_planes(info, ctx.models)
    empty = {b: plane.underfilled(plane.cell_counts(ui.get_codes(c))) for b, c in planes.items()}
    rows = [
        betas.row(c.name, catalog.beta(c), collapse(c, ctx.dataset), c.metadata, empty.get(catalog.beta(c)))
        for c in family
    ]
    chosen = ui.url_radio(
        "β", [r.beta for r in rows], "vae_beta", catalog.beta(info), format_func="{:g}".format, horizontal=True
    )
    picked_row = next(r for r in rows if r.beta == chosen)
    model = family[rows.index(picked_row)]
    seen = collapse(model, ctx.dataset)
    figure = betas.collapse_figure(seen, rows, chosen, height=ui.main_height(260, 240))
    ui.chart(figure, width="stretch", config={"displayModeBar": False}, key="vae_beta_fig")
    st.markdown(betas.chosen_sentence(picked_row) + " " + betas.trend_sentence(rows))
    pictures, walk = st.columns(2)
    ui.picture(betas_samples(model, ctx.test.images[:8].numpy(), ui.theme_type()), where=pictures)
    pictures.caption("Test images, their reconstructions, and 8 images decoded from codes drawn from the prior.")
    pair_dims = betas.inert_dims(seen)
    if pair_dims is not None:
        ui.picture(traversal(model, pair[0], pair_dims, seen.kl, ui.theme_type()), where=walk)
        walk.caption("Image A's most informative dimension (top) and its least (bottom), each over ±3σ.")
    for note in (betas.coverage_sentence(rows, len(ctx.test.images)), betas.recipe_sentence(rows)):
        if note:
            st.markdown(note)


betas_samples = ui.per_model(betas.samples_png, max_entries=32)
with tab_beta:
    ui.later(beta_view, shown=linked)
