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
    DenseConfig,
    LinearConfig,
    SparseConfig,
    VAEConfig,
    VQConfig,
)
from .features import dead_units, firing_threshold, l0
from .losses import bce_with_logits
from .nets import build_body, tie
from .noise import add_noise, parse_noise
from .params import BODIES, Param
from .vq import Codebook, codebook_usage, grid_decoder, grid_encoder
from .walks import active_units, kl_per_dim

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
# The output layer's activation, applied to the decoder's raw output: sigmoid (raw = logits), linear, or ReLU
OUTPUT_ACTIVATIONS = {"sigmoid": torch.sigmoid, "linear": lambda raw: raw, "relu": F.relu}


def finish(raw: torch.Tensor, output: str) -> torch.Tensor:
    """The reconstruction from the decoder's raw output, through the output layer's activation."""
    return OUTPUT_ACTIVATIONS[output](raw)


class Output(NamedTuple):
    """What a forward pass returns: the decoder's raw output, the code, and the named loss parts."""

    raw: torch.Tensor  # logits for a sigmoid output, values before the activation for a linear or ReLU one
    code: torch.Tensor
    losses: dict[str, torch.Tensor]
    output: str = "sigmoid"

    @property
    def recon(self) -> torch.Tensor:
        """The reconstruction in data space; computed on demand: training needs only the loss."""
        return finish(self.raw, self.output)

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
    config_class: ClassVar[type[AEConfig]] = DenseConfig
    hyperparams: ClassVar[tuple[Param, ...]] = (
        Param(
            "weights",
            "Decoder weights",
            "dense: free (the decoder learns its own weights; the default) or tied (each decoder layer is its "
            "mirror encoder layer transposed)",
            "free",
            kind="choice",
            url_key="train_weights",
            choices={"free": "Free: the decoder's own", "tied": "Tied: the encoder's, transposed"},
        ),
        Param(
            "l2",
            "L2 weight decay",
            "dense: weight of the sum of the squared weights added to the loss (default 0: none)",
            0.0,
            steps=(0.0, 1e-6, 1e-5, 1e-4, 1e-3),
            help="Pulls every weight towards 0: smoother, smaller weights.",
        ),
    )
    loss_choices: ClassVar[tuple[str, ...]] = ("bce", "mse")  # one: the page offers no choice
    body_choices: ClassVar[tuple[str, ...]] = DENSE_BODIES  # none: the page offers no choice
    default_body: ClassVar[str] = "dense"
    suggested_bottleneck: ClassVar[int] = 16  # the page's first choice
    # The Train page's first epochs (of 5,000 MNIST images at batch 64 on a CPU) and learning rate: a
    # recognisable model in about 30 s on 2 cores (benchmarks/train_estimate.py --family F times each)
    suggested_epochs: ClassVar[int] = 10
    suggested_lr: ClassVar[float] = 1e-3
    derived_bottleneck: ClassVar[str] = ""  # how q follows from the other settings, where it is not chosen

    def __init__(self, config: AEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder = self.bodies()
        self.code_activation = CODE_ACTIVATIONS[config.code_activation]()
        self.metadata: dict[str, Any] = {}

    def bodies(self) -> tuple[nn.Module, nn.Module]:
        """(encoder, decoder) as the config's arch, hidden and channels say (the decoder tied to the encoder when
        the config says so)."""
        c = self.config
        encoder, decoder = build_body(c.arch, c.input_shape, c.hidden, c.channels, self.code_width(), c.bottleneck)
        if getattr(c, "weights", "free") == "tied":
            decoder = tie(encoder, decoder)
        return encoder, decoder

    def code_width(self) -> int:
        return self.config.bottleneck

    def decoder_input(self) -> tuple[int, ...]:
        """The shape (without the batch) the decoder network takes: the code, (q,), for all but a VQ-VAE."""
        return (self.config.bottleneck,)

    @property
    def bottleneck(self) -> int:
        return self.config.bottleneck

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N,C,H,W) -> (N,q)."""
        return self.code_activation(self.encoder(x))

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """(N,q) -> (N,C,H,W) logits (sigmoid output) or values before the output activation."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return finish(self.decode_raw(z), self.config.output)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def recon_loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean per pixel, so every family's numbers are comparable."""
        if self.config.loss == "bce":
            return bce_with_logits(raw, target)  # F.binary_cross_entropy_with_logits, cheaper on the CPU
        return F.mse_loss(finish(raw, self.config.output), target)

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
        return Output(raw, code, losses, self.config.output)

    def penalties(self, inputs: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        """The family's regularisers as named loss parts: for the dense family, L2 on its weights (if any)."""
        l2 = getattr(self.config, "l2", 0.0)
        if not l2:
            return {}
        weights = [p for p in self.parameters() if p.ndim > 1]  # tied weights counted once
        return {"l2": l2 * torch.stack([w.pow(2).sum() for w in weights]).sum()}

    def diagnostics(self, x: torch.Tensor) -> dict[str, float]:
        """Figures of the code the trainer records after each epoch, on held-out images x (eval mode): what the
        family's regulariser does to its code (active units, units that fire, codebook usage)."""
        return {}


class LinearAE(AutoEncoder):
    family, label, config_class = "linear", "Linear (≈ PCA)", LinearConfig
    loss_choices, body_choices, hyperparams = ("mse",), (), ()


class ConvAE(AutoEncoder):
    family, label, config_class = "conv", "Convolutional", ConvConfig
    body_choices, hyperparams = (), ()
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
            steps=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
            help="β = 1 is the VAE's ELBO; larger β pulls each code harder towards the prior (β-VAE), and dims "
            "whose information is not worth their KL collapse: their posterior is the prior for every image.",
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
        return Output(raw, code, losses, self.config.output)

    def diagnostics(self, x: torch.Tensor) -> dict[str, float]:
        """Active units (Burda et al.) and the KL in nats per image, unweighted by beta."""
        mu, logvar = self.encode_stats(x)
        return {"active_units": float(active_units(mu).sum()), "kl_nats": float(kl_per_dim(mu, logvar).sum())}


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
    family, label, config_class = "sparse", "Sparse (L1, KL or TopK)", SparseConfig
    body_choices, suggested_bottleneck = ALL_BODIES, 64
    hyperparams = (
        Param(
            "sparsity",
            "Sparsity",
            "sparse: l1 (ReLU code, L1 penalty; the default), kl (sigmoid code, KL to a target rate) or topk "
            "(the k largest units fire, the rest are 0)",
            "l1",
            kind="choice",
            url_key="train_sparsity",
            choices={
                "l1": "L1: ReLU code, penalised by its L1 norm",
                "kl": "KL: sigmoid code, pulled to a target rate",
                "topk": "TopK: the k largest units fire, the rest are 0",
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
        Param(
            "topk",
            "Active units k",
            "sparse, --sparsity topk: how many units fire per image, at most the bottleneck (default 32)",
            SPARSITY_DEFAULTS["topk"]["topk"],
            steps=(4, 8, 16, 32, 64, 128),
            low=1,
            integer=True,
            when=("sparsity", "topk"),
            metavar="K",
            help="Each image keeps its k largest units (after a ReLU, at most k are non-zero): the code's L0 is "
            "fixed instead of penalised (Gao et al. 2024).",
        ),
        Param(
            "auxk",
            "Dead-unit revival (AuxK)",
            "sparse, --sparsity topk: weight of the auxiliary loss that revives dead units, 0 to turn it off "
            "(default 1/32, as Gao et al.)",
            SPARSITY_DEFAULTS["topk"]["auxk"],
            steps=(0.0, 1 / 64, 1 / 32, 1 / 16, 1 / 8),
            when=("sparsity", "topk"),
            help="Units idle for 50 batches rebuild the image beside the live code (the 4k largest of them), "
            "so they get gradients again; at 0, a unit that loses every top-k race stays dead.",
        ),
    )

    def __init__(self, config: SparseConfig) -> None:
        super().__init__(config)
        # TopK: training batches since each unit last fired. Training state, not a buffer: a checkpoint holds
        # none, and a loaded model (built on the meta device) has nothing left unfilled
        self.idle: torch.Tensor | None = None
        if config.sparsity == "topk":
            # Gao et al.'s b_pre: the encoder sees x - b_pre. Set to the first training batch's mean, learned after
            self.center = nn.Parameter(torch.zeros(config.input_shape))
            self._centred = False

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.sparsity != "topk":
            return super().encode(x)
        return self._keep(self.encoder(x - self.center), self.config.topk)

    def _keep(self, pre: torch.Tensor, k: int) -> torch.Tensor:
        """(N,q) pre-activations -> the code: each row's k largest, through the ReLU; the rest 0."""
        kept = pre.topk(min(k, pre.shape[1]), dim=1)
        return torch.zeros_like(pre).scatter(1, kept.indices, self.code_activation(kept.values))

    def forward(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> Output:
        if self.config.sparsity != "topk":
            return super().forward(x, inputs)
        inputs = x if inputs is None else inputs
        if self.training and not self._centred:  # once: what all images share no longer decides who wins
            self._centred = True
            if not bool(self.center.any()):
                with torch.no_grad():
                    self.center.copy_(inputs.mean(dim=0))
        pre = self.encoder(inputs - self.center)  # (N,q)
        code = self._keep(pre, self.config.topk)
        raw = self.decode_raw(code)
        losses = {"recon": self.recon_loss(raw, x)}
        if self.training and self.config.auxk > 0:
            losses |= self._revive(pre, code, x)
        return Output(raw, code, losses, self.config.output)

    def _revive(self, pre: torch.Tensor, code: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gao et al.'s AuxK for any decoder: the 4k largest of the units idle for IDLE_BATCHES rebuild x beside
        the (fixed) live code, so their encoder and decoder weights get gradients again."""
        if self.idle is None or self.idle.device != code.device:
            self.idle = torch.zeros(code.shape[1], device=code.device)
        with torch.no_grad():
            self.idle.add_(1).masked_fill_((code > 0).any(dim=0), 0)
        dead = self.idle > IDLE_BATCHES
        if not bool(dead.any()):
            return {}
        revived = self._keep(pre.masked_fill(~dead, float("-inf")), AUX_K_FACTOR * self.config.topk)
        return {"auxk": self.config.auxk * self.recon_loss(self.decode_raw(code.detach() + revived), x)}

    def penalties(self, inputs: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.config.sparsity == "l1":
            return {"l1": self.config.l1 * code.abs().sum(dim=1).mean()}
        if self.config.sparsity == "kl":
            return {"kl_sparsity": self.config.kl_weight * kl_sparsity(code, self.config.kl_target)}
        return {}  # TopK: sparse by construction

    def diagnostics(self, x: torch.Tensor) -> dict[str, float]:
        """Units firing per image (L0) and units that fire on none of x (dead)."""
        code = self.encode(x).detach().cpu().numpy()
        threshold = firing_threshold(self.config.code_activation)
        return {"l0": l0(code, threshold), "dead_units": float(dead_units(code, threshold))}


IDLE_BATCHES = 50  # a TopK unit that fired in none of the last 50 training batches counts as dead for AuxK
AUX_K_FACTOR = 4  # AuxK lets the 4k largest dead units rebuild the image (Gao et al.: k_aux 512 for k = 32)


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


class VQVAE(AutoEncoder):
    """encode() returns the quantized token grid flattened, (N, code_dim·h·w), so maps, kNN and reconstructions
    treat it like any code; decode() first snaps each cell to its nearest code, as the decoder only ever saw
    codebook vectors. tokens() and decode_tokens() work with the grid of codebook indices itself."""

    config: VQConfig  # the family's own config class (for the type checker)
    family, label, config_class = "vq", "Vector-quantized (VQ-VAE)", VQConfig
    body_choices = ()
    derived_bottleneck = (
        "A VQ-VAE's code is its grid of tokens: q = the grid's cells × the code vector size D (7 × 7 × D for "
        "28 × 28 images), each cell one of K codebook vectors: at most cells × log₂K bits."
    )
    hyperparams = (
        Param(
            "codebook",
            "Codebook updates",
            "vq: ema (each code follows the running mean of the vectors it is picked for; the default) or loss "
            "(codes learned by gradient from the codebook loss)",
            "ema",
            kind="choice",
            url_key="train_codebook",
            choices={
                "ema": "EMA: codes follow the mean of their vectors",
                "loss": "Loss: codes learned by gradient",
            },
        ),
        Param(
            "codebook_size",
            "Codebook size K",
            "vq: how many code vectors the codebook holds (default 128)",
            128,
            steps=(16, 32, 64, 128, 256, 512, 1024),
            low=1,
            integer=True,
            metavar="K",
            help="Each grid cell becomes one of these K vectors: a token.",
        ),
        Param(
            "code_dim",
            "Code vector size D",
            "vq: width of each code vector; the code size q is the token grid's cells times D (default 8)",
            8,
            steps=(1, 2, 4, 8, 16, 32, 64),
            low=1,
            integer=True,
            metavar="D",
        ),
        Param(
            "commitment",
            "Commitment β",
            "vq: weight of the commitment loss, which keeps the encoder's vectors near their codes (default 0.25)",
            0.25,
            steps=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
        ),
        Param(
            "decay",
            "EMA decay",
            "vq, --codebook ema: how slowly the codes follow their vectors, between 0 and 1 (default 0.99)",
            0.99,
            steps=(0.9, 0.95, 0.99, 0.995, 0.999),
            open_low=True,
            when=("codebook", "ema"),
        ),
    )

    def __init__(self, config: VQConfig) -> None:
        if config.bottleneck != config.grid_bottleneck():
            raise ValueError(
                f"a VQ-VAE's code size is its {'x'.join(map(str, config.grid))} token grid times code_dim "
                f"{config.code_dim} = {config.grid_bottleneck()}, not {config.bottleneck}"
            )
        super().__init__(config)
        c = config
        self.codebook = Codebook(
            c.codebook_size, c.code_dim, ema=c.codebook == "ema", decay=c.decay, commitment=c.commitment
        )

    def bodies(self) -> tuple[nn.Module, nn.Module]:
        c = self.config
        return grid_encoder(c.input_shape[0], c.channels, c.code_dim), grid_decoder(
            c.input_shape[0], c.channels, c.code_dim
        )

    def decoder_input(self) -> tuple[int, ...]:
        return (self.config.code_dim, *self.config.grid)

    def _grid(self, z: torch.Tensor) -> torch.Tensor:
        """(N,q) -> (N,D,h,w)."""
        return z.reshape(len(z), *self.decoder_input())

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(N,C,H,W) -> (N,h,w) long: each cell's codebook index."""
        return self.codebook.quantize(self.encoder(x))[1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.codebook.quantize(self.encoder(x))[0].flatten(1)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.codebook.quantize(self._grid(z))[0])

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N,h,w) codebook indices -> (N,C,H,W) images."""
        return self.decode(self.codebook.lookup(tokens).flatten(1))

    def forward(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> Output:
        z_q, _, parts = self.codebook(self.encoder(x if inputs is None else inputs))  # straight-through
        raw = self.decoder(z_q)
        losses = {"recon": self.recon_loss(raw, x), **parts}
        return Output(raw, z_q.flatten(1), losses, self.config.output)

    def diagnostics(self, x: torch.Tensor) -> dict[str, float]:
        """Codebook usage on x: its perplexity and the codes no cell picks."""
        return codebook_usage(self.tokens(x).cpu(), self.config.codebook_size)


# In the Train page's order; a new family is one subclass above and its entry here
MODELS: dict[str, type[AutoEncoder]] = {
    cls.family: cls for cls in (AutoEncoder, ConvAE, VAE, DenoisingAE, SparseAE, ContractiveAE, LinearAE, VQVAE)
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
    if config.arch == "conv" and family not in ("conv", "vq"):  # a VQ-VAE is always convolutional
        parts.append("conv")
    if config.hidden and config.arch == "dense":
        parts.append("h" + "x".join(map(str, config.hidden)))
    parts += [f"q{config.bottleneck}", config.loss]
    if config.output != type(config).output:  # the family's own output layer goes unsaid: 'dense-q16-mse-relu'
        parts.append(config.output)
    if config.code_activation != type(config).code_activation and not isinstance(config, SparseConfig):
        parts.append(f"{config.code_activation}code")  # a sparse code's activation follows its sparsity
    if isinstance(config, DenoisingConfig):
        spec = parse_noise(config.noise)
        parts.append(f"{spec.kind}{spec.level:g}")
    if isinstance(config, SparseConfig) and config.sparsity == "kl":
        parts.append(f"kl{config.kl_target:g}")
    if isinstance(config, SparseConfig) and config.sparsity == "topk":
        parts.append(f"top{config.topk}")
        if config.auxk != SPARSITY_DEFAULTS["topk"]["auxk"]:
            parts.append(f"auxk{config.auxk:g}")
    if isinstance(config, VQConfig) and config.arch == "conv":  # aeviz's own (an imported one states no codebook)
        parts.append(f"codes{config.codebook_size}" + ("" if config.codebook == "ema" else "-gradcodes"))
    if isinstance(config, VAEConfig) and config.beta != 1.0:
        parts.append(f"beta{config.beta:g}")
    if isinstance(config, DenseConfig) and config.weights == "tied":
        parts.append("tied")
    if isinstance(config, DenseConfig) and config.l2:
        parts.append(f"l2{config.l2:g}")
    return "-".join(parts)


def series_of(slug: str) -> str:
    """A slug without its bottleneck part: models that differ only in q form one series."""
    return "-".join(part for part in slug.split("-") if not (part[:1] == "q" and part[1:].isdigit()))
