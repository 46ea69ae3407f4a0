"""Your images: upload or draw a picture, see it preprocessed for the models' data, rebuilt and ranked by every
model, and which test images its code lies nearest."""

import numpy as np
import streamlit as st

import aeviz
from aeviz import images, metrics, projection, scores, ui
from aeviz.views import anomalies, figures
from aeviz.views import your_images as yours

ctx = ui.page_context(need_models=False)
channels, side = ctx.test.shape[0], ctx.test.shape[-1]
say = yours.wording(ctx.dataset, channels)
st.title(say["title"])
ui.explain(
    f"{say['upload']}: **every model** rebuilds it and says how unusual it is.",
    f"{say['prep']} Then **every model** rebuilds it, "
    "and its reconstruction error is compared with the errors on the test set: an image *more unusual than 99 % "
    "of the test images* is rebuilt worse than nearly all of them, so it is unlike what the models learned to "
    "draw. Your images stay in "
    "this browser session only (never saved, never shown to anyone else); every other page offers them "
    "under *your images*.",
)


def shown_names(usable: list, kept: list, dataset: str) -> list[str]:
    """Each rebuilding model's caption: its short name, and where it comes from unless it is the zoo's."""
    return [
        anomalies.short_name(usable[i].name, dataset) + ("" if usable[i].origin == "zoo" else f" · {usable[i].where}")
        for i in kept
    ]


@ui.per_model(spinner="Reconstructing with every model (test-set errors are computed once, then cached)…", models=False)
def rebuilt(usable: list, batch: np.ndarray, metric: str) -> dict:
    """Every model's reconstruction of one image and its error's percentile and rank among that model's test
    errors, once per image, model set and metric: a rerun, or switching back to a metric, only redraws."""
    out: dict = {"kept": [], "rows": [], "percentiles": [], "ranks": [], "errors": [], "failed": []}
    for i, info in enumerate(usable):
        try:
            recon, error = metrics.reconstruct_and_score(ui.get_model(info), batch, metric)
            reference = ui.get_errors(info, metric)
        except aeviz.CheckpointError as exc:
            out["failed"].append((info.label, str(exc)))
            continue
        out["kept"].append(i)
        out["rows"].append(recon[0])
        out["percentiles"].append(float(scores.percentile_of(error, reference)[0]))
        out["ranks"].append(int(scores.rank_among(error, reference)[0]))
        out["errors"].append(float(error[0]))
    return out


