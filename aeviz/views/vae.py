"""VAE views: interpolation (VAE against a plain AE), KL-ranked traversals, prior samples, the 2-d manifold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import decode_all, device_of, encode_all, reconstruct_all, sharpness
from ..models import VAE, AutoEncoder
from ..walks import kl_per_dim, lerp, prior_samples, slerp, traversal
from . import figures
from .lettering import Fit
from .scrub import cell_scale, compose_frames, scrub_at

INTERP_STEPS = 21  # positions of the t slider shipped to the browser
STRIP_EVERY = 2  # the static strip shows every other step: t = 0, 0.1, ..., 1
SPAN = 3.0  # traversals and the manifold (vaeplane) cover ±3 prior standard deviations


def _tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


@dataclass(frozen=True)
class Interpolation:
    """Decoded paths between two images: t values, the two inputs and each path's images."""

    ts: np.ndarray  # (T,)
    ends: np.ndarray  # (2,C,H,W)
    paths: dict[str, np.ndarray]  # label -> (T,C,H,W)


def interpolate(vae: VAE, pair, *, ae: AutoEncoder | None = None, steps: int = INTERP_STEPS) -> Interpolation:
    """Linear and spherical paths between the posterior means of two images (N=2), and a plain AE's line.

    Each model decodes all of its codes in one pass; t=0 and t=1 decode exactly the endpoints' codes.
    """
    ends = _tensor(pair)
    ts = np.linspace(0.0, 1.0, steps)
    z = torch.from_numpy(encode_all(vae, ends))  # (2,q) posterior means
    codes = torch.cat([lerp(z[0], z[1], ts), slerp(z[0], z[1], ts)])  # (2T,q)
    decoded = decode_all(vae, codes)
    paths = {"VAE · linear": decoded[:steps], "VAE · spherical": decoded[steps:]}
    if ae is not None:
        w = torch.from_numpy(encode_all(ae, ends))
        paths["plain AE · linear"] = decode_all(ae, lerp(w[0], w[1], ts))
    return Interpolation(ts, ends.numpy(), paths)


def _scale(fit: Fit | None, image_hw, rows: int, cols: int, default: int, **layout) -> tuple[int, int | None]:
    """(scale, text px): sized to `fit` (the box on screen, text at the body size), or cells of `default` px."""
    if fit is None:
        return cell_scale(image_hw[0], default), None
    return fit.scale(tuple(image_hw), rows, cols, **layout), fit.text_px


def interpolation_frames(result: Interpolation, *, fit: Fit | None = None, theme: str = "light") -> np.ndarray:
    """One picture per t, (T,H',W') uint8 ((T,H',W',3) in colour): a row per path: A, the image at t, B."""
    a, b = result.ends  # each (C,H,W)
    rows = [
        np.stack([np.broadcast_to(a, p.shape), p, np.broadcast_to(b, p.shape)], axis=1)
        for p in map(np.asarray, result.paths.values())
    ]  # each (T,3,C,H,W): A, the image at t, B
    labels = list(result.paths)
    scale, text = _scale(fit, result.ends.shape[-2:], len(rows), 3, 140, row_labels=labels, header=True, captions=False)
    heads = ["A", "at t", "B"]  # t itself is the slider's value, in large type right under the pictures
    return compose_frames(rows, row_labels=labels, col_labels=heads, scale=scale, theme=theme, text_px=text)


def interpolation_scrub(result: Interpolation, *, theme: str = "light", fit: Fit | None = None):
    """A figure whose own slider moves t in the browser; it opens half way, where the paths differ most."""
    text = fit.text_px if fit is not None else 14
    room = round(figures.SLIDER_LINES * text)
    return scrub_at(
        interpolation_frames(result, theme=theme, fit=None if fit is None else fit.shorter(room)),
        labels=[f"{t:.2f}" for t in result.ts],
        start=len(result.ts) // 2,
        prefix="t = ",
        text_px=text,
    )


def interpolation_strip(
    result: Interpolation, *, every: int = STRIP_EVERY, fit: Fit | None = None, theme: str = "light"
) -> np.ndarray:
    """Every `every`-th step of each path side by side, a column per t: one RGB picture."""
    ts = result.ts[::every]
    labels = list(result.paths)
    scale, text = _scale(fit, result.ends.shape[-2:], len(labels), len(ts), 84, row_labels=labels, header=True)
    return figures.compose_grid(
        [p[::every] for p in result.paths.values()],
        row_labels=labels,
        col_labels=[f"{t:.1f}" for t in ts],
        scale=scale,
        theme=theme,
        text_px=text,
    )


def code_kl(vae: VAE, x, batch: int = 2048) -> np.ndarray:
    """Mean KL to the prior of each code dimension over the images x, (q,): high means informative."""
    x = _tensor(x)
    device = device_of(vae)
    with torch.inference_mode():
        stats = [vae.encode_stats(x[i : i + batch].to(device)) for i in range(0, len(x), batch)]
    return kl_per_dim(torch.cat([m for m, _ in stats]).cpu(), torch.cat([v for _, v in stats]).cpu())


def traverse(vae: VAE, image, dims: Sequence[int], *, steps: int = 9, span: float = SPAN) -> np.ndarray:
    """One image's code with each dim in `dims` set to -span..span in turn, decoded: (D,S,C,H,W)."""
    x = _tensor(image).reshape(1, *np.shape(image)[-3:])
    z = torch.from_numpy(encode_all(vae, x))[0]
    codes = traversal(z, dims, span=span, steps=steps)  # (D,S,q)
    decoded = decode_all(vae, codes.flatten(0, 1))
    return decoded.reshape(len(dims), steps, *decoded.shape[1:])


