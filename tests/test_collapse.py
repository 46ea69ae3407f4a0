"""Posterior collapse: KL per dimension and active units, on a VAE whose collapsed dimensions are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeviz.collapse import from_posterior, posterior_collapse
from aeviz.models import build_model
from aeviz.walks import ACTIVE_VARIANCE, active_units, kl_per_dim, mean_variance

Q = 5
COLLAPSED = (1, 3)  # dims whose posterior is the prior for every image
FAINT = 4  # a dim that moves, but less than Burda et al.'s 0.01


def known_vae():
    """A one-layer VAE (8x8 images, q=5): dims 1 and 3 have mean 0 and log-variance 0 whatever the image (the
    prior), dim 4's mean varies a little; dims 0 and 2 read the image."""
    torch.manual_seed(0)
    vae = build_model("vae", bottleneck=Q, input_shape=(1, 8, 8))
    layer = vae.encoder[-1]  # Linear(64, 2q): means, then log-variances
    with torch.no_grad():
        layer.weight[:Q] = torch.randn(Q, 64)  # active means: vary strongly with the pixels
        layer.weight[FAINT] *= 1e-3
        for d in COLLAPSED:
            layer.weight[d], layer.bias[d] = 0.0, 0.0
            layer.weight[Q + d], layer.bias[Q + d] = 0.0, 0.0
    return vae.eval()


def test_collapsed_dimensions_are_found_with_zero_kl():
    vae = known_vae()
    images = torch.rand(500, 1, 8, 8)
    found = posterior_collapse(vae, images, batch=128)  # batches agree with one pass
    assert found.active.tolist() == [True, False, True, False, False]
    assert found.active_units == 2
    assert all(found.kl[d] == 0 and found.variance[d] == 0 for d in COLLAPSED)
    assert found.kl[0] > 1 and found.kl[2] > 1 and 0 < found.variance[FAINT] < ACTIVE_VARIANCE
    assert found.kl_total == pytest.approx(found.kl.sum())
    with torch.no_grad():
        mu, logvar = vae.encode_stats(images)
    assert np.allclose(found.kl, kl_per_dim(mu, logvar)) and np.allclose(found.variance, mu.var(0, unbiased=False))
    assert vae.diagnostics(images)["active_units"] == 2
    assert posterior_collapse(vae, images, threshold=0.0).active_units == 3  # the faint dim moves, a little


def test_active_units_on_arrays():
    mu = np.array([[0.0, 1.0, 5.0], [0.0, -1.0, 5.05], [0.0, 1.0, 4.95]])
    assert mean_variance(mu) == pytest.approx([0.0, 8 / 9, 0.05**2 * 2 / 3])
    assert active_units(mu).tolist() == [False, True, False]
    assert active_units(mu, threshold=1e-4).tolist() == [False, True, True]
    found = from_posterior(mu, np.zeros_like(mu))
    assert found.active_units == 1 and found.kl == pytest.approx(0.5 * (mu**2).mean(0))
