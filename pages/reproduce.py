"""Published results: the shipped zoo measured against the classic autoencoder figures."""

import pandas as pd
import streamlit as st

from aeviz import lessons, scores, ui
from aeviz.zoo import references, reproduce

st.title("Do our models reproduce the published results?")
ui.explain(
    "Autoencoder tutorials and papers report a handful of figures that every course repeats; here is what the "
    "models shipped with aeviz measure, beside the published numbers (only figures printed in the source article "
    "count as published; our own reference runs are labelled as ours).",
    "The figures: how well a "
    "k-nearest-neighbour classifier works on the codes, whether a nonlinear autoencoder beats PCA, how "
    "clearly a shoe stands out among digits. `python benchmarks/reproduce.py --write` re-measures everything.",
)

results = references.load_results()
if results is None:
    st.info(
        "No measurements are stored for this zoo yet. Run `python benchmarks/reproduce.py --write` "
        f"(it writes `{references.results_path()}`)."
    )
    st.stop()

shown, pub, ref = reproduce.tables(results), references.PUBLISHED, references.REFERENCE
machine = f"{references.describe_machine(results.get('machine')) or 'an unrecorded machine'}, {results.get('measured')}"
zoo = [m for m in ui.list_models() if m.origin == "zoo"]  # the shipped ones: the report measured those
changed = references.stale(results, zoo)
st.caption(
    f"Measured on {machine} with aeviz {results.get('versions', {}).get('aeviz', '?')}, for the "
    f"{len(results.get('models') or {})} zoo models as shipped (each one's weights are recorded by their hash)."
)
if changed:
    st.warning(
        f"{len(changed)} zoo model(s) changed since these figures were measured ({', '.join(changed[:4])}"
        f"{', …' if len(changed) > 4 else ''}): re-measure with `python benchmarks/reproduce.py --write`.",
        icon=":material/warning:",
    )
st.subheader("kNN (k=7) accuracy: raw pixels, PCA codes and autoencoder codes")
st.caption(
    "A classifier fitted on the training codes, scored on the test codes; PCA codes are the projections on "
    "the first q components of the training images."
)
ui.table(pd.DataFrame(shown["knn"]), "rp_knn", hide_index=True, width="stretch")
for dataset, verdict in reproduce.knn_verdicts(results).items():
    st.markdown(f"**{dataset}**: {verdict}")
st.caption(
    f"Published: {pub['source']} (dense autoencoders; no conv figure is published). Times: all measured "
    f"together in one run on {machine}."
)


def below_the_first_table() -> None:
    """Every figure after the kNN table: under the first screen."""
    shoe = results.get("shoe")
    if shoe:
        st.subheader("Find the shoe")
        st.caption(
            f"Each of the {shoe['shoes']:,} Fashion-MNIST shoes (sandals, sneakers, ankle boots) is added alone "
            f"to the 10,000 MNIST test digits and ranked by `{shoe['model']}`'s reconstruction MSE. Published "
            f"({pub['source']}): one shoe ranked 1st with error {pub['shoe']['error']}, the most unusual digit "
            f"{pub['shoe']['runner_up']}. Ours, not published ({ref['how']}): ranked 1st "
            f"{100 * ref['shoe']['share_rank1']:.0f} %, top 10 {100 * ref['shoe']['share_top10']:.0f} %, "
            f"AUROC {ref['shoe']['auroc']}."
        )
        cols = st.columns(4)
        cols[0].metric("ranked 1st", f"{100 * shoe['share_rank1']:.1f} %", help="share of shoes that beat every digit")
        cols[1].metric("in the top 10", f"{100 * shoe['share_top10']:.1f} %")
        cols[2].metric(
            "median shoe error",
            f"{shoe['median_shoe_error']:.3f}",
            f"most unusual digit {shoe['runner_up']:.3f}",
            delta_color="off",
            delta_arrow="off",  # a comparison, not a rise
        )
        cols[3].metric("AUROC Fashion vs MNIST", scores.fraction_text(shoe["auroc"], 4))

    st.subheader("Nonlinear autoencoders vs PCA")
    lin = ref["linear_vs_pca_q16"]
    st.caption(
        "Test MSE per pixel at each bottleneck size q; every reconstruction is clipped to [0,1] alike, except "
        "the 'pca unclipped' column. "
        + " ".join(f"{ds}: {reproduce.mse_vs_pca(r['pca'])}." for ds, r in results["datasets"].items() if "pca" in r)
        + f" Ours, not published ({ref['how']}; unclipped, {lin['dataset']} q=16): linear {lin['linear']} vs "
        f"PCA {lin['pca']}."
    )
    ui.table(pd.DataFrame(shown["pca"]), "rp_pca", hide_index=True, width="stretch")

    left, right = st.columns(2)
    with left:
        st.subheader("BCE vs MSE training")
        ui.table(pd.DataFrame(shown["bce_vs_mse"]), "rp_bce", hide_index=True, width="stretch")
        st.caption(
            "The same dense net (784-16-784, no hidden layer) trained twice, once per loss; both errors of each on "
            "the whole test set. PSNR: the mean of per-image PSNR. BCE floor: the mean binary entropy of the test "
            "pixels, the least BCE any reconstruction can reach (grey pixels cost their entropy even when exact)."
        )
    with right:
        st.subheader("Denoising (PSNR, dB)")
        ui.table(pd.DataFrame(shown["denoising"]), "rp_denoising", hide_index=True, width="stretch")
        st.caption(f"{reproduce.denoising_note(results)} Measured in {results.get('seconds', '?')} s in all.")

    st.subheader("Lessons of the articles, and where the app shows them")
    lesson_table = lessons.lesson_rows(ui.list_models(), ui.curse_table(), results)
    ui.table(pd.DataFrame(lesson_table), "rp_lessons", hide_index=True, width="stretch")
    st.caption(
        "Published: the claim as the article makes it; ours: measured here (the zoo's models, or computed on the "
        "spot: 1,000 seeded uniform points for the distances, exact counts for the memory)."
    )


ui.later(below_the_first_table)  # a new visitor's first screen ends at the first table (ui/firstrun.py)
