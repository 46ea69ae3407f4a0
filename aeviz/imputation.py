"""Imputation: a hidden block of each image filled in by a model, scored on the hidden pixels alone."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from .metrics import reconstruct_all
from .models import Codec
from .noise import occlusion_mask

AREA = 0.25  # the lesson's hidden block: a quarter of the image, where one stroke or one part goes missing
MEAN_IMAGE, BLACK = "the mean training image", "the black block left as it is"


def fill_errors(
    models: Mapping[str, Codec], images: torch.Tensor, mean_image: np.ndarray, *, area: float = AREA, seed: int = 0
) -> dict[str, float]:
    """RMSE over the hidden pixels only, per model (label -> model) and for two fills that know nothing of the
    image: the mean training image (its C*H*W values in any layout: the PCA baseline's flat `mean` will do) and
    the black block itself. Each image (N,C,H,W in [0,1]) hides one square block of about `area` of its pixels
    (the Denoising page's occlusion, seeded)."""
    mask = occlusion_mask(images, area, seed=seed)  # (N,1,H,W), True where hidden
    hidden = mask.expand_as(images).numpy()  # (N,C,H,W)
    occluded = images.masked_fill(mask, 0.0)
    truth = images.numpy()[hidden]

    def rmse(filled: np.ndarray) -> float:
        return float(np.sqrt(np.mean((filled[hidden] - truth) ** 2)))

    errors = {label: rmse(reconstruct_all(model, occluded)) for label, model in models.items()}
    errors[MEAN_IMAGE] = rmse(np.broadcast_to(np.reshape(mean_image, images.shape[1:]), images.shape))
    errors[BLACK] = rmse(occluded.numpy())
    return errors


def imputation_sentence(errors: Mapping[str, float], area: float = AREA) -> str:
    """What the figures say, e.g. 'With a block of 25 % of each image hidden, denoising (dense) fills it best:
    RMSE 0.21 on the hidden pixels, against 0.26 for the mean training image ...'."""
    models = {k: v for k, v in errors.items() if k not in (MEAN_IMAGE, BLACK)}
    if not models:
        return ""
    best = min(models, key=lambda label: models[label])
    mean = errors[MEAN_IMAGE]
    others = "; ".join(f"{label} {value:.3f}" for label, value in models.items() if label != best)
    verdict = (
        f"closer than {MEAN_IMAGE} ({mean:.3f}): it guesses the missing part from the part it sees"
        if models[best] < mean
        else f"no closer than {MEAN_IMAGE} ({mean:.3f}), which knows nothing of the image"
    )
    return (
        f"**Imputation**: with a block of {100 * area:.0f} % of each image hidden, **{best}** fills it best, "
        f"RMSE {models[best]:.3f} on the hidden pixels, {verdict}"
        + (f" (others: {others})" if others else "")
        + f"; {BLACK}: {errors[BLACK]:.3f}."
    )
