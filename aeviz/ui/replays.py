"""The code space as a model trained: the Train page's live map and replay, the Latent space page's replay."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..checkpoints import CheckpointInfo
from ..replay import load_replay
from ..views import codemap
from . import firstrun
from .caches import get_dataset
from .widgets import url_toggle


def _q(snap) -> int:
    return int(getattr(snap.spec.config, "bottleneck", 0))


def code_space(snap, where) -> None:
    """A job's map of its fixed test sample: the latest epoch's while it runs (axes fixed to every map so far,
    so the picture does not jump between polls), every epoch's behind a slider once it has ended."""
    if not snap.maps or snap.map_labels is None:
        return
    classes = get_dataset(snap.spec.dataset, "test").classes
    epochs = [e for e, _ in snap.maps]
    with where:
        if snap.active or len(snap.maps) < 2:
            fig = codemap.live_figure(
                snap.maps[-1][1], snap.map_labels, classes, codemap.extent([m for _, m in snap.maps])
            )
            st.plotly_chart(fig, width="stretch", key="train_code_map", config={"displayModeBar": False})
            st.caption("The code space as it is now: " + codemap.caption(len(snap.map_labels), epochs[-1:], _q(snap)))
            return
        points = np.stack([m for _, m in snap.maps])
        fig = codemap.replay_figure(epochs, points, snap.map_labels, classes)
        st.plotly_chart(fig, width="stretch", key="train_code_replay", config={"displayModeBar": False})
        st.caption(
            "Drag the slider to replay how the code space organised: "
            + codemap.caption(len(snap.map_labels), epochs, _q(snap))
        )


@st.cache_data(show_spinner=False, max_entries=16)
def _stored(path: str, content_hash: str):
    """The replay stored beside a checkpoint (a few float16 arrays), None when there is none for these weights."""
    return load_replay(path, content_hash)


@st.cache_data(show_spinner=False, max_entries=4)
def _replay_spec(path: str, content_hash: str, classes: tuple[str, ...]) -> dict:
    """Its frames figure spec, built once per checkpoint."""
    replay = _stored(path, content_hash)
    return codemap.replay_figure(replay.epochs, replay.points, replay.labels, classes)


def training_replay(info: CheckpointInfo, classes) -> None:
    """A toggle that replays how the model's code space organised while it trained, when its replay is stored."""
    path, content = str(info.path), str(info.metadata.get("hash", ""))
    replay = _stored(path, content)
    if replay is None:
        return
    if url_toggle(f"Replay training ({int(replay.epochs.max())} epochs)", "map_replay"):
        spec = _replay_spec(path, content, tuple(map(str, classes)))
        firstrun.chart(spec, width="stretch", key="map_replay_chart", config={"displayModeBar": False})
        st.caption("Drag the slider: " + codemap.caption(len(replay.labels), replay.epochs, replay.q))
