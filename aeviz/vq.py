"""VQ-VAE's parts (van den Oord et al. 2017): the token-grid conv nets, a codebook with straight-through
gradients, commitment loss, EMA updates and dead-code restarts, and codebook usage."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

USAGE_DECAY = 0.9  # of each code's share of a batch's tokens: a moving average over about ten batches
DEAD_SHARE = 0.1  # a code whose share falls under this fraction of a fair one (1/K) is restarted: ~20 batches


def grid_encoder(in_channels: int, channels: tuple[int, ...], code_dim: int) -> nn.Sequential:
    """(N,C,H,W) -> (N,code_dim,H/2^L,W/2^L): a 4x4 stride-2 convolution per width, a 3x3 one at the grid's
    size, then a 1x1 projection to the code vectors (no activation: the codebook lives in the same space)."""
    ins = [in_channels, *channels]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(ins[:-1], ins[1:], strict=False):
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
    layers += [nn.Conv2d(channels[-1], channels[-1], 3, padding=1), nn.ReLU(), nn.Conv2d(channels[-1], code_dim, 1)]
    return nn.Sequential(*layers)


def grid_decoder(out_channels: int, channels: tuple[int, ...], code_dim: int) -> nn.Sequential:
    """The mirror of `grid_encoder`: code vectors (N,code_dim,h,w) -> logits (N,C,h·2^L,w·2^L)."""
    outs = [*reversed(channels), out_channels]
    layers: list[nn.Module] = [nn.Conv2d(code_dim, channels[-1], 3, padding=1), nn.ReLU()]
    for i, (c_in, c_out) in enumerate(zip(outs[:-1], outs[1:], strict=False)):
        layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
        if i < len(outs) - 2:  # no activation on the output layer: it returns logits
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Codebook(nn.Module):
    """K code vectors of width D. forward((N,D,h,w)) gives the nearest code of each cell with straight-through
    gradients, the token indices and the loss parts: 'commitment' (beta·|z_e - sg(e)|²) always, 'codebook'
    (|sg(z_e) - e|²) when learned by gradient. With `ema` the codes follow the running mean of the vectors
    assigned to them instead. In training, a code that no token picks lately is moved to a random encoder output
    of the batch; the first training batch seeds every code that way."""

    embedding: torch.Tensor  # a buffer with EMA updates, else a parameter
    usage: torch.Tensor  # buffers, declared for the type checker
    ema_count: torch.Tensor
    ema_sum: torch.Tensor

    def __init__(self, size: int, dim: int, *, ema: bool, decay: float, commitment: float) -> None:
        super().__init__()
        self.ema, self.decay, self.commitment = ema, decay, commitment
        codes = torch.empty(size, dim).uniform_(-1 / size, 1 / size)  # replaced by data on the first batch
        if ema:  # a buffer: no gradient, so the optimiser's fused step sees only parameters that have one
            self.register_buffer("embedding", codes)
        else:
            self.embedding = nn.Parameter(codes)
        self.register_buffer("usage", torch.zeros(size))  # each code's share of a batch's tokens (moving average)
        if ema:
            self.register_buffer("ema_count", torch.zeros(size))
            self.register_buffer("ema_sum", self.embedding.detach().clone())

    @property
    def size(self) -> int:
        return self.embedding.shape[0]

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """(M,D) vectors -> (M,) index of the nearest code (squared Euclidean distance)."""
        codes = self.embedding.detach()
        distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codes.T + codes.pow(2).sum(1)  # (M,K)
        return distances.argmin(dim=1)

    def lookup(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N,h,w) indices -> (N,D,h,w) code vectors."""
        return self.embedding.detach()[tokens].permute(0, 3, 1, 2)

    def quantize(self, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,D,h,w) -> the nearest codes (N,D,h,w), no gradient, and their indices (N,h,w)."""
        n, d, h, w = grid.shape
        tokens = self.nearest(grid.detach().permute(0, 2, 3, 1).reshape(-1, d)).reshape(n, h, w)
        return self.lookup(tokens), tokens

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        z_q, tokens = self.quantize(z_e)
        losses = {"commitment": self.commitment * F.mse_loss(z_e, z_q)}
        if not self.ema:  # the same distance, its gradient sent to the codes instead of the encoder
            picked = self.embedding[tokens].permute(0, 3, 1, 2)  # (N,D,h,w), differentiable in the codes
            losses["codebook"] = F.mse_loss(picked, z_e.detach())
        if self.training:
            self._update(z_e.detach().permute(0, 2, 3, 1).reshape(-1, z_e.shape[1]), tokens.reshape(-1))
        if not z_e.requires_grad:  # nothing to pass a gradient to: the codes themselves, bit for bit
            return z_q, tokens, losses
        straight_through = z_e + (z_q - z_e).detach()  # forward: z_q (to rounding); backward: the identity to z_e
        return straight_through, tokens, losses

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, tokens: torch.Tensor) -> None:
        """EMA step (if any) and restarts, from one training batch's vectors (M,D) and their tokens (M,)."""
        fair = 1.0 / self.size
        if self.usage.sum() == 0:  # never trained: every code starts at one of the encoder's outputs
            self._restart(torch.arange(self.size, device=flat.device), flat, fair)
            return
        counts = torch.bincount(tokens, minlength=self.size).to(flat.dtype)  # (K,)
        self.usage.mul_(USAGE_DECAY).add_(counts / len(tokens), alpha=1 - USAGE_DECAY)
        if self.ema:
            sums = torch.zeros_like(self.ema_sum).index_add_(0, tokens, flat)  # (K,D)
            self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            total = self.ema_count.sum()  # Laplace smoothing keeps a rarely used code's divisor above 0
            smoothed = (self.ema_count + 1e-5) / (total + self.size * 1e-5) * total
            self.embedding.copy_(self.ema_sum / smoothed[:, None])
        dead = (self.usage < DEAD_SHARE * fair).nonzero().squeeze(1)
        if len(dead):
            self._restart(dead, flat, fair)

    def _restart(self, codes: torch.Tensor, flat: torch.Tensor, share: float) -> None:
        """Move `codes` to random rows of `flat` (the global RNG, which training seeds) with a fair share."""
        picks = flat[torch.randint(len(flat), (len(codes),), device=flat.device)]
        self.embedding[codes] = picks
        self.usage[codes] = share
        if self.ema:
            self.ema_sum[codes], self.ema_count[codes] = picks, 1.0


def codebook_usage(tokens: np.ndarray | torch.Tensor, size: int) -> dict[str, float]:
    """How a codebook of `size` codes is used by `tokens` (any shape): 'perplexity', exp of the entropy of the
    codes' frequencies (the number of equally used codes that would give the same entropy: `size` at best, 1
    when one code takes every token), and 'dead_codes', how many codes no token picks."""
    counts = np.bincount(np.asarray(tokens, dtype=np.int64).reshape(-1), minlength=size).astype(np.float64)
    if counts.sum() == 0:
        return {"perplexity": 0.0, "dead_codes": float(size)}
    p = counts / counts.sum()
    entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
    return {"perplexity": float(np.exp(entropy)), "dead_codes": float((counts == 0).sum())}
