"""The articles' lessons where they belong on a page, from benchmarks/reproduce.py's stored figures."""

from __future__ import annotations

import streamlit as st

from .. import choices, lessons
from ..data import item_noun
from ..zoo import references
from . import firstrun
from .training import dataset_title


def _shipped(dataset: str) -> dict:
    """What benchmarks/reproduce.py measured on `dataset` ({} when nothing was)."""
    return ((references.load_results() or {}).get("datasets") or {}).get(dataset) or {}


def anomaly_lessons(dataset: str) -> None:
    """The Error gallery's lessons: why not a bigger code (the identity risk), anomalies in the training set."""
    shipped = _shipped(dataset)
    if copies := lessons.identity_sentence(shipped.get("identity", []), item_noun(dataset)):
        with st.expander("Why not a bigger code?", icon=":material/content_copy:"):
            st.markdown(
                "A wider code reconstructs better, so why squeeze at all? Because a code as wide as the image can "
                "learn to copy its input: it then redraws anything, noise and anomalies included, and its error "
                f"flags nothing. Measured on the zoo's models ({lessons.COPY_NOTE}): " + copies
            )
    rows = shipped.get("outliers", [])
    if rows and (trained_on := choices.outlier_sentence(rows, dataset_title(rows[0]["source"]))):
        with st.expander("Anomalies in training?", icon=":material/bug_report:"):
            st.markdown(
                "An autoencoder flags what it cannot rebuild. If the training set already holds anomalies, it "
                "learns to rebuild them too. Measured on the zoo's models (benchmarks/reproduce.py). " + trained_on
            )


def choices_lesson(dataset: str) -> None:
    """The Reconstructions page's 'One net, other choices': output layer, loss, tied weights, weight decay,
    layer-wise pre-training, side by side."""
    variants = _shipped(dataset).get("variants", [])
    said = choices.page_sentences(variants)
    if not said:
        return
    with st.expander("One net, other choices", icon=":material/tune:"):
        st.markdown(
            "The running example, a dense net with a code of 16 and no hidden layer, trained again with one "
            "choice changed each time: its output layer, its loss, its decoder's weights, weight decay; and a "
            "deep net pre-trained layer by layer beside its twin trained end to end."
        )
        firstrun.table(choices.display_rows(variants), "lesson_choices", hide_index=True, width="stretch")
        for sentence in said:
            st.markdown(sentence)
        st.caption(
            "The zoo's models on the whole test split, measured by `python benchmarks/reproduce.py --write`. "
            "Test MSE: clipped to [0, 1] as every page shows a picture; unclipped: as the output layer gives it."
        )
