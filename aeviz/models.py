"""Every autoencoder family behind one API: encode, decode, reconstruct, and a forward with named losses."""

from __future__ import annotations

import functools
import math
import operator
from typing import Any, ClassVar, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .configs import (
    SPARSITY_DEFAULTS,
    AEConfig,
    ContractiveConfig,
    ConvConfig,
    DenoisingConfig,
    LinearConfig,
    SparseConfig,
    VAEConfig,
)
from .losses import bce_with_logits
from .nets import build_body
from .noise import add_noise, parse_noise
from .params import BODIES, Param

ALL_BODIES = tuple(BODIES)
DENSE_BODIES = tuple(b for b in BODIES if b != "conv")  # a conv body is the conv family
# Measured once with the aeviz API: MNIST, VAE q=16, hidden 256, 8 epochs, batch 128, lr 1e-3, seed 0; the KL on
# the test set, in nats per image. Per-pixel MSE + beta*KL/pixels is a Gaussian decoder of variance beta/2.
VAE_MSE_NOTE = (
    "With the **MSE** loss, MSE + β·KL per pixel is a Gaussian decoder of variance σ² = β/2: at β = 1, "
    "σ ≈ 0.71 on pixels in [0, 1], a strong pull towards the prior. Measured on MNIST (q = 16, hidden "
    "256, 8 epochs): MSE with β = 1 ended at 11.9 nats of KL per image and test MSE 0.0176; BCE with "
    "β = 1 at 23.3 nats and 0.0124; MSE with β = 0.1 (σ ≈ 0.22) at 34.9 nats and 0.0120."
)


class Codec(Protocol):
    """What inference needs of a model, aeviz's own (models.AutoEncoder) or one trained elsewhere."""

    metadata: dict[str, Any]  # the checkpoint's, with its "path": set by load_checkpoint

    @property
    def bottleneck(self) -> int: ...

    def encode(self, x: torch.Tensor) -> torch.Tensor: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor: ...

    def parameters(self, recurse: bool = True) -> Any: ...

    def buffers(self, recurse: bool = True) -> Any: ...


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
        # the parts added to one another: sum() would add them to 0 first, an extra autograd node every step
        return functools.reduce(operator.add, self.losses.values())


