"""Denoising: drag a noise level and watch plain and denoising autoencoders clean up the same images."""

import streamlit as st

from aeviz import sweeps, ui
from aeviz.noise import NOISE_KINDS
from aeviz.views import denoising as view
from aeviz.zoo import catalog

st.title("Denoising: rebuilding what was never seen")
ui.explain(
    "A **denoising autoencoder** is fed corrupted images but graded against the clean originals, so it cannot "
    "just copy its input: it has to learn what the training images look like.",
    "Drag the **level slider under the pictures**: every position was computed in one batch, so the images "
    "follow your hand without a reload. The number under each noisy or rebuilt picture is its **PSNR** against "
    "the clean image, in dB (higher is closer; *exact*: identical).",
    slider="dn_scrub",
)

ctx = ui.page_context(need_models=False)  # its own message when its family is missing
by_arch = catalog.denoisers(ctx.models)
if not by_arch:
    st.info(
        "No denoising autoencoders for this dataset yet. Open **Train**, pick the *denoising* family, and come back."
    )
    st.stop()


def models_follow_the_noise() -> None:
    """Another noise: the models picked give way to those trained for it (the picker lists them first)."""
    for arch in by_arch:
        st.session_state.pop(f"w_dn_{arch}", None)
        st.query_params.pop(f"dn_{arch}", None)


controls, figure = st.columns([1, 3], gap="medium")  # the scrubber beside its controls: above the fold
with controls:
    kind = ui.url_radio(
        "Noise",
        list(NOISE_KINDS),
        "dn_kind",
        format_func=lambda k: NOISE_KINDS[k].label,
        on_change=models_follow_the_noise,
    )
    st.caption(f"{NOISE_KINDS[kind].label} {NOISE_KINDS[kind].description}.")
    picked = ui.image_picker(ctx, "dn_img", count=8)
    seed = ui.url_slider("Noise seed", 0, 99, 0, "dn_seed")
    with st.popover("Models", width="stretch"):
        chosen = [
            ui.url_selectbox(f"Denoising AE ({arch})", group, f"dn_{arch}", group[0], format_func=lambda m: m.label)
            for arch, group in catalog.denoisers(ctx.models, prefer=kind).items()  # this noise's own first
        ]
        st.caption(
            "Each is compared with the plain autoencoder of the same architecture and code size, where there is one."
        )


def row_models(infos) -> dict:
    """Row label -> model: each denoiser after its plain twin; unusable checkpoints are reported and left out."""
    rows = {}
    for info in infos:
        arch = info.arch
        twin = catalog.plain_twin(info, ctx.models)
        for label, which in ((f"plain ({arch})", twin), (f"denoising ({arch})", info)):
            model = ui.model_or_message(which) if which is not None else None
            if model is not None:
                rows[label] = (which, model)
    return rows


scrub = ui.per_model(
    view.scrub_for, spinner="Corrupting and reconstructing every slider position…", max_entries=24, ttl=3600
)


@ui.per_model(spinner="Measuring PSNR over test images at every level (once)…", max_entries=64)
def curves(models: dict, dataset: str, kind: str, mark: float | None):
    """The PSNR-vs-level figure; its numbers are computed once and kept on disk."""
    return view.curves_for(models, ui.get_dataset(dataset, "test"), kind, mark)


@ui.per_model(spinner="Hiding a block of each test image and filling it in (once)…", max_entries=16)
def imputation(models: dict, dataset: str) -> str:
    return view.imputation_for(models, ui.get_dataset(dataset, "test"), ui.get_pca(dataset))


rows = row_models(chosen)
if not rows:
    st.stop()
checkpoints = {label: info for label, (info, _) in rows.items()}
fit = ui.fit(0.75, above=10.5, gaps=2)  # the right column, under the title: pictures and slider on one screen
fig = scrub(checkpoints, picked.images, kind, seed, ui.theme_type(), fit)
with figure:
    ui.scrub_chart(fig, "dn_scrub", "dn_level", sweeps.levels(kind))
figure.caption(
    "Images: "
    + ", ".join(ui.shown_captions(picked))
    + ". Rows: "
    + ", ".join(f"**{label}** = `{info.name}`" for label, (info, _) in rows.items())
    + "."
)

st.subheader("How much does each model recover, level by level?")
trained = {catalog.trained_noise(info) for info in chosen} - {None}
mark = next((level for k, level in trained if k == kind), None)
ui.chart(
    ui.readable(curves(checkpoints, ctx.dataset, kind, mark), grow=True),
    width="stretch",
    config={"displayModeBar": False},
    key="dn_curve",
)
seen = ", ".join(f"{NOISE_KINDS[k].label} noise at {v:g}" for k, v in sorted(trained)) or "their own training noise"
st.caption(
    f"PSNR of each of the first {sweeps.curve_images(tuple(ctx.test.shape))} test images, then averaged (the "
    f"mean of per-image PSNR, not the PSNR of the mean error), at {sweeps.CURVE_STEPS} levels; computed once and "
    "kept on disk. The dashed line is the corrupted input itself: a model helps where its line is above it. The "
    f"denoising models saw only {seen} during training."
)
if kind == "occlusion":  # a hidden block is the imputation lesson: masking noise as a tool, not only a corruption
    every = catalog.imputation_models(ctx.models)  # every denoiser and its plain twin, not only the two shown
    st.markdown(imputation({info.name.removeprefix(f"{ctx.dataset}-"): info for info in every}, ctx.dataset))
    st.caption(
        f"Every denoising model of this dataset and its plain twin, on the first "
        f"{sweeps.curve_images(tuple(ctx.test.shape))} test images; each hides one square block (seed 0), as the "
        "Occlusion slider does, and the error counts only the hidden pixels. A model trained with occlusion noise "
        "practised exactly this; one trained with Gaussian noise never saw a missing part."
    )
