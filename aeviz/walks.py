"""Latent-space maths for the VAE page: interpolation, traversals, KL per dimension, prior samples, grids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

NEAR_ZERO = 1e-8  # norms below this have no direction to slerp along
NEAR_PARALLEL = 1e-6  # |sin(angle)| below this: slerp's weights blow up, lerp is the same path anyway


def _vec(z) -> torch.Tensor:
    z = torch.as_tensor(z)
    if z.ndim != 1:
        raise ValueError(f"expected a code of shape (q,), got {tuple(z.shape)}")
    return z if z.is_floating_point() else z.float()


def _ts(ts, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(ts, dtype=like.dtype, device=like.device).reshape(-1)
    return t[:, None]  # (T,1), broadcasts against (q,)


def lerp(z0, z1, ts) -> torch.Tensor:
    """Straight-line codes (1-t)·z0 + t·z1, (T,q); t=0 and t=1 give z0 and z1 exactly."""
    z0, z1 = _vec(z0), _vec(z1)
    t = _ts(ts, z0)
    return (1 - t) * z0 + t * z1


def slerp(z0, z1, ts) -> torch.Tensor:
    """Spherical interpolation, (T,q): the direction turns along the great circle from z0 to z1.

    The norm goes linearly from |z0| to |z1| instead of sagging towards the origin like lerp's does.
    In q dimensions N(0,I) samples live on a thin shell of radius ≈ sqrt(q), so keeping the norm keeps
    every interpolated code somewhere the decoder was trained on. Falls back to lerp when either code is
    ~0 or the two are (anti-)parallel, where the great circle is undefined or degenerate.
    """
    z0, z1 = _vec(z0), _vec(z1)
    t = _ts(ts, z0).double()  # float64: float32 arccos near ±1 is too coarse to spot (anti-)parallel codes
    n0, n1 = z0.double().norm(), z1.double().norm()
    if min(n0.item(), n1.item()) < NEAR_ZERO:
        return lerp(z0, z1, ts)
    u0, u1 = z0.double() / n0, z1.double() / n1
    omega = torch.arccos((u0 @ u1).clamp(-1.0, 1.0))
    if torch.sin(omega).abs().item() < NEAR_PARALLEL:
        return lerp(z0, z1, ts)
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)  # (T,q)
    out = (((1 - t) * n0 + t * n1) * direction).to(z0.dtype)
    # |z|·(z/|z|) can be off by an ulp; the endpoints should be the codes themselves
    out = torch.where(t == 0, z0, out)
    return torch.where(t == 1, z1, out)


def traversal(z, dims: Sequence[int], *, span: float = 3.0, steps: int = 9, scale=None, center=None) -> torch.Tensor:
    """Copies of z with one dim swept over linspace(-span, span, steps), (len(dims), steps, q).

    The swept dim d is *set* to center[d] + v·scale[d] (center 0 and scale 1 when not given: absolute
    values, right for a VAE's N(0,1) prior); pass the per-dim mean and std of the codes for a plain AE.
    The other dims keep z's values.
    """
    z = _vec(z)
    q = z.shape[0]
    values = torch.linspace(-span, span, steps, dtype=z.dtype, device=z.device)  # (S,)
    scale = torch.ones(q) if scale is None else torch.as_tensor(scale)
    center = torch.zeros(q) if center is None else torch.as_tensor(center)
    scale, center = (v.to(dtype=z.dtype, device=z.device) for v in (scale, center))
    out = z.repeat(len(dims), steps, 1)  # (D,S,q)
    for i, d in enumerate(dims):
        out[i, :, int(d)] = center[int(d)] + values * scale[int(d)]
    return out


def kl_per_dim(mu, logvar) -> np.ndarray:
    """Mean over the batch of KL(N(mu, exp(logvar)) || N(0,1)) for each latent dim, (q,) float64."""
    mu = np.asarray(torch.as_tensor(mu).detach().cpu(), dtype=np.float64)
    logvar = np.asarray(torch.as_tensor(logvar).detach().cpu(), dtype=np.float64)
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)  # (N,q)
    return kl.reshape(-1, kl.shape[-1]).mean(axis=0)


ACTIVE_VARIANCE = 0.01  # Burda et al. (2016): a unit is active when its posterior mean varies more than this


def mean_variance(mu) -> np.ndarray:
    """Variance over the inputs of each dim's posterior mean, (q,) float64: Var_x(E_q(z|x)[z_d])."""
    mu = np.asarray(torch.as_tensor(mu).detach().cpu(), dtype=np.float64)
    return mu.reshape(-1, mu.shape[-1]).var(axis=0)


def active_units(mu, threshold: float = ACTIVE_VARIANCE) -> np.ndarray:
    """Which latent dims are active, (q,) bool: their posterior mean moves with the input (Burda et al.'s
    criterion). An inactive dim's mean is the same for every image, so the decoder cannot read anything from it:
    posterior collapse."""
    return mean_variance(mu) > threshold


def rank_dims_by_kl(kl) -> np.ndarray:
    """Latent dim indices by their mean KL (kl_per_dim), most informative first; collapsed dims come last."""
    return np.argsort(-np.asarray(kl), kind="stable")


def prior_samples(n: int, q: int, *, temperature: float = 1.0, seed: int) -> torch.Tensor:
    """n codes from N(0, temperature²·I), (n,q) float32 on the CPU; the same seed gives the same codes."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, q, generator=gen) * temperature


def _axis(n: int, lo, hi, gaussian: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if gaussian:
        values = torch.special.ndtri(torch.linspace(0.05, 0.95, n, dtype=torch.float64))
        return values, values
    lo = np.broadcast_to(np.asarray(-3.0 if lo is None else lo, dtype=np.float64), (2,))
    hi = np.broadcast_to(np.asarray(3.0 if hi is None else hi, dtype=np.float64), (2,))
    return (
        torch.linspace(float(lo[0]), float(hi[0]), n, dtype=torch.float64),
        torch.linspace(float(lo[1]), float(hi[1]), n, dtype=torch.float64),
    )


def manifold_grid(n: int, *, lo=None, hi=None, gaussian: bool = True) -> torch.Tensor:
    """n×n points on a 2-d code plane, (n*n, 2) float32, row-major with y decreasing downwards.

    gaussian=True spaces them by normal quantiles of linspace(0.05, 0.95, n), as in the classic Keras
    VAE manifold, so each cell covers equal prior mass. Otherwise they are linear between lo and hi
    (scalars or (x, y) pairs; default ±3). Decoding row by row renders like an image: up is +y.
    """
    if gaussian and (lo is not None or hi is not None):
        raise ValueError("lo/hi only apply to a linear grid; pass gaussian=False")
    xs, ys = _axis(n, lo, hi, gaussian)
    gy, gx = torch.meshgrid(ys.flip(0), xs, indexing="ij")  # (n,n) each, top row = largest y
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).float()
