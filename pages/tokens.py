"""VQ-VAE: an image as a small grid of tokens from a codebook; edit a token and decode, see how the codebook is used."""

import streamlit as st

from aeviz import ui
from aeviz.views import tokens as view
from aeviz.zoo import catalog

st.title("VQ-VAE: an image as a grid of tokens")
ui.explain(
    "A **VQ-VAE** (van den Oord et al., 2017) encodes an image into a small grid of vectors and replaces each by "
    "the nearest of **K codebook vectors**: the image becomes a grid of **tokens**, whole numbers below K, like "
    "the words of a sentence. The decoder draws the image back from the tokens alone. Training passes the "
    "gradient straight through the rounding and pulls the encoder's vectors towards their codes (the commitment "
    "loss).",
    "**Click a cell** of the grid (or pick it below it), choose another token and put it there: the decoder "
    "draws the edited grid. Beneath, the test images that use a token most (the cells without it dimmed), and "
    "how evenly the codebook is used.",
)

ctx = ui.page_context(need_models=False)  # its own message when no VQ-VAE is there
infos = catalog.vq_models(ctx.models)
if not infos:
    st.info("No VQ-VAE for this dataset yet. Open **Train**, pick the *vq* family, and come back.")
    st.stop()

grid_tokens = ui.per_model(view.tokens_of, max_entries=64)
decoded = ui.per_model(view.decode_grid, max_entries=256)


@ui.per_model(spinner="Reading the token grid of every test image (once)…", max_entries=16)
def test_tokens(vq, dataset: str):
    return view.dataset_tokens(vq, ui.get_dataset(dataset, "test"))


@ui.per_model(max_entries=64, models=False)
def token_picture(info, dataset: str, token: int, theme: str):
    return view.token_picture(test_tokens(info, dataset), ui.get_dataset(dataset, "test").images, token, theme)


controls, grid_col, picture_col = st.columns([1, 1.3, 1.7], gap="medium")
with controls:
    info = ui.url_selectbox("VQ-VAE", infos, "tk_model", infos[0], format_func=lambda m: m.label)
    vq = ui.model_or_message(info)
    if vq is None:
        st.stop()
    picked = ui.image_picker(ctx, "tk_image", count=1)
size, (h, w) = int(info.config["codebook_size"]), vq.config.grid
image = picked.images[0]
original = grid_tokens(info, image[None])[0]
edits = ui.url_ints("tk_edits", [], high=max(h * w, size), most=64)
grid = view.apply_edits(original, edits, size)


def click_cell() -> None:
    points = st.session_state["tk_grid"].selection.points
    if points:
        st.session_state["w_tk_cell"] = int(points[0]["point_index"])


def put_token(cell: int, token: int) -> None:
    kept = ui.url_ints("tk_edits", [], high=max(h * w, size), most=64)
    ui.set_url_ints("tk_edits", [*kept, cell, token][-64:])  # the latest 32 edits


with controls:
    cell = ui.url_selectbox(
        "Cell", list(range(h * w)), "tk_cell", 0, format_func=lambda i: f"row {i // w}, column {i % w}"
    )
    token = st.number_input(
        f"Token (0…{size - 1})", 0, size - 1, int(grid.reshape(-1)[cell]), key=f"tk_token_{cell}_{len(edits)}"
    )
    st.button("Put it in the cell", icon=":material/edit:", on_click=put_token, args=(cell, int(token)))
    st.button("Undo all edits", on_click=ui.set_url_ints, args=("tk_edits", []), disabled=not edits)
with grid_col:
    figure = view.grid_figure(grid, original, cell, height=ui.main_height(340, 320))
    ui.chart(figure, key="tk_grid", on_select=click_cell, selection_mode="points", config={"displayModeBar": False})
    st.caption(view.grid_sentence(grid, original, size))
with picture_col:
    edited = decoded(info, grid)
    ui.picture(view.edit_picture(image, decoded(info, original), edited, ui.theme_type()))
    st.caption(
        "The image; its own tokens decoded; the edited grid decoded; where the two decodings differ (brightest "
        "where the edit changed most)."
    )

tokens = test_tokens(info, ctx.dataset)
st.subheader(f"Where token {int(token)} is used")
found = token_picture(info, ctx.dataset, int(token), ui.theme_type())
if found is None:
    st.caption(f"No cell of any test image picks token {int(token)}: it is a dead code.")
else:
    ui.picture(
        found, caption="The test images whose grids hold it most (#index: in how many cells); other cells dimmed."
    )

st.subheader("Codebook usage")
points = view.usage_over_training(info.metadata.get("history", []))
if points:
    ui.chart(view.usage_figure(points, size), config={"displayModeBar": False}, key="tk_usage")
st.markdown(view.usage_sentence(tokens, size, points))
