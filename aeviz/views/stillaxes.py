"""A still chart's axes: the data range plotly would show (linear, log or categories), its ticks, and pixels."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass

import numpy as np

TEXT_PX = 12  # plotly's default type size; a still draws its ticks and titles at it (or the figure's own)


def values(raw) -> np.ndarray:
    """A trace's x or y as an array: lists, numpy arrays and plotly's base64 typed arrays ({'bdata', 'dtype'})."""
    if raw is None:
        return np.zeros(0)
    if isinstance(raw, dict) and "bdata" in raw:
        flat = np.frombuffer(base64.b64decode(raw["bdata"]), dtype=np.dtype(raw["dtype"]))
        return flat.reshape(raw["shape"]) if "shape" in raw else flat
    out = np.asarray(raw, dtype=object if _has_text(raw) else None)
    return out


def _has_text(raw) -> bool:
    return any(isinstance(v, str) for v in (raw if isinstance(raw, (list, tuple)) else []))


def plain(text) -> str:
    """A plotly title's text without its HTML (<b>, <br>, <sup>): the still draws one line of it."""
    if isinstance(text, dict):
        text = text.get("text")
    return re.sub(r"<[^>]+>", " ", str(text or "")).strip()


def nice_step(span: float, count: int = 6) -> float:
    """The 1, 2 or 5 times a power of ten that cuts `span` into about `count` steps."""
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(f * power for f in (1, 2, 5, 10) if f * power >= raw)


def tick_label(value: float) -> str:
    return f"{value:.4g}".replace("e-0", "e-").replace("e+0", "e")


@dataclass
class Axis:
    """One axis: data to pixels along [start, end] pixels, with its ticks (pixel, label) and title."""

    kind: str  # "linear", "log" or "category"
    low: float  # in axis units: log10 of the data on a log axis, the category's index on a category one
    high: float
    start: float  # pixel of `low`
    end: float  # pixel of `high`
    categories: tuple = ()
    title: str = ""
    spec: dict | None = None

    def unit(self, data) -> np.ndarray:
        """Data to axis units (NaN where a log axis meets a non-positive value or a category is unknown)."""
        if self.kind == "category":
            index = {c: i for i, c in enumerate(self.categories)}
            return np.array([index.get(str(v), np.nan) for v in np.ravel(data)], dtype=float)
        data = np.asarray(data, dtype=float)
        if self.kind == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(data > 0, np.log10(np.where(data > 0, data, 1.0)), np.nan)
        return data

    def px(self, data) -> np.ndarray:
        return self.px_of_units(self.unit(data))

    def px_of_units(self, units) -> np.ndarray:
        span = (self.high - self.low) or 1.0
        return self.start + (np.asarray(units, dtype=float) - self.low) / span * (self.end - self.start)

    def ticks(self) -> list[tuple[float, str]]:
        """The axis's ticks: its own tickvals/ticktext where the figure gives them, else nice round numbers."""
        spec = self.spec or {}
        if spec.get("showticklabels") is False:
            return []
        if self.kind == "category":
            return [(float(self.px([c])[0]), str(c)) for c in self.categories]
        given = spec.get("tickvals")
        if given is not None:
            texts = spec.get("ticktext") or [tick_label(float(v)) for v in given]
            pairs = [(float(self.px([v])[0]), str(t)) for v, t in zip(values(given), texts)]
        elif self.kind == "log":
            first_power, last_power = math.ceil(self.low - 1e-9), math.floor(self.high + 1e-9)
            every = max(1, math.ceil((last_power - first_power + 1) / 8))
            powers = range(first_power, last_power + 1, every)
            pairs = [(float(self.px([10.0**e])[0]), tick_label(10.0**e)) for e in powers]
        else:
            step = nice_step(self.high - self.low)
            first = math.ceil(self.low / step - 1e-9)
            count = int(math.floor(self.high / step + 1e-9)) - first + 1
            pairs = [(float(self.px([(first + i) * step])[0]), tick_label((first + i) * step)) for i in range(count)]
        near, far = sorted((self.start, self.end))
        return [(p, t) for p, t in pairs if near - 0.5 <= p <= far + 0.5]


def axis_range(spec: dict, kind: str, data: list[np.ndarray], pad: float) -> tuple[float, float]:
    """The shown range in axis units: the figure's own, else the data's with `pad` of it added each side."""
    given = spec.get("range")
    if given is not None and len(given) == 2 and None not in given:
        return float(given[0]), float(given[1])
    finite = np.concatenate([d[np.isfinite(d)] for d in data]) if data else np.zeros(0)
    if not finite.size:
        return (0.0, 1.0) if kind != "log" else (0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    if high == low:
        low, high = low - 0.5, high + 0.5
    margin = (high - low) * pad
    return low - margin, high + margin


def categories(spec: dict, data: list) -> tuple:
    """A category axis's order: the figure's categoryarray, else first appearance over the traces."""
    if spec.get("categoryarray") is not None:
        return tuple(str(c) for c in spec["categoryarray"])
    seen: dict[str, None] = {}
    for d in data:
        for v in np.ravel(d):
            seen.setdefault(str(v), None)
    return tuple(seen)


def axis_kind(spec: dict, data: list[np.ndarray]) -> str:
    if spec.get("type") in ("log", "category"):
        return spec["type"]
    return "category" if any(d.dtype == object for d in data) else "linear"
