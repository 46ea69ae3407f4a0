"""Tiny models "trained elsewhere" for the import tests: plain torch modules, exported with torch.export."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

SHAPE = (1, 8, 8)  # scikit-learn's digits: the dataset every import test checks on


class Encoder(nn.Module):
    def __init__(self, q: int = 4, vae: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())
        self.mean, self.vae = nn.Linear(32, q), vae
        self.log_var = nn.Linear(32, q) if vae else None

    def forward(self, x):
        h = self.body(x)
        return (self.mean(h), self.log_var(h)) if self.log_var is not None else self.mean(h)


def dense(q: int = 4, *, vae: bool = False, last: nn.Module | None = None) -> tuple[nn.Module, nn.Module]:
    """A dense encoder (a VAE's returns mean and log-variance) and decoder for 8x8 images."""
    torch.manual_seed(q)
    final = nn.Sigmoid() if last is None else last
    decoder = nn.Sequential(nn.Linear(q, 32), nn.ReLU(), nn.Linear(32, 64), final, nn.Unflatten(1, SHAPE))
    return Encoder(q, vae).eval(), decoder.eval()


def conv(q: int = 4) -> tuple[nn.Module, nn.Module]:
    """A conv encoder whose codes are (N,q,1,1), and a decoder taking them so."""
    torch.manual_seed(q)
    encoder = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, q, 4))  # 8 -> 4 -> 1
    decoder = nn.Sequential(
        nn.ConvTranspose2d(q, 8, 4), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Sigmoid()
    )
    return encoder.eval(), decoder.eval()


def export(module: nn.Module, example: torch.Tensor, path: Path, *, dynamic: bool = True) -> Path:
    """torch.export.export + torch.export.save, with a dynamic batch size unless told otherwise."""
    shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
    torch.export.save(torch.export.export(module, (example,), dynamic_shapes=shapes), path)
    return path


def export_folder(folder: Path, encoder, decoder, *, dynamic: bool = True, **manifest) -> Path:
    """A folder as the README's recipe writes it: encoder.pt2, decoder.pt2 and aeviz.json."""
    folder.mkdir(parents=True, exist_ok=True)
    images = torch.rand(4, *SHAPE)
    with torch.no_grad():
        code = encoder(images)
    code = code[0] if isinstance(code, tuple) else code
    export(encoder, images, folder / "encoder.pt2", dynamic=dynamic)
    export(decoder, code, folder / "decoder.pt2", dynamic=dynamic)
    settings = {"dataset": "digits", "input_shape": list(SHAPE), **manifest}
    (folder / "aeviz.json").write_text(json.dumps(settings))
    return folder
