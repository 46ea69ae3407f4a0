"""The VAE page's posterior tab (issue 30 §3): one image's q(z|x) per dimension and on the 2-d code plane,
seeded draws decoded beside the mean's decoding, and the loss's two terms over training."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..checkpoints import CheckpointInfo
from ..views import posterior as view
from . import firstrun
from .caches import get_codes, get_dataset
from .memo import per_model
from .theme import theme_type
from .widgets import picture, set_url_ints, url_ints


@per_model(max_entries=64)
def _draws(vae, image: np.ndarray, seed: int) -> tuple[view.Posterior, np.ndarray]:
    return view.decoded_draws(vae, image, view.SAMPLES, seed)


@per_model(max_entries=16, models=False)
def _plane(flat: CheckpointInfo, image: np.ndarray, seed: int):
    """The 2-d VAE's plane: a sample of its training codes, the image's ellipses and its draws."""
    codes = get_codes(flat, "train")
    rows = view.train_sample(len(codes))
    labels = get_dataset(flat.dataset, "train").labels.numpy()[rows]
    post, _ = _draws(flat, image, seed)
    samples = view.draws(post, view.SAMPLES, seed)
    return view.plane_figure(codes[rows], labels, get_dataset(flat.dataset).classes, post, samples)


def _next_seed() -> None:
    set_url_ints("vae_post_seed", [url_ints("vae_post_seed", [0])[0] + 1])  # in the URL: a link shows the same draws


@st.fragment
def posterior_view(info: CheckpointInfo, image: np.ndarray, name: str, flat: CheckpointInfo | None) -> None:
    """The tab: draws, the posterior per dimension, its ellipses on the 2-d plane (`flat`, a VAE with a 2-d
    code: the chosen one or another), and the loss terms from the checkpoint's history."""
    seed = url_ints("vae_post_seed", [0])[0]
    post, decoded = _draws(info, image, seed)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    picture(
        view.draws_picture(image, decoded, theme_type()),
        where=left,
        caption=f"{name}, its posterior mean decoded, and {view.SAMPLES} codes drawn from q(z|x) with seed {seed}.",
    )
    right.button("Draw again", icon=":material/casino:", key="vae_post_redraw", on_click=_next_seed)
    spread, plane = st.columns(2)
    with spread:
        firstrun.chart(view.posterior_figure(post), key="vae_post_dims", config={"displayModeBar": False})
        st.caption(_posterior_sentence(post))
    with plane:
        if flat is None:
            st.info("No VAE with a 2-d code for this dataset: train one with code size 2 to see its posterior ellipse.")
        else:
            firstrun.chart(_plane(flat, image, seed), key="vae_post_plane", width="stretch")
            which = "this VAE" if flat.key == info.key else f"`{flat.name}`, the 2-d VAE of this dataset,"
            shown = len(view.train_sample(len(get_codes(flat, "train"))))
            st.caption(
                f"The same image under {which} over {shown:,} training codes (posterior means): its ellipses of "
                "mean ± 1σ and ± 2σ, and the draws."
            )
    loss_terms(info)


def _posterior_sentence(post: view.Posterior) -> str:
    """What the bars show, from their numbers."""
    kl, top = post.kl, int(np.argmax(post.kl))
    share = 100 * kl[top] / max(kl.sum(), 1e-12)
    return (
        f"Mean μ and μ ± 1σ, ± 2σ per dimension, over the prior's ±1 and ±2 (grey). σ runs from {post.std.min():.2g} "
        f"to {post.std.max():.2g}; this image's KL to the prior is {kl.sum():.2f} nats, {share:.0f} % of it in z{top}."
    )


def loss_terms(info: CheckpointInfo) -> None:
    """The reconstruction and KL terms per epoch, and a sentence from them; said plainly when there are none."""
    terms = view.loss_terms(info.metadata.get("history"))
    if terms is None:
        st.info(
            f"`{info.name}` records no per-epoch reconstruction and KL terms (an imported model, or one saved "
            "before aeviz recorded them): retrain it here to see how the two terms moved.",
            icon=":material/info:",
        )
        return
    firstrun.chart(view.loss_terms_figure(terms), key="vae_post_terms", config={"displayModeBar": False})
    st.markdown(view.loss_sentence(terms, float(info.config.get("beta", 1.0))))
