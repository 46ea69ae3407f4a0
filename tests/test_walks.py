"""Latent maths: interpolation endpoints and norms, traversals, KL ranking, prior samples, manifold grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aeviz.walks import kl_per_dim, lerp, manifold_grid, prior_samples, rank_dims_by_kl, slerp, traversal


@pytest.mark.parametrize("interp", [lerp, slerp])
def test_endpoints_are_exact(interp):
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=gen), 3 * torch.randn(16, generator=gen)
    path = interp(z0, z1, torch.linspace(0, 1, 7))
    assert path.shape == (7, 16)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert interp(z0, z1, [0.5]).shape == (1, 16)  # a plain sequence works too


def test_slerp_norm_goes_linearly_between_the_endpoint_norms():
    z0, z1 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    path = slerp(z0, z1, [0.25, 0.5, 0.75])
    torch.testing.assert_close(path.norm(dim=1), torch.tensor([1.5, 2.0, 2.5]))


def test_slerp_keeps_the_shell_where_lerp_cuts_inside():
    z0, z1 = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    mid_slerp, mid_lerp = slerp(z0, z1, [0.5])[0], lerp(z0, z1, [0.5])[0]
    assert mid_slerp.norm().item() == pytest.approx(2.0)
    assert mid_lerp.norm().item() == pytest.approx(2.0 / math.sqrt(2))
    torch.testing.assert_close(mid_slerp, torch.tensor([math.sqrt(2), math.sqrt(2)]))


@pytest.mark.parametrize("z1", [torch.tensor([2.0, 4.0]), torch.tensor([-1.0, -2.0]), torch.zeros(2)])
def test_slerp_falls_back_to_lerp_when_degenerate(z1):
    z0 = torch.tensor([1.0, 2.0])
    ts = torch.linspace(0, 1, 5)
    path = slerp(z0, z1, ts)
    assert torch.isfinite(path).all()
    torch.testing.assert_close(path, lerp(z0, z1, ts))


def test_traversal_changes_only_the_chosen_dim():
    z = torch.arange(6, dtype=torch.float32)
    out = traversal(z, [1, 4], span=2.0, steps=5)
    assert out.shape == (2, 5, 6)
    torch.testing.assert_close(out[0, :, 1], torch.linspace(-2, 2, 5))
    torch.testing.assert_close(out[1, :, 4], torch.linspace(-2, 2, 5))
    keep = torch.ones(6, dtype=torch.bool)
    keep[1] = False
    assert torch.equal(out[0][:, keep], z[keep].expand(5, 5))
    keep = torch.ones(6, dtype=torch.bool)
    keep[4] = False
    assert torch.equal(out[1][:, keep], z[keep].expand(5, 5))


def test_traversal_in_units_of_scale_around_center():
    z = torch.zeros(3)
    scale, center = torch.tensor([1.0, 0.5, 2.0]), torch.tensor([0.0, 0.0, 10.0])
    out = traversal(z, [2], span=3.0, steps=3, scale=scale, center=center)
    torch.testing.assert_close(out[0, :, 2], torch.tensor([4.0, 10.0, 16.0]))
    assert traversal(z, [1], steps=3, scale=scale)[0, :, 1].tolist() == [-1.5, 0.0, 1.5]


def test_kl_per_dim_and_ranking():
    mu = torch.zeros(32, 4)
    logvar = torch.zeros(32, 4)
    mu[:, 2] = 3.0  # far from the prior: most informative
    logvar[:, 0] = -2.0  # narrow posterior: some information
    kl = kl_per_dim(mu, logvar)
    assert isinstance(kl, np.ndarray) and kl.shape == (4,)
    assert kl[1] == kl[3] == 0.0
    assert kl[2] == pytest.approx(4.5)
    assert kl[0] == pytest.approx(0.5 * (math.exp(-2) - 1 + 2))
    assert rank_dims_by_kl(kl).tolist() == [2, 0, 1, 3]
    assert rank_dims_by_kl(kl_per_dim(mu.numpy(), logvar.numpy())).tolist() == [2, 0, 1, 3]


def test_prior_samples_are_seeded_with_temperature():
    a = prior_samples(4000, 8, temperature=0.5, seed=1)
    assert a.shape == (4000, 8)
    assert torch.equal(a, prior_samples(4000, 8, temperature=0.5, seed=1))
    assert not torch.equal(a, prior_samples(4000, 8, temperature=0.5, seed=2))
    assert a.std().item() == pytest.approx(0.5, rel=0.03)
    assert a.mean().abs().item() < 0.02


def test_gaussian_manifold_grid_layout():
    n = 5
    grid = manifold_grid(n)
    assert grid.shape == (n * n, 2)
    cells = grid.reshape(n, n, 2)
    assert (cells[:, 1:, 0] > cells[:, :-1, 0]).all()  # x grows to the right
    assert (cells[1:, :, 1] < cells[:-1, :, 1]).all()  # y shrinks downwards
    assert cells[0, 0, 0].item() == pytest.approx(-1.6448536, abs=1e-5)  # ppf(0.05)
    assert cells[0, 0, 1].item() == pytest.approx(1.6448536, abs=1e-5)
    assert cells[2, 2].abs().max().item() < 1e-6


def test_linear_manifold_grid_between_lo_and_hi():
    grid = manifold_grid(3, lo=(-1.0, 0.0), hi=(1.0, 4.0), gaussian=False)
    assert grid[:3].tolist() == [[-1.0, 4.0], [0.0, 4.0], [1.0, 4.0]]
    assert grid[-1].tolist() == [1.0, 0.0]
    assert manifold_grid(2, gaussian=False).tolist() == [[-3.0, 3.0], [3.0, 3.0], [-3.0, -3.0], [3.0, -3.0]]
    with pytest.raises(ValueError, match="gaussian=False"):
        manifold_grid(3, lo=-1, hi=1)
