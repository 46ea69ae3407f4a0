"""Features: what each unit of a sparse (or overcomplete) code draws, which images turn it on, and how often."""

import streamlit as st

from aeviz import ui
from aeviz.views import features as view
from aeviz.zoo import catalog

st.title("Features: one unit of a sparse code at a time")
ui.explain(
    "In a **sparse** autoencoder only a few code units fire for each image, so each unit can be read as a "
    "*feature*: the part of a picture it draws, and the images that call for it.",
    "Pick a unit with the **slider** (the most often firing first). **alone** is the decoder's picture of that "
    "unit on its own, at its typical activation; **adds** is what it adds to the picture of an all-zero code "
    "(red: brighter, blue: darker), its *decoder atom*. Beside them: the test images that turn it on most, and "
    "how strongly it fires. An L1 penalty, a KL pull towards a low rate, or TopK (exactly the k largest units "
    "fire; Gao et al. 2024) make the code sparse; a unit that fires on no test image is **dead**. Below, every "
    "sparse model of this dataset on one plane: how many units an image uses (L0) against the test error.",
    slider="w_ft_rank",
)

ctx = ui.page_context(need_models=False)  # its own message when no sparse model is there
infos = catalog.feature_models(ctx.models)
if not infos:
    st.info(
        "No sparse or overcomplete autoencoder for this dataset yet. Open **Train**, pick the *sparse* family "
        "(L1, KL or TopK), and come back."
    )
    st.stop()


@ui.per_model(spinner="Reading every unit over the test set (once)…", models=False, max_entries=16)
def dictionary(info) -> view.Dictionary:
    """Firing rates, dead units and every unit's atom; the codes come from the shared cache."""
    return view.dictionary(ui.get_model(info), ui.get_codes(info), info.config.get("code_activation", "linear"))


@ui.per_model(spinner="Counting the active units of every sparse model (once)…", models=False, max_entries=16)
def frontier(infos: tuple) -> list[view.Point]:
    points = []
    for info in infos:
        if "mse" in info.metrics:
            label, mode = view.point_label(info.family, info.config)
            l0 = dictionary(info).l0
            points.append(view.Point(info.name, label, mode, l0, float(info.metrics["mse"])))
    return points


controls, figure = st.columns([1, 3], gap="medium")
with controls:
    info = ui.url_selectbox("Model", infos, "ft_model", infos[0], format_func=lambda m: m.label)
    if ui.model_or_message(info) is None:
        st.stop()
    d = dictionary(info)
    rank = ui.url_slider("Unit (most often firing first)", 0, d.units - 1, 0, "ft_rank", help="Dead units come last.")
    unit = int(d.order[rank])
    st.markdown(view.dictionary_sentence(d, catalog.pixels(info)))

codes = ui.get_codes(info)
test = ui.get_dataset(ctx.dataset, "test").images.numpy()
with figure:
    st.markdown(view.unit_sentence(d, unit, len(codes)))
    atom, density = st.columns([2, 3])
    ui.picture(view.atom_picture(d, unit, theme=ui.theme_type()), where=atom, caption="its decoder atom")
    ui.chart(
        view.density_figure(codes, d, unit, height=ui.main_height(200, 180)),
        where=density,
        width="stretch",
        config={"displayModeBar": False},
        key="ft_density",
    )
    top = view.top_picture(d, codes, test, unit, theme=ui.theme_type())
    if top is None:
        st.caption("No test image turns this unit on.")
    else:
        ui.picture(top, caption="the test images that turn it on most, with its activation")

st.subheader("Sparsity against reconstruction error")
points = frontier(tuple(i for i in infos if i.family == "sparse"))
if points:
    ui.chart(view.frontier_figure(points, info.name), width="stretch", config={"displayModeBar": False}, key="ft_front")
    st.markdown(view.frontier_sentence(points))
    st.caption(
        "L0: units firing per test image, on average (a sigmoid unit fires above 0.5, the others above 0). "
        "Test MSE from each model's evaluation. The dotted line joins the models no other beats on both."
    )
