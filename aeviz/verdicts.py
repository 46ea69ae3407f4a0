"""What the rate-distortion chart shows, in sentences computed from its numbers: a series against PCA or another."""

from __future__ import annotations

from dataclasses import dataclass

from .baselines import PCABaseline, Series


@dataclass(frozen=True)
class Duel:
    """Test MSE of `name` against `rival` at every q both have: (q, own, rival's) where own is lower, and the rest."""

    name: str
    rival: str
    wins: tuple[tuple[int, float, float], ...]
    losses: tuple[tuple[int, float, float], ...]


def series_errors(series: Series, metric: str = "mse") -> dict[int, float]:
    return {m.bottleneck: float(m.metrics[metric]) for m in series.models if metric in m.metrics}


def pca_errors(pca: PCABaseline) -> dict[int, float]:
    return {int(q): float(e) for q, e in zip(pca.sizes, pca.test_mse, strict=True)}


def duel(name: str, errors: dict[int, float], rival: str, rival_errors: dict[int, float]) -> Duel:
    shared = sorted(set(errors) & set(rival_errors))
    rows = [(q, errors[q], rival_errors[q]) for q in shared]
    return Duel(name, rival, tuple(r for r in rows if r[1] < r[2]), tuple(r for r in rows if r[1] >= r[2]))


def _by(ratio: float) -> str:
    """2.17 -> '2.2×'; 1.04 -> '4 %' (a '1.0×' would read as no difference)."""
    return f"{ratio:.1f}×" if ratio >= 1.095 else f"{ratio - 1:.0%}".replace("%", " %")


def _qs(rows) -> str:
    return ", ".join(str(r[0]) for r in rows)


def _at(rows, q: int, first: float, second: float) -> str:
    """'(q = 8: 0.0036 vs 0.0078)', without the q where there is only the one."""
    return f"({'' if len(rows) == 1 else f'q = {q}: '}{first:.4f} vs {second:.4f})"


def sentence(d: Duel) -> str:
    """'**a** beats b at q = 4, 8, by up to 2.2× (q = 8: 0.0036 vs 0.0078); b does as well or better at q = 2
    (0.0532 vs 0.0549).' The largest gap either way is quoted, b's error first after the semicolon; '' when the
    two share no q."""
    if not d.wins and not d.losses:
        return ""
    if d.wins:
        q, own, other = max(d.wins, key=lambda r: r[2] / max(r[1], 1e-12))
        head = (f"**{d.name}** beats {d.rival} at q = {_qs(d.wins)}, by {'up to ' * (len(d.wins) > 1)}"
                f"{_by(other / max(own, 1e-12))} {_at(d.wins, q, own, other)}")
    else:
        head = f"**{d.name}** never beats {d.rival}"
    if not d.losses:
        return head + "."
    q, own, other = max(d.losses, key=lambda r: r[1] / max(r[2], 1e-12))
    return head + f"; {d.rival} does as well or better at q = {_qs(d.losses)} {_at(d.losses, q, other, own)}."


def versus_pca(series: Series, pca: PCABaseline) -> str:
    return sentence(duel(series.label, series_errors(series), "PCA", pca_errors(pca)))


def versus_plain(series: list[Series]) -> list[str]:
    """Each deeper dense (hidden layers) or conv series against the plain dense one of the same loss."""
    plain = {s.loss: s for s in series if s.arch == "dense"}
    out = []
    for s in series:
        rival = plain.get(s.loss)
        if rival is not None and (s.arch.startswith("dense-") or s.arch == "conv"):
            text = sentence(duel(s.label, series_errors(s), rival.label, series_errors(rival)))
            out += [text] if text else []
    return out


def plain_is_affine(series: list[Series]) -> bool:
    """Whether the plain dense series has no hidden layer and a linear code: an affine encoder, like PCA's."""
    plain = [m for s in series if s.arch == "dense" for m in s.models]
    configs = [m.metadata.get("config", {}) for m in plain]
    return bool(configs) and all(not c.get("hidden") and c.get("code_activation", "linear") == "linear"
                                 for c in configs)
