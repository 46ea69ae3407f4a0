"""Home: what an autoencoder is, with one live example."""

import streamlit as st

from aeviz import lessons, ui
from aeviz.views import home

st.title("What does an autoencoder learn?")
ctx = ui.page_context(need_models=False)
ui.explain(
    "An **autoencoder** squeezes an image through a narrow **code** (the bottleneck) and tries to rebuild it.",
    f"The *encoder* maps its pixels ({home.pixels_phrase(ctx.dataset, ctx.test.shape)}) to a handful of numbers; "
    "the *decoder* maps those numbers back to pixels. "
    "Training only minimises the **reconstruction error**, so whatever the code keeps is what the network "
    f"found most useful for redrawing the data{home.traits(ctx.dataset)}.",
    slider="w_home_idx",
)

dense = [m for m in ctx.models if m.family in ("dense", "conv")]
if not dense:
    st.info("No trained models for this dataset yet. Open **Train** to train one in under a minute.")
    st.stop()
default = ctx.default_model(dense)
pick_model, pick_image = st.columns([1, 2])  # one row of controls: the picture and the code fit above the fold
with pick_model:
    info = ui.url_selectbox("Model", dense, "home_model", default, format_func=lambda m: m.label)
with pick_image:
    index = ui.url_slider("Test image", 0, len(ctx.test) - 1, 0, "home_idx")
model = ui.model_or_message(info)
if model is None:
    st.stop()

# every new visitor opens the same default image: composed and encoded once per model, image and theme
first_look = ui.per_model(home.first_look, max_entries=256)
boxes = ui.fit(1 / 3, above=15, below=2.5, gaps=1), ui.fit(2 / 3, above=15, below=1, gaps=1)  # one screen
shown = first_look(info, ctx.test.images[index : index + 1].numpy(), ui.theme_type(), *boxes)
left, right = st.columns([1, 2])
with left:
    label = ctx.test.classes[int(ctx.test.labels[index])]
    ui.picture(shown["grid"], caption=f"Class {label} · MSE {shown['mse']:.4f}")
with right.container(key="home_code"):  # a picture: no plotly bundle for a new visitor's first screen
    ui.picture(shown["bars"])
st.caption(home.model_caption(info.name, info.metadata))


def below_the_fold() -> None:
    """The model's diagram, the decoder playground and the curse of dimensionality, under the first screen."""
    ui.model_diagram(info)
    st.subheader("Drag the code: the decoder answers in your browser")
    ui.playground(
        info,
        ui.code_sliders(info, ctx.test.images[index].numpy()),
        key="home_play",
        title="Each bar is one number of the code: drag it up or down (or click it and use the arrow keys)",
        caption=f"decoded from the code, test image #{index} to start with",
    )
    with st.expander("Why squeeze the pixels at all? The curse of dimensionality, and PCA's memory"):
        curse = ui.curse_table()
        ui.table(home.curse_frame(curse), "home_curse", hide_index=True, width="stretch")
        st.markdown(lessons.curse_sentence(curse))
        st.markdown(
            lessons.memory_sentence(
                lessons.Memory(784, 16, (256,)), lessons.Memory(256 * 256 * 3, 16, (256,)), "256×256 colour images"
            )
        )


ui.later(below_the_fold)  # a new visitor's first screen ends at the picture and its code (ui/firstrun.py)
