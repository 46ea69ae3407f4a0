"""aeviz: train, load and explore autoencoders; the facade that pages, the CLI and notebooks use.

No name here is a module's: `aeviz.train` stays the trainer module (`aeviz.train.TrainConfig`), and its function
is `aeviz.train_model`."""

from __future__ import annotations

from .checkpoints import CheckpointError, list_checkpoints, load_checkpoint, save_checkpoint
from .data import DATASETS, Dataset, DatasetUnavailable, load_dataset
from .models import MODELS, build_model, make_config
from .train import TrainConfig, TrainingCancelled
from .train import train as train_model

__version__ = "0.1.0"
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
    "train_model",
]
