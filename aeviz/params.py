"""How a family offers its hyper-parameters: one Param each, read by the Train page's form and `aeviz train`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# The Train page's body choices, as the config fields each sets; a family lists the ones it offers
BODIES: dict[str, dict[str, Any]] = {
    "dense": {},
    "dense, hidden 256": {"hidden": (256,)},
    "dense, hidden 512-256": {"hidden": (512, 256)},
    "conv": {"arch": "conv"},
}


@dataclass(frozen=True)
class Param:
    """One config field a family's users may set. kind 'number': a slider from `low` to `high` by `step` on the
    page, or a select-slider over `steps` when those are given; a finite number >= `low` (> `low` when
    `open_low`) on the command line, a whole number when `integer`. kind 'choice': a mode picked above the form
    (the form redraws only when submitted, so the fields a mode shows must be chosen outside it), `choices`
    naming each option.
    kind 'noise': a 'kind:level' text, its kind picked above the form and its level set in it."""

    field: str
    label: str  # the page's
    cli_help: str
    default: Any = None  # the page's initial value (kind 'noise': picked from noise.NOISE_KINDS instead)
    kind: str = "number"
    steps: tuple[float, ...] = ()
    low: float = 0.0
    high: float | None = None
    step: float | None = None
    open_low: bool = False
    choices: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)  # not `field`: a field's name
    when: tuple[str, str] | None = None  # (mode field, value): offered only in that mode, refused in another
    url_key: str = ""  # a mode's query-string key, written out: the URL fuzz test reads it from the source
    help: str | None = None  # the page's tooltip
    note: str | None = None  # a caption the page shows under the widget
    metavar: str | None = None  # the CLI's
    integer: bool = False  # a count (a codebook's size, TopK's k): whole numbers only

    def __post_init__(self) -> None:
        if self.kind not in ("number", "choice", "noise"):
            raise ValueError(f"kind must be number, choice or noise, not {self.kind!r}")
        if self.integer and (self.kind != "number" or not all(float(s).is_integer() for s in self.steps)):
            raise ValueError(f"{self.field}: an integer parameter is a number whose steps are whole")
        if (self.kind != "number") != bool(self.url_key):
            raise ValueError(f"{self.field}: a mode picked above the form (and only one) names its url_key")

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")
