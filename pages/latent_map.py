"""Latent space: the codes of the test set as a map; select, decode anywhere, compare two models, kNN quality."""

import numpy as np
import streamlit as st

from aeviz import knn, mapview, projection, ui
from aeviz.jobs import State

METHODS = ui.MAP_METHODS  # the same words in the radio, the captions and the background jobs' progress
SPLITS = {"test": "test set", "all": "test + train"}
SHOW = 24  # images in the selection gallery
DECODE_NOTE = {
    "raw": "exact: the code is the position itself.",
    "pca": "a projection, not a code of any image: the point of the PCA plane through the codes, with the other "
           "{rest} PCA coordinates held at their mean (0). The plane keeps {kept:.0f} % of the code variance, so a "
           "point's own position decodes to something other than its reconstruction.",
    "umap": f"approximate: the distance-weighted mean of the {projection.NEIGHBOURS} nearest codes on the map. "
            "(UMAP's own `inverse_transform` needs the pickled fitted model and takes seconds per call.)",
}
DECODE_NOTE["tsne"] = DECODE_NOTE["umap"].split(" (")[0] + " (t-SNE has no inverse at all.)"


def decode_note(latent_map) -> str:
    if latent_map.method == "pca" and latent_map.q == 2:
        return "exact: with a 2-d code the PCA plane is the whole code space."
    return DECODE_NOTE[latent_map.method].format(rest=latent_map.q - 2, kept=100 * (latent_map.kept_variance or 0.0))


st.title("Latent space: where does the encoder put each image?")
ui.explain(
    "The encoder turns every image into a **code** of q numbers; flattened to two dimensions, similar images "
    "lie together.",
    "The classes form islands although the model never saw a label. **Select** "
    "points (click, box or lasso) to see their images and reconstructions, or **click an empty spot** to see "
    "what the decoder draws there: between the islands it invents images that are in no data set.")
ctx = ui.page_context()

default = ctx.default_model()
left, middle, right = st.columns([3, 3, 2], vertical_alignment="bottom")  # one row: the map above the fold
with left:
    info = ui.url_selectbox("Model", ctx.models, "map_model", default, format_func=lambda m: m.label)
with middle:
    methods = [m for m in METHODS if m != "raw" or info.bottleneck == 2]
    method = ui.url_radio("Map", methods, "map_method", methods[0], format_func=METHODS.get, horizontal=True)
with right.popover("More options", icon=":material/tune:", width="stretch"):
    others = [None, *(m for m in ctx.models if m != info)]
    other = ui.url_selectbox("Side by side with", others, "map_other", None,
                             format_func=lambda m: "(no second model)" if m is None else m.label)
    split = ui.url_radio("Points", list(SPLITS), "map_split", format_func=SPLITS.get, horizontal=True)
    under = ui.url_toggle("Decoded images under the map", "map_under")
    st.caption("Click a point or an empty spot. Box and lasso selection are in the chart's toolbar; drag pans, "
               "double-click resets the view.")
model = ui.model_or_message(info)
if model is None:
    st.stop()


def ready_map(info, method, split):
    """The map, or the PCA test map while a background job fits it (progress shown); never blocks."""
    latent_map, job = ui.map_or_job(info, method, split)
    if latent_map is not None:
        return latent_map, split
    if job.state == State.FAILED:
        st.error(f"Could not fit the {METHODS[method]} map of {info.name}: {job.error}")
        if st.button("Try again", key=f"map_retry_{info.key}"):
            ui.submit_map(info, method, split)
            st.rerun()
    else:
        ui.show_job(job)
        st.caption(f"Meanwhile: the PCA map of the test set of {info.name}, which needs no fitting.")
    return ui.find_map(info, "pca"), "test"


def gallery(indices, labels, models, per_row):
    """Originals of the selected points above their reconstructions by each model, with class and error."""
    images = ui.map_images(ctx.dataset, indices)
    rows = [("input", images, [f"#{i} {ctx.test.classes[labels[i]][:7]}" for i in indices])]
    for m, shown in models:
        recon, errors = mapview.reconstruct(m, images)
        rows.append((f"q={shown.bottleneck}" if len(models) == 1 else f"{shown.family} q={shown.bottleneck}",
                     recon, [f"mse {e:.3f}" for e in errors]))
    return mapview.gallery(rows, per_row=per_row, theme=ui.theme_type())


def decode_here(latent_map, spot, labels):
    """What the decoder draws at one map position, beside the nearest real images on the map."""
    decoded = mapview.decode_at(latent_map, model, spot[None])
    near = mapview.nearest(latent_map.points, spot, 6)
    a, b = st.columns([1, 3])
    ui.picture(mapview.gallery([("", decoded, ["decoded"])], cell=112, theme=ui.theme_type()), where=a,
               caption=f"at ({spot[0]:.2f}, {spot[1]:.2f})")
    ui.picture(mapview.gallery([("nearest", ui.map_images(ctx.dataset, near),
                                [ctx.test.classes[labels[i]][:7] for i in near])], cell=84,
                               theme=ui.theme_type()), where=b)
    st.caption(f"Decoding a map position is {decode_note(latent_map)}")


