"""Every family's config: frozen dataclasses that check themselves and round-trip through plain dicts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .noise import parse_noise

CODE_ACTIVATION_NAMES = ("linear", "relu", "sigmoid")  # models.py maps each to its torch module
OUTPUTS = ("sigmoid", "linear", "relu")  # the output layer's activation (models.OUTPUT_ACTIVATIONS)


@dataclass(frozen=True)
class AEConfig:
    """A deterministic autoencoder. `hidden` are dense widths, `channels` conv widths (per stride-2 layer); no
    `channels` means the body sized for the input (`conv_widths`), so every family inherits it."""

    bottleneck: int = 16
    input_shape: tuple[int, int, int] = (1, 28, 28)
    arch: str = "dense"
    hidden: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()  # () stands for conv_widths(input_shape), filled in below
    loss: str = "bce"
    output: str = "sigmoid"
    code_activation: str = "linear"

    def __post_init__(self) -> None:
        if not self.channels and _sizes(self.input_shape):  # a bad shape gets its own message from the model
            object.__setattr__(self, "channels", conv_widths(self.input_shape))  # frozen: filled in once
        for field, allowed in (
            ("loss", ("bce", "mse")),
            ("output", OUTPUTS),
            ("arch", ("dense", "conv")),
            ("code_activation", CODE_ACTIVATION_NAMES),
        ):
            if getattr(self, field) not in allowed:
                raise ValueError(f"{field} must be one of {allowed}, not {getattr(self, field)!r}")
        if self.bottleneck < 1:
            raise ValueError("bottleneck must be a positive integer")
        if self.loss == "bce" and self.output != "sigmoid":
            raise ValueError("BCE needs a sigmoid output; use loss='mse' with a linear or ReLU output")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def for_input(self, shape: tuple[int, int, int]) -> AEConfig:
        """The same model for images of `shape` (the dataset's, which training finds out)."""
        return type(self).from_dict({**self.to_dict(), "input_shape": tuple(shape)})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AEConfig:
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown config fields for {cls.__name__}: {sorted(unknown)}")
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**fields)


