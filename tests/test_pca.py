"""The PCA baseline: fitted on real data, cached on disk, shipped with the zoo and checked on load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

from aeviz import diskcache, load_dataset
from aeviz import pca as pca_module
from aeviz.metrics import image_errors
from aeviz.pca import fit_pca, pca_baseline


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
    assert pca.max_q == 64 and list(pca.sizes) == [q for q in pca_module.SIZES if q <= 64]
    assert np.all(np.diff(pca.test_mse) < 0) and pca.test_mse[-1] < 1e-8  # 64 of 64 pixels: lossless
    assert list((diskcache.cache_dir() / "pca-baseline").glob("*.npz"))
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


# --- the zoo's shipped baselines (checkpoints/<dataset>.pca.npz) ----------------------------------------------

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints"


def _shipped_copy(tmp_path, monkeypatch, dataset: str = "digits", **changes) -> Path:
    """The shipped baseline copied into a zoo of its own, with some arrays replaced (the digest kept)."""
    arrays = diskcache.load_arrays(SHIPPED / f"{dataset}.pca.npz", delete_corrupt=False)
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    path = pca_module.shipped_pca_path(dataset)
    diskcache.save_arrays(path, **{**arrays, **changes})
    return path


@pytest.mark.parametrize(
    "dataset",
    [
        "digits",
        *(pytest.param(d, marks=[pytest.mark.slow, pytest.mark.needs_data(d)]) for d in ("mnist", "fashion-mnist")),
    ],
)  # slow: MNIST's is a 60k-image fit
def test_shipped_baseline_matches_a_fresh_fit(dataset):
    shipped = pca_module.load_shipped_pca(dataset)
    assert shipped is not None, f"checkpoints/{dataset}.pca.npz missing or stale: run python -m aeviz.zoo.build --maps"
    fresh = pca_module._fit_dataset(dataset)
    np.testing.assert_allclose(shipped["mean"], fresh["mean"], atol=1e-6)
    np.testing.assert_array_equal(shipped["sizes"], fresh["sizes"])
    # atol: at q = all pixels (digits q=64) PCA is lossless and both errors are float rounding, ~3e-15
    np.testing.assert_allclose(shipped["test_mse"], fresh["test_mse"], rtol=1e-4, atol=1e-9)
    for q in (2, 16):  # the same subspaces (a component's sign is arbitrary: compare projections)
        a, b = shipped["components"][:q], fresh["components"][:q]
        np.testing.assert_allclose(a.T @ a, b.T @ b, atol=1e-3)


def test_the_app_uses_the_shipped_baseline_without_fitting(isolated_dirs, monkeypatch):
    monkeypatch.setattr(pca_module, "fit_pca", lambda *a, **k: pytest.fail("fitted although one is shipped"))
    pca = pca_baseline("digits")
    assert pca.max_q == 64 and pca.mse(8) == pytest.approx(float(pca_module.load_shipped_pca("digits")["test_mse"][2]))
    assert not (diskcache.cache_dir() / "pca-baseline").exists()
    with pytest.raises(ValueError):
        pca.components[0, 0] = 1.0  # read-only, like a fitted one


def test_a_baseline_of_other_data_is_ignored_and_fitted_afresh(tmp_path, monkeypatch, recwarn):
    _shipped_copy(tmp_path, monkeypatch, data=np.array("0" * 64))  # fitted on another copy of the data
    assert pca_module.load_shipped_pca("digits") is None and not recwarn.list  # stale is normal: no warning
    pca = pca_baseline("digits")
    assert list((diskcache.cache_dir() / "pca-baseline").glob("*.npz"))
    assert pca.mse(8) == pytest.approx(float(pca_module._fit_dataset("digits")["test_mse"][2]), rel=1e-5)


def test_a_baseline_of_another_version_is_ignored(tmp_path, monkeypatch):
    _shipped_copy(tmp_path, monkeypatch, version=np.array(pca_module._VERSION + 1))
    assert pca_module.load_shipped_pca("digits") is None


def test_a_tampered_baseline_is_refused(tmp_path, monkeypatch):
    arrays = diskcache.load_arrays(SHIPPED / "digits.pca.npz", delete_corrupt=False)
    edited = arrays["components"].copy()
    edited[0] *= 3  # what an edit leaves: the digest no longer matches
    _shipped_copy(tmp_path, monkeypatch, components=edited)
    with pytest.warns(RuntimeWarning, match="refused.*digest"):
        assert pca_module.load_shipped_pca("digits") is None
    with pytest.warns(RuntimeWarning):
        pca = pca_baseline("digits")  # fitted afresh instead
    np.testing.assert_allclose(np.linalg.norm(pca.components, axis=1), 1, atol=1e-5)


def test_a_forged_digest_does_not_pass_the_checks(tmp_path, monkeypatch):
    arrays = diskcache.load_arrays(SHIPPED / "digits.pca.npz", delete_corrupt=False)
    forged = {**arrays, "components": arrays["components"] * 2}
    _shipped_copy(tmp_path, monkeypatch, components=forged["components"], digest=np.array(pca_module._digest(forged)))
    with pytest.warns(RuntimeWarning, match="not orthonormal"):
        assert pca_module.load_shipped_pca("digits") is None
    short = {**arrays, "mean": arrays["mean"][:10]}
    _shipped_copy(tmp_path, monkeypatch, mean=short["mean"], digest=np.array(pca_module._digest(short)))
    with pytest.warns(RuntimeWarning, match=r"shape \(10,\), not \(64,\)"):
        assert pca_module.load_shipped_pca("digits") is None


def test_a_damaged_file_is_refused_and_kept(tmp_path, monkeypatch):
    path = _shipped_copy(tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:5000])  # truncated
    with pytest.warns(RuntimeWarning, match="refused .*fitting the PCA baseline afresh"):
        assert pca_module.load_shipped_pca("digits") is None
        assert pca_baseline("digits").max_q == 64  # fitted afresh (saying so again)
    assert path.exists()  # shipped files are never deleted


def test_zoo_writes_baselines_that_load(tmp_path, monkeypatch, capsys):
    from aeviz.zoo import build as zoo

    zoo.build_baselines(["digits"], tmp_path)
    assert "digits: PCA baseline" in capsys.readouterr().out
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert pca_module.load_shipped_pca("digits") is not None
    zoo.build_baselines(["digits"], tmp_path)  # present and valid: left alone
    assert capsys.readouterr().out == ""


def test_colour_pca_keeps_256_components_and_a_randomized_fit_matches_the_exact_one():
    """Inputs over 1024 values keep up to 256 components; above EIGH_MAX_PIXELS (64x64 colour) the fit is a seeded
    randomized SVD whose errors match the exact eigendecomposition's."""
    rng = np.random.default_rng(0)
    assert pca_module.max_components(784) == 64 and pca_module.max_components(3 * 32 * 32) == 256
    basis = np.linalg.qr(rng.normal(size=(3 * 48 * 48, 12)))[0].T  # (12, 6912): rank-12 colour images
    train = np.clip(0.5 + 0.02 * rng.normal(size=(300, 12)) @ basis * 48, 0, 1).astype(np.float32)
    test = np.clip(0.5 + 0.02 * rng.normal(size=(60, 12)) @ basis * 48, 0, 1).astype(np.float32)
    assert train.shape[1] > pca_module.EIGH_MAX_PIXELS
    fast = fit_pca(train, test, k=16, sizes=(2, 4, 8, 16))
    assert fast["components"].shape == (16, 6912)
    np.testing.assert_allclose(fast["components"] @ fast["components"].T, np.eye(16), atol=1e-4)
    mean = train.mean(axis=0, dtype=np.float64)
    centred = train - mean
    values, vectors = np.linalg.eigh(centred @ centred.T)  # exact, through the 300x300 Gram matrix
    exact = (centred.T @ vectors[:, ::-1][:, :8] / np.sqrt(values[::-1][:8])).T  # (8, D) top components
    for i, q in enumerate((2, 4, 8)):
        top = exact[:q]
        exact_mse = float(((np.clip((test - mean) @ top.T @ top + mean, 0, 1) - test) ** 2).mean())
        assert fast["test_mse"][i] == pytest.approx(exact_mse, rel=1e-3)
    assert np.all(np.diff(fast["test_mse"]) <= 1e-9)


def test_a_cifar10_baseline_fits_and_reconstructs_colour_images(tmp_path, monkeypatch):
    from fakes import cifar_arrays, write_cifar_py

    write_cifar_py(tmp_path / "data" / "CIFAR10", cifar_arrays(40, 0), cifar_arrays(10, 1))
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path / "zoo"))
    pca = pca_baseline("cifar10")
    assert pca.mean.shape == (3072,) and pca.max_q == 40 and list(pca.sizes) == [2, 4, 8, 16, 32]  # 40 images
    test = load_dataset("cifar10", "test").images.numpy()
    recon = pca.reconstruct(test, 8)
    assert recon.shape == (10, 3, 32, 32) and recon.min() >= 0 and recon.max() <= 1
    assert image_errors(test, recon).mean() == pytest.approx(pca.mse(8), rel=1e-4)