def show_selection(latent_map, picked, labels, per_row):
    if len(picked.indices) == 0 and len(picked.spots) == 0:
        st.info("Select some points, or click anywhere on the map to decode that spot.", icon="👆")
        return
    if len(picked.indices) + len(picked.spots) == 1:
        decode_here(latent_map, picked.spots[0] if len(picked.spots) else latent_map.points[picked.indices[0]],
                    labels)
    if len(picked.indices):
        counts = np.bincount(labels[picked.indices], minlength=len(ctx.test.classes))
        top = ", ".join(f"{ctx.test.classes[c]} ×{counts[c]}" for c in np.argsort(-counts)[:4] if counts[c])
        st.markdown(f"**{len(picked.indices):,} selected** ({top}); the first {min(SHOW, len(picked.indices))}:")
        second_model = ui.model_or_message(other) if other is not None else None  # its file may break meanwhile
        shown = [(model, info)] + ([(second_model, other)] if second_model is not None else [])
        ui.picture(gallery(picked.indices[:SHOW], labels, shown, per_row))
        st.download_button("Download the selected indices (CSV)", "index\n" + "\n".join(map(str, picked.indices)),
                           file_name=f"{info.name}-selection.csv", mime="text/csv", key="map_download")
    elif len(picked.spots) > 1:
        decoded = mapview.decode_at(latent_map, model, picked.spots[:SHOW])
        ui.picture(mapview.gallery([("decoded", decoded, [""] * len(decoded))], per_row=per_row, theme=ui.theme_type()),
                   caption=f"What the decoder draws across the {len(picked.spots)} empty spots you selected.")


@st.fragment
def explore(latent_map, split, second, other_split):
    """The map and what is selected on it; a selection reruns only this fragment."""
    labels = ui.map_labels(ctx.dataset, split)
    extent = mapview.map_extent(latent_map.points)
    fig = ui.map_figure(info, latent_map, split, under=under, height=ui.main_height(430, 400))
    here, there = st.columns([3, 2] if second is None else [1, 1])
    with here:
        event = st.plotly_chart(fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"),
                                width="stretch")
        kept = latent_map.kept_variance if latent_map.method == "pca" else None
        st.markdown(f"**{info.name}** · {METHODS[latent_map.method]} of {len(labels):,} codes"
                    + (f" · the plane keeps {100 * kept:.0f} % of the code variance" if kept is not None else ""))
    picked = mapview.read_selection(event.selection.points, extent, count=len(labels))
    if second is None:
        with there:
            show_selection(latent_map, picked, labels, per_row=8)
        return
    shared = picked.indices if split == other_split else picked.indices[picked.indices < len(ctx.test)]
    with there:
        st.markdown(f"**{other.name}** · {METHODS[second.method]} · the selection lights up here too")
        st.plotly_chart(mapview.map_figure(second.points, ui.map_labels(ctx.dataset, other_split), ctx.test.classes,
                                           grid=0, highlight=shared if len(shared) else None,
                                           height=ui.main_height(430, 400)),
                        key="map_chart_other", width="stretch")
    show_selection(latent_map, picked, labels, per_row=12)


latent_map, split = ready_map(info, method, split)
second, other_split = (None, split)
if other is not None and ui.model_or_message(other) is not None:
    second, other_split = ready_map(other, method if method != "raw" or other.bottleneck == 2 else "pca", split)
explore(latent_map, split, second, other_split)
if split == "all":
    st.caption(f"Indices from {len(ctx.test):,} on are training images.")

st.subheader("How much does the code know about the class?")
st.markdown("A k-nearest-neighbour classifier (k = 7) trained on the codes of the training images labels the test "
            "images. Small codes keep most of what raw pixels know, and classify far faster; PCA codes of the same "
            "size (grey) show how much of that is the autoencoder's doing.")
rows, pending, shipped = ui.knn_rows(ctx)
for job in pending[:1]:
    ui.show_job(job)
st.plotly_chart(ui.knn_figure(tuple(rows)), width="stretch")
if verdict := knn.pca_verdict(rows):
    st.markdown(verdict)
st.dataframe(knn.table(rows), hide_index=True, height=300, placeholder="—")  # no published figure: a dash
st.caption("Wall time: fitting and querying the classifier on one thread. "
           + (f"*shipped run*: measured together in one run on {shipped.machine}; " if shipped.machine else "")
           + "*this server*: measured here in the background; *at training*: recorded when the model was trained "
           f"(another machine and load, not comparable). Published: {knn.ARTICLE}, its dense autoencoders.")
