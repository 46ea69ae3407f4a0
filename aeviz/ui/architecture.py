"""A model's architecture on a page: the diagram of its layers, drawn once per model and theme."""

from __future__ import annotations

import streamlit as st

from ..architecture import describe
from ..checkpoints import CheckpointInfo
from ..views.architecture import architecture_picture
from ..views.figures import png_bytes
from .memo import per_model
from .theme import theme_type
from .widgets import literal, picture


@per_model(max_entries=64)
def _diagram(model, theme: str) -> bytes:
    return png_bytes(architecture_picture(describe(model), theme=theme))


def model_diagram(info: CheckpointInfo, *, expanded: bool = False) -> None:
    """A folded section with the model's layers: each one's output shape and parameter count, the code between
    encoder and decoder (an imported model: the ops its programs declare)."""
    label = f"The layers of {literal(info.name)}: sizes and parameters"
    with st.expander(label, icon=":material/account_tree:", expanded=expanded):
        picture(_diagram(info, theme_type()), width="stretch")
        where = "the ops its programs declare" if info.imported else "its layers"
        st.caption(
            f"Read from {where}. A bar's height grows with the number of values the layer outputs (log scale); "
            "under it, that shape and the layer's parameter count."
        )
