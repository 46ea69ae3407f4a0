"""Published results: the shipped zoo measured against the classic autoencoder figures."""

import pandas as pd
import streamlit as st

from aeviz import reproduce, ui

st.title("Do our models reproduce the published results?")
ui.explain(
    "Autoencoder tutorials and papers report a handful of figures that every course repeats; here is what the "
    "models shipped with aeviz measure, beside the published numbers.",
    "The figures: how well a "
    "k-nearest-neighbour classifier works on the codes, whether a nonlinear autoencoder beats PCA, how "
    "clearly a shoe stands out among digits. `python benchmarks/reproduce.py --write` re-measures everything.")

results = reproduce.load_results()
if results is None:
    st.info("No measurements are stored for this zoo yet. Run `python benchmarks/reproduce.py --write` "
            f"(it writes `{reproduce.results_path()}`).")
    st.stop()

shown = reproduce.tables(results)
st.subheader("kNN (k=7) accuracy: raw pixels vs codes")
st.caption("A classifier fitted on the training codes, scored on the test codes. Published: MNIST raw 96.4 %, "
           "8-d 89 %; Fashion-MNIST raw 85.4 %, 8-d 79.9 %, 16-d 83.6 %.")
st.dataframe(pd.DataFrame(shown["knn"]), hide_index=True, width="stretch")

shoe = results.get("shoe")
if shoe:
    ref = reproduce.PUBLISHED["shoe"]
    st.subheader("Find the shoe")
    st.caption(f"Each of the {shoe['shoes']:,} Fashion-MNIST shoes (sandals, sneakers, ankle boots) is added alone "
               f"to the 10,000 MNIST test digits and ranked by `{shoe['model']}`'s reconstruction error. "
               f"Published: one shoe ranked 1st with error {ref['error']}, the runner-up {ref['runner_up']}.")
    cols = st.columns(4)
    cols[0].metric("ranked 1st", f"{100 * shoe['share_rank1']:.1f} %", help="share of shoes that beat every digit")
    cols[1].metric("in the top 10", f"{100 * shoe['share_top10']:.1f} %")
    cols[2].metric("median shoe error", f"{shoe['median_shoe_error']:.3f}",
                   f"most unusual digit {shoe['runner_up']:.3f}", delta_color="off")
    cols[3].metric("AUROC Fashion vs MNIST", f"{shoe['auroc']:.4f}")

st.subheader("Nonlinear autoencoders vs PCA")
st.caption("Test MSE per pixel at each bottleneck size q; every reconstruction is clipped to [0,1] alike. The "
           "linear autoencoder should match PCA; the plain 3-layer dense net loses to PCA at q=2, the deeper one "
           f"wins at every q. Published (MNIST, q=16): linear {reproduce.PUBLISHED['linear_vs_pca_q16']['linear']}"
           f" vs PCA {reproduce.PUBLISHED['linear_vs_pca_q16']['pca']}.")
st.dataframe(pd.DataFrame(shown["pca"]), hide_index=True, width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("BCE vs MSE training")
    st.dataframe(pd.DataFrame(shown["bce_vs_mse"]), hide_index=True, width="stretch")
with right:
    st.subheader("Denoising (PSNR, dB)")
    st.dataframe(pd.DataFrame(shown["denoising"]), hide_index=True, width="stretch")
st.caption(f"Measured on {results.get('measured', '?')} with aeviz {results.get('versions', {}).get('aeviz', '?')} "
           f"in {results.get('seconds', '?')} s.")
