"""Error gallery: rank the test set by reconstruction error, inject foreign images, see how well error finds them."""

import streamlit as st

from aeviz import scores, ui
from aeviz.views import anomalies as view


@ui.per_model(max_entries=64, models=False)
def scored(chosen: list, metric: str, how: str, injection, own, own_names: tuple, xlabel: str, out_label: str):
    """Every score and costly figure, once per models, metric and injected images (shared read-only)."""
    test = ui.get_dataset(chosen[0].dataset, "test")
    batch, names = (
        (own, own_names)
        if injection is None
        else view.draw(ui.get_dataset(injection.source, "test"), injection, test.shape)
    )
    return view.score_all(
        [ui.get_errors(info, metric) for info in chosen],
        [ui.get_model(i) for i in chosen],
        batch,
        names,
        metric,
        how,
        test,
        xlabel=xlabel,
        out_label=out_label,
    )


@ui.per_model(max_entries=64, models=False)
def injected_png(chosen: list, metric: str, how: str, injection, own, own_names: tuple, xlabel, out_label, look):
    """The injected images as PNG bytes, once per scored set, theme and screen: every slider reruns the page."""
    result = scored(chosen, metric, how, injection, own, own_names, xlabel, out_label)
    return view.injected_png(result, len(result.scores_in), *look)


gallery_png = ui.per_model(view.gallery_png, max_entries=256)  # a class asks for the same images again and again


st.title("Error gallery: what does the model find unusual?")
ui.explain(
    "An autoencoder only rebuilds well what looks like its training data, so its **reconstruction error** is an "
    "anomaly score.",
    "Rank the test images by it: the worst are odd, badly written or mislabelled. Then inject "
    "images from elsewhere (the classic: *find the shoe* among MNIST's handwriting; on CIFAR-10, *find the digit*) "
    "and see where they land. "
    "**AUROC** is the chance that a random injected image scores above a random test image. Several models can "
    "vote: their errors are put on one scale (robust z-score of the log error), then averaged or maxed.",
    slider="w_err_flag",
)

ctx = ui.page_context()
default = ctx.default_model()
pick, err_col, how_col = st.columns([3, 1, 1])
with pick:
    chosen = ui.url_multiselect(
        "Model, or up to four for an ensemble",
        list(ctx.models),
        "err_models",
        [default],
        max_selections=4,
        format_func=lambda m: m.label,
    )
with err_col:
    metric = ui.url_radio("Error", ["mse", "bce"], "err_metric", horizontal=True, format_func=str.upper)
with how_col:
    how = ui.url_radio("Ensemble", list(scores.COMBINE), "err_how", horizontal=True, disabled=len(chosen) < 2)
models = [ui.model_or_message(info) for info in chosen]
if not chosen or None in models:
    st.info("Pick at least one usable model.")
    st.stop()
xlabel = (
    f"{metric.upper()} reconstruction error"
    if len(chosen) == 1
    else f"{how} of normalised log-{metric.upper()} (robust z)"
)
errors_view = st.container()  # the histogram and its threshold go first, above the fold; filled once injected

st.subheader("Inject foreign images")
source, injection, own, own_names = ui.injection_form(ctx, view.Injection)
out_label = "your images" if source == "your images" else f"injected {source}"
with st.spinner("Scoring the test set (once per model, then cached)…"):
    result = scored(chosen, metric, how, injection, own, own_names, xlabel, out_label)
n_test, det = len(result.scores_in), result.det
if det is not None:
    m1, m2, m3 = st.columns(3)
    m1.metric("AUROC", scores.fraction_text(det.auroc), help="1: every injected image outranks every test image")
    m2.metric(
        "Average precision",
        scores.fraction_text(det.average_precision),
        help=f"A random ranking scores {scores.fraction_text(det.prevalence)} (the share of injected images).",
    )
    m3.metric(
        "Median rank of an injected image",
        scores.median_rank(result.scores_in, result.scores_out),
        help=f"Each injected image is ranked among the {n_test:,} test images alone: #1 = no test image scores higher.",
    )
    look = (ui.theme_type(), ui.fit(above=None))
    if ui.lecture_on():  # the threshold's histogram stood beside the worst images: the ROC comes here
        ui.chart(
            ui.readable(view.with_point(result.roc, None)), "err_roc_lecture", width="stretch", height=ui.grown(360)
        )
    ui.picture(
        injected_png(chosen, metric, how, injection, own, own_names, xlabel, out_label, look),
        caption=f"Injected images and their rank among the {n_test:,} test images (#1 = no test image scores higher).",
    )


