"""Reconstruction error as an anomaly score: normalised against test errors, ensembles, ranks, AUROC/AP/ROC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COMBINE = ("mean", "max")
_LOG_FLOOR = 1e-12  # a perfect reconstruction has error 0; its log must stay finite
_MIN_SPREAD = 1e-6


def normalise(errors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Errors as robust z-scores of log error against a model's test errors (median 0, MAD-sigma 1).

    Models differ in error scale by orders of magnitude (a q=2 model errs far more than a q=64 one), so
    raw errors cannot be averaged. Errors are right-skewed and positive: on a log scale they are roughly
    symmetric, and the median and MAD are not dragged by the very outliers we want to find.
    """
    ref = np.log(np.maximum(np.asarray(reference, np.float64), _LOG_FLOOR))
    centre = float(np.median(ref))
    spread = max(1.4826 * float(np.median(np.abs(ref - centre))), _MIN_SPREAD)
    return ((np.log(np.maximum(np.asarray(errors, np.float64), _LOG_FLOOR)) - centre) / spread).astype(np.float32)


def ensemble_scores(errors: Sequence[np.ndarray], references: Sequence[np.ndarray], how: str = "mean") -> np.ndarray:
    """One anomaly score per image from one or more models' errors (each (N,)).

    A single model keeps its raw error (in MSE or BCE units). Several models are combined after `normalise`
    against each model's own test errors (`references`): 'mean' averages out one model's quirks, 'max' flags
    an image as soon as any model finds it unusual.
    """
    if how not in COMBINE:
        raise ValueError(f"how must be one of {COMBINE}, not {how!r}")
    if len(errors) != len(references) or not errors:
        raise ValueError(f"need one reference per model, got {len(errors)} errors and {len(references)} references")
    if len(errors) == 1:
        return np.asarray(errors[0], np.float32)
    z = np.stack([normalise(e, r) for e, r in zip(errors, references, strict=True)])  # (models, N)
    return (z.mean(axis=0) if how == "mean" else z.max(axis=0)).astype(np.float32)


def ranks(scores: np.ndarray) -> np.ndarray:
    """Rank of each image (N,), 1 = largest score (the most unusual); ties go to the lower index."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    out = np.empty(len(order), np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def percentile_of(values, reference: np.ndarray) -> np.ndarray:
    """Percent of `reference` strictly below each value: "more unusual than X % of test images"."""
    ref = np.sort(np.asarray(reference, np.float64))
    below = np.searchsorted(ref, np.asarray(values, np.float64), side="left")
    return 100.0 * below / max(len(ref), 1)


def rank_among(values, reference: np.ndarray) -> np.ndarray:
    """Where each value would rank among `reference` (1 = above every one of them)."""
    ref = np.sort(np.asarray(reference, np.float64))
    return 1 + len(ref) - np.searchsorted(ref, np.asarray(values, np.float64), side="right")


def median_rank(scores_in: np.ndarray, scores_out: np.ndarray) -> str:
    """'3 of 10,000': the median over the injected images of each one's rank among the test images alone.

    Ranking among test and injected images together would let the injected push each other down: 100 shoes
    that all beat every digit would read '50 of 10,100' instead of '1 of 10,000'.
    """
    middle = float(np.median(rank_among(scores_out, scores_in)))
    shown = f"{middle:,.0f}" if middle.is_integer() else f"{middle:,.1f}"  # an even count can fall between ranks
    return f"{shown} of {len(scores_in):,}"


def threshold_at(scores: np.ndarray, flag_percent: float) -> float:
    """The score above which `flag_percent` % of `scores` lie."""
    return float(np.quantile(np.asarray(scores, np.float64), 1 - flag_percent / 100))


@dataclass(frozen=True)
class Detection:
    """How well a score separates foreign (positive) from test (negative) images."""

    auroc: float
    average_precision: float
    prevalence: float  # the share of foreign images: what a random ranking's AP would be
    fpr: np.ndarray
    tpr: np.ndarray


def detection(scores_in: np.ndarray, scores_out: np.ndarray) -> Detection:
    """AUROC, average precision and the ROC curve for in-distribution (0) vs injected (1) images."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    if len(scores_in) == 0 or len(scores_out) == 0:
        raise ValueError("need both test and injected images to measure detection")
    y = np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))]
    s = np.r_[np.asarray(scores_in, np.float64), np.asarray(scores_out, np.float64)]
    fpr, tpr, _ = roc_curve(y, s)
    return Detection(
        float(roc_auc_score(y, s)),
        float(average_precision_score(y, s)),
        float(y.mean()),
        fpr.astype(np.float32),
        tpr.astype(np.float32),
    )


def fraction_text(value: float, digits: int = 3) -> str:
    """A score in [0, 1] with `digits` decimals, and more wherever rounding would print a perfect 1 or a 0 that
    it is not: an AUROC of 0.99964 read "1.000" beside a shoe ranked #261, one injected image's AP "0.000"."""
    value = float(value)
    for decimals in range(digits, 8):
        text = f"{value:.{decimals}f}"
        if (float(text) != 1.0 or value >= 1.0) and (float(text) != 0.0 or value <= 0.0):
            return text
    return "> 0.9999999" if value > 0.5 else "< 0.0000001"
