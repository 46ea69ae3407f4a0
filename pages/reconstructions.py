"""Reconstructions: the same images through every bottleneck size, next to PCA, the best linear encoder and decoder."""

import streamlit as st

import aeviz
from aeviz import ui, workspaces
from aeviz.series import ORIGINS, Series, arch_label, contested, group_series
from aeviz.views import figures
from aeviz.views import reconstructions as view

# Each image is drawn about this wide, whatever its resolution, and the grid is shown at the column's width:
# its 24 px captions stay at least body-text size down to a 1280-pixel-wide screen.
CELL_PX = 112


def offer_training(dataset: str) -> None:
    """No models on this machine (no zoo): train a small dense one on the CPU, with a progress bar."""
    st.info(f"There are no trained autoencoders for **{dataset}** on this machine (no model zoo, or none for "
            "this dataset). Train a small one now: it takes under a minute on a CPU.", icon=":material/info:")
    q = st.selectbox("Bottleneck size q", [2, 4, 8, 16], index=2, key="rec_train_q", width=220)
    if not st.button("Train a small dense autoencoder", key="rec_train", icon=":material/model_training:"):
        return
    # a brisk learning rate: digits in ~2 s, a 30k MNIST-like subset in ~15 s on one core, near the zoo's error
    recipe = (aeviz.TrainConfig(epochs=30, batch_size=64, lr=3e-3) if dataset == "digits"
              else aeviz.TrainConfig(epochs=6, batch_size=128, lr=3e-3, subset=30000))
    bar = st.progress(0.0, text="Starting…")

    def report(p) -> None:
        loss = p.losses.get("recon")
        bar.progress(p.fraction, text=f"Epoch {p.epoch}/{p.epochs}" + (f" · loss {loss:.4f}" if loss else ""))

    try:
        result = aeviz.train("dense", aeviz.make_config("dense", bottleneck=q), dataset, recipe, callback=report,
                             out_dir=workspaces.create(ui.own_workspace()))  # this session's, nobody else's
    except (aeviz.DatasetUnavailable, OSError) as exc:
        st.error(f"Training failed: {exc}")
        return
    ui.refresh_models()
    st.toast(f"Trained **{result.metadata['name']}** in {result.metadata['train_seconds']:.0f} s: test MSE "
             f"{result.metadata['metrics']['mse']:.4f}.", icon=":material/check_circle:")
    st.rerun()


def pca_or_none(dataset: str):
    try:
        return ui.get_pca(dataset)
    except (aeviz.DatasetUnavailable, OSError, ValueError) as exc:
        st.warning(f"No PCA baseline for {dataset}: {exc}", icon=":material/warning:")
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def rate_distortion(dataset: str, names: tuple[str, ...], highlight: str, _series, _pca):
    """The chart changes with the family, not with the images: built once per dataset, zoo and family."""
    return view.rate_distortion_figure(_series, _pca, highlight)


