"""Latent space: the codes of the test set as a map; select, decode anywhere, compare two models, kNN quality."""

import streamlit as st

from aeviz import knn, ui
from aeviz.jobs import State
from aeviz.views import knnchart
from aeviz.views import latent_map as view
from aeviz.zoo import references

METHODS = ui.MAP_METHODS  # the same words in the radio, the captions and the background jobs' progress
SPLITS = {"test": "test set", "all": "test + train"}

st.title("Latent space: where does the encoder put each image?")
ui.explain(
    "The encoder turns every image into a **code** of q numbers; flattened to two dimensions, similar images "
    "lie together.",
    "The model never saw a label: the line under the map says, from a classifier on its codes, whether the "
    "classes form islands anyway. **Select** points (click, box or lasso) to see their images and "
    "reconstructions, or **click an empty spot** to see what the decoder draws there, including between the "
    "classes, where it invents images that are in no data set.",
)
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
    other = ui.url_selectbox(
        "Side by side with",
        others,
        "map_other",
        None,
        format_func=lambda m: "(no second model)" if m is None else m.label,
    )
    split = ui.url_radio("Points", list(SPLITS), "map_split", format_func=SPLITS.get, horizontal=True)
    under = ui.url_toggle("Decoded images under the map", "map_under")
    view3d = ui.url_toggle(
        "3-D view (turn it with the mouse)", "map_3d", disabled=info.bottleneck < 3, help="PCA, or UMAP for a UMAP map"
    )
    st.caption(
        "Click a point or an empty spot. Box and lasso selection are in the chart's toolbar; drag pans, "
        "double-click resets the view."
    )
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


@st.fragment
def explore(ctx, info, model, other, under, latent_map, split, second, other_split, islands, view3d):
    """The map and what is selected on it; a selection reruns only this fragment."""
    labels = ui.map_labels(ctx.dataset, split)
    extent = view.map_extent(latent_map.points)
    here, there = st.columns([3, 2] if second is None else [1, 1])
    hidden, found = ui.explorer_controls(tuple(ctx.test.classes), len(labels), where=there)
    fig = ui.map_figure(info, latent_map, split, under=under, height=ui.fill_height(430, 15.5), hidden=hidden)
    with here:
        if view3d:
            event = ui.show_map_3d(info, latent_map, split, labels, ctx.test.classes, hidden, found, height=480)
        else:
            event = ui.chart(
                ui.readable(fig),
                key="map_chart",
                on_select="rerun",
                selection_mode=("points", "box", "lasso"),
                width="stretch",
            )
            kept = latent_map.kept_variance if latent_map.method == "pca" else None
            st.markdown(
                f"**{info.name}** · {METHODS[latent_map.method]} of {len(labels):,} codes"
                + (f" · the plane keeps {100 * kept:.0f} % of the code variance" if kept is not None else "")
                + (f". {islands}" if islands else "")
            )
            ui.map_hover(info, latent_map, "map_chart", key="map_hover", sprites=ui.sprite_index(ctx.dataset, split))
    picked = ui.with_found(view.read_selection(ui.selected_points(event), extent, count=len(labels)), found)
    ui.show_neighbours(info, latent_map, split, picked, labels, ctx.test.classes, where=there)
    if second is None:
        with there:
            ui.show_selection(ctx, model, info, other, latent_map, picked, labels, per_row=8)
        return
    shared = view.shared_selection(picked.indices, split == other_split, len(ctx.test))
    with there:
        st.markdown(f"**{other.name}** · {METHODS[second.method]} · the selection lights up here too")
        ui.chart(
            view.map_figure(
                second.points,
                ui.map_labels(ctx.dataset, other_split),
                ctx.test.classes,
                grid=0,
                highlight=shared if len(shared) else None,
                height=ui.fill_height(430, 15.5),
            ),
            key="map_chart_other",
            width="stretch",
        )
    ui.show_selection(ctx, model, info, other, latent_map, picked, labels, per_row=12)


latent_map, split = ready_map(info, method, split)
second, other_split = (None, split)
if other is not None and ui.model_or_message(other) is not None:
    second, other_split = ready_map(other, method if method != "raw" or other.bottleneck == 2 else "pca", split)
rows, pending, shipped = ui.knn_rows(ctx)  # the kNN panel's figures: the sentence under the map uses them
islands = knn.islands(rows, info.label.removeprefix(f"{ctx.dataset}-"), len(ctx.test.classes))
explore(
    ctx, info, model, other, under, latent_map, split, second, other_split, islands, view3d and info.bottleneck >= 3
)
if split == "all":
    st.caption(f"Indices from {len(ctx.test):,} on are training images.")


ui.training_replay(info, ctx.test.classes)  # stored beside the checkpoint when it was trained

st.subheader("How much does the code know about the class?")
st.markdown(
    "A k-nearest-neighbour classifier (k = 7) trained on the codes of the training images labels the test "
    "images; PCA codes of the same size (grey) show how much of that is the autoencoder's doing. "
    + knn.pixels_verdict(rows, info.label.removeprefix(f"{ctx.dataset}-"))
)
for job in pending[:1]:
    ui.show_job(job)
ui.chart(ui.readable(ui.knn_figure(tuple(rows)), grow=True), "map_knn", width="stretch")
if verdict := knn.pca_verdict(rows):
    st.markdown(verdict)
# no published figure: a dash
st.dataframe(knnchart.knn_table(rows), hide_index=True, height=300, placeholder="—")
st.caption(
    "Wall time: fitting and querying the classifier on one thread. "
    + (f"*shipped run*: measured together in one run on {shipped.machine}; " if shipped.machine else "")
    + "*this server*: measured here in the background; *at training*: recorded when the model was trained "
    f"(another machine and load, not comparable). Published: {references.ARTICLE}, its dense autoencoders."
)
ui.send_sprites(ctx.dataset, split)  # last: the heaviest message, after the first screen has painted
