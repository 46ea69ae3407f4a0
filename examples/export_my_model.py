"""Train a tiny autoencoder in plain PyTorch, export it with torch.export, and write the folder `aeviz import` reads.

    python examples/export_my_model.py my-digits-ae       # trains for a few seconds on scikit-learn's digits
    aeviz import my-digits-ae                             # checks, measures and adds it to your models
    streamlit run app.py                                  # it is on every page of the digits dataset

Nothing here uses aeviz: this is what your own training code does at its end (the last ten lines).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "my-digits-ae")
pixels = np.round(load_digits().images * (255 / 16)) / 255  # (1797, 8, 8) in [0, 1], as aeviz reads them
train = np.random.default_rng(0).permutation(len(pixels))[: int(0.8 * len(pixels))]  # aeviz's train split:
images = torch.tensor(pixels[train], dtype=torch.float32).unsqueeze(1)  # its test images stay unseen

torch.manual_seed(0)
encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 8))
decoder = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 64), nn.Sigmoid(), nn.Unflatten(1, (1, 8, 8)))
optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=3e-3)
for _epoch in range(30):
    for batch in images[torch.randperm(len(images))].split(64):
        loss = nn.functional.mse_loss(decoder(encoder(batch)), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
print(f"trained: mse {loss.item():.4f}")

# The export: one ExportedProgram per half, with a dynamic batch size, and a few lines of aeviz.json
folder.mkdir(parents=True, exist_ok=True)
encoder.eval(), decoder.eval()
batch = torch.export.Dim("batch")
example = images[:4].clone()  # a copy: a slice would save the whole training set inside each file
torch.export.save(torch.export.export(encoder, (example,), dynamic_shapes=({0: batch},)), folder / "encoder.pt2")
torch.export.save(
    torch.export.export(decoder, (encoder(example),), dynamic_shapes=({0: batch},)), folder / "decoder.pt2"
)
settings = {"name": folder.name, "dataset": "digits", "input_shape": [1, 8, 8], "output_range": [0, 1], "loss": "mse"}
(folder / "aeviz.json").write_text(json.dumps(settings, indent=2))
print(f"exported to {folder}/: encoder.pt2, decoder.pt2, aeviz.json. Next: aeviz import {folder}")