@ui.per_model(models=False)
def comparison_png(usable: list, batch: np.ndarray, metric: str, dataset: str, theme: str) -> bytes:
    """The reconstructions and their errors as one PNG, once per rebuilt set and theme (composing and encoding
    it was a large part of every rerun)."""
    result = rebuilt(usable, batch, metric)
    notes = [f"{p:.1f} % · #{r:,}" for p, r in zip(result["percentiles"], result["ranks"], strict=True)]
    names = shown_names(usable, result["kept"], dataset)
    grid = anomalies.comparison_grid(
        batch[0], np.stack(result["rows"]), names, notes, scale=max(1, 140 // batch.shape[-1]), theme=theme
    )
    return figures.png_bytes(grid)


mnist_style = channels == 1 and ui.url_toggle(
    "MNIST-style preprocessing (turn off for images that already look like MNIST digits)", "you_prep", True
)
upload, draw = st.tabs([":material/upload: Upload", ":material/draw: Draw"], key="you_tab", bind="query-params")
with upload:
    ui.upload_images("you_upload", mnist_style=mnist_style)
with draw:
    ui.draw_image("you_canvas", mnist_style=mnist_style)

own = ui.user_images()
if not own:
    st.info(
        f"Upload an image or draw {say['a']} to begin. Any photo works: dark ink on light paper or the reverse."
        if channels == 1
        else "Upload a photo to begin: any picture works, cropped to its centre square."
    )
    st.stop()
pick_col, remove_col, clear_col = st.columns([4, 1, 1], vertical_alignment="bottom")
with pick_col:
    # The browser sends back the label it shows; once the oldest image has dropped out at the cap, the labels
    # shift and Streamlit hands back that stale label text instead of an index.
    pick = st.session_state.get("w_you_pick")
    if (
        st.session_state.get("you_count") != len(own)
        or st.session_state.get("you_newest") is not own[-1]
        or not isinstance(pick, int)
        or not 0 <= pick < len(own)
    ):
        st.session_state["you_count"], st.session_state["you_newest"] = len(own), own[-1]
        st.session_state["w_you_pick"] = len(own) - 1  # something new arrived: study the newest
    chosen = st.selectbox(
        "Image to study", range(len(own)), key="w_you_pick", format_func=lambda i: f"{i + 1}. {own[i].name or 'image'}"
    )
if remove_col.button("Remove it", icon=":material/delete:"):
    ui.remove_user_images([chosen])
    st.rerun()
if clear_col.button("Remove all", icon=":material/delete_sweep:"):
    ui.remove_user_images()
    st.rerun()
item = own[chosen]

steps = images.photo_steps(item, side) if channels == 3 else item.steps
if steps:
    st.subheader("Preprocessing, step by step")
    for col, (label, picture) in zip(st.columns(len(steps)), images.step_pictures(item, steps=steps), strict=True):
        ui.picture(picture, where=col, caption=label, width="stretch")
    for note in item.notes if channels == 1 else ():
        st.warning(note, icon=":material/help:")
else:
    st.caption("This image was sent from another page, so it had no preprocessing steps.")
converted = yours.conversion_note(item, ctx.dataset, channels, mnist_style)
if converted:
    st.warning(converted, icon=":material/palette:")

st.subheader("Every model rebuilds it")
metric = ui.url_radio(
    "Error",
    ["mse", "bce"],
    "you_metric",
    horizontal=True,
    format_func=lambda m: {"mse": "mean squared error", "bce": "binary cross-entropy"}[m],
)
batch = ui.user_image_batch(ctx.test.shape, [item])
usable = [info for info in ctx.models if ui.model_or_message(info) is not None]  # a stat each once loaded
result = rebuilt(usable, batch, metric)
for label, why in result["failed"]:  # a model trained elsewhere that fails on this image: the rest go on
    st.warning(f"**{ui.literal(label)}** cannot rebuild it: {ui.literal(why, 300)}", icon=":material/warning:")
if not result["kept"]:
    st.info("No usable models for this dataset yet. Open **Train** to train one.")
    st.stop()
names = shown_names(usable, result["kept"], ctx.dataset)
percentiles, ranks, errors = result["percentiles"], result["ranks"], result["errors"]
ui.picture(
    comparison_png(usable, batch, metric, ctx.dataset, ui.theme_type()),
    caption="Each model's reconstruction, then where it went wrong (|difference|: black = right, yellow = "
    "wrong), with the error's percentile and rank among the test images (#1 = the largest error).",
)
best, worst = int(np.argmin(percentiles)), int(np.argmax(percentiles))
raw = rebuilt(usable, ui.user_image_batch(ctx.test.shape, [item], raw=True), metric)["percentiles"] if converted else []
bars, where = st.columns([2, 3])
with bars:
    as_is = lambda i: f" (the picture as it is: **{raw[i]:.1f} %**)" if raw else ""
    st.markdown(
        f"Least surprised: **{names[best]}**, more unusual than **{percentiles[best]:.1f} %** of test "
        f"images{as_is(best)}. Most surprised: **{names[worst]}**, more unusual than **{percentiles[worst]:.1f} "
        f"%**{as_is(worst)} (rank {ranks[worst]:,} of {len(ctx.test) + 1:,})."
    )
    ui.chart(
        anomalies.percentile_figure(names, np.array(percentiles), np.array(errors), metric=metric),
        "you_percentiles",
        width="stretch",
    )
with where:
    st.markdown("**Where your images land on the latent map** (stars, numbered as in the list above)")
    map_col, method_col = st.columns(2)
with map_col:
    info = ui.url_selectbox(
        "Model", list(ctx.models), "you_map_model", ctx.default_model(), format_func=lambda m: m.label
    )
with method_col:
    method = ui.url_radio("Map", ["pca", "umap"], "you_map_method", horizontal=True, format_func=lambda m: m.upper())
model = ui.model_or_message(info)
latent, job = ui.map_or_job(info, method) if model is not None else (None, None)
with where:
    if job is not None:
        ui.show_job(job)  # UMAP is fitted in the background once per model; PCA is instant
    elif latent is not None:
        stars = latent.transform(metrics.encode_all(model, ui.user_image_batch(ctx.test.shape, own)))
        ui.chart(
            anomalies.map_figure(
                latent.points,
                ctx.test.labels.numpy(),
                ctx.test.classes,
                stars,
                [p.name for p in own],
                title=f"{method.upper()} map of {info.name}",
            ),
            "you_map",
            width="stretch",
        )
        placed = (
            f"projected onto the PCA plane of the test codes, which keeps {100 * latent.kept_variance:.0f} % "
            "of their variance"
            if method == "pca"
            else f"at the inverse-distance-weighted mean position of the {projection.NEIGHBOURS} test codes nearest "
            "to theirs, not by UMAP's own transform (no fitted UMAP is kept). For images like the training "
            "set the two agree; for unlike ones they can differ by a tenth of the map's width (measured on "
            "mnist-dense-q16: a median 0.5 % of it for MNIST digits, 11 % for Fashion-MNIST shoes)"
        )
        st.caption(
            f"Your images are placed {placed}. Where a star lands is no measure of how unusual an image is: "
            "the error percentile (left) is."
        )


@ui.per_model(models=False)
def which_class(info, batch: np.ndarray, dataset: str) -> dict:
    """The test images nearest to one image: by its code under `info`, and by its pixels."""
    test = ui.get_dataset(dataset, "test").images.numpy()
    code = metrics.encode_all(ui.get_model(info), batch)[0]
    by_pixels = yours.nearest(test.reshape(len(test), -1), batch[0].reshape(-1))
    return {"code": yours.nearest(ui.get_codes(info), code), "pixels": by_pixels}


st.subheader(f"Which class is it? The {yours.K} test {say['noun']}s nearest to yours")
knn_model = ui.url_selectbox(
    "Model", list(ctx.models), "you_knn_model", ctx.default_model(), format_func=lambda m: m.label
)
if ui.model_or_message(knn_model) is not None:
    found = which_class(knn_model, batch, ctx.dataset)
    labels, classes = ctx.test.labels.numpy(), ctx.test.classes
    by_code, by_pixels = (yours.vote(labels[found[k]], classes) for k in ("code", "pixels"))
    st.markdown(
        f"In **{knn_model.name}**'s code space its {yours.K} nearest test {say['noun']}s are "
        f"{yours.vote_sentence(by_code, yours.K)}; by raw pixels {yours.vote_sentence(by_pixels, yours.K)}"
        f"{' (the same vote)' if by_code[0][0] == by_pixels[0][0] else ''}. How often such a vote names the right "
        "class on the test set is the model's kNN-7 accuracy (Latent space page)."
    )
    captions = [["yours"], *([classes[labels[i]] for i in found[k]] for k in ("code", "pixels"))]
    test_images = ctx.test.images.numpy()
    ui.picture(
        yours.neighbour_rows(
            batch[0], test_images[found["code"]], test_images[found["pixels"]], captions, ui.theme_type()
        ),
        caption="Your image, its nearest test images by code (this model), and by pixels (no model).",
    )
