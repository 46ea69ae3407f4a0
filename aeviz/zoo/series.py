"""The zoo's series: checkpoints of one architecture and loss that differ only in their code size q."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..checkpoints import ORIGINS, ZOO, CheckpointInfo
from .catalog import pixels

FAMILIES = ("dense", "conv", "vae")  # the families trained at several bottleneck sizes
LOSSES = ("bce", "mse")


@dataclass(frozen=True)
class Series:
    """One architecture and loss trained at several q, e.g. arch 'dense-h256x128' with loss 'bce'."""

    name: str  # the checkpoints' series, e.g. 'dense-h256x128-bce'
    arch: str
    loss: str
    models: tuple[CheckpointInfo, ...]  # one per q, ascending

    @property
    def label(self) -> str:
        return arch_label(self.arch) + ("" if self.loss == "bce" else f" ({self.loss.upper()})")

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(m.bottleneck for m in self.models)

    def at(self, q: int) -> CheckpointInfo | None:
        return next((m for m in self.models if m.bottleneck == q), None)

    def row_label(self, q: int) -> str:
        """'dense q=8', and where its checkpoint comes from when that is not the zoo ('dense q=8 · yours')."""
        info = self.at(q)
        return f"{self.label} q={q}" + ("" if info is None or info.origin == ZOO else f" · {info.where}")


def arch_label(arch: str) -> str:
    """'dense' -> 'dense', 'dense-h256x128' -> 'dense 256-128', 'vae-conv' -> 'VAE conv'."""
    words = {"vae": "VAE"}
    parts = [words.get(p, p[1:].replace("x", "-") if p[:1] == "h" and p[1:2].isdigit() else p) for p in arch.split("-")]
    return " ".join(parts)


def split_series(series: str) -> tuple[str, str]:
    """'dense-h256x128-bce' -> ('dense-h256x128', 'bce'); the loss is whichever part names one."""
    parts = series.split("-")
    loss = next((p for p in parts if p in LOSSES), "")
    return "-".join(p for p in parts if p != loss), loss


def group_series(infos, families=FAMILIES, prefer=ORIGINS) -> list[Series]:
    """The series of `families` among checkpoints, dense first. Where several checkpoints of a series share a q
    (a model trained here under the zoo's recipe), the one whose origin comes first in `prefer` is used: the
    zoo's unless the caller asks otherwise."""
    by_name: dict[str, dict[int, CheckpointInfo]] = {}
    rank = {origin: i for i, origin in enumerate(prefer)}
    for info in infos:
        if info.family in families:
            sizes = by_name.setdefault(info.series, {})
            held = sizes.get(info.bottleneck)
            if held is None or rank.get(info.origin, len(rank)) < rank.get(held.origin, len(rank)):
                sizes[info.bottleneck] = info
    found = [
        Series(name, *split_series(name), tuple(models[q] for q in sorted(models))) for name, models in by_name.items()
    ]
    return sorted(found, key=lambda s: (families.index(s.models[0].family), s.loss != "bce", len(s.arch), s.arch))


def across_sizes(series: list[Series]) -> list[Series]:
    """The series a comparison across bottleneck sizes shows: those of an architecture trained at two sizes or more
    (dense's one-size MSE series stays, beside dense BCE), and any holding a model not from the zoo (the viewer's
    own). The zoo's beta-VAEs (q = 2 and 16 at three betas) have their own place, the VAE page's beta control:
    listed here they wrapped the family control onto a second line, and a one-size architecture adds no column.
    The zoo's over-complete models (q at least the pixels: the identity lesson's, in the Error gallery) are no
    bottleneck, and a row each pushed the lecture-mode grid past one screen: left out here."""
    kept = [replace(s, models=tuple(m for m in s.models if m.origin != ZOO or not _overcomplete(m))) for s in series]
    kept = [s for s in kept if s.models]
    several = {s.arch for s in kept if len(s.sizes) > 1 and "-beta" not in s.arch}
    return [s for s in kept if s.arch in several or any(m.origin != ZOO for m in s.models)]


def _overcomplete(info: CheckpointInfo) -> bool:
    return bool(info.config.get("input_shape")) and info.bottleneck >= pixels(info)


def contested(infos, families=FAMILIES) -> bool:
    """Whether a checkpoint not from the zoo shares a series and q with another one (so `prefer` matters)."""
    seen: dict[tuple[str, int], set[str]] = {}
    for info in infos:
        if info.family in families:
            seen.setdefault((info.series, info.bottleneck), set()).add(info.origin)
    return any(len(origins) > 1 for origins in seen.values())
