"""The Train page's model choice, drawn from each family's declaration (aeviz.models; no family is named here),
and how long the chosen model takes to train on this server."""

from __future__ import annotations

import math

import streamlit as st

from ..data import DATASETS
from ..models import MODELS, AutoEncoder
from ..noise import NOISE_KINDS
from ..params import BODIES, Param
from .caches import device_label
from .warm import training_rate
from .widgets import url_selectbox

BOTTLENECKS = [2, 4, 8, 16, 32, 64, 128, 256]


def pick_family() -> type[AutoEncoder]:
    family = url_selectbox("Model family", list(MODELS), "train_family", format_func=lambda f: MODELS[f].label)
    return MODELS[family]


def pick_modes(family: type[AutoEncoder]) -> dict[str, str]:
    """The family's choices that change which fields its form shows (a sparsity mode, a noise kind): picked
    above the form, which redraws only when submitted."""
    picked = {}
    for param in family.hyperparams:
        if param.kind == "choice":
            picked[param.field] = url_selectbox(
                param.label, list(param.choices), param.url_key, format_func=param.choices.get
            )
        elif param.kind == "noise":
            picked[param.field] = url_selectbox(
                param.label, list(NOISE_KINDS), param.url_key, format_func=lambda k: NOISE_KINDS[k].label
            )
    return picked


def model_fields(family: type[AutoEncoder], picked: dict, last: dict, left, right) -> tuple[dict, dict]:
    """The form's model part: code size, loss and body in `left`, the family's hyper-parameters in `right`.
    Returns the config fields and the choices to offer again next time; `last` holds the previous ones."""
    q = left.select_slider("Bottleneck (code size)", BOTTLENECKS, last.get("q", family.suggested_bottleneck))
    losses = list(family.loss_choices)
    loss = (
        losses[0]
        if len(losses) == 1
        else left.radio(
            "Loss", losses, losses.index(last["loss"]) if last.get("loss") in losses else 0, horizontal=True
        )
    )
    fields, body = {"bottleneck": q, "loss": loss}, last.get("body")
    if family.body_choices:
        bodies = list(family.body_choices)
        body = left.selectbox("Body", bodies, bodies.index(body if body in bodies else family.default_body))
        fields |= BODIES[body]
    with right:
        for param in family.hyperparams:
            if param.when is None or picked.get(param.when[0]) == param.when[1]:
                fields[param.field] = _param_widget(param, picked, last)
                if param.note:
                    st.caption(param.note)
    return fields, {"q": q, "loss": loss, "body": body}


def _param_widget(param: Param, picked: dict, last: dict):
    if param.kind == "choice":
        return picked[param.field]
    if param.kind == "noise":  # the kind is picked above the form; a level set for another kind does not carry over
        kind, saved = picked[param.field], last.get(param.field, "")
        spec = NOISE_KINDS[kind]
        level = st.slider(
            f"{spec.label} noise: {spec.param}",
            spec.min,
            spec.max,
            float(saved.split(":")[1]) if saved.startswith(f"{kind}:") else spec.default,
            0.05,
        )
        return f"{kind}:{level:g}"
    value = last.get(param.field, param.default)
    if param.steps:
        return st.select_slider(param.label, list(param.steps), value, help=param.help)
    return st.slider(param.label, param.low, param.high, value, param.step, help=param.help)


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "…"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


def estimate(family: str, dataset: str) -> None:
    """How long the chosen model takes to train here, once a probe has timed a few of its steps."""
    shape = DATASETS[dataset].shape if dataset in DATASETS else (1, 28, 28)
    rate = training_rate(family, shape)  # timed off this run, once per server
    if rate is None:
        st.fragment(run_every=1.0)(timing)(family, shape)
    elif math.isfinite(rate):
        st.caption(
            f"On this server's {device_label()} this model trains at about {rate:,.0f} images/s: 30 "
            f"epochs of 10 000 images take about {duration(3e5 / rate)}, plus a few seconds of evaluation."
        )


def timing(family: str, shape: tuple) -> None:
    if training_rate(family, shape) is not None:
        st.rerun()  # measured: the whole page again, with the estimate
    st.caption(f"Timing a few training steps on this server's {device_label()} to estimate how long it takes…")
