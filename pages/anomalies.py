"""Error gallery: rank the test set by reconstruction error, inject foreign images, see how well error finds them."""

import numpy as np
import streamlit as st

from aeviz import data, metrics, scores, ui
from aeviz.views import anomalies as view
from aeviz.views import figures

COSTLY = {"histogram": view.histogram_spec, "roc": view.roc_spec, "box": view.class_box_figure,
          "detection": scores.detection}


@st.cache_resource(show_spinner=False, max_entries=64)
def once(kind: str, *args, **kwargs):
    """A costly figure or statistic, computed once per data and shared read-only: a slider that only moves a
    threshold, or a rerun for another gallery size, reuses it."""
    return COSTLY[kind](*args, **kwargs)


st.title("Error gallery: what does the model find unusual?")
ui.explain(
    "An autoencoder only rebuilds well what looks like its training data, so its **reconstruction error** is an "
    "anomaly score.",
    "Rank the test images by it: the worst are odd, badly written or mislabelled. Then inject "
    "images from elsewhere (the classic: *find the shoe* among MNIST digits) and see where they land. "
    "**AUROC** is the chance that a random injected image scores above a random test image. Several models can "
    "vote: their errors are put on one scale (robust z-score of the log error), then averaged or maxed.",
    slider="w_err_flag")

ctx = ui.page_context()
default = ctx.default_model()
pick, err_col, how_col = st.columns([3, 1, 1])
with pick:
    chosen = ui.url_multiselect("Model, or up to four for an ensemble", list(ctx.models), "err_models", [default],
                                max_selections=4, format_func=lambda m: m.label)
with err_col:
    metric = ui.url_radio("Error", ["mse", "bce"], "err_metric", horizontal=True, format_func=str.upper)
with how_col:
    how = ui.url_radio("Ensemble", list(scores.COMBINE), "err_how", horizontal=True, disabled=len(chosen) < 2)
models = [ui.model_or_message(info) for info in chosen]
if not chosen or None in models:
    st.info("Pick at least one usable model.")
    st.stop()
with st.spinner("Scoring the test set (once per model, then cached)…"):
    refs = [ui.get_errors(info, metric) for info in chosen]
scores_in = scores.ensemble_scores(refs, refs, how)
xlabel = (f"{metric.upper()} reconstruction error" if len(chosen) == 1
          else f"{how} of normalised log-{metric.upper()} (robust z)")
errors_view = st.container()  # the histogram and its threshold go first, above the fold; filled once injected

st.subheader("Inject foreign images")
sources = [d for d in ui.DEFAULT_DATASETS if d != ctx.dataset] + ["your images", "none"]
here = set(ui.train_datasets())  # offline, a missing set stays listed but is not the default
first = next((s for s in sources if s in here), "your images" if ui.user_images() else "none")
titles = {name: info.title for name, info in data.DATASETS.items()}
src_col, cls_col, n_col, seed_col = st.columns([1, 2, 1, 1])
with src_col:
    source = ui.url_selectbox("Inject from", sources, "err_src", first, format_func=lambda s: titles.get(s, s) + (
        " (not on this server)" if s in titles and s not in here else ""))
batch, names = np.zeros((0, *ctx.test.shape), np.float32), []
if source == "your images":
    own = ui.user_images()
    batch, names = ui.user_image_batch(ctx.test.shape, own), [p.name or "yours" for p in own]
    cls_col.caption("Your uploads and drawings (add some on **Your images**)." if own else
                    "You have no images yet: upload or draw some on **Your images**.")
elif source != "none":
    try:
        other = ui.get_dataset(source, "test")
    except data.DatasetUnavailable as exc:
        st.warning(f"{titles.get(source, source)} is not available here: {exc}")
        other = None
    if other is not None:
        shoes = [5, 7, 9] if source == "fashion-mnist" else list(range(len(other.classes)))
        with cls_col:
            classes = ui.url_multiselect("Classes", list(range(len(other.classes))), f"err_cls_{source}", shoes,
                                         format_func=lambda c: other.classes[c])
        with n_col:
            count = ui.url_slider("How many", 10, 500, 100, "err_n", step=10)
        with seed_col:
            seed = ui.url_slider("Draw", 0, 99, 0, "err_seed")
        idx = view.pick_classes(other.labels.numpy(), classes, count, seed)
        batch = view.fit_to(other.images.numpy()[idx], ctx.test.shape)
        names = [other.classes[c] for c in other.labels.numpy()[idx]]
        if other.shape != ctx.test.shape:
            st.caption(f"{titles[source]} images resized from {other.shape[1]}x{other.shape[2]} to "
                       f"{ctx.test.shape[1]}x{ctx.test.shape[2]} to fit these models.")

