"""aeviz: routes to the pages and draws the shared sidebar. Run with `streamlit run app.py`."""

from pathlib import Path

import streamlit as st

from aeviz import ui

PAGES = [
    ("pages/home.py", "What is an autoencoder?", ":material/school:"),
    ("pages/reconstructions.py", "Reconstructions", ":material/grid_view:"),
    ("pages/latent_map.py", "Latent space", ":material/scatter_plot:"),
    ("pages/denoising.py", "Denoising", ":material/blur_on:"),
    ("pages/vae.py", "VAE: interpolate & sample", ":material/linear_scale:"),
    ("pages/features.py", "Features of sparse codes", ":material/category:"),
    ("pages/tokens.py", "VQ-VAE: images as tokens", ":material/apps:"),
    ("pages/anomalies.py", "Error gallery", ":material/report:"),
    ("pages/your_images.py", "Your images", ":material/upload:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/reproduce.py", "Published results", ":material/fact_check:"),
]

st.set_page_config(page_title="aeviz: what autoencoders learn", page_icon=":material/hub:", layout="wide")
here = Path(__file__).parent
navigation = st.navigation(
    [
        st.Page(here / path, title=title, icon=icon, default=(i == 0))
        for i, (path, title, icon) in enumerate(PAGES)
        if (here / path).exists()
    ]
)
ui.sidebar()
navigation.run()
ui.finish_run()  # a new visitor's stills ask for their charts once the page is up (ui/firstrun.py)
