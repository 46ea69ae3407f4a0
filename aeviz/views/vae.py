"""VAE views: interpolation (VAE against a plain AE), KL-ranked traversals, prior samples, the 2-d manifold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import decode_all, device_of, encode_all
from ..models import VAE, AutoEncoder
from ..walks import kl_per_dim, lerp, manifold_grid, prior_samples, slerp, traversal
from . import figures
from .scrub import cell_scale, compose_frames, scrub_at

INTERP_STEPS = 21  # positions of the t slider shipped to the browser
STRIP_EVERY = 2  # the static strip shows every other step: t = 0, 0.1, ..., 1
SPAN = 3.0  # traversals and the manifold cover ±3 prior standard deviations


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


def interpolation_frames(result: Interpolation, *, scale: int | None = None, theme: str = "light") -> np.ndarray:
    """One picture per t, (T,H',W') uint8 ((T,H',W',3) in colour): a row per path: A, the image at t, B."""
    scale = scale or cell_scale(result.ends.shape[-2], 140)
    a, b = result.ends  # each (C,H,W)
    rows = [
        np.stack([np.broadcast_to(a, p.shape), p, np.broadcast_to(b, p.shape)], axis=1)
        for p in map(np.asarray, result.paths.values())
    ]  # each (T,3,C,H,W): A, the image at t, B
    captions = [[["A", f"t = {t:.2f}", "B"]] * len(rows) for t in result.ts]
    return compose_frames(rows, row_labels=list(result.paths), cell_labels=captions, scale=scale, theme=theme)


def interpolation_scrub(result: Interpolation, *, theme: str = "light"):
    """A figure whose own slider moves t in the browser; it opens half way, where the paths differ most."""
    return scrub_at(
        interpolation_frames(result, theme=theme),
        labels=[f"{t:.2f}" for t in result.ts],
        start=len(result.ts) // 2,
        prefix="t = ",
    )


def interpolation_strip(
    result: Interpolation, *, every: int = STRIP_EVERY, scale: int | None = None, theme: str = "light"
) -> np.ndarray:
    """Every `every`-th step of each path side by side, a column per t: one RGB picture."""
    scale = scale or cell_scale(result.ends.shape[-2], 84)
    ts = result.ts[::every]
    return figures.compose_grid(
        [p[::every] for p in result.paths.values()],
        row_labels=list(result.paths),
        col_labels=[f"{t:.1f}" for t in ts],
        scale=scale,
        theme=theme,
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
    images: np.ndarray, dims: Sequence[int], kl: np.ndarray, *, span: float = SPAN, theme: str = "light"
) -> np.ndarray:
    """A grid of dims × steps, each row labelled with its dim and KL, columns with the value set."""
    steps = images.shape[1]
    return figures.compose_grid(
        list(images),  # a (S,C,H,W) row per dim
        row_labels=[f"z{d}  KL {kl[d]:.2f}" for d in dims],
        col_labels=[f"{v:+.1f}" for v in np.linspace(-span, span, steps)],
        scale=cell_scale(images.shape[-2], 84),
        theme=theme,
    )


def sample(vae: VAE, n: int, *, temperature: float = 1.0, seed: int) -> np.ndarray:
    """n images decoded from codes drawn from N(0, temperature²·I), (n,C,H,W)."""
    return decode_all(vae, prior_samples(n, vae.bottleneck, temperature=temperature, seed=seed))


def samples_picture(images: np.ndarray, columns: int = 8, theme: str = "light") -> np.ndarray:
    rows = [images[i : i + columns] for i in range(0, len(images), columns)]
    return figures.compose_grid(rows, scale=cell_scale(images.shape[-2], 84), theme=theme)


def manifold(vae: VAE, n: int = 20, span: float = SPAN, gaussian: bool = True) -> np.ndarray:
    """Decoded images on an n×n grid of a 2-d code, row-major, up is +z2: at normal quantiles of
    linspace(0.05, 0.95, n) (equal prior mass per cell, Kingma & Welling's figure) or linear over ±span."""
    if vae.bottleneck != 2:
        raise ValueError(f"the manifold needs a 2-d code, this model has {vae.bottleneck}")
    grid = manifold_grid(n) if gaussian else manifold_grid(n, lo=-span, hi=span, gaussian=False)
    return decode_all(vae, grid)


def prior_cdf(codes) -> np.ndarray:
    """Φ(z): a code's place on the prior's quantile scale, where equal areas hold equal prior mass."""
    return torch.special.ndtr(torch.as_tensor(np.asarray(codes, dtype=np.float64))).numpy()


def empty_cells(codes, n: int = 10) -> int:
    """How many of the n×n equal-prior-mass cells of a 2-d code plane hold no code: 0 when codes cover the prior."""
    u, v = prior_cdf(codes).T
    counts, _, _ = np.histogram2d(u, v, bins=n, range=[[0, 1], [0, 1]])
    return int((counts == 0).sum())


def expected_empty(count: int, n: int = 10) -> float:
    """How many of those cells `count` codes drawn from the prior itself would leave empty, on average."""
    return n * n * (1 - 1 / (n * n)) ** count


def manifold_figure(
    decoded: np.ndarray,
    codes,
    labels,
    class_names: Sequence[str],
    *,
    span: float = SPAN,
    gaussian: bool = True,
    max_points: int = 2000,
    seed: int = 0,
):
    """The decoded manifold as the background of the code plane, with test codes as class-coloured dots. A
    quantile grid is drawn on the Φ(z) scale (its cells are equal there), axes labelled in z."""
    n = int(round(np.sqrt(len(decoded))))
    scale = max(1, int(np.ceil(600 / (n * decoded.shape[-2]))))  # browsers blur small pictures they stretch
    picture = figures.compose_grid(list(np.asarray(decoded).reshape(n, n, *decoded.shape[-3:])), scale=scale, pad=0)
    # grid points are cell centres: the picture reaches half a cell further
    lo, hi = (
        (0.05 - 0.45 / (n - 1), 0.95 + 0.45 / (n - 1)) if gaussian else (-span - span / (n - 1), span + span / (n - 1))
    )
    codes, labels = np.asarray(codes), np.asarray(labels)
    keep = np.sort(np.random.default_rng(seed).permutation(len(codes))[:max_points])
    fig = figures.scatter_map(
        prior_cdf(codes[keep]) if gaussian else codes[keep], labels[keep], class_names, customdata=keep
    )
    fig.add_layout_image(
        source=figures.png_data_uri(picture),
        xref="x",
        yref="y",
        x=lo,
        y=hi,
        sizex=hi - lo,
        sizey=hi - lo,
        sizing="stretch",
        layer="below",
    )
    fig.update_traces(marker=dict(size=5, opacity=0.55))
    ticks = (
        dict(tickvals=prior_cdf(np.arange(-2, 3)).tolist(), ticktext=[f"{z:+d}" for z in range(-2, 3)])
        if gaussian
        else {}
    )
    suffix = " (prior-quantile scale)" if gaussian else ""
    edges = [0, 1] if gaussian else [lo, hi]
    fig.update_xaxes(range=edges, title="z1" + suffix, showgrid=False, zeroline=False, constrain="domain", **ticks)
    fig.update_yaxes(range=edges, title="z2" + suffix, showgrid=False, zeroline=False, **ticks)
    fig.update_layout(
        height=640, dragmode="pan", plot_bgcolor="black", margin=dict(l=40, r=10, t=figures.MODEBAR_CLEARANCE, b=40)
    )
    return fig


# --- what the page caches (once per checkpoint and parameters, shared by every session) ----------------------

KL_IMAGES = 2000  # enough test images to rank the code dimensions by KL


def two_images(images: np.ndarray, names: Sequence[str], test) -> tuple[np.ndarray, list[str]]:
    """The first two picked images and their names; test image #0 (of an aeviz.data.Dataset) stands in for a
    missing second one."""
    pair, names = images[:2], list(names)[:2]
    if len(pair) < 2:
        pair, names = np.concatenate([pair, test.images[:1].numpy()]), names + ["#0"]
    return pair, names


def interpolation_pictures(vae: VAE, pair: np.ndarray, theme: str, ae: AutoEncoder | None = None):
    """The interpolation scrub figure and its every-step strip (PNG bytes), from one decoding of the paths."""
    result = interpolate(vae, pair, ae=ae)
    return interpolation_scrub(result, theme=theme), figures.png_bytes(interpolation_strip(result, theme=theme))


def dataset_kl(vae: VAE, test) -> np.ndarray:
    """KL per code dimension over the first KL_IMAGES images of a dataset (aeviz.data.Dataset)."""
    return code_kl(vae, test.images[:KL_IMAGES])


def traversal_png(vae: VAE, image: np.ndarray, dims: tuple, kl_values: np.ndarray, theme: str) -> bytes:
    return figures.png_bytes(traversal_picture(traverse(vae, image, dims), dims, kl_values, theme=theme))


def samples_png(vae: VAE, temperature: float, seed: int, theme: str, count: int = 32) -> bytes:
    return figures.png_bytes(samples_picture(sample(vae, count, temperature=temperature, seed=seed), theme=theme))


def scrub_positions(fig) -> np.ndarray:
    """The interpolation parameter t of each frame of the scrub figure."""
    return np.linspace(0.0, 1.0, len(fig.frames))


def plane_figure(vae: VAE, codes: np.ndarray, test, gaussian: bool):
    """The decoded 2-d code plane under the test codes, coloured by the classes of `test` (a Dataset)."""
    return manifold_figure(
        manifold(vae, gaussian=gaussian), codes, test.labels.numpy(), test.classes, gaussian=gaussian
    )
