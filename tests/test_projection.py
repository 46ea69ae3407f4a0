"""2-D latent maps: fitting, determinism, placing new codes, decode-anywhere, storage and caching."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aeviz import projection
from aeviz.metrics import knn_accuracy
from aeviz.projection import (
    METHODS,
    LatentMap,
    cached_map,
    fit_map,
    load_maps,
    save_maps,
    trustworthiness,
)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def small(digits):
    return digits[0][:300]


@pytest.fixture(scope="module")
def pca_map(digits):
    return fit_map(digits[0], "pca")


@pytest.fixture(scope="module")
def tsne_map(small):
    return fit_map(small, "tsne", seed=0)


@pytest.fixture(scope="module")
def umap_map(digits):
    return fit_map(digits[0], "umap", seed=0)


def synthetic_map(method="umap", n=50, q=5, seed=0):
    """A neighbour-interpolated map with known points and codes, without fitting anything."""
    rng = np.random.default_rng(seed)
    return LatentMap(method, rng.uniform(-10, 10, (n, 2)), rng.normal(size=(n, q)), {"seed": seed})


def check_map(m, n, q, method):
    assert m.method == method
    assert m.points.shape == (n, 2) and m.points.dtype == np.float32
    assert m.codes.shape == (n, q) and m.codes.dtype == np.float32
    assert np.isfinite(m.points).all()


def test_methods():
    assert METHODS == ("pca", "umap", "tsne", "raw")


def test_pca_shapes_and_determinism(digits, pca_map):
    check_map(pca_map, 1797, 64, "pca")
    assert pca_map.mean.shape == (64,) and pca_map.components.shape == (2, 64)
    np.testing.assert_array_equal(fit_map(digits[0], "pca").points, pca_map.points)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_tsne_shapes_and_determinism(small, tsne_map):
    check_map(tsne_map, 300, 64, "tsne")
    np.testing.assert_array_equal(fit_map(small, "tsne", seed=0).points, tsne_map.points)


def test_raw_map_is_the_code_plane(digits):
    codes = digits[0][:, :2]
    m = fit_map(codes, "raw")
    check_map(m, len(codes), 2, "raw")
    np.testing.assert_array_equal(m.points, codes)
    np.testing.assert_array_equal(m.transform(codes[:5]), codes[:5])
    np.testing.assert_array_equal(m.inverse(codes[:5]), codes[:5])


def test_raw_rejects_other_code_sizes(digits):
    with pytest.raises(ValueError, match="q == 2"):
        fit_map(digits[0][:, :3], "raw")
    with pytest.raises(ValueError, match="2-d codes"):
        LatentMap("raw", np.zeros((4, 2)), np.zeros((4, 3)))


@pytest.mark.parametrize("bad", [np.zeros(10), np.zeros((2, 4)), np.full((5, 3), np.nan), np.zeros((5, 0))])
def test_invalid_codes_are_refused(bad):
    with pytest.raises(ValueError):
        fit_map(bad, "pca")


def test_unknown_method_is_refused(small):
    with pytest.raises(ValueError, match="unknown"):
        fit_map(small, "isomap")


def test_pca_transform_and_inverse_are_exact(digits, pca_map):
    x = digits[0]
    np.testing.assert_allclose(pca_map.transform(x), pca_map.points, atol=1e-4)
    mean, comp = pca_map.mean, pca_map.components
    np.testing.assert_allclose(comp @ comp.T, np.eye(2), atol=1e-6)
    projected = mean + ((x - mean) @ comp.T) @ comp  # orthogonal projection onto the PCA plane
    np.testing.assert_allclose(pca_map.inverse(pca_map.transform(x)), projected, atol=1e-3)
    # The map of a decoded-anywhere code is the position it was decoded from.
    grid = np.array([[0.0, 0.0], [5.0, -3.0], [-20.0, 10.0]], np.float32)
    np.testing.assert_allclose(pca_map.transform(pca_map.inverse(grid)), grid, atol=1e-3)


def test_kept_variance_is_the_planes_share_of_the_code_variance(digits, pca_map):
    from sklearn.decomposition import PCA

    x = digits[0]
    direct = PCA(n_components=2).fit(x.astype(np.float64)).explained_variance_ratio_.sum()
    assert pca_map.kept_variance == pytest.approx(direct, rel=1e-4) and 0.2 < direct < 0.4  # 64 pixels: far from all
    # the other q-2 PCA coordinates are what decoding a map position loses: its residual carries the rest
    residual = x - pca_map.inverse(pca_map.transform(x))
    assert residual.var(axis=0).sum() / x.var(axis=0).sum() == pytest.approx(1 - direct, rel=1e-3)
    plane = fit_map(x[:, :2], "pca")
    assert plane.kept_variance == pytest.approx(1.0) and fit_map(x[:, :2], "raw").kept_variance == 1.0
    assert synthetic_map().kept_variance is None


def test_pca_trustworthiness_is_reported(digits, pca_map):
    t = trustworthiness(digits[0], pca_map.points)
    assert 0.5 < t < 1.0


def test_trustworthiness_subsamples_large_inputs(digits, pca_map):
    t = trustworthiness(digits[0], pca_map.points, max_points=500)
    assert abs(t - trustworthiness(digits[0], pca_map.points)) < 0.05


def test_neighbour_inverse_is_exact_at_map_points():
    m = synthetic_map()
    np.testing.assert_allclose(m.inverse(m.points), m.codes, atol=1e-5)
    np.testing.assert_allclose(m.inverse(m.points[:7], k=1), m.codes[:7], atol=1e-6)


def test_neighbour_inverse_between_two_points_blends_their_codes():
    points = np.array([[0, 0], [1, 0], [100, 100]], np.float32)
    codes = np.array([[0, 0, 0], [2, 4, 6], [50, 50, 50]], np.float32)
    m = LatentMap("tsne", points, codes)
    np.testing.assert_allclose(m.inverse([[0.5, 0.0]], k=2), [[1, 2, 3]], atol=1e-5)
    np.testing.assert_allclose(m.inverse([[0.25, 0.0]], k=2), [[0.5, 1, 1.5]], atol=1e-5)


def test_neighbour_transform_places_existing_codes_on_their_points():
    m = synthetic_map(method="tsne")
    np.testing.assert_allclose(m.transform(m.codes), m.points, atol=1e-4)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_tsne_transform_of_new_codes_lands_near_neighbours(digits, tsne_map):
    x = digits[0]
    new = x[300:400]
    placed = tsne_map.transform(new)
    assert placed.shape == (100, 2) and placed.dtype == np.float32
    # A new code should land near the map point of its nearest fitted code, compared with the map's size.
    nearest = np.argmin(((new[:, None, :] - tsne_map.codes[None]) ** 2).sum(-1), axis=1)
    gap = np.linalg.norm(placed - tsne_map.points[nearest], axis=1)
    spread = np.ptp(tsne_map.points, axis=0).max()
    assert np.median(gap) < 0.1 * spread


def test_wrong_code_width_is_refused(pca_map):
    with pytest.raises(ValueError, match="columns"):
        pca_map.transform(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="columns"):
        pca_map.inverse(np.zeros((3, 3)))


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("which", ["pca", "tsne", "synthetic"])
def test_arrays_round_trip_without_pickle(which, pca_map, tsne_map, tmp_path):
    m = {"pca": pca_map, "tsne": tsne_map, "synthetic": synthetic_map()}[which]
    np.savez(tmp_path / "m.npz", **m.to_arrays())
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        back = LatentMap.from_arrays(npz)
    assert back.method == m.method and back.params == m.params
    np.testing.assert_array_equal(back.points, m.points)
    np.testing.assert_array_equal(back.codes, m.codes)
    if m.method == "pca":
        np.testing.assert_array_equal(back.mean, m.mean)
        np.testing.assert_array_equal(back.components, m.components)
    probe = m.codes[:10] + 0.1
    np.testing.assert_array_equal(back.transform(probe), m.transform(probe))
    np.testing.assert_array_equal(back.inverse(m.points[:10] + 0.5), m.inverse(m.points[:10] + 0.5))


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_cached_map_fits_once(small, monkeypatch):
    codes = small[:90]  # enough for perplexity 20; what is tested is the cache, not the map
    calls = []
    real_fit = projection.fit_map

    def counting_fit(*args, **kwargs):
        calls.append(args[1])
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(projection, "fit_map", counting_fit)
    first = cached_map(codes, "tsne", key="ckpt-abc/digits/train", perplexity=20.0)
    second = cached_map(codes, "tsne", key="ckpt-abc/digits/train", perplexity=20.0)
    assert calls == ["tsne"]
    np.testing.assert_array_equal(first.points, second.points)
    assert second.params["perplexity"] == 20.0
    cached_map(codes, "tsne", key="ckpt-abc/digits/train", perplexity=10.0)  # other params: new map
    cached_map(codes, "tsne", key="ckpt-xyz/digits/train", perplexity=20.0)  # other model: new map
    assert calls == ["tsne"] * 3


def test_cached_map_ignores_parameters_its_method_does_not_use(small, monkeypatch):
    calls = []
    monkeypatch.setattr(projection, "fit_map", lambda *a, **k: calls.append(1) or fit_map(*a, **k))
    cached_map(small, "pca", key="k")
    cached_map(small, "pca", key="k", n_neighbors=50, perplexity=5.0)
    assert len(calls) == 1
    with pytest.raises(TypeError):
        cached_map(small, "pca", key="k", bogus=1)


def test_save_and_load_maps(tmp_path, small, tsne_map):
    path = tmp_path / "model.maps.npz"
    pca_map = fit_map(small, "pca")
    save_maps(path, {"pca": pca_map, "tsne": tsne_map}, content_hash="h1")
    maps = load_maps(path, "h1", tsne_map.codes)
    assert set(maps) == {"pca", "tsne"}
    np.testing.assert_allclose(maps["tsne"].points, tsne_map.points, rtol=1e-3, atol=1e-2)  # float16
    np.testing.assert_array_equal(maps["pca"].components, pca_map.components)
    np.testing.assert_allclose(maps["pca"].points, pca_map.points, atol=1e-4)  # recomputed from the codes
    assert not [f for f in np.load(path).files if f.endswith("__codes")]  # codes come from the checkpoint
    assert load_maps(path, "another-hash", tsne_map.codes) == {}  # stale maps for a retrained checkpoint
    assert load_maps(tmp_path / "missing.maps.npz", "h1", tsne_map.codes) == {}
    with pytest.warns(RuntimeWarning, match="refused"):
        assert load_maps(path, "h1", tsne_map.codes[:10]) == {}  # codes of another split: refused, not misdrawn


def test_load_maps_keeps_a_broken_file(tmp_path):
    path = tmp_path / "model.maps.npz"
    path.write_bytes(b"broken")
    with pytest.warns(RuntimeWarning, match="refused"):
        assert load_maps(path, "h1", np.zeros((3, 2))) == {}
    assert path.exists()


def test_knn_accuracy_on_digits(digits):
    x, y = digits
    acc, seconds = knn_accuracy(x[:1400], y[:1400], x[1400:], y[1400:])
    assert acc > 0.9
    assert math.isfinite(seconds) and seconds >= 0  # a measured time, whatever the machine's load


@pytest.mark.slow
def test_umap_shape_determinism_and_trustworthiness(digits, umap_map, pca_map):
    x = digits[0]
    check_map(umap_map, len(x), 64, "umap")
    assert umap_map.params["n_neighbors"] == 15 and umap_map.params["seed"] == 0
    np.testing.assert_array_equal(fit_map(x, "umap", seed=0).points, umap_map.points)
    t_umap, t_pca = trustworthiness(x, umap_map.points), trustworthiness(x, pca_map.points)
    assert t_umap >= 0.8
    assert t_umap > t_pca


@pytest.mark.slow
def test_umap_transform_and_inverse_stay_near_the_map(digits, umap_map):
    x = digits[0]
    np.testing.assert_allclose(umap_map.transform(x[:50]), umap_map.points[:50], atol=1e-3)
    np.testing.assert_allclose(umap_map.inverse(umap_map.points[:50]), x[:50], atol=1e-3)


# --- maps looked up without fitting (a page never waits for a fit), fit-time estimates for progress bars --------


def test_find_cached_map_never_fits(small, monkeypatch):
    calls = []
    monkeypatch.setattr(projection, "fit_map", lambda *a, **k: calls.append(1) or fit_map(*a, **k))
    assert projection.find_cached_map(small, "pca", key="never-fitted") is None
    fitted = cached_map(small, "pca", key="fitted")
    found = projection.find_cached_map(small, "pca", key="fitted")
    assert calls == [1] and found is not None
    np.testing.assert_array_equal(found.points, fitted.points)
    assert projection.find_cached_map(small, "pca", key="fitted", seed=1) is None  # another seed: another map
    assert projection.find_cached_map(small[:100], "pca", key="fitted") is None  # other codes under that key
