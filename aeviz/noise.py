"""Image corruptions for denoising (gaussian, salt & pepper, masking, occlusion), and noise sweeps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NoiseKind:
    """How a corruption is presented: its label, its one parameter and that parameter's slider range."""

    label: str
    param: str
    min: float
    max: float
    default: float
    description: str


NOISE_KINDS: dict[str, NoiseKind] = {
    "gaussian": NoiseKind(
        "Gaussian", "sigma", 0.0, 1.0, 0.5, "adds N(0, sigma²) to every pixel, then clips the result to [0, 1]"
    ),
    "salt_pepper": NoiseKind(
        "Salt & pepper", "p", 0.0, 0.5, 0.2, "sets a fraction p of pixels to black or white, with equal chance"
    ),
    "masking": NoiseKind("Masking", "p", 0.0, 0.7, 0.3, "sets a random fraction p of pixels to black"),
    "occlusion": NoiseKind(
        "Occlusion",
        "area",
        0.0,
        0.5,
        0.2,
        "blacks out one random square block covering about a fraction `area` of the image "
        "(its side is rounded to whole pixels)",
    ),
}

# Levels beyond these make no sense whatever the slider says (a fraction above 1, a negative sigma).
_HARD_MAX = {"gaussian": math.inf, "salt_pepper": 1.0, "masking": 1.0, "occlusion": 1.0}


@dataclass(frozen=True)
class NoiseSpec:
    """A corruption and its level; `str(spec)` gives 'kind:level', which `parse_noise` reads back."""

    kind: str
    level: float

    def __str__(self) -> str:
        short = f"{self.level:g}"
        return f"{self.kind}:{short if float(short) == self.level else repr(float(self.level))}"


def parse_noise(text: str) -> NoiseSpec:
    """'masking:0.3' -> NoiseSpec('masking', 0.3); the level must lie in the kind's slider range."""
    kind, sep, level_text = str(text).strip().partition(":")
    kind = kind.strip().lower().replace("-", "_")
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r} in {text!r}; choose one of {', '.join(NOISE_KINDS)}")
    if not sep:
        raise ValueError(f"noise {text!r} has no level; write it as 'kind:level', e.g. '{kind}:0.3'")
    try:
        level = float(level_text)
    except ValueError:
        raise ValueError(f"noise level {level_text.strip()!r} in {text!r} is not a number") from None
    spec = NOISE_KINDS[kind]
    if not spec.min <= level <= spec.max:  # also rejects NaN
        bounds = f"[{spec.min:g}, {spec.max:g}]"
        raise ValueError(f"{kind} {spec.param} must lie in {bounds}, not {level_text.strip()}")
    return NoiseSpec(kind, level)


def _check(kind: str, levels: Sequence[float]) -> None:
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    for level in levels:
        if not 0.0 <= float(level) <= _HARD_MAX[kind]:
            raise ValueError(f"{kind} level must lie in [0, {_HARD_MAX[kind]:g}], not {level}")


def _generator(x: torch.Tensor, generator: torch.Generator | None, seed: int | None):
    if generator is not None:
        return generator
    if seed is None:
        return None  # the global RNG, so torch.manual_seed governs training-time noise
    return torch.Generator(device=x.device).manual_seed(int(seed))


def _draw(fn, shape, x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """rand/randn on the generator's device (x's device when there is none), then moved to x's device."""
    device = gen.device if gen is not None else x.device
    return fn(shape, generator=gen, device=device, dtype=torch.float32).to(x.device)


def _block_masks(x: torch.Tensor, lv: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """Nested square blocks sharing one centre per image: (L,N,1,H,W) bool, True inside the block."""
    n, _, h, w = x.shape
    sides = (lv.flatten() * h * w).sqrt().round().clamp(max=min(h, w)).long()  # (L,)
    biggest = int(sides.max())
    corner = _draw(torch.rand, (2, n), x, gen)  # where the biggest block sits, uniform over the image
    top = (corner[0] * (h - biggest + 1)).floor().long()[None] + (biggest - sides[:, None]) // 2  # (L,N)
    left = (corner[1] * (w - biggest + 1)).floor().long()[None] + (biggest - sides[:, None]) // 2
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    in_rows = (rows >= top[..., None]) & (rows < (top + sides[:, None])[..., None])  # (L,N,H)
    in_cols = (cols >= left[..., None]) & (cols < (left + sides[:, None])[..., None])  # (L,N,W)
    return (in_rows[..., :, None] & in_cols[..., None, :])[:, :, None]  # (L,N,1,H,W)


def _frames(x: torch.Tensor, kind: str, levels: Sequence[float], gen: torch.Generator | None) -> torch.Tensor:
    """All levels from one random field, (L,N,C,H,W); per-pixel fields are shared across channels."""
    lv = torch.as_tensor([float(v) for v in levels], dtype=torch.float32, device=x.device)
    lv = lv.view(-1, 1, 1, 1, 1)  # (L,1,1,1,1)
    pixel_shape = (x.shape[0], 1, *x.shape[2:])
    if kind == "gaussian":
        eps = _draw(torch.randn, x.shape, x, gen)
        noisy = (x[None] + lv * eps[None]).clamp(0, 1)
        return torch.where(lv > 0, noisy, x[None]).to(x.dtype)  # level 0 stays exactly x, even unclipped
    if kind == "occlusion":
        return x[None].masked_fill(_block_masks(x, lv, gen), 0.0)
    u = _draw(torch.rand, pixel_shape, x, gen)[None]  # u < p picks the pixels, so they only grow with p
    if kind == "masking":
        return x[None].masked_fill(u < lv, 0.0)
    salt = (_draw(torch.rand, pixel_shape, x, gen) < 0.5).to(x.dtype)[None]  # white or black, 50/50
    return torch.where(u < lv, salt, x[None])


def add_noise(
    x: torch.Tensor, kind: str, level: float, *, generator: torch.Generator | None = None, seed: int | None = None
) -> torch.Tensor:
    """Corrupted copy of x (N,C,H,W) in [0,1], on x's device; deterministic given `seed` or `generator`.

    Without either, torch's global RNG is used (what the denoising trainer wants). Level 0 returns a copy.
    """
    _check(kind, [level])
    if float(level) == 0.0:
        return x.clone()
    return _frames(x, kind, [level], _generator(x, generator, seed))[0]


def occlusion_mask(x: torch.Tensor, area: float, *, seed: int) -> torch.Tensor:
    """(N,1,H,W) bool, True inside the block that add_noise(x, "occlusion", area, seed=seed) blacks out."""
    _check("occlusion", [area])
    level = torch.tensor([float(area)], dtype=torch.float32, device=x.device)
    return _block_masks(x, level, _generator(x, None, seed))[0]


def noise_frames(x: torch.Tensor, kind: str, levels: Sequence[float], *, seed: int) -> torch.Tensor:
    """Noisy versions of x at several levels, (L,N,C,H,W), all cut from one random field.

    Sharing the field makes a level slider look continuous: gaussian scales the same eps, masking and
    salt & pepper threshold the same uniform u (corrupted pixels are only ever added as p grows) and
    occlusion grows a block around the same centre.
    """
    _check(kind, levels)
    if len(levels) == 0:
        return x.new_zeros((0, *x.shape))
    return _frames(x, kind, levels, _generator(x, None, seed))
