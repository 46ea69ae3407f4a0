"""Every autoencoder family behind one API: encode, decode, reconstruct, and a forward with named losses."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .nets import build_body
from .noise import add_noise, parse_noise


@dataclass(frozen=True)
class AEConfig:
    """A deterministic autoencoder. `hidden` are dense widths, `channels` conv widths (per stride-2 layer)."""

    bottleneck: int = 16
    input_shape: tuple[int, int, int] = (1, 28, 28)
    arch: str = "dense"
    hidden: tuple[int, ...] = ()
    channels: tuple[int, ...] = (16, 32)
    loss: str = "bce"
    output: str = "sigmoid"
    code_activation: str = "linear"

    def __post_init__(self) -> None:
        for field, allowed in (("loss", ("bce", "mse")), ("output", ("sigmoid", "linear")),
                               ("arch", ("dense", "conv")), ("code_activation", tuple(CODE_ACTIVATIONS))):
            if getattr(self, field) not in allowed:
                raise ValueError(f"{field} must be one of {allowed}, not {getattr(self, field)!r}")
        if self.bottleneck < 1:
            raise ValueError("bottleneck must be a positive integer")
        if self.loss == "bce" and self.output != "sigmoid":
            raise ValueError("BCE needs a sigmoid output; use loss='mse' with a linear output")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AEConfig:
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown config fields for {cls.__name__}: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class LinearConfig(AEConfig):
    """The linear autoencoder: with MSE it spans the same subspace as PCA."""

    output: str = "linear"
    loss: str = "mse"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden or self.arch != "dense" or self.code_activation != "linear":
            raise ValueError("a linear autoencoder has no hidden layers and no activations")


@dataclass(frozen=True)
class ConvConfig(AEConfig):
    arch: str = "conv"


@dataclass(frozen=True)
class VAEConfig(AEConfig):
    """Variational: the encoder outputs a Gaussian; beta weighs the KL term (beta-VAE)."""

    beta: float = 1.0


@dataclass(frozen=True)
class DenoisingConfig(AEConfig):
    """Trained to undo `noise` ('kind:level', e.g. 'gaussian:0.5', 'masking:0.3')."""

    noise: str = "gaussian:0.5"

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_noise(self.noise)


@dataclass(frozen=True)
class SparseConfig(AEConfig):
    """Sparse codes, overcomplete allowed. sparsity='l1': a ReLU code and `l1` times its L1 norm. sparsity='kl':
    a sigmoid code whose mean activation per unit over the batch is pulled towards the rate `kl_target` by
    `kl_weight` times the summed KL divergence (Ng's sparse autoencoder). The other mode's weight is 0."""

    bottleneck: int = 256
    sparsity: str = "l1"
    # "" and NaN stand for the mode's own default and are resolved below, so metadata always holds real values
    code_activation: str = ""
    l1: float = math.nan
    kl_target: float = math.nan
    kl_weight: float = math.nan

    def __post_init__(self) -> None:
        if self.sparsity not in SPARSITY_DEFAULTS:
            raise ValueError(f"sparsity must be one of {tuple(SPARSITY_DEFAULTS)}, not {self.sparsity!r}")
        for name, default in SPARSITY_DEFAULTS[self.sparsity].items():
            value = getattr(self, name)
            if value == "" or (isinstance(value, float) and math.isnan(value)):
                object.__setattr__(self, name, default)  # frozen: the one place a field is filled in
        super().__post_init__()
        for name in ("l1", "kl_target", "kl_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.sparsity == "l1" and self.kl_weight > 0:
            raise ValueError("kl_weight > 0 needs sparsity='kl': a ReLU code has no rate for KL to aim at")
        if self.sparsity == "kl":
            if self.l1 > 0:
                raise ValueError("l1 applies to sparsity='l1'; with sparsity='kl' leave it 0")
            if self.code_activation != "sigmoid":
                raise ValueError("sparsity='kl' needs a sigmoid code: its activations are the rates KL compares")
            if not 0 < self.kl_target < 1:
                raise ValueError(f"kl_target (rho) must lie strictly between 0 and 1, not {self.kl_target!r}")


# What "" / NaN fields of a SparseConfig become; l1 keeps the defaults of the configs saved before KL existed
SPARSITY_DEFAULTS = {
    "l1": {"code_activation": "relu", "l1": 1e-3, "kl_target": 0.0, "kl_weight": 0.0},
    "kl": {"code_activation": "sigmoid", "l1": 0.0, "kl_target": 0.05, "kl_weight": 3e-3},
}


@dataclass(frozen=True)
class ContractiveConfig(AEConfig):
    """Penalises the Frobenius norm of the encoder's Jacobian (Rifai et al. 2011)."""

    code_activation: str = "sigmoid"
    weight: float = 1e-3


CODE_ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class Output(NamedTuple):
    """What a forward pass returns: the decoder's raw output, the code, and the named loss parts."""

    raw: torch.Tensor  # logits for a sigmoid output, values for a linear one
    code: torch.Tensor
    losses: dict[str, torch.Tensor]
    sigmoid_output: bool = True

    @property
    def recon(self) -> torch.Tensor:
        """The reconstruction in data space; computed on demand: training needs only the loss."""
        return torch.sigmoid(self.raw) if self.sigmoid_output else self.raw

    @property
    def loss(self) -> torch.Tensor:
        return sum(self.losses.values())


class AutoEncoder(nn.Module):
    """Deterministic autoencoder; subclasses add their own loss parts."""

    config_class: type[AEConfig] = AEConfig

    def __init__(self, config: AEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder = build_body(config.arch, config.input_shape, config.hidden,
                                                config.channels, self.code_width(), config.bottleneck)
        self.code_activation = CODE_ACTIVATIONS[config.code_activation]()
        self.metadata: dict[str, Any] = {}

    def code_width(self) -> int:
        return self.config.bottleneck

    @property
    def bottleneck(self) -> int:
        return self.config.bottleneck

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N,C,H,W) -> (N,q)."""
        return self.code_activation(self.encoder(x))

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """(N,q) -> (N,C,H,W) logits (sigmoid output) or values (linear output)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raw = self.decode_raw(z)
        return torch.sigmoid(raw) if self.config.output == "sigmoid" else raw

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def recon_loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean per pixel, so every family's numbers are comparable."""
        if self.config.loss == "bce":
            return F.binary_cross_entropy_with_logits(raw, target)
        pred = torch.sigmoid(raw) if self.config.output == "sigmoid" else raw
        return F.mse_loss(pred, target)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """What the encoder sees in training (the image itself, but for a denoiser)."""
        return x

    def forward(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> Output:
        """Losses of rebuilding x from `inputs` (by default x, corrupted in training)."""
        if inputs is None:
            inputs = self.corrupt(x) if self.training else x
        code = self.encode(inputs)
        raw = self.decode_raw(code)
        losses = {"recon": self.recon_loss(raw, x), **self.penalties(inputs, code)}
        return Output(raw, code, losses, self.config.output == "sigmoid")

    def penalties(self, inputs: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}


class VAE(AutoEncoder):
    """encode() returns the posterior mean; forward samples with the reparameterisation trick."""

    config_class = VAEConfig

    def code_width(self) -> int:
        return 2 * self.config.bottleneck  # mean and log-variance

    def encode_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # (N,2q) -> 2 x (N,q)
        return mu, logvar.clamp(-20.0, 10.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_stats(x)[0]

    def forward(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> Output:
        mu, logvar = self.encode_stats(x if inputs is None else inputs)
        code = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        raw = self.decode_raw(code)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1).mean()
        pixels = math.prod(self.config.input_shape)  # KL per pixel keeps the ELBO's balance
        losses = {"recon": self.recon_loss(raw, x), "kl": self.config.beta * kl / pixels}
        return Output(raw, code, losses, self.config.output == "sigmoid")


class DenoisingAE(AutoEncoder):
    config_class = DenoisingConfig

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        spec = parse_noise(self.config.noise)
        return add_noise(x, spec.kind, spec.level, generator=generator)


class SparseAE(AutoEncoder):
    config_class = SparseConfig

    def penalties(self, inputs: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.config.sparsity == "l1":
            return {"l1": self.config.l1 * code.abs().sum(dim=1).mean()}
        return {"kl_sparsity": self.config.kl_weight * kl_sparsity(code, self.config.kl_target)}


def kl_sparsity(code: torch.Tensor, rho: float, eps: float = 1e-6) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j), rho_hat_j the mean of unit j over the batch. A sigmoid code keeps rho_hat in
    (0, 1); the clamp only stops log(0) when float32 rounds a saturated unit to exactly 0 or 1."""
    rate = code.mean(dim=0).clamp(eps, 1 - eps)  # (q,)
    return (rho * torch.log(rho / rate) + (1 - rho) * torch.log((1 - rho) / (1 - rate))).sum()


class ContractiveAE(AutoEncoder):
    config_class = ContractiveConfig

    def penalties(self, inputs: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"contractive": self.config.weight * jacobian_frobenius(self, inputs).mean()}


def jacobian_frobenius(model: AutoEncoder, x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of d code / d input, per sample: (N,). Differentiable w.r.t. the weights."""
    from torch.func import jacrev, vmap

    def encode_one(xi: torch.Tensor) -> torch.Tensor:
        return model.encode(xi.unsqueeze(0)).squeeze(0)

    jac = vmap(jacrev(encode_one))(x)  # (N, q, C, H, W)
    return jac.pow(2).flatten(1).sum(dim=1)


MODELS: dict[str, tuple[type[AEConfig], type[AutoEncoder]]] = {
    "dense": (AEConfig, AutoEncoder),
    "linear": (LinearConfig, AutoEncoder),
    "conv": (ConvConfig, AutoEncoder),
    "vae": (VAEConfig, VAE),
    "denoising": (DenoisingConfig, DenoisingAE),
    "sparse": (SparseConfig, SparseAE),
    "contractive": (ContractiveConfig, ContractiveAE),
}


def make_config(family: str, **fields: Any) -> AEConfig:
    if family not in MODELS:
        raise KeyError(f"unknown model family {family!r}; choose from {sorted(MODELS)}")
    return MODELS[family][0].from_dict(fields)


def build_model(family: str, config: AEConfig | None = None, **fields: Any) -> AutoEncoder:
    """A fresh model of `family` from a config (or from config fields)."""
    config = config if config is not None else make_config(family, **fields)
    model = MODELS[family][1](config)
    model.family = family
    return model


def model_slug(family: str, config: AEConfig) -> str:
    """A short, file-name-safe name, e.g. 'dense-h512x256-q8-bce' or 'denoising-conv-q32-bce-gaussian0.5'."""
    parts = [family]
    if config.arch == "conv" and family != "conv":
        parts.append("conv")
    if config.hidden and config.arch == "dense":
        parts.append("h" + "x".join(map(str, config.hidden)))
    parts += [f"q{config.bottleneck}", config.loss]
    if isinstance(config, DenoisingConfig):
        spec = parse_noise(config.noise)
        parts.append(f"{spec.kind}{spec.level:g}")
    if isinstance(config, SparseConfig) and config.sparsity == "kl":
        parts.append(f"kl{config.kl_target:g}")
    if isinstance(config, VAEConfig) and config.beta != 1.0:
        parts.append(f"beta{config.beta:g}")
    return "-".join(parts)


def series_of(slug: str) -> str:
    """A slug without its bottleneck part: models that differ only in q form one series."""
    return "-".join(part for part in slug.split("-") if not (part[:1] == "q" and part[1:].isdigit()))
