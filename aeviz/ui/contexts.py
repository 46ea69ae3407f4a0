"""The per-run Context every page reads: the dataset the sidebar chose, its test split and the models on offer."""

from __future__ import annotations

from dataclasses import dataclass

from .. import data
from ..checkpoints import CheckpointInfo
from ..zoo import catalog


@dataclass(frozen=True)
class Context:
    """What the sidebar chose, shared by every page of one run."""

    dataset: str
    test: data.Dataset
    models: tuple[CheckpointInfo, ...]

    def default_model(self, among: tuple[CheckpointInfo, ...] | list[CheckpointInfo] | None = None) -> CheckpointInfo:
        """catalog.default_model among these models (default: all on offer)."""
        return catalog.default_model(self.models if among is None else among)