def traversal_picture(
    images: np.ndarray,
    dims: Sequence[int],
    kl: np.ndarray,
    *,
    span: float = SPAN,
    theme: str = "light",
    fit: Fit | None = None,
) -> np.ndarray:
    """A grid of dims × steps, each row labelled with its dim and KL, columns with the value set."""
    steps = images.shape[1]
    labels = [f"z{d}  KL {kl[d]:.2f}" for d in dims]
    scale, text = _scale(fit, images.shape[-2:], len(dims), steps, 84, row_labels=labels, header=True, captions=False)
    return figures.compose_grid(
        list(images),  # a (S,C,H,W) row per dim
        row_labels=labels,
        col_labels=[f"{v:+.1f}" for v in np.linspace(-span, span, steps)],
        scale=scale,
        theme=theme,
        text_px=text,
    )


def sample(vae: VAE, n: int, *, temperature: float = 1.0, seed: int) -> np.ndarray:
    """n images decoded from codes drawn from N(0, temperature²·I), (n,C,H,W)."""
    return decode_all(vae, prior_samples(n, vae.bottleneck, temperature=temperature, seed=seed))


def blur_note(vae: VAE, test_images: np.ndarray, temperature: float, seed: int, count: int = 32) -> str:
    """Whether the samples shown are blurrier than reconstructions, from the numbers: the sharpness of the same
    draw beside that of `count` test images' reconstructions and of the images themselves."""
    drawn = sharpness(sample(vae, count, temperature=temperature, seed=seed))
    rebuilt = sharpness(reconstruct_all(vae, torch.from_numpy(test_images[:count])))
    real = sharpness(test_images[:count])
    figures_ = f"samples {drawn:.3f}, reconstructions {rebuilt:.3f}, the test images {real:.3f}"
    if drawn < 0.9 * rebuilt:
        verdict = f"these samples are blurrier than reconstructions (about {100 * (1 - drawn / rebuilt):.0f} % less)"
    elif drawn > 1.1 * rebuilt:
        verdict = "these samples are sharper than reconstructions (at this temperature, noisier codes)"
    else:
        verdict = "these samples are about as sharp as reconstructions"
    return f"Sharpness (mean absolute Laplacian: {figures_}): {verdict}."


def samples_picture(images: np.ndarray, columns: int = 8, theme: str = "light", fit: Fit | None = None) -> np.ndarray:
    rows = [images[i : i + columns] for i in range(0, len(images), columns)]
    scale, _ = _scale(fit, images.shape[-2:], len(rows), columns, 84, captions=False)
    return figures.compose_grid(rows, scale=scale, theme=theme)


KL_OFF = 0.01  # nats: a dimension whose mean KL is below this carries (almost) nothing about the image


def kl_note(kl: np.ndarray) -> str:
    """What the KL ranking says of this VAE's dimensions, from its numbers: some switched off, or none."""
    kl = np.asarray(kl, dtype=np.float64)
    off = int((kl < KL_OFF).sum())
    if off:
        return (
            f"Rows are sorted by KL (nats): {off} of the {len(kl)} dimensions have KL ≈ 0 (below {KL_OFF}); the "
            "VAE switched them off and they change nothing."
        )
    return (
        f"Rows are sorted by KL (nats), most informative first; all {len(kl)} dimensions carry information "
        f"(the least KL is {kl.min():.2f})."
    )


# --- what the page caches (once per checkpoint and parameters, shared by every session) ----------------------

KL_IMAGES = 2000  # enough test images to rank the code dimensions by KL


def two_images(images: np.ndarray, names: Sequence[str], test) -> tuple[np.ndarray, list[str]]:
    """The first two picked images and their names; test image #0 (of an aeviz.data.Dataset) stands in for a
    missing second one."""
    pair, names = images[:2], list(names)[:2]
    if len(pair) < 2:
        pair, names = np.concatenate([pair, test.images[:1].numpy()]), names + ["#0"]
    return pair, names


def interpolation_pictures(
    vae: VAE, pair: np.ndarray, theme: str, ae: AutoEncoder | None = None, fit: Fit | None = None
):
    """The interpolation scrub figure (filling `fit`) and its every-step strip (as wide; PNG bytes), from one
    decoding of the paths."""
    result = interpolate(vae, pair, ae=ae)
    wide = None if fit is None else Fit(fit.width, None, fit.text_px, fit.cell_px)
    strip = figures.png_bytes(interpolation_strip(result, theme=theme, fit=wide))
    return interpolation_scrub(result, theme=theme, fit=fit), strip


def dataset_kl(vae: VAE, test) -> np.ndarray:
    """KL per code dimension over the first KL_IMAGES images of a dataset (aeviz.data.Dataset)."""
    return code_kl(vae, test.images[:KL_IMAGES])


def traversal_png(
    vae: VAE, image: np.ndarray, dims: tuple, kl_values: np.ndarray, theme: str, fit: Fit | None = None
) -> bytes:
    return figures.png_bytes(traversal_picture(traverse(vae, image, dims), dims, kl_values, theme=theme, fit=fit))


def samples_png(vae: VAE, temperature: float, seed: int, theme: str, fit: Fit | None = None, count: int = 32) -> bytes:
    decoded = sample(vae, count, temperature=temperature, seed=seed)
    return figures.png_bytes(samples_picture(decoded, theme=theme, fit=fit))


def scrub_positions(fig) -> np.ndarray:
    """The interpolation parameter t of each frame of the scrub figure."""
    return np.linspace(0.0, 1.0, len(fig.frames))
