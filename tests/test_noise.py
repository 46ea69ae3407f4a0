"""Corruptions: statistics of each kind, determinism, nested noise sweeps, and parsing."""

from __future__ import annotations

import pytest
import torch

from aeviz.noise import NOISE_KINDS, NoiseKind, NoiseSpec, add_noise, noise_frames, parse_noise


def test_kinds_are_described():
    assert set(NOISE_KINDS) == {"gaussian", "salt_pepper", "masking", "occlusion"}
    for kind in NOISE_KINDS.values():
        assert isinstance(kind, NoiseKind)
        assert kind.min <= kind.default <= kind.max and kind.label and kind.param and kind.description


def test_gaussian_residual_std_matches_sigma():
    x = torch.full((64, 1, 28, 28), 0.5)
    sigma = 0.1  # 5 sigma from the edges, so clipping does not bite
    residual = add_noise(x, "gaussian", sigma, seed=0) - x
    assert residual.mean().abs() < 0.005
    assert residual.std().item() == pytest.approx(sigma, rel=0.03)


def test_gaussian_is_clipped_to_the_unit_range_and_says_so():
    x = torch.tensor([[[[0.0, 1.0] * 500]]])  # black and white pixels: half of every draw falls outside [0, 1]
    y = add_noise(x, "gaussian", 0.5, seed=0)
    assert y.min() == 0 and y.max() == 1 and (y == x).float().mean() > 0.4  # clipped back, not wrapped or kept
    assert "clips the result to [0, 1]" in NOISE_KINDS["gaussian"].description


def test_occlusion_says_its_area_is_rounded_to_whole_pixels():
    y = add_noise(torch.ones(4, 1, 8, 8), "occlusion", 0.2, seed=0)  # 12.8 pixels: a 4x4 block of 16
    assert (y == 0).float().mean().item() == 0.25
    assert "about a fraction" in NOISE_KINDS["occlusion"].description


def test_masking_zeroes_fraction_p():
    x = torch.ones(64, 1, 28, 28)
    y = add_noise(x, "masking", 0.3, seed=0)
    assert (y == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert set(y.unique().tolist()) <= {0.0, 1.0}


def test_salt_and_pepper_is_half_black_half_white():
    x = torch.full((64, 1, 28, 28), 0.5)
    y = add_noise(x, "salt_pepper", 0.2, seed=0)
    hit = y != 0.5
    assert hit.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert (y[hit] == 1).float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert set(y[hit].unique().tolist()) == {0.0, 1.0}


def test_occlusion_blacks_out_one_square_of_the_requested_area():
    x = torch.ones(16, 1, 28, 28)
    y = add_noise(x, "occlusion", 0.25, seed=0)
    zero = y[:, 0] == 0
    assert zero.flatten(1).float().mean(1).tolist() == pytest.approx([0.25] * 16, abs=0.02)
    for mask in zero:  # a single axis-aligned square: its bounding box is full
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        assert len(rows) == len(cols) == 14
        assert mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
    assert len({tuple(m.nonzero()[0].tolist()) for m in zero}) > 1  # blocks sit in different places


@pytest.mark.parametrize("kind", list(NOISE_KINDS))
def test_output_is_clipped_same_shape_and_deterministic(kind):
    x = torch.rand(8, 3, 12, 10)
    level = NOISE_KINDS[kind].max
    y = add_noise(x, kind, level, seed=3)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.min() >= 0 and y.max() <= 1
    assert torch.equal(y, add_noise(x, kind, level, seed=3))
    assert not torch.equal(y, add_noise(x, kind, level, seed=4))
    gen_a, gen_b = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(add_noise(x, kind, level, generator=gen_a), add_noise(x, kind, level, generator=gen_b))


def test_global_rng_is_used_without_seed():
    x = torch.rand(4, 1, 8, 8)
    torch.manual_seed(0)
    a = add_noise(x, "gaussian", 0.5)
    torch.manual_seed(0)
    assert torch.equal(a, add_noise(x, "gaussian", 0.5))


@pytest.mark.parametrize("kind", list(NOISE_KINDS))
def test_level_zero_returns_a_copy(kind):
    x = torch.rand(2, 1, 8, 8)
    y = add_noise(x, kind, 0.0, seed=0)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


def test_bad_kind_or_level_raises():
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="unknown noise kind"):
        add_noise(x, "speckle", 0.1)
    with pytest.raises(ValueError, match="level"):
        add_noise(x, "masking", 1.5)
    with pytest.raises(ValueError, match="level"):
        add_noise(x, "gaussian", -0.1)


@pytest.mark.parametrize("kind", list(NOISE_KINDS))
def test_frames_shape_and_match_add_noise_levels(kind):
    x = torch.rand(5, 1, 10, 10)
    frames = noise_frames(x, kind, [0.0, 0.1, 0.2, 0.4], seed=1)
    assert frames.shape == (4, 5, 1, 10, 10)
    assert torch.equal(frames[0], x)
    assert frames.min() >= 0 and frames.max() <= 1
    assert torch.equal(frames, noise_frames(x, kind, [0.0, 0.1, 0.2, 0.4], seed=1))


@pytest.mark.parametrize("kind", ["masking", "occlusion"])
def test_frames_are_nested(kind):
    x = torch.ones(6, 1, 28, 28)
    zero = noise_frames(x, kind, [0.05, 0.1, 0.2, 0.3, 0.5], seed=0) == 0
    for k in range(len(zero) - 1):
        assert not (zero[k] & ~zero[k + 1]).any()  # frame k's zeros are a subset of frame k+1's
        assert zero[k + 1].sum() > zero[k].sum()


def test_salt_pepper_frames_only_add_pixels_and_keep_their_colour():
    x = torch.full((4, 1, 16, 16), 0.5)
    frames = noise_frames(x, "salt_pepper", [0.1, 0.3], seed=0)
    hit = frames != 0.5
    assert not (hit[0] & ~hit[1]).any()
    assert torch.equal(frames[0][hit[0]], frames[1][hit[0]])


def test_gaussian_frames_share_one_eps():
    x = torch.full((2, 1, 8, 8), 0.5)
    frames = noise_frames(x, "gaussian", [0.01, 0.02], seed=0)
    torch.testing.assert_close(frames[1] - 0.5, 2 * (frames[0] - 0.5), atol=1e-6, rtol=1e-4)


def test_parse_round_trip_and_errors():
    spec = parse_noise("masking:0.3")
    assert spec == NoiseSpec("masking", 0.3) and str(spec) == "masking:0.3"
    specs = (NoiseSpec("gaussian", 0.5), NoiseSpec("occlusion", 0.1 + 0.2), NoiseSpec("salt_pepper", 0.0))
    for spec in specs:
        assert parse_noise(str(spec)) == spec
    assert parse_noise(" Salt-Pepper:0.1 ") == NoiseSpec("salt_pepper", 0.1)
    for bad, match in (
        ("blur:0.3", "unknown noise kind"),
        ("masking", "no level"),
        ("masking:abc", "not a number"),
        ("masking:0.9", r"\[0, 0.7\]"),
        ("gaussian:-1", "sigma"),
        ("gaussian:nan", "sigma"),
    ):
        with pytest.raises(ValueError, match=match):
            parse_noise(bad)
