"""aeviz: train, load and explore autoencoders; the facade that pages, the CLI and notebooks use."""

from __future__ import annotations

__version__ = "0.1.0"

from .checkpoints import CheckpointError, list_checkpoints, load_checkpoint, save_checkpoint  # noqa: E402
from .data import DATASETS, Dataset, DatasetUnavailable, load_dataset  # noqa: E402
from .models import MODELS, build_model, make_config  # noqa: E402
from .train import TrainConfig, TrainingCancelled, train  # noqa: E402

load_model = load_checkpoint

__all__ = [
    "DATASETS",
    "MODELS",
    "CheckpointError",
    "Dataset",
    "DatasetUnavailable",
    "TrainConfig",
    "TrainingCancelled",
    "build_model",
    "list_checkpoints",
    "load_checkpoint",
    "load_dataset",
    "load_model",
    "make_config",
    "save_checkpoint",
    "train",
]
