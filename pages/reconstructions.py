"""Reconstructions: the same images through every bottleneck size, next to PCA, the best linear encoder and decoder."""

import streamlit as st

import aeviz
from aeviz import jobs, ui, workspaces
from aeviz.views import reconstructions as view
from aeviz.zoo.series import ORIGINS, Series, across_sizes, arch_label, contested, group_series


def offer_training(dataset: str) -> None:
    """No models on this machine (no zoo): train a small dense one on the CPU, with a progress bar."""
    st.info(
        f"There are no trained autoencoders for **{dataset}** on this machine (no model zoo, or none for "
        "this dataset). Train a small one now: it takes under a minute on a CPU.",
        icon=":material/info:",
    )
    training = ui.training_shown("rec")  # queued on the Train page's job manager: the page never blocks
    q = st.selectbox("Bottleneck size q", [2, 4, 8, 16], index=2, key="rec_train_q", width=220, disabled=training)
    if st.button(
        "Train a small dense autoencoder", key="rec_train", icon=":material/model_training:", disabled=training
    ):
        # this session's workspace, nobody else's
        ui.start_training("rec", jobs.small_model_job(dataset, q, workspaces.create(ui.own_workspace())))


def pca_or_none(dataset: str):
    try:
        return ui.get_pca(dataset)
    except (aeviz.DatasetUnavailable, OSError, ValueError) as exc:
        st.warning(f"No PCA baseline for {dataset}: {exc}", icon=":material/warning:")
        return None


@ui.per_model(max_entries=64)
def rate_distortion(series: list[Series], dataset: str, with_pca: bool, highlight: str):
    """The chart changes with the family, not with the images: built once per dataset, zoo and family."""
    return view.rate_distortion_figure(series, ui.get_pca(dataset) if with_pca else None, highlight)


@ui.per_model(max_entries=512)
def grid_png(images, captions: tuple, chosen: Series, models: dict, sizes: tuple, dataset: str, with_pca: bool, look):
    """The grid as PNG, once per images, models and screen: a class moving one slider asks for the same few."""
    pca = ui.get_pca(dataset) if with_pca else None
    fit, theme, across = look
    return view.grid_png(images, captions, chosen, models, pca, sizes, fit=fit, theme=theme, across=across)


@st.fragment
def grid_view(ctx: ui.Context, series: list[Series], chosen: Series, sizes: list[int], pca, mine: bool) -> None:
    """In lecture mode the grid first (a row per image, beside the image picker: one screen); otherwise the
    images, verdict and chart side by side, then the grid at full width. New images rerun only this part."""
    lecture = ui.lecture_on()
    if lecture:
        left, right = st.columns([1, 4], gap="medium")
        with left:
            picked = ui.image_picker(ctx, "rec", count=8)
        with right:
            png = show_grid(ctx, picked, chosen, sizes, pca, ui.fit(0.8, above=14, below=2, gaps=2), across=True)
    controls, chart = st.columns([2, 3], gap="large")
    with controls:
        if not lecture:
            picked = ui.image_picker(ctx, "rec", count=8)
        if pca is not None:
            st.markdown(view.versus_pca(chosen, pca) or f"No test error of **{chosen.label}** at PCA's sizes.")
        for line in view.versus_plain(series):  # this dataset's, whichever family is picked
            st.markdown(line)
        st.caption(
            "Chart: test-set errors recorded in each checkpoint when it was trained (nothing is "
            "recomputed). PCA is fitted on the train split; its reconstructions are clipped to [0, 1] like "
            "the networks'."
            + (
                " **dense** has no hidden layer: its code is an affine map of the pixels, as PCA's is."
                if view.plain_is_affine(series)
                else ""
            )
        )
    with chart:
        ui.chart(
            ui.readable(rate_distortion(series, ctx.dataset, pca is not None, chosen.name)),
            "rec_chart",
            width="stretch",
        )
    if not lecture:
        png = show_grid(ctx, picked, chosen, sizes, pca, ui.fit(above=None))
    st.caption(
        "Checkpoints: "
        + " · ".join(f"q={m.bottleneck} `{m.label}`" for m in chosen.models)
        + (" (the zoo's, where it has the size)" if not mine else "")
    )
    st.download_button(
        "Download the grid (PNG)",
        png,
        icon=":material/download:",
        file_name=f"reconstructions-{ctx.dataset}-{chosen.name}.png",
        mime="image/png",
        on_click="ignore",
        key="rec_download",
    )


def show_grid(ctx, picked, chosen: Series, sizes: list[int], pca, fit, across: bool = False) -> bytes:
    """The grid of the picked images through every size of `chosen` and PCA, as large as `fit` allows."""
    usable = {q: info for q in sizes if (info := chosen.at(q)) and ui.model_or_message(info) is not None}
    count = len(picked.images)
    if across:
        count = view.rows_that_fit(fit, picked.images.shape[-2:], 1 + 2 * len(sizes), picked.captions, count)
    images, captions, look = picked.images[:count], tuple(picked.captions[:count]), (fit, ui.theme_type(), across)
    png = grid_png(images, captions, chosen, usable, tuple(sizes), ctx.dataset, pca is not None, look)
    ui.picture(
        png,
        caption="Under each reconstruction: its mean squared error per pixel (PCA: at the size to its left)."
        if across  # one line under a screen-high grid
        else "The number under each reconstruction is its mean squared error per pixel.",
    )
    return png


st.title("Reconstructions across bottleneck sizes")
ui.explain(
    "How much of an image survives a code of **q** numbers?",
    "Each row rebuilds the same images through a bottleneck of a different size, and under it is **PCA** with q "
    "components: the lowest squared error that a *linear encoder with a linear decoder* of that size can reach "
    "on the images it is fitted to (Eckart–Young). The autoencoders' decoders here are not linear (each ends in "
    "a sigmoid, at least), so PCA is no bound on them, even where the code is an affine map of the pixels too. "
    "The lines beside the chart say, from this zoo's own test errors, where each model beats PCA and where "
    "deeper or convolutional models beat the plain dense one, and by how much.",
    slider="w_rec_seed",
)

ctx = ui.page_context(need_models=False)
infos = ctx.models  # the zoo's, the server's and this session's own (nobody else's)
# the zoo's model at each size unless the viewer asks for the ones trained here (theirs, or the server's)
mine = contested(infos) and ui.url_toggle("Use models trained here where the zoo has the same size", "rec_mine")
series = across_sizes(group_series(infos, prefer=ORIGINS[::-1] if mine else ORIGINS))
if not series:
    offer_training(ctx.dataset)
    st.stop()

pick_family, pick_loss = st.columns([3, 1])
with pick_family:
    archs = list(dict.fromkeys(s.arch for s in series))
    arch = ui.url_radio("Model family", archs, "rec_family", horizontal=True, format_func=arch_label)
losses = [s.loss for s in series if s.arch == arch]
with pick_loss:
    loss = (
        ui.url_radio("Loss", losses, "rec_loss", horizontal=True, format_func=str.upper)
        if len(losses) > 1
        else losses[0]
    )
chosen = next(s for s in series if s.arch == arch and s.loss == loss)
sizes = sorted({q for s in series for q in s.sizes})  # every size trained for this dataset: gaps show
pca = pca_or_none(ctx.dataset)

grid_view(ctx, series, chosen, sizes, pca, mine)

ui.choices_lesson(ctx.dataset)
