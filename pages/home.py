"""Home: what an autoencoder is, with one live example."""

import streamlit as st

from aeviz import metrics, ui
from aeviz.views import figures, home

st.title("What does an autoencoder learn?")
ui.explain(
    "An **autoencoder** squeezes an image through a narrow **code** (the bottleneck) and tries to rebuild it.",
    "The *encoder* maps its pixels (784 for a 28x28 MNIST digit) to a handful of numbers; the *decoder* maps "
    "those numbers back to pixels. "
    "Training only minimises the **reconstruction error**, so whatever the code keeps is what the network "
    "found most useful for redrawing the data: stroke thickness, slant, which digit it is.",
    slider="w_home_idx",
)

ctx = ui.page_context(need_models=False)
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

image = ctx.test.images[index : index + 1]
code = metrics.encode_all(model, image)[0]
recon = metrics.reconstruct_all(model, image)
error = float(metrics.image_errors(image, recon)[0])
grid = figures.compose_grid(
    [image[:, 0].numpy(), recon[:, 0]],
    row_labels=["input", "output"],
    scale=max(8, 224 // image.shape[-1]),
    theme=ui.theme_type(),
)  # 8x8 digits as large
left, right = st.columns([1, 2])
with left:
    ui.picture(grid, caption=f"Class {ctx.test.classes[int(ctx.test.labels[index])]} · MSE {error:.4f}")
with right.container(key="home_code"):  # a picture: no plotly bundle for a new visitor's first screen
    title = f"The code: {len(code)} numbers are all the decoder sees"
    ui.picture(home.code_bars(code, title=title, theme=ui.theme_type()), width="stretch")
st.caption(
    f"Model `{info.name}`: test MSE {info.metrics.get('mse', float('nan')):.4f}, "
    f"trained {info.metadata.get('training', {}).get('epochs', '?')} epochs on {info.metadata.get('device')}."
)
