"""A plain Streamlit page, the reference of benchmarks/firstscreen.py: a title, a sentence, a slider and a picture,
as a peer's simplest Streamlit app shows them (no plotly, no components)."""

import numpy as np
import streamlit as st

st.set_page_config(page_title="reference", layout="wide")
st.title("A plain Streamlit page")
st.markdown("The reference for aeviz's first screens: Streamlit's own elements only.")
seed = st.slider("Seed", 0, 99, 0)
picture = np.random.default_rng(seed).random((28, 28)).repeat(16, 0).repeat(16, 1)  # (448,448) in [0,1]
st.image(picture, caption=f"Noise, seed {seed}", clamp=True)
