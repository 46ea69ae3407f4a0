"""Tiny models "trained elsewhere" for the import tests: plain torch modules, exported with torch.export."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
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


# Crafted programs (tests/foreign/test_hostile_programs.py, tests/pages/test_imported.py): an attacker's edits


def entries(data: bytes) -> list[tuple[str, bytes]]:
    """A .pt2 archive's members, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def zipped(items: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the point of one attack
        for path, blob in items:
            archive.writestr(path, blob)
    return out.getvalue()


def nodes(program: dict) -> list[dict]:
    return program["graph_module"]["graph"]["nodes"]


def with_graph(data: bytes, edit) -> bytes:
    """The archive with edit(program JSON) applied to models/model.json."""
    items = []
    for path, blob in entries(data):
        if path.endswith("/models/model.json"):
            program = json.loads(blob)
            edit(program)
            blob = json.dumps(program).encode()
        items.append((path, blob))
    return zipped(items)


class Decoy(nn.Module):
    """A decoder whose graph has a uint8 block the attacker swaps for aten.from_file (torch.export cannot trace it)."""

    def forward(self, z):
        block = torch.zeros(64, dtype=torch.uint8)
        block.fill_(0)  # an in-place fill of the program's own value: allowed
        return z.sum(1).reshape(-1, 1, 1, 1) * 0 + block.float().reshape(1, 1, 8, 8) / 255


def from_file(data: bytes, path: Path, shared: bool) -> bytes:
    """Decoy's exported bytes with its block read from `path` (aten.from_file); shared: the fill writes 0x41 into it."""

    def edit(program):
        node = next(n for n in nodes(program) if n["target"] == "torch.ops.aten.zeros.default")
        dtype = [i for i in node["inputs"] if i["name"] == "dtype"]
        node["target"] = "torch.ops.aten.from_file.default"
        node["inputs"] = [
            {"name": "filename", "arg": {"as_string": str(path)}, "kind": 1},
            {"name": "shared", "arg": {"as_bool": shared}, "kind": 1},
            {"name": "size", "arg": {"as_int": 64}, "kind": 1},
            *dtype,
        ]
        if shared:
            fill = next(n for n in nodes(program) if n["target"] == "torch.ops.aten.fill_.Scalar")
            next(i for i in fill["inputs"] if i["name"] == "value")["arg"] = {"as_int": 65}

    return with_graph(data, edit)