out_errors = [metrics.reconstruct_and_score(model, batch, metric)[1] for model in models]
scores_out = scores.ensemble_scores(out_errors, refs, how) if len(batch) else np.zeros(0, np.float32)
every_score = np.r_[scores_in, scores_out]
ranks = scores.ranks(every_score)
n_test, out_label = len(scores_in), "your images" if source == "your images" else f"injected {source}"
det = once("detection", scores_in, scores_out) if len(scores_out) else None
if det is not None:
    out_ranks = scores.rank_among(scores_out, scores_in)  # among the test images alone, not each other
    m1, m2, m3 = st.columns(3)
    m1.metric("AUROC", f"{det.auroc:.3f}", help="1.0: every injected image outranks every test image; 0.5: chance")
    m2.metric("Average precision", f"{det.average_precision:.3f}",
              help=f"A random ranking scores {det.prevalence:.3f} (the share of injected images).")
    m3.metric("Median rank of an injected image", scores.median_rank(scores_in, scores_out),
              help=f"Each injected image is ranked among the {n_test:,} test images alone: #1 = no test image "
                   "scores higher.")
    order = np.argsort(-scores_out, kind="stable")  # most obvious first
    rows = [order[:12], order[-12:]] if len(order) > 24 else [order[i:i + 12] for i in range(0, len(order), 12)]
    ui.picture(figures.compose_grid([batch[r, 0] for r in rows], scale=max(1, 84 // ctx.test.shape[-1]),
                                    cell_labels=[[f"#{out_ranks[i]:,}" for i in r] for r in rows],
                                    row_labels=["found first", "hid best"] if len(order) > 24 else None,
                                    theme=ui.theme_type()),
               caption=f"Injected images and their rank among the {n_test:,} test images (#1 = no test image "
                       "scores higher).")


@st.fragment
def threshold_view(scores_in, scores_out, det, xlabel, out_label):
    """Histogram with a threshold slider; the ROC curve marks where that threshold sits."""
    flag = ui.url_slider("Flag the top … % of test images", 0.1, 10.0, 1.0, "err_flag", step=0.1, format="%.1f %%")
    threshold = scores.threshold_at(scores_in, flag)
    flagged_in, flagged_out = int((scores_in > threshold).sum()), int((scores_out > threshold).sum())
    left, right = st.columns(2) if det is not None else (st.container(), None)
    base = once("histogram", scores_in, xlabel=xlabel, scores_out=scores_out, out_name=out_label)
    left.plotly_chart(view.with_threshold(base, threshold), width="stretch", height=300)
    if right is not None:
        point = (flagged_in / len(scores_in), flagged_out / len(scores_out))
        right.plotly_chart(view.with_point(once("roc", det), point), width="stretch", height=300)
    found = f" and **{flagged_out} of {len(scores_out)}** {out_label}" if len(scores_out) else ""
    st.markdown(f"Threshold **{threshold:.4g}** flags **{flagged_in:,}** test images{found}.")


@st.cache_data(show_spinner=False, max_entries=256)
def gallery_png(originals, captions: list[list[str]], model_hash: str, metric: str, theme: str, _model) -> bytes:
    """Input, output and difference of some images, once per images and model (a class asks for the same)."""
    recon = metrics.reconstruct_and_score(_model, originals, metric)[0]
    return figures.png_bytes(view.gallery(originals[:, 0], recon[:, 0], captions,
                                             scale=max(1, 112 // originals.shape[-1]), theme=theme))


@st.fragment
def gallery_view(scores, ranks, batch, names, model, metric, model_name):
    """The k worst and best images as input / output / difference, and sending one to the other pages."""
    k = ui.url_slider("Images per gallery", 4, 16, 8, "err_k")
    order = np.argsort(ranks)
    test_np, labels = ctx.test.images.numpy(), ctx.test.labels.numpy()
    describe = lambda i: ctx.test.classes[labels[i]] if i < n_test else f"{names[i - n_test]}*"
    picked = {}
    pool = f"the {n_test:,} test images" if len(scores) == n_test else f"all {len(scores):,} test and injected images"
    for title, idx in (("Worst: the largest errors", order[:k]), ("Best: the smallest errors", order[::-1][:k])):
        originals = view.take(test_np, batch, idx)
        captions = [[describe(i) for i in idx], [f"#{ranks[i]:,}" for i in idx], [f"{scores[i]:.3g}" for i in idx]]
        st.markdown(f"**{title}** (class, rank among {pool}, score; * = injected; output of `{model_name}`)")
        ui.picture(gallery_png(originals, captions, model.metadata["hash"], metric, ui.theme_type(), model))
        picked |= {f"rank {ranks[i]:,}: {'test #' + str(i) if i < n_test else 'injected'} ({describe(i)})": i
                   for i in idx}
    choice_col, send_col = st.columns([3, 1], vertical_alignment="bottom")
    choice = choice_col.selectbox("Send an image to the other pages (map, denoising, interpolation)", list(picked),
                              key="err_send")
    if send_col.button("Send to your images", icon=":material/send:"):
        ui.send_image(view.take(test_np, batch, [picked[choice]])[0], choice)


with errors_view:
    threshold_view(scores_in, scores_out, det, xlabel, out_label)
st.subheader("The gallery")
gallery_view(every_score, ranks, batch, names, models[0], metric, chosen[0].name)
st.subheader("Which classes are hard?")
st.plotly_chart(once("box", scores_in, ctx.test.labels.numpy(), ctx.test.classes, ylabel=xlabel,
                     scores_out=scores_out, out_name=out_label), width="stretch")
