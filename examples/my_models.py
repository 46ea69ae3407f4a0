"""my_models.py: two autoencoders trained elsewhere, offered to aeviz (AEVIZ_ADAPTERS=my_models.py)."""

from pathlib import Path

import torch
from torch import nn

WEIGHTS = Path(__file__).with_name("my_models.pt")  # {"dense8": state_dict, "vae2": state_dict}, written below


class DenseAE(nn.Module):
    metadata = {"name": "dense8", "dataset": "digits", "input_shape": [1, 8, 8], "loss": "bce"}

    def __init__(self, q=8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, q))
        self.decoder = nn.Sequential(nn.Linear(q, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def encode(self, x):  # (N, 1, 8, 8) in [0, 1] -> (N, q)
        return self.encoder(x)

    def decode(self, z):  # (N, q) -> (N, 1, 8, 8) in [0, 1]
        return self.decoder(z).view(-1, 1, 8, 8)


class VAE(DenseAE):
    metadata = {"name": "vae2", "dataset": "digits", "input_shape": [1, 8, 8], "family": "vae", "loss": "bce"}

    def __init__(self, q=2):
        super().__init__(q)
        self.encoder[-1] = nn.Linear(32, 2 * q)  # the mean and the log-variance

    def encode_stats(self, x):
        mean, log_variance = self.encoder(x).chunk(2, dim=1)
        return mean, log_variance

    def encode(self, x):
        return self.encode_stats(x)[0]


def models():
    found = [DenseAE(), VAE()]
    if WEIGHTS.exists():
        state = torch.load(WEIGHTS, weights_only=True)
        for model in found:
            model.load_state_dict(state[model.metadata["name"]])
    return found


if __name__ == "__main__":  # python my_models.py: a quick training on digits' training split, for the weights
    from aeviz import load_dataset

    x = load_dataset("digits", "train").images
    torch.manual_seed(0)
    trained = models()
    for model in trained:
        name = model.metadata["name"]
        print(f"training {name} on {len(x)} digits: 300 steps", flush=True)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for step in range(1, 301):
            if isinstance(model, VAE):
                mean, log_variance = model.encode_stats(x)
                z = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
                kl = -0.5 * (1 + log_variance - mean**2 - log_variance.exp()).sum(1).mean() / 64
            else:
                z, kl = model.encode(x), 0.0
            loss = nn.functional.binary_cross_entropy(model.decode(z), x) + kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 50 == 0:  # a few seconds apart: the whole run takes up to a minute on a busy laptop
                print(f"  {name}: step {step}/300, loss {loss.item():.4f}", flush=True)
    torch.save({model.metadata["name"]: model.state_dict() for model in trained}, WEIGHTS)
    print(f"wrote {WEIGHTS}; now: AEVIZ_ADAPTERS={Path(__file__).name} aeviz adapters", flush=True)
