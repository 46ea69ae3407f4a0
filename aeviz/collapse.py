"""Posterior collapse in a VAE, over a dataset: KL per latent dimension and active units (Burda et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import encode_stats_all
from .walks import ACTIVE_VARIANCE, kl_per_dim, mean_variance


@dataclass(frozen=True)
class Collapse:
    """Per latent dimension: its mean KL to the prior in nats (`kl`) and the variance over the images of its
    posterior mean (`variance`); a dimension is active when that variance exceeds `threshold`."""

    kl: np.ndarray  # (q,) float64
    variance: np.ndarray  # (q,) float64
    threshold: float = ACTIVE_VARIANCE

    @property
    def active(self) -> np.ndarray:
        """(q,) bool: the dims the decoder can read the image from; the others collapsed to the prior."""
        return self.variance > self.threshold

    @property
    def active_units(self) -> int:
        return int(self.active.sum())

    @property
    def kl_total(self) -> float:
        """The KL term of the ELBO in nats per image: the information the code carries, at most."""
        return float(self.kl.sum())


def from_posterior(mu, logvar, threshold: float = ACTIVE_VARIANCE) -> Collapse:
    """Collapse of the posteriors N(mu, exp(logvar)) of a set of images, both (N,q)."""
    return Collapse(kl_per_dim(mu, logvar), mean_variance(mu), threshold)


def posterior_collapse(vae, images, threshold: float = ACTIVE_VARIANCE, batch: int = 2048) -> Collapse:
    """KL per dimension and active units of a VAE (anything with encode_stats) over images (N,C,H,W)."""
    return from_posterior(*encode_stats_all(vae, images, batch), threshold)
