"""pythae model folders (model_config.json, model.pt) converted to torch.export programs for `aeviz import`.

Loading a pythae folder runs its pickles (pythae's AutoModel unpickles model.pt, and encoder.pkl / decoder.pkl
for custom networks): import only folders you trust. It is loaded once, here, and both networks are converted
to torch.export programs, so the server that later loads the checkpoint never unpickles anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import ownformat
from ..data import DATASETS, load_dataset
from ..errors import one_line
from . import programs as pt2
from .interface import DECODER_KEY, ENCODER_KEY
from .manifest import ImportRefused, Manifest, manifest_from

Programs = dict[str, tuple[bytes, torch.export.ExportedProgram]]
EXAMPLE_BATCH = 4  # the batch torch.export traces with; the batch size stays free (not 0 or 1: torch fixes those)


class PythaeEncoder(nn.Module):
    """A pythae encoder returning tensors: (embedding, log_covariance) for a VAE-type model, else one code.

    pythae's log_covariance is a log-variance (its VAE samples with std = exp(0.5 * log_covariance)), which is
    what aeviz's encode_stats reads. The code is what the decoder was trained on at the posterior's centre:
    a VQVAE's quantized embedding and an SVAE's direction on the sphere, as in those models' forward."""

    def __init__(self, model: Any, kind: str) -> None:  # a pythae model (BaseAE)
        super().__init__()
        self.encoder, self.kind = model.encoder, kind  # kind: one of KINDS
        self.quantizer = model.quantizer if kind == "vq" else None

    def forward(self, x: torch.Tensor) -> Any:
        out = self.encoder(x)
        if self.kind == "vae":
            return out["embedding"], out["log_covariance"]
        if self.kind == "vq":
            return _quantized(self.quantizer, out["embedding"])
        if self.kind == "sphere":
            return out["embedding"] / out["embedding"].norm(dim=-1, keepdim=True)
        return out["embedding"]


KINDS = ("vae", "vq", "sphere", "plain")


def encoder_kind(model: Any, example: torch.Tensor) -> str:
    """How a pythae model's encoder output becomes aeviz's code (see PythaeEncoder)."""
    with torch.no_grad():
        out = model.encoder(example)
    if "log_covariance" in out:
        return "vae"
    return {"VQVAE": "vq", "SVAE": "sphere"}.get(model.model_name, "plain")


def _quantized(quantizer: Any, embedding: torch.Tensor) -> torch.Tensor:
    """pythae's VQVAE.forward between its encoder and decoder, for a flat (N, q) embedding."""
    grid = embedding.reshape(embedding.shape[0], 1, 1, -1).permute(0, 2, 3, 1)
    return quantizer(grid).quantized_vector.reshape(embedding.shape[0], -1)


class PythaeDecoder(nn.Module):
    """A pythae decoder returning its reconstruction, as images of `shape` (pythae may keep them flat)."""

    def __init__(self, decoder: Any, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.decoder, self.shape = decoder, shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)["reconstruction"].reshape(z.shape[0], *self.shape)


def pythae_programs(folder: Path, dataset: str | None) -> tuple[Programs, Manifest]:
    """A pythae folder's encoder and decoder as torch.export programs (round-tripped through their bytes, so
    what is checked is what is stored), and the manifest pythae's config gives. ImportRefused says why not."""
    if dataset is None:
        raise ImportRefused(
            f"{folder} is a pythae model folder, and pythae records no dataset: pass --dataset mnist (one of "
            f"{', '.join(DATASETS)}, or folder:PATH), the data it was trained on"
        )
    if dataset not in DATASETS and ownformat.own_kind(dataset) != "folder":
        raise ImportRefused(
            f"--dataset must be one of {', '.join(DATASETS)}, folder:PATH or folder@rgb32:PATH, not {dataset[:80]!r}"
        )
    model = load_model(folder)
    config = model.model_config
    shape = _image_shape(config, dataset)
    example = torch.rand(EXAMPLE_BATCH, *shape)
    try:
        kind = encoder_kind(model, example)
        encoder = PythaeEncoder(model, kind).eval()
        with torch.no_grad():
            code = encoder(example)
    except Exception as exc:  # the folder's own code: anything
        raise ImportRefused(
            f"this pythae {model.model_name}'s encoder fails on {list(shape)} images ({one_line(exc)})"
        ) from None
    code = code[0] if kind == "vae" else code
    programs = {
        ENCODER_KEY: _export(encoder, example, ENCODER_KEY, model.model_name),
        DECODER_KEY: _export(PythaeDecoder(model.decoder, shape).eval(), code, DECODER_KEY, model.model_name),
    }
    loss = getattr(config, "reconstruction_loss", "mse")
    settings: dict[str, Any] = dict(dataset=dataset, input_shape=list(shape), output_range=[0, 1])
    family = {"vae": "vae", "vq": "vq"}.get(kind, "dense")  # a VQVAE's pages know its code is quantized
    settings.update(family=family, loss=loss if loss in ("bce", "mse") else "mse")
    settings["name"] = f"pythae-{model.model_name.lower()}-q{config.latent_dim}"
    if kind == "vae":
        settings["log_variance_output"] = 1
    return programs, manifest_from(settings)


def load_model(folder: Path) -> Any:
    """The pythae model in `folder`, on the CPU in eval mode (this unpickles the folder's files)."""
    try:
        from pythae.models import AutoModel
    except ImportError:
        raise ImportRefused(
            f'{folder} is a pythae model folder; importing one needs pythae: pip install "aeviz[pythae]"'
        ) from None
    try:
        model = AutoModel.load_from_folder(str(folder))
    except Exception as exc:  # pythae's loader raises anything for a damaged or foreign folder
        raise ImportRefused(f"pythae could not load {folder} ({one_line(exc)})") from None
    return model.cpu().eval()


def _image_shape(config, dataset: str) -> tuple[int, int, int]:
    """The model's (C, H, W): its input_dim, or the dataset's image shape when pythae's input_dim is flat."""
    dims = tuple(int(d) for d in getattr(config, "input_dim", None) or ())
    if len(dims) == 3:
        return (dims[0], dims[1], dims[2])
    images = tuple(load_dataset(dataset, "test").shape)
    if dims and torch.Size(dims).numel() == torch.Size(images).numel():
        return (images[0], images[1], images[2])
    raise ImportRefused(
        f"model_config.json's input_dim is {list(dims)}; aeviz imports image models: input_dim [channels, height, "
        f"width], or flat: [{torch.Size(images).numel()}] for the {list(images)} images of {dataset}"
    )


def _export(module: nn.Module, example: torch.Tensor, key: str, model_name: str) -> tuple[bytes, Any]:
    batch = torch.export.Dim("batch", min=1)
    try:
        program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
    except Exception as exc:  # torch.export raises many kinds for code it cannot trace
        raise ImportRefused(
            f"torch.export cannot capture this pythae {model_name}'s {_part(key)} ({one_line(exc)}); aeviz "
            "imports pythae models whose networks torch.export can trace with a free batch size"
        ) from None
    data = pt2.save_bytes(program)
    try:
        return data, pt2.load_program(data, key)
    except pt2.ExportError as exc:
        raise ImportRefused(
            f"this pythae {model_name}'s {_part(key)} exports to a program aeviz refuses: {exc}"
        ) from None


def _part(key: str) -> str:
    return "encoder" if key == ENCODER_KEY else "decoder"
