"""The Train page's model choice, drawn from each family's declaration (aeviz.models; no family is named here),
and how long the chosen run takes on this server, every phase of it."""

from __future__ import annotations

import math

import streamlit as st

from .. import ownformat
from ..configs import OUTPUTS
from ..data import DATASETS
from ..models import MODELS, AutoEncoder
from ..noise import NOISE_KINDS
from ..params import BODIES, Param
from ..train import TrainConfig
from .caches import device_label
from .warm import OFF, startup_time, training_rates
from .widgets import url_selectbox

BOTTLENECKS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]  # 1024 > 784: overcomplete dictionaries
BATCHES = [16, 32, 64, 128, 256, 512, 1024]
FIRST_BATCH, FIRST_SUBSET = 64, 5000  # see first_choices


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


def model_fields(
    family: type[AutoEncoder], picked: dict, last: dict, left, right, colour: bool = False
) -> tuple[dict, dict]:
    """The form's model part: code size, loss and body in `left`, the family's hyper-parameters in `right`.
    Returns the config fields and the choices to offer again next time; `last` holds the previous ones. A colour
    set's first loss is MSE (a photograph's pixel is no probability of ink), a grey set's BCE."""
    if family.derived_bottleneck:  # q follows from the family's settings
        q = None
        left.caption(family.derived_bottleneck)
    else:
        q = left.select_slider("Bottleneck (code size)", BOTTLENECKS, last.get("q", family.suggested_bottleneck))
    losses = list(family.loss_choices)
    first = losses.index("mse") if colour and "mse" in losses else 0
    loss = (
        losses[0]
        if len(losses) == 1
        else left.radio(
            "Loss", losses, losses.index(last["loss"]) if last.get("loss") in losses else first, horizontal=True
        )
    )
    fields, body = {"loss": loss} | ({} if q is None else {"bottleneck": q}), last.get("body")
    if loss == "mse" and len(family.loss_choices) > 1:  # BCE needs the sigmoid; with MSE the layer is a choice
        fields["output"] = left.radio(
            "Output layer",
            OUTPUTS,
            OUTPUTS.index(last["output"]) if last.get("output") in OUTPUTS else 0,
            horizontal=True,
            help="The activation of the last layer: sigmoid keeps every pixel in [0, 1]; linear and ReLU do not "
            "bound it (ReLU only from below).",
        )
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
    chosen = {"loss": loss, "body": body, "output": fields.get("output")}
    return fields, chosen | ({} if q is None else {"q": q})


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


def estimate(family: str, config, dataset: str, sizes: tuple[int, int] | None, train: TrainConfig):
    """How long the whole run takes here, phase by phase (aeviz.jobs.timing), once its rates and a training
    process's start are measured; says so while they are. Returns the plan (None until measured)."""
    from ..jobs.setup import FAILED
    from ..jobs.timing import plan_before

    rates, startup = training_rates(family, config), startup_time(dataset)
    if OFF in (rates, startup):
        st.caption("This server does not time training runs (AEVIZ_ESTIMATES=0), so there is no estimate.")
        return None
    if FAILED in (rates, startup):
        st.caption("This model could not be timed on this server, so there is no estimate of how long it takes.")
        return None
    if rates is None or startup is None:
        st.fragment(run_every=1.0)(_timing)(family, config, dataset)
        return None
    own = dataset not in DATASETS
    train_n, test_n = sizes or (startup["train_images"], startup["test_images"])
    train_n = min(train_n, train.subset or train_n)
    plan = plan_before(rates, startup, train_n, test_n, train.epochs, train.batch_size, config.bottleneck)
    st.caption(
        f"Measured on this server's {device_label()}: {plan.summary()}"
        + (", plus reading your images" if own else "")
        + f" ({train_n:,} training images)."
    )
    return plan


def _timing(family: str, config, dataset: str) -> None:
    if training_rates(family, config) is not None and startup_time(dataset) is not None:
        st.rerun(scope="app")  # measured: the page again, with the estimate
    st.caption(
        f"Timing a training process's start and a few training steps on this server's {device_label()} to "
        "estimate how long the run takes…"
    )


def first_choices(dataset: str, family: type[AutoEncoder], on_cpu: bool) -> dict:
    """The form's first epochs, batch, learning rate and image count: on a 2-core CPU each family gives a
    recognisable model in about 30 s with them (its suggested epochs and learning rate, declared with it)."""
    if dataset == "digits":  # 1,437 tiny images: more epochs of smaller batches give the steps it needs
        return {"epochs": 30, "batch": 32, "lr": family.suggested_lr, "subset": 0}
    subset = FIRST_SUBSET if on_cpu else 0
    return {"epochs": family.suggested_epochs, "batch": FIRST_BATCH, "lr": family.suggested_lr, "subset": subset}


def pick_format(own: bool) -> ownformat.Format | None:
    """How a folder's or an upload's pictures are read (grey 28x28 as MNIST, colour 32x32 as CIFAR-10, ...);
    None for a built-in dataset, whose pictures have one shape."""
    if not own:
        return None
    keys = [f.key for f in ownformat.CHOICES]
    key = url_selectbox(
        "Read the pictures as",
        keys,
        "train_format",
        keys[0],
        format_func=lambda k: ownformat.from_key(k).describe() + " pixels",
        help="Pictures are centre-cropped to a square (never squashed), then resized. Colour keeps the photo's "
        "colours and costs three times the numbers per picture.",
    )
    return ownformat.from_key(key)


def shape_of(dataset: str) -> tuple[int, int, int]:
    return DATASETS[dataset].shape if dataset in DATASETS else ownformat.parse(dataset)[1].shape


def fit_notes(dataset: str, sizes: tuple[int, int] | None, config: TrainConfig) -> tuple[TrainConfig, list[str]]:
    """The run as aeviz.fitplan will train it (a batch shrunk for a small set) and what it says of it, once the
    set's size is known (until then, the run as chosen and nothing)."""
    from ..fitplan import adapt

    startup = startup_time(dataset) if sizes is None and dataset in DATASETS else None
    known = sizes[0] if sizes else startup["train_images"] if isinstance(startup, dict) else None
    if known is None:
        return config, []
    return adapt(min(known, config.subset or known), config)