@st.cache_data(show_spinner=False, max_entries=512)
def grid_png(images, captions: tuple[str, ...], labels: tuple[str, ...], usable: tuple[str, ...],
             sizes: tuple[int, ...], dataset: str, theme: str, _series, _models, _pca) -> bytes:
    """The grid as PNG, once per images, row labels and models (keyed by their hashes): a class moving the same
    slider asks for the same few grids again and again."""
    grid = view.reconstruction_grid(images, captions, _series, _models, _pca, sizes)
    picture = figures.compose_grid(grid.rows, row_labels=grid.row_labels, cell_labels=grid.cell_labels,
                                   scale=max(1, CELL_PX // images.shape[-1]), theme=theme)
    return figures.png_bytes(picture)  # encoded once, for the page and the download alike


@st.fragment
def grid_view(ctx: ui.Context, series: list[Series], chosen: Series, sizes: list[int],
              pca, mine: bool) -> None:
    """Images, verdict and chart side by side, then the grid at full width: new images rerun only this part."""
    controls, chart = st.columns([2, 3], gap="large")
    with controls:
        picked = ui.image_picker(ctx, "rec", count=8)
        if pca is not None:
            st.markdown(view.versus_pca(chosen, pca) or f"No test error of **{chosen.label}** at PCA's sizes.")
        for line in view.versus_plain(series):  # this dataset's, whichever family is picked
            st.markdown(line)
        st.caption("Chart: test-set errors recorded in each checkpoint when it was trained (nothing is "
                   "recomputed). PCA is fitted on the train split; its reconstructions are clipped to [0, 1] like "
                   "the networks'." + (" **dense** has no hidden layer: its code is an affine map of the pixels, "
                                       "as PCA's is." if view.plain_is_affine(series) else ""))
    with chart:
        zoo = tuple(m.key for s in series for m in s.models)
        st.plotly_chart(rate_distortion(ctx.dataset, zoo, chosen.name, series, pca), width="stretch")
    models = {q: ui.model_or_message(info) if (info := chosen.at(q)) else None for q in sizes}
    usable = tuple(f"{q}:{chosen.at(q).metadata['hash']}" for q, m in models.items() if m is not None)
    labels = tuple(chosen.row_label(q) for q in sizes)
    png = grid_png(picked.images, picked.captions, labels, usable, tuple(sizes), ctx.dataset, ui.theme_type(),
                   chosen, models, pca)
    ui.picture(png, caption="The number under each reconstruction is its mean squared error per pixel.",
               width="stretch")
    st.caption("Checkpoints: " + " · ".join(f"q={m.bottleneck} `{m.label}`" for m in chosen.models)
               + (" (the zoo's, where it has the size)" if not mine else ""))
    st.download_button("Download the grid (PNG)", png, icon=":material/download:",
                       file_name=f"reconstructions-{ctx.dataset}-{chosen.name}.png", mime="image/png",
                       on_click="ignore", key="rec_download")


st.title("Reconstructions across bottleneck sizes")
ui.explain(
    "How much of an image survives a code of **q** numbers?",
    "Each row rebuilds the same images through a bottleneck of a different size, and under it is **PCA** with q "
    "components: the lowest squared error that a *linear encoder with a linear decoder* of that size can reach "
    "on the images it is fitted to (Eckart–Young). The autoencoders' decoders here are not linear (each ends in "
    "a sigmoid, at least), so PCA is no bound on them, even where the code is an affine map of the pixels too. "
    "The lines beside the chart say, from this zoo's own test errors, where each model beats PCA and where "
    "deeper or convolutional models beat the plain dense one, and by how much.",
    slider="w_rec_seed")

ctx = ui.page_context(need_models=False)
infos = ctx.models  # the zoo's, the server's and this session's own (nobody else's)
# the zoo's model at each size unless the viewer asks for the ones trained here (theirs, or the server's)
mine = contested(infos) and ui.url_toggle("Use models trained here where the zoo has the same size",
                                                    "rec_mine")
series = group_series(infos, prefer=ORIGINS[::-1] if mine else ORIGINS)
if not series:
    offer_training(ctx.dataset)
    st.stop()

pick_family, pick_loss = st.columns([3, 1])
with pick_family:
    archs = list(dict.fromkeys(s.arch for s in series))
    arch = ui.url_radio("Model family", archs, "rec_family", horizontal=True, format_func=arch_label)
losses = [s.loss for s in series if s.arch == arch]
with pick_loss:
    loss = ui.url_radio("Loss", losses, "rec_loss", horizontal=True, format_func=str.upper) if len(losses) > 1 \
        else losses[0]
chosen = next(s for s in series if s.arch == arch and s.loss == loss)
sizes = sorted({q for s in series for q in s.sizes})  # every size trained for this dataset: gaps show
pca = pca_or_none(ctx.dataset)

grid_view(ctx, series, chosen, sizes, pca, mine)