@st.fragment
def threshold_view(result, out_label: str, roc: bool = True):
    """Histogram with a threshold slider; the ROC curve (`roc`) marks where that threshold sits."""
    flag = ui.url_slider("Flag the top … % of test images", 0.1, 10.0, 1.0, "err_flag", step=0.1, format="%.1f %%")
    threshold, flagged_in, flagged_out = view.flagged(result, flag)
    n_in, n_out = len(result.scores_in), len(result.scores_out)
    left, right = st.columns(2) if result.det is not None and roc else (st.container(), None)
    ui.chart(
        ui.readable(view.with_threshold(result.histogram, threshold)),
        "err_hist",
        where=left,
        width="stretch",
        height=ui.fill_height(300, 21.5),
    )
    if right is not None:
        ui.chart(
            view.with_point(result.roc, (flagged_in / n_in, flagged_out / n_out)),
            "err_roc",
            where=right,
            width="stretch",
            height=300,
        )
    found = f" and **{flagged_out} of {n_out}** {out_label}" if n_out else ""
    st.markdown(f"Threshold **{threshold:.4g}** flags **{flagged_in:,}** test images{found}.")


def worst_view(result, test, info, metric: str, share: float) -> None:
    """Lecture mode's gallery beside the histogram: the worst images, as many as fit the screen at a readable size."""
    fit = ui.fit(share, above=20.5, gaps=1)
    title, originals, captions, _ = view.gallery_sets(result, test, view.columns_that_fit(fit, test.shape[-2:]))[0]
    st.markdown(f"**{title}** (output of `{info.name}`; * = injected)")
    ui.picture(gallery_png(info, originals, captions, metric, ui.theme_type(), fit))


@st.fragment
def gallery_view(result, test, info, metric: str):
    """The k worst and best images as input / output / difference, and sending one to the other pages."""
    k = ui.url_slider("Images per gallery", 4, 16, 8, "err_k")
    n_test, picked = len(test), {}
    pool = (
        f"the {n_test:,} test images"
        if len(result.scores) == n_test
        else f"all {len(result.scores):,} test and injected images"
    )
    for title, originals, captions, picks in view.gallery_sets(result, test, k):
        st.markdown(f"**{title}** (class, rank among {pool}, score; * = injected; output of `{info.name}`)")
        ui.picture(gallery_png(info, originals, captions, metric, ui.theme_type(), ui.fit(above=None)))
        picked |= picks
    choice_col, send_col = st.columns([3, 1], vertical_alignment="bottom")
    choice = choice_col.selectbox(
        "Send an image to the other pages (map, denoising, interpolation)", list(picked), key="err_send"
    )
    if send_col.button("Send to your images", icon=":material/send:"):
        st.success(ui.send_image(view.pool_image(result, test, picked[choice]), choice), icon=":material/send:")


with errors_view:  # lecture mode: the histogram beside the worst images, one screen; its ROC comes with the gallery
    if ui.lecture_on():
        left, right = st.columns(2, gap="medium")
        with left:
            threshold_view(result, out_label, roc=False)
        with right:
            worst_view(result, ctx.test, chosen[0], metric, 0.5)
    else:
        threshold_view(result, out_label)


def below_the_histogram() -> None:
    """The gallery, the classes' errors and the lessons: under the first screen."""
    st.subheader("The gallery")
    gallery_view(result, ctx.test, chosen[0], metric)
    st.subheader("Which classes are hard?")
    ui.chart(ui.readable(result.box, grow=True), "err_box", width="stretch")

    ui.anomaly_lessons(ctx.dataset)


ui.later(below_the_histogram)  # a new visitor's first screen ends at the histogram (ui/firstrun.py)
