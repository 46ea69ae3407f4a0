"""The PCA baseline and the series of zoo models across bottleneck sizes, on real data and the real zoo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from aeviz import baselines, cache, list_checkpoints, load_checkpoint, load_dataset
from aeviz.baselines import arch_label, beats_pca, fit_pca, group_series, pca_baseline, split_series
from aeviz.metrics import image_errors


def test_fit_pca_slices_nested_components_and_errors_fall():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(30, 5)))[0].T  # (5,30) orthonormal: data of rank 5 plus a mean
    train = np.clip(0.5 + 0.1 * rng.normal(size=(400, 5)) @ basis, 0, 1).astype(np.float32)
    test = np.clip(0.5 + 0.1 * rng.normal(size=(100, 5)) @ basis, 0, 1).astype(np.float32)
    fitted = fit_pca(train, test, k=8, sizes=(1, 2, 4, 8))
    assert fitted["components"].shape == (8, 30) and list(fitted["sizes"]) == [1, 2, 4, 8]
    assert np.all(np.diff(fitted["test_mse"]) <= 1e-9) and fitted["test_mse"][-1] < 1e-6  # rank 5 < 8: exact
    # the first 2 of 8 components span the same plane as a 2-component fit: slicing is exact
    direct = PCA(n_components=2, svd_solver="full").fit(train).components_
    sliced = fitted["components"][:2]
    np.testing.assert_allclose(sliced.T @ sliced, direct.T @ direct, atol=1e-4)


def test_fit_pca_caps_components_at_the_data():
    x = np.random.default_rng(1).random((20, 6), dtype=np.float32)
    fitted = fit_pca(x, x, k=64)
    assert fitted["components"].shape == (6, 6) and list(fitted["sizes"]) == [2, 4]


def test_digits_baseline_is_cached_on_disk_and_reconstructs(isolated_dirs, monkeypatch, tmp_path):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))  # a zoo without shipped baselines: fitted here
    pca = pca_baseline("digits")
    assert pca.max_q == 64 and list(pca.sizes) == list(baselines.SIZES)
    assert np.all(np.diff(pca.test_mse) < 0) and pca.test_mse[-1] < 1e-8  # 64 of 64 pixels: lossless
    assert list((cache.cache_dir() / "pca-baseline").glob("*.npz"))
    again = pca_baseline("digits")
    np.testing.assert_array_equal(again.components, pca.components)
    with pytest.raises(ValueError):
        pca.components[0, 0] = 1.0  # shared between sessions: read-only
    test = load_dataset("digits", "test").images.numpy()
    recon = pca.reconstruct(test, 8)
    assert recon.shape == test.shape and recon.min() >= 0 and recon.max() <= 1
    assert image_errors(test, recon).mean() == pytest.approx(pca.mse(8), rel=1e-4)
    assert pca.mse(3) is None
    with pytest.raises(ValueError):
        pca.reconstruct(test, 65)


def test_zoo_series_group_by_architecture_and_loss():
    series = {s.name: s for s in group_series(list_checkpoints(dataset="mnist"))}
    assert list(series)[:2] == ["dense-bce", "dense-h256x128-bce"]
    assert {"conv-bce", "vae-h256-bce", "vae-conv-bce", "dense-mse"} <= set(series)
    assert not any(name.startswith(("sparse", "denoising", "linear", "contractive")) for name in series)
    assert series["dense-bce"].sizes == (2, 4, 8, 16, 32, 64)
    assert {2, 8} <= set(series["conv-bce"].sizes) and not {4, 64} & set(series["conv-bce"].sizes)  # gaps
    assert series["conv-bce"].at(4) is None and series["conv-bce"].at(8).bottleneck == 8
    assert series["dense-mse"].loss == "mse" and series["dense-mse"].arch == "dense"
    digits = {s.name: s for s in group_series(list_checkpoints(dataset="digits"))}
    assert digits["dense-bce"].sizes == (2, 4, 8, 16)


def test_series_names_and_labels():
    assert split_series("dense-h256x128-bce") == ("dense-h256x128", "bce")
    assert split_series("vae-conv-bce-beta4") == ("vae-conv-beta4", "bce")
    assert arch_label("dense-h256x128") == "dense 256-128" and arch_label("vae-conv") == "VAE conv"


@pytest.mark.slow
def test_mnist_deeper_dense_beats_pca_where_the_plain_one_does_not():
    pca = pca_baseline("mnist")  # fits on 60k train images: a few seconds
    assert pca.mse(2) == pytest.approx(0.0555, abs=5e-4)
    series = {s.name: s for s in group_series(list_checkpoints(dataset="mnist"))}
    plain_wins, plain_losses = beats_pca(series["dense-bce"], pca)
    deep_wins, deep_losses = beats_pca(series["dense-h256x128-bce"], pca)
    assert 2 in plain_losses and 2 in deep_wins and 8 in plain_wins


def test_reconstruction_grid_rows_labels_and_gaps():
    test = load_dataset("digits", "test")
    images = test.images[:5].numpy()
    conv = next(s for s in group_series(list_checkpoints(dataset="digits")) if s.name == "conv-bce")
    sizes = [2, 4, 8]
    models = {q: load_checkpoint(info.path) if (info := conv.at(q)) else None for q in sizes}
    pca = pca_baseline("digits")
    grid = baselines.reconstruction_grid(images, [f"#{i}" for i in range(5)], conv, models, pca, sizes)
    assert grid.row_labels == ["original", "conv q=2", "PCA q=2", "conv q=4: not trained", "PCA q=4",
                               "conv q=8", "PCA q=8"]
    assert [len(r) for r in grid.rows] == [5, 5, 5, 0, 5, 5, 5] and grid.cell_labels[3] == []
    model_errors = image_errors(images, models[8].reconstruct(torch.from_numpy(images)).numpy())
    assert grid.cell_labels[5] == [f"{e:.4f}" for e in model_errors]
    assert float(grid.cell_labels[6][0]) == pytest.approx(image_errors(images[:1], pca.reconstruct(images[:1], 8))[0],
                                                          abs=1e-4)


def test_rate_distortion_figure_has_a_trace_per_series_and_pca():
    series = group_series(list_checkpoints(dataset="digits"))
    fig = baselines.rate_distortion_figure(series, pca_baseline("digits"), highlight="conv-bce")
    names = [t.name for t in fig.data]
    assert names == [s.label for s in series] + ["PCA"]
    conv = fig.data[names.index("conv")]
    assert list(conv.x) == list(series[names.index("conv")].sizes) and conv.line.width > fig.data[0].line.width
    assert list(conv.y) == [m.metrics["mse"] for m in series[names.index("conv")].models]
    assert max(fig.data[-1].x) == max(q for s in series for q in s.sizes) < 64  # not PCA's lossless q=64


# --- the zoo's shipped baselines (checkpoints/<dataset>.pca.npz) ----------------------------------------------

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints"

def _shipped_copy(tmp_path, monkeypatch, dataset: str = "digits", **changes) -> Path:
    """The shipped baseline copied into a zoo of its own, with some arrays replaced (the digest kept)."""
    arrays = cache.load_arrays(SHIPPED / f"{dataset}.pca.npz", delete_corrupt=False)
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    path = baselines.shipped_pca_path(dataset)
    cache.save_arrays(path, **{**arrays, **changes})
    return path


@pytest.mark.parametrize("dataset", ["digits", "mnist", "fashion-mnist"])
def test_shipped_baseline_matches_a_fresh_fit(dataset):
    shipped = baselines.load_shipped_pca(dataset)
    assert shipped is not None, f"checkpoints/{dataset}.pca.npz missing or stale: run python -m aeviz.zoo --maps"
    fresh = baselines._fit_dataset(dataset)
    np.testing.assert_allclose(shipped["mean"], fresh["mean"], atol=1e-6)
    np.testing.assert_array_equal(shipped["sizes"], fresh["sizes"])
    # atol: at q = all pixels (digits q=64) PCA is lossless and both errors are float rounding, ~3e-15
    np.testing.assert_allclose(shipped["test_mse"], fresh["test_mse"], rtol=1e-4, atol=1e-9)
    for q in (2, 16):  # the same subspaces (a component's sign is arbitrary: compare projections)
        a, b = shipped["components"][:q], fresh["components"][:q]
        np.testing.assert_allclose(a.T @ a, b.T @ b, atol=1e-3)


def test_the_app_uses_the_shipped_baseline_without_fitting(isolated_dirs, monkeypatch):
    monkeypatch.setattr(baselines, "fit_pca", lambda *a, **k: pytest.fail("fitted although one is shipped"))
    pca = pca_baseline("digits")
    assert pca.max_q == 64 and pca.mse(8) == pytest.approx(float(baselines.load_shipped_pca("digits")["test_mse"][2]))
    assert not (cache.cache_dir() / "pca-baseline").exists()
    with pytest.raises(ValueError):
        pca.components[0, 0] = 1.0  # read-only, like a fitted one


def test_a_baseline_of_other_data_is_ignored_and_fitted_afresh(tmp_path, monkeypatch, recwarn):
    _shipped_copy(tmp_path, monkeypatch, data=np.array("0" * 64))  # fitted on another copy of the data
    assert baselines.load_shipped_pca("digits") is None and not recwarn.list  # stale is normal: no warning
    pca = pca_baseline("digits")
    assert list((cache.cache_dir() / "pca-baseline").glob("*.npz"))
    assert pca.mse(8) == pytest.approx(float(baselines._fit_dataset("digits")["test_mse"][2]), rel=1e-5)


def test_a_baseline_of_another_version_is_ignored(tmp_path, monkeypatch):
    _shipped_copy(tmp_path, monkeypatch, version=np.array(baselines._VERSION + 1))
    assert baselines.load_shipped_pca("digits") is None


def test_a_tampered_baseline_is_refused(tmp_path, monkeypatch):
    arrays = cache.load_arrays(SHIPPED / "digits.pca.npz", delete_corrupt=False)
    edited = arrays["components"].copy()
    edited[0] *= 3  # what an edit leaves: the digest no longer matches
    _shipped_copy(tmp_path, monkeypatch, components=edited)
    with pytest.warns(RuntimeWarning, match="refused.*digest"):
        assert baselines.load_shipped_pca("digits") is None
    with pytest.warns(RuntimeWarning):
        pca = pca_baseline("digits")  # fitted afresh instead
    np.testing.assert_allclose(np.linalg.norm(pca.components, axis=1), 1, atol=1e-5)


def test_a_forged_digest_does_not_pass_the_checks(tmp_path, monkeypatch):
    arrays = cache.load_arrays(SHIPPED / "digits.pca.npz", delete_corrupt=False)
    forged = {**arrays, "components": arrays["components"] * 2}
    _shipped_copy(tmp_path, monkeypatch, components=forged["components"], digest=np.array(baselines._digest(forged)))
    with pytest.warns(RuntimeWarning, match="not orthonormal"):
        assert baselines.load_shipped_pca("digits") is None
    short = {**arrays, "mean": arrays["mean"][:10]}
    _shipped_copy(tmp_path, monkeypatch, mean=short["mean"], digest=np.array(baselines._digest(short)))
    with pytest.warns(RuntimeWarning, match="shapes"):
        assert baselines.load_shipped_pca("digits") is None


def test_a_damaged_file_is_refused_and_kept(tmp_path, monkeypatch):
    path = _shipped_copy(tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:5000])  # truncated
    assert baselines.load_shipped_pca("digits") is None and path.exists()  # shipped files are never deleted
    assert pca_baseline("digits").max_q == 64


def test_zoo_writes_baselines_that_load(tmp_path, monkeypatch, capsys):
    from aeviz import zoo

    zoo.build_baselines(["digits"], tmp_path)
    assert "digits: PCA baseline" in capsys.readouterr().out
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert baselines.load_shipped_pca("digits") is not None
    zoo.build_baselines(["digits"], tmp_path)  # present and valid: left alone
    assert capsys.readouterr().out == ""
