"""VAE views on real zoo VAEs: interpolation endpoints, KL ranking, traversals, prior samples, the 2-d manifold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeviz import list_checkpoints, load_checkpoint, load_dataset
from aeviz.metrics import decode_all, reconstruct_all
from aeviz.views import vae as view
from aeviz.views import vaeplane as plane
from aeviz.walks import kl_per_dim, rank_dims_by_kl
from aeviz.zoo import catalog


def zoo_vae(dataset: str, q: int, arch: str = "dense"):
    infos = list_checkpoints(dataset=dataset)
    info = next(c for c in catalog.vaes(infos) if c.bottleneck == q and c.arch == arch)
    return info, load_checkpoint(info.path)


@pytest.fixture(scope="module")
def digits():
    infos = list_checkpoints(dataset="digits")
    info, vae = zoo_vae("digits", 8)
    ae = load_checkpoint(catalog.plain_twin(info, infos).path)
    return vae, ae, load_dataset("digits", "test").images.numpy()


@pytest.mark.parametrize(
    "dataset,q,arch", [("digits", 8, "dense"), pytest.param("mnist", 16, "conv", marks=pytest.mark.needs_data("mnist"))]
)
def test_interpolation_endpoints_decode_to_the_endpoints_reconstructions(dataset, q, arch):
    info, vae = zoo_vae(dataset, q, arch)
    ae = load_checkpoint(catalog.plain_twin(info, list_checkpoints(dataset=dataset), same_size=False).path)
    pair = load_dataset(dataset, "test").images[[3, 11]]
    result = view.interpolate(vae, pair.numpy(), ae=ae, steps=7)
    assert list(result.paths) == ["VAE · linear", "VAE · spherical", "plain AE · linear"]
    assert result.ts.tolist() == pytest.approx(np.linspace(0, 1, 7).tolist())
    for label, path in result.paths.items():
        ends = reconstruct_all(ae if label.startswith("plain") else vae, pair)
        assert path.shape == (7, *pair.shape[1:])
        np.testing.assert_allclose(path[0], ends[0], atol=1e-5)
        np.testing.assert_allclose(path[-1], ends[1], atol=1e-5)
    middle = result.paths["VAE · linear"][3]
    assert np.abs(middle - result.paths["VAE · linear"][0]).mean() > 0.01  # the middle is neither end
    assert np.abs(middle - result.paths["VAE · linear"][-1]).mean() > 0.01


def test_interpolation_without_a_plain_model_and_its_pictures(digits):
    vae, _, test = digits
    result = view.interpolate(vae, test[:2], steps=21)
    assert list(result.paths) == ["VAE · linear", "VAE · spherical"]
    frames = view.interpolation_frames(result)
    assert frames.shape[0] == 21 and frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[20])
    fig = view.interpolation_scrub(result)
    assert len(fig.frames) == 21 and fig.layout.sliders[0].active == 10
    assert fig.layout.sliders[0].currentvalue.prefix == "t = " and fig.layout.sliders[0].steps[10].label == "0.50"
    strip = view.interpolation_strip(result)
    assert strip.ndim == 3 and strip.shape[1] > 11 * 8 * 7  # eleven steps of 8x8 digits, 70 px each


def test_code_kl_is_the_mean_kl_per_dim_and_ranks_collapsed_dims_last(digits):
    vae, _, test = digits
    kl = view.code_kl(vae, test, batch=100)  # several batches
    with torch.inference_mode():
        mu, logvar = vae.encode_stats(torch.from_numpy(test))
    np.testing.assert_allclose(kl, kl_per_dim(mu, logvar), rtol=1e-5)
    order = rank_dims_by_kl(kl)
    assert sorted(order.tolist()) == list(range(8)) and np.all(np.diff(kl[order]) <= 0)
    assert kl[order[0]] > 0.5 and kl[order[-1]] < 0.05  # this VAE switched some dims off


def test_traversal_moves_informative_dims_and_leaves_collapsed_ones_alone(digits):
    vae, _, test = digits
    order = rank_dims_by_kl(view.code_kl(vae, test))
    dims = [int(order[0]), int(order[-1])]
    images = view.traverse(vae, test[5], dims, steps=9)
    assert images.shape == (2, 9, 1, 8, 8)
    change = [np.abs(np.diff(row, axis=0)).mean() for row in images]
    assert change[0] > 3 * change[1]
    picture = view.traversal_picture(images, dims, view.code_kl(vae, test))
    assert picture.ndim == 3 and picture.shape[1] > 9 * 56  # 8x8 digits shown 56 px wide


def test_prior_samples_are_seeded_and_temperature_zero_is_the_mean_image(digits):
    vae, _, _ = digits
    a = view.sample(vae, 16, temperature=1.0, seed=4)
    assert a.shape == (16, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert np.array_equal(a, view.sample(vae, 16, temperature=1.0, seed=4))
    assert not np.array_equal(a, view.sample(vae, 16, temperature=1.0, seed=5))
    cold = view.sample(vae, 4, temperature=0.0, seed=4)
    np.testing.assert_allclose(cold, np.repeat(decode_all(vae, np.zeros((1, 8))), 4, axis=0), atol=1e-6)
    assert view.samples_picture(a).shape[:2] == (2 * (80 + 2) + 2, 8 * (80 + 2) + 2)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_manifold_decodes_the_code_plane_under_the_test_codes():
    from scipy.stats import norm

    info, vae = zoo_vae("digits", 2)
    test = load_dataset("digits", "test")
    decoded = plane.manifold(vae, n=10)  # the default: normal quantiles, equal prior mass per cell
    assert decoded.shape == (100, 1, 8, 8)
    corner = norm.ppf(0.05)  # about -1.64, not -3
    np.testing.assert_allclose(decoded[0], decode_all(vae, np.array([[corner, -corner]]))[0], atol=1e-5)
    linear = plane.manifold(vae, n=10, gaussian=False)
    top_left = decode_all(vae, np.array([[-3.0, 3.0]]))[0]  # row-major, up is +z2
    np.testing.assert_allclose(linear[0], top_left, atol=1e-6)
    from aeviz.metrics import encode_all

    codes = encode_all(vae, test.images)
    fig = plane.manifold_figure(linear, codes, test.labels.numpy(), test.classes, gaussian=False, max_points=100)
    assert len(fig.layout.images) == 1 and fig.layout.images[0].layer == "below"
    assert sum(len(t.x) for t in fig.data) == 100
    assert fig.layout.xaxis.range == pytest.approx((-3 - 3 / 9, 3 + 3 / 9))  # half a cell past ±3
    fig = plane.manifold_figure(decoded, codes, test.labels.numpy(), test.classes, max_points=100)
    for trace in fig.data:  # each dot at Φ(its code)
        np.testing.assert_allclose(trace.y, norm.cdf(codes[np.asarray(trace.customdata), 1]), atol=1e-6)
    shown = np.concatenate([t.x for t in fig.data])
    assert shown.min() > 0 and shown.max() < 1 and fig.layout.xaxis.range == (0, 1)  # Φ(z): the quantile scale
    picture = fig.layout.images[0]  # 10 cells 0.1 wide, centred on the quantiles 0.05…0.95: exactly 0…1
    assert picture.x == pytest.approx(0.0, abs=1e-12) and picture.sizex == pytest.approx(1.0)
    assert list(fig.layout.xaxis.ticktext) == ["-2", "-1", "+0", "+1", "+2"]
    assert fig.layout.xaxis.tickvals[2] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="2-d code"):
        plane.manifold(zoo_vae("digits", 8)[1])


def test_the_plane_counts_under_filled_cells_not_only_empty_ones():
    rng = np.random.default_rng(0)
    prior = plane.cell_counts(rng.normal(size=(10000, 2)))
    assert prior.sum() == 10000 and plane.underfilled(prior) == 0  # the prior fills every cell near its 100
    one_quadrant = plane.cell_counts(np.abs(rng.normal(size=(10000, 2))))
    assert plane.underfilled(one_quadrant) == 75  # only the 5×5 cells of z1 > 0, z2 > 0 are reached
    squeezed = plane.cell_counts(rng.normal(size=(10000, 2)) * 0.6)  # a posterior narrower than the prior
    assert plane.underfilled(squeezed) > 20 * max(1, (squeezed == 0).sum())  # hardly an empty cell, many thin ones
    note = plane.fill_note(squeezed)
    assert f"**{plane.underfilled(squeezed)}** hold fewer than half" in note and "about 100 of the 10,000" in note
    assert f"the emptiest {squeezed.min()}, the fullest {squeezed.max():,}" in note
    assert plane.expected_underfilled(0) == 0 and plane.expected_underfilled(10000) < 1e-5
    draws = [plane.underfilled(plane.cell_counts(rng.normal(size=(360, 2)))) for _ in range(200)]
    assert np.mean(draws) == pytest.approx(plane.expected_underfilled(360), abs=0.6)  # P(Bin(360, 1/100) <= 1)


def test_the_kl_sentence_says_switched_off_only_where_a_dimension_is():
    some = view.kl_note(np.array([1.2, 0.0004, 0.9, 0.003]))
    assert "2 of the 4 dimensions have KL ≈ 0" in some and "change nothing" in some
    none = view.kl_note(np.array([0.95, 1.4, 2.0]))
    assert "change nothing" not in none and "all 3 dimensions carry information (the least KL is 0.95)" in none


def test_model_choice_prefers_dense_large_codes_and_finds_a_2d_vae():
    infos = list_checkpoints(dataset="mnist")
    vaes = catalog.vaes(infos)
    assert vaes and all(c.family == "vae" for c in vaes)
    assert vaes[0].arch == "dense" and vaes[0].bottleneck == max(c.bottleneck for c in vaes)
    conv16 = next(c for c in vaes if c.arch == "conv" and c.bottleneck > 2)
    flat = catalog.two_d_vae(conv16, infos)
    assert flat.bottleneck == 2 and flat.arch == "conv"
    assert catalog.two_d_vae(flat, infos) is flat
    assert catalog.two_d_vae(conv16, [c for c in infos if c.bottleneck != 2]) is None


def test_sharpness_ranks_blur_below_edges_and_the_blur_note_reads_the_numbers(digits):
    from aeviz.metrics import sharpness

    edges = np.indices((8, 8)).sum(0) % 2 * np.ones((1, 1, 1, 1), np.float32)  # a checkerboard, (1,1,8,8)
    flat = np.full((1, 1, 8, 8), 0.5, np.float32)
    assert sharpness(edges) > 1.0 and sharpness(flat) == 0.0
    model, _, test = digits
    note = view.blur_note(model, test[:32], 1.0, seed=0)
    drawn = view.sample(model, 32, temperature=1.0, seed=0)
    rebuilt = reconstruct_all(model, torch.from_numpy(test[:32]))
    assert f"samples {sharpness(drawn):.3f}, reconstructions {sharpness(rebuilt):.3f}" in note
    blurrier = sharpness(drawn) < 0.9 * sharpness(rebuilt)
    assert ("blurrier than reconstructions" in note) == blurrier