def conv_widths(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The conv body's widths for an input (C,H,W): stride-2 layers until the grid is about 4x4 (two for 8 and
    28, three for 32, four for 64), doubling in width as the side halves so that each layer keeps about half
    the values of the last and the first keeps more than the image has (28x28 grey: 784 -> 3136 -> 1568).
    Grey starts at 16 (MNIST's body since the start); colour at 32: three values per pixel, so a 3x3 stride-2
    layer sees 27 inputs where grey sees 9, and 16 filters would squeeze 12 values per 2x2 block into 16
    before the code does (32x32 colour: 3072 -> 8192 -> 4096 -> 2048 values, a 4x4x128 grid)."""
    channels, height, width = input_shape[:3]
    side, layers = min(height, width), 0
    while side % 2 == 0 and side // 2 >= 4 and layers < 4:
        side, layers = side // 2, layers + 1
    if layers < 2 and height % 4 == 0 and width % 4 == 0:
        layers = 2  # 8x8 digits: a 2x2 grid, as before colour
    first = 16 if channels == 1 else 32
    return tuple(first * 2**i for i in range(max(layers, 1)))


def _sizes(shape) -> bool:
    return isinstance(shape, (tuple, list)) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)


@dataclass(frozen=True)
class DenseConfig(AEConfig):
    """The plain autoencoder, with two classic regularisers of its weights: `weights='tied'` makes each decoder
    layer the transpose of its mirror in the encoder (only the biases are the decoder's own), and `l2` adds
    l2 times the sum of the squared weights to the loss (weight decay)."""

    weights: str = "free"
    l2: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weights not in ("free", "tied"):
            raise ValueError(f"weights must be 'free' or 'tied', not {self.weights!r}")
        if self.weights == "tied" and self.arch != "dense":
            raise ValueError("tied weights need a dense body: a decoder layer is its encoder mirror transposed")
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, not {self.l2!r}")


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
    `kl_weight` times the summed KL divergence (Ng's sparse autoencoder). sparsity='topk': the `topk` largest
    pre-activations of each image kept, the rest set to 0, then a ReLU (Gao et al. 2024): no penalty, at most
    `topk` units fire; `auxk` weighs Gao et al.'s auxiliary loss that revives dead units (those idle for a while
    rebuild the image beside the live code, so they get gradients again). Another mode's settings are 0."""

    bottleneck: int = 256
    sparsity: str = "l1"
    # "", NaN and a topk of 0 stand for the mode's own default and are resolved below, so metadata always holds
    # real values
    code_activation: str = ""
    l1: float = math.nan
    kl_target: float = math.nan
    kl_weight: float = math.nan
    topk: int = 0
    auxk: float = math.nan

    def __post_init__(self) -> None:
        if self.sparsity not in SPARSITY_DEFAULTS:
            raise ValueError(f"sparsity must be one of {tuple(SPARSITY_DEFAULTS)}, not {self.sparsity!r}")
        for name, default in SPARSITY_DEFAULTS[self.sparsity].items():
            value = getattr(self, name)
            if value == "" or (isinstance(value, float) and math.isnan(value)) or (name == "topk" and value == 0):
                object.__setattr__(self, name, default)  # frozen: the one place a field is filled in
        super().__post_init__()
        for name in ("l1", "kl_target", "kl_weight", "auxk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.sparsity != "kl" and self.kl_weight > 0:
            raise ValueError("kl_weight > 0 needs sparsity='kl': a ReLU code has no rate for KL to aim at")
        if self.sparsity != "l1" and self.l1 > 0:
            raise ValueError(f"l1 applies to sparsity='l1'; with sparsity={self.sparsity!r} leave it 0")
        if self.sparsity == "kl":
            if self.code_activation != "sigmoid":
                raise ValueError("sparsity='kl' needs a sigmoid code: its activations are the rates KL compares")
            if not 0 < self.kl_target < 1:
                raise ValueError(f"kl_target (rho) must lie strictly between 0 and 1, not {self.kl_target!r}")
        self._check_topk()

    def _check_topk(self) -> None:
        if isinstance(self.topk, bool) or not isinstance(self.topk, int):
            raise ValueError(f"topk must be a whole number, not {self.topk!r}")
        if self.sparsity != "topk":
            if self.topk or self.auxk:
                raise ValueError(f"topk and auxk apply to sparsity='topk'; with {self.sparsity!r} leave them 0")
            return
        if not 1 <= self.topk <= self.bottleneck:
            raise ValueError(f"topk (k) must be from 1 to the bottleneck ({self.bottleneck}), not {self.topk}")
        if self.code_activation != "relu":
            raise ValueError("sparsity='topk' keeps a ReLU code: the k largest pre-activations, then a ReLU")


# What "" / NaN / 0 fields of a SparseConfig become; l1 keeps the defaults of the configs saved before KL existed
SPARSITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "l1": {"code_activation": "relu", "l1": 1e-3, "kl_target": 0.0, "kl_weight": 0.0, "topk": 0, "auxk": 0.0},
    "kl": {"code_activation": "sigmoid", "l1": 0.0, "kl_target": 0.05, "kl_weight": 3e-3, "topk": 0, "auxk": 0.0},
    "topk": {"code_activation": "relu", "l1": 0.0, "kl_target": 0.0, "kl_weight": 0.0, "topk": 32, "auxk": 1 / 32},
}


@dataclass(frozen=True)
class ContractiveConfig(AEConfig):
    """Penalises the Frobenius norm of the encoder's Jacobian (Rifai et al. 2011)."""

    code_activation: str = "sigmoid"
    weight: float = 1e-3


@dataclass(frozen=True)
class VQConfig(AEConfig):
    """VQ-VAE (van den Oord et al. 2017): a conv encoder to a grid of `code_dim`-wide vectors (one cell per
    (2**len(channels))² pixels), each replaced by the nearest of `codebook_size` codebook vectors. `codebook`
    'ema': the codebook follows the mean of the vectors assigned to each entry (decay `decay`); 'loss': it is
    learned by gradient from the codebook loss. Both add `commitment` times the commitment loss, and restart a
    code no vector picked lately at a random encoder output. The code is the quantized grid, flattened: the
    bottleneck q is the grid's cells × code_dim, filled in from them (0 means: derive it).

    EMA is the default: on MNIST (10,000 images, 4 epochs, K=128, D=8; benchmarks/vq_codebook.py) it reached
    test MSE 0.0118 with perplexity 86 and no dead code, the gradient codebook 0.0176 (perplexity 81); without
    restarts both collapse to a handful of codes (perplexity 4.7 and 2.8, MSE 0.0168 and 0.0324)."""

    bottleneck: int = 0
    arch: str = "conv"
    channels: tuple[int, ...] = (32, 64)
    code_dim: int = 8
    codebook_size: int = 128
    commitment: float = 0.25
    codebook: str = "ema"
    decay: float = 0.99

    def __post_init__(self) -> None:
        for name in ("code_dim", "codebook_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")
        if self.codebook not in ("ema", "loss"):
            raise ValueError(f"codebook must be 'ema' or 'loss', not {self.codebook!r}")
        if not (math.isfinite(self.commitment) and self.commitment >= 0):
            raise ValueError(f"commitment must be a finite number >= 0, not {self.commitment!r}")
        if not 0 < self.decay < 1:
            raise ValueError(f"decay must lie strictly between 0 and 1, not {self.decay!r}")
        if self.bottleneck == 0:  # frozen: derived once, so metadata holds the real q
            object.__setattr__(self, "bottleneck", self.grid_bottleneck())
        super().__post_init__()

    def grid_bottleneck(self) -> int:
        """q of aeviz's own VQ-VAE: cells × code_dim. (A VQ model imported from elsewhere states its own q.)"""
        if self.arch != "conv" or not self.channels:
            raise ValueError("aeviz's VQ-VAE is convolutional: arch='conv' with at least one channels width")
        height, width = self.grid
        return height * width * self.code_dim

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the token grid: the input's sides halved by each stride-2 layer."""
        factor = 2 ** len(self.channels)
        _, height, width = self.input_shape
        if height % factor or width % factor:
            raise ValueError(
                f"{len(self.channels)} stride-2 layers need sides divisible by {factor}, not {height}x{width}"
            )
        return height // factor, width // factor

    def for_input(self, shape: tuple[int, int, int]) -> AEConfig:
        return type(self).from_dict({**self.to_dict(), "input_shape": tuple(shape), "bottleneck": 0})