class AutoEncoder(nn.Module):
    """The dense family, and the base of every other: each subclass is one family, declared by the class
    attributes below (its registry name, the Train page's label, its config and the hyper-parameters the page
    and `aeviz train` offer, the page's loss and body choices), and adds its own loss parts."""

    family: ClassVar[str] = "dense"
    label: ClassVar[str] = "Dense"
    config_class: ClassVar[type[AEConfig]] = AEConfig
    hyperparams: ClassVar[tuple[Param, ...]] = ()
    loss_choices: ClassVar[tuple[str, ...]] = ("bce", "mse")  # one: the page offers no choice
    body_choices: ClassVar[tuple[str, ...]] = DENSE_BODIES  # none: the page offers no choice
    default_body: ClassVar[str] = "dense"
    suggested_bottleneck: ClassVar[int] = 16  # the page's first choice
    # The Train page's first epochs (of 5,000 MNIST images at batch 64 on a CPU) and learning rate: a
    # recognisable model in about 30 s on 2 cores (benchmarks/train_estimate.py --family F times each)
    suggested_epochs: ClassVar[int] = 10
    suggested_lr: ClassVar[float] = 1e-3

    def __init__(self, config: AEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder = build_body(
            config.arch, config.input_shape, config.hidden, config.channels, self.code_width(), config.bottleneck
        )
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
            return bce_with_logits(raw, target)  # F.binary_cross_entropy_with_logits, cheaper on the CPU
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


class LinearAE(AutoEncoder):
    family, label, config_class = "linear", "Linear (≈ PCA)", LinearConfig
    loss_choices, body_choices = ("mse",), ()


class ConvAE(AutoEncoder):
    family, label, config_class = "conv", "Convolutional", ConvConfig
    body_choices = ()
    suggested_epochs = 4  # 316 steps: MSE 0.018 after 10 epochs, but a step costs 10-40x a dense one


class VAE(AutoEncoder):
    """encode() returns the posterior mean; forward samples with the reparameterisation trick."""

    config: VAEConfig  # the family's own config class (for the type checker)

    family, label, config_class = "vae", "Variational (VAE)", VAEConfig
    body_choices, default_body = ALL_BODIES, "dense, hidden 256"
    hyperparams = (
        Param(
            "beta",
            "β: weight of the KL term",
            "VAE: weight of the KL term",
            1.0,
            high=10.0,
            step=0.1,
            note=VAE_MSE_NOTE,
        ),
    )

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
    config: DenoisingConfig  # the family's own config class (for the type checker)
    family, label, config_class = "denoising", "Denoising", DenoisingConfig
    # a hidden layer: with the plain dense body, 10 epochs of 5,000 MNIST images redrew clean test images as
    # speckle (test MSE 0.167, worse than the mean image's 0.067); with it, 0.046 (benchmarks/train_estimate.py)
    body_choices, default_body = ALL_BODIES, "dense, hidden 256"
    hyperparams = (
        Param(
            "noise",
            "Noise",
            "denoising: kind:level, e.g. gaussian:0.5 or masking:0.3",
            kind="noise",
            url_key="train_noise",
        ),
    )

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        spec = parse_noise(self.config.noise)
        return add_noise(x, spec.kind, spec.level, generator=generator)


class SparseAE(AutoEncoder):
    config: SparseConfig  # the family's own config class (for the type checker)
    family, label, config_class = "sparse", "Sparse (L1 or KL on the code)", SparseConfig
    body_choices, suggested_bottleneck = ALL_BODIES, 64
    hyperparams = (
        Param(
            "sparsity",
            "Sparsity",
            "sparse: l1 (ReLU code, L1 penalty; the default) or kl (sigmoid code, KL to a target rate)",
            "l1",
            kind="choice",
            url_key="train_sparsity",
            choices={
                "l1": "L1: ReLU code, penalised by its L1 norm",
                "kl": "KL: sigmoid code, pulled to a target rate",
            },
        ),
        Param(
            "l1",
            "L1 weight",
            "sparse: weight of the L1 penalty on the code",
            SPARSITY_DEFAULTS["l1"]["l1"],
            steps=(1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
            when=("sparsity", "l1"),
            help="Weight of the code's L1 norm: the sum of its ReLU activations.",
        ),
        Param(
            "kl_target",
            "Target rate ρ",
            "sparse, --sparsity kl: each unit's target mean activation, between 0 and 1 (default 0.05)",
            SPARSITY_DEFAULTS["kl"]["kl_target"],
            steps=(0.01, 0.02, 0.05, 0.1, 0.2),
            open_low=True,
            when=("sparsity", "kl"),
            metavar="RHO",
            help="The mean activation each code unit is pushed towards, over a batch.",
        ),
        Param(
            "kl_weight",
            "KL weight",
            "sparse, --sparsity kl: weight of the summed KL penalty",
            SPARSITY_DEFAULTS["kl"]["kl_weight"],
            steps=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
            when=("sparsity", "kl"),
            help="Weight of the KL divergences between ρ and each unit's mean activation, summed over units.",
        ),
    )

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
    config: ContractiveConfig  # the family's own config class (for the type checker)
    family, label, config_class = "contractive", "Contractive", ContractiveConfig
    # Its sigmoid code learnt nothing at lr 1e-3 (10 epochs of 5,000 images: test MSE 0.068, the mean image's,
    # with or without a hidden layer); with a hidden layer at lr 1e-2, 3 epochs gave 0.042. Its Jacobian makes
    # a step cost ~20x a dense one: 4 epochs.
    body_choices, default_body = ALL_BODIES, "dense, hidden 256"
    suggested_epochs, suggested_lr = 4, 1e-2
    hyperparams = (
        Param(
            "weight",
            "Penalty weight",
            "contractive: weight of the Jacobian penalty",
            1e-3,
            steps=(1e-4, 1e-3, 1e-2, 1e-1),
        ),
    )

    def penalties(self, inputs: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"contractive": self.config.weight * jacobian_frobenius(self, inputs).mean()}


def jacobian_frobenius(model: AutoEncoder, x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of d code / d input, per sample: (N,). Differentiable w.r.t. the weights."""
    from torch.func import jacrev, vmap

    def encode_one(xi: torch.Tensor) -> torch.Tensor:
        return model.encode(xi.unsqueeze(0)).squeeze(0)

    jac = vmap(jacrev(encode_one))(x)  # (N, q, C, H, W)
    return jac.pow(2).flatten(1).sum(dim=1)


# In the Train page's order; a new family is one subclass above and its entry here
MODELS: dict[str, type[AutoEncoder]] = {
    cls.family: cls for cls in (AutoEncoder, ConvAE, VAE, DenoisingAE, SparseAE, ContractiveAE, LinearAE)
}


def make_config(family: str, **fields: Any) -> AEConfig:
    if family not in MODELS:
        raise KeyError(f"unknown model family {family!r}; choose from {sorted(MODELS)}")
    return MODELS[family].config_class.from_dict(fields)


def build_model(family: str, config: AEConfig | None = None, **fields: Any) -> AutoEncoder:
    """A fresh model of `family` from a config (or from config fields)."""
    config = config if config is not None else make_config(family, **fields)  # an unknown family: its message
    return MODELS[family](config)


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
