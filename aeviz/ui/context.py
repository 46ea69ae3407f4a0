"""The per-run Context every page reads: the dataset the sidebar chose, its test split and the models on offer."""

from __future__ import annotations

from dataclasses import dataclass

from .. import data
from ..checkpoints import ZOO, CheckpointInfo


@dataclass(frozen=True)
class Context:
    """What the sidebar chose, shared by every page of one run."""

    dataset: str
    test: data.Dataset
    models: tuple[CheckpointInfo, ...]

    def default_model(self, among: tuple[CheckpointInfo, ...] | list[CheckpointInfo] | None = None) -> CheckpointInfo:
        """The model a page opens on: the plain dense q=16 (the lecture's running example) when there is one,
        the zoo's when a model trained here has the same series and size."""
        among = self.models if among is None else among
        running = [m for m in among if m.series == "dense-bce" and m.bottleneck == 16]
        return min(running, key=lambda m: m.origin != ZOO) if running else among[0]
