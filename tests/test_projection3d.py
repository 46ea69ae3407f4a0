"""3-D maps of codes: PCA's three axes (and the variance they keep), UMAP to three dimensions, the disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from aeviz import projection3d


def codes(n: int = 300, q: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, q)) * np.linspace(3, 0.1, q)).astype(np.float32)  # falling variance per axis


def test_pca_3d_is_the_first_three_principal_axes():
    from sklearn.decomposition import PCA

    x = codes()
    found = projection3d.fit_3d(x, "pca")
    want = PCA(n_components=3).fit(x.astype(np.float64))
    assert found.points.shape == (300, 3) and found.method == "pca"
    assert np.allclose(np.abs(found.points), np.abs(want.transform(x.astype(np.float64))), atol=1e-4)
    assert found.kept == pytest.approx(want.explained_variance_ratio_.sum())
    spread = np.linspace(3, 0.1, 8) ** 2  # the variance the codes were drawn with, per axis
    assert found.kept == pytest.approx(spread[:3].sum() / spread.sum(), abs=0.05)


def test_a_code_of_fewer_than_three_dimensions_has_no_3d_map():
    with pytest.raises(ValueError, match="3 or more dimensions"):
        projection3d.fit_3d(codes(q=2), "pca")
    with pytest.raises(ValueError, match="unknown"):
        projection3d.fit_3d(codes(), "tsne")


def test_cached_3d_fits_once_and_find_never_fits():
    x = codes()
    assert projection3d.find_cached_3d(x, "pca", key="m|d|test") is None
    first = projection3d.cached_3d(x, "pca", key="m|d|test")
    again = projection3d.find_cached_3d(x, "pca", key="m|d|test")
    assert again is not None and np.array_equal(first.points, again.points) and again.kept == first.kept
    assert projection3d.find_cached_3d(x, "pca", key="other|d|test") is None


@pytest.mark.slow
def test_umap_3d_is_seeded_and_keeps_clusters_apart():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(100, 6)), rng.normal(size=(100, 6)) + 8]).astype(np.float32)
    a, b = projection3d.fit_3d(x, "umap", seed=0), projection3d.fit_3d(x, "umap", seed=0)
    assert a.points.shape == (200, 3) and a.kept is None and np.array_equal(a.points, b.points)
    gap = np.linalg.norm(a.points[:100].mean(0) - a.points[100:].mean(0))
    assert gap > 3 * a.points[:100].std(0).max()
