"""The pretrained model zoo's contents: every model `python -m aeviz.zoo.build` trains, with its recipe."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..models import make_config, model_slug
from ..names import default_name
from ..pca import MAX_COMPONENTS, SIZES
from ..recipes import recipe_suffix

QS = tuple(q for q in SIZES if q <= MAX_COMPONENTS)  # the grey zoo's code sizes: those PCA measures on grey inputs

DEEP = (256, 128)


@dataclass(frozen=True)
class ZooEntry:
    """One model to train: family, config fields and epochs (the classic recipe: Adam 1e-3, batch 256)."""

    dataset: str
    family: str
    fields: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    schedule: str = "constant"
    subset: int | None = None  # train on the first N training images (None: all of them; CIFAR-10's CPU build)
    outliers: str = ""  # TrainConfig.outliers: another set's images mixed into training (aeviz.recipes)
    pretrain_epochs: int = 0  # TrainConfig.pretrain_epochs: greedy layer-wise pre-training first

    @property
    def name(self) -> str:
        slug = model_slug(self.family, make_config(self.family, **self.fields))
        return default_name(self.dataset, slug + recipe_suffix(self.outliers, self.pretrain_epochs))


def plane(entry: ZooEntry) -> ZooEntry:
    """The recipe of the code-plane models (q=2) whose planes Latent space shows and replays: twice the epochs,
    Adam from 1e-2 decaying to 0 (cosine). With the classic recipe a 2-d code lands in whichever basin its first
    steps find: MNIST's affine dense q=2 read kNN-7 30.6 to 42.6 % over seeds 0-3 at 30 epochs (seed 0 still
    31.5 % at 100 epochs); from 1e-2 over 60 epochs seed 0 reaches 44.4 % and a lower BCE (0.2249 vs 0.2274)."""
    return replace(entry, epochs=2 * entry.epochs, lr=1e-2, schedule="cosine")


def _mnist_like(dataset: str) -> list[ZooEntry]:
    e = lambda family, epochs=30, **fields: ZooEntry(dataset, family, fields, epochs)
    return [
        plane(e("dense", bottleneck=2)),
        *(e("dense", bottleneck=q) for q in QS if q != 2),
        plane(e("conv", 20, bottleneck=2)),
        # q=16 conv codes are compared with published kNN figures: trained to convergence (30 epochs)
        *(e("conv", 30 if q == 16 else 20, bottleneck=q) for q in (8, 16, 32)),
        # deeper nets with wide codes converge slower; at 20 epochs Fashion q=64 still lost to PCA
        *(e("dense", 40 if q >= 32 else 20, bottleneck=q, hidden=DEEP) for q in QS),
        e("dense", bottleneck=16, loss="mse"),
        e("linear", 60, bottleneck=16),
        plane(e("vae", bottleneck=2, hidden=(256,))),
        e("vae", bottleneck=16, hidden=(256,)),
        e("vae", 20, bottleneck=2, arch="conv"),
        e("vae", 20, bottleneck=16, arch="conv"),
        e("denoising", bottleneck=32, noise="gaussian:0.5"),
        e("denoising", 20, bottleneck=32, arch="conv", noise="gaussian:0.5"),
        # imputation: hiding a block in training (occlusion noise) teaches filling one in (aeviz.imputation)
        e("denoising", bottleneck=32, noise="occlusion:0.25"),
        e("sparse", bottleneck=256, l1=1e-4),
        e("sparse", bottleneck=256, sparsity="kl", kl_target=0.05, kl_weight=3e-3),
        e("contractive", bottleneck=32, weight=1e-4),
        *_students_next(dataset),
        *_lessons(dataset),
    ]


BETAS = (0.25, 4.0, 16.0)  # beside the beta = 1 VAEs above: the VAE page's beta control switches among them
TOPKS = (16, 64)
# Short recipes: these were trained on a 2-core machine shared by seven engineers (a 60k-image VAE epoch took
# 150 s there, a VQ-VAE's 1,100 s), so each sees a subset for a few epochs, and the model card says so. The
# beta = 1 VAEs above had the full recipe: the VAE page's beta tab names both recipes when it compares them.
SHORT = 10_000


def _students_next(dataset: str) -> list[ZooEntry]:
    """beta-VAEs (the beta = 1 ones' nets, beta apart), a VQ-VAE, and overcomplete TopK sparse dictionaries
    (q = 1024 > 784 pixels) at two k, beside the L1 and KL ones for the L0-vs-error frontier."""
    e = lambda family, epochs, subset, **fields: ZooEntry(dataset, family, fields, epochs, 256, subset=subset)
    return [
        *(e("vae", 3, SHORT, bottleneck=2, hidden=(256,), beta=b) for b in BETAS),
        *(e("vae", 3, SHORT, bottleneck=16, hidden=(256,), beta=b) for b in BETAS),
        e("vq", 2, SHORT),  # 7x7 tokens of 8 numbers from 128 codes (EMA updates): q = 392
        *(e("sparse", 3, SHORT, bottleneck=1024, sparsity="topk", topk=k) for k in TOPKS),
    ]


OUTLIER_SHARES = (0.01, 0.05, 0.2)  # of the training images replaced by the other grey set's: AUROC falls
L2 = 1e-5  # weight decay of the lesson's dense q=16: on the sum of squared weights, beside a per-pixel loss


def _lessons(dataset: str) -> list[ZooEntry]:
    """The articles' lessons (Published results; aeviz.lessons): the running dense q=16 example with another
    output layer, tied weights or weight decay; on MNIST, anomalies (Fashion-MNIST images) in its training set,
    layer-wise pre-training of the deep net, and an overcomplete code with nothing (or noise) keeping it from
    copying; on Fashion-MNIST, the TensorFlow tutorial's recipe."""
    e = lambda family, epochs=30, **fields: ZooEntry(dataset, family, fields, epochs)
    variants = [
        e("dense", bottleneck=16, loss="mse", output="linear"),
        e("dense", bottleneck=16, loss="mse", output="relu"),
        e("dense", bottleneck=16, weights="tied"),
        e("dense", bottleneck=16, l2=L2),
    ]
    if dataset == "fashion-mnist":
        # TensorFlow's "Intro to Autoencoders": Dense(64, relu), Dense(784, sigmoid), Adam, MSE, 10 epochs,
        # Keras's default batch of 32
        return [*variants, replace(e("dense", 10, bottleneck=64, code_activation="relu", loss="mse"), batch_size=32)]
    return [
        *variants,
        *(replace(e("dense", bottleneck=16), outliers=f"fashion-mnist:{share:g}") for share in OUTLIER_SHARES),
        replace(e("dense", 20, bottleneck=16, hidden=DEEP), pretrain_epochs=5),  # its end-to-end twin: 20 epochs
        e("dense", 10, bottleneck=1024),
        e("denoising", 10, bottleneck=1024, noise="gaussian:0.5"),
        e("linear", 10, bottleneck=784),  # as wide as the image: its optimum is the identity (PCA keeping all)
    ]


def _digits() -> list[ZooEntry]:
    # 1,437 training images: batch 64 gives 23 steps an epoch, enough for the linear AE to reach PCA
    e = lambda family, epochs=200, **fields: ZooEntry(
        "digits",
        family,
        {"input_shape": (1, 8, 8), **fields},
        epochs,
        64,
    )
    return [
        *(e("dense", bottleneck=q) for q in (2, 4, 8, 16)),
        *(e("conv", bottleneck=q, channels=(16, 32)) for q in (2, 8, 16)),
        e("linear", 1000, bottleneck=8),  # plain Adam creeps to PCA's optimum: give it the steps
        e("vae", bottleneck=2, hidden=(64,)),
        e("vae", bottleneck=8, hidden=(64,)),
        e("denoising", bottleneck=16, noise="gaussian:0.5"),
        e("denoising", bottleneck=16, arch="conv", noise="gaussian:0.5"),
        e("denoising", bottleneck=16, noise="occlusion:0.25"),  # imputation (aeviz.imputation)
        e("sparse", bottleneck=64, l1=1e-4),
        # a sigmoid code converges slower than a ReLU one: test MSE 0.0069 at 200 epochs, 0.0035 at 1000
        e("sparse", 1000, bottleneck=64, sparsity="kl", kl_target=0.05, kl_weight=3e-3),
        e("contractive", bottleneck=16, weight=1e-4),
        *(e("vae", bottleneck=8, hidden=(64,), beta=b) for b in BETAS),
        e("vq", 30, channels=(32,), codebook_size=64),  # one stride-2 layer: 4x4 tokens of 8 numbers, q = 128
        *(e("sparse", bottleneck=128, sparsity="topk", topk=k) for k in (4, 8, 16)),  # overcomplete: 128 > 64
        # the identity-function risk: the same overcomplete width with nothing, noise or a contractive penalty
        # keeping the code from copying (Published results' lessons; benchmarks/reproduce.py measures them)
        e("dense", bottleneck=128),
        e("linear", 1000, bottleneck=64),  # as wide as the image: its optimum is the identity (PCA keeping all)
        e("denoising", bottleneck=128, noise="gaussian:0.5"),
        e("contractive", bottleneck=128, weight=1e-4),
    ]


CIFAR_QS = (16, 64, 256)


def _cifar10() -> list[ZooEntry]:
    """Colour photographs, 3x32x32: conv bodies only (a dense net on 3,072 inputs learns little more than PCA),
    each with the body conv_widths gives 32x32 colour ((32, 64, 128) to a 4x4 grid). MSE: the error PSNR
    reports (BCE on photos' mid-grey pixels never reaches 0 and weighs the extremes)."""
    e = lambda family, **fields: ZooEntry(
        "cifar10",
        family,
        {"input_shape": (3, 32, 32), "loss": "mse", **fields},
        EPOCHS_CIFAR,
        BATCH_CIFAR,
        LR_CIFAR,
        "cosine",
        subset=SUBSET_CIFAR,
    )
    return [
        *(e("conv", bottleneck=q) for q in CIFAR_QS),
        e("vae", bottleneck=64, arch="conv", beta=0.1),  # beta 0.1 with MSE: a decoder variance of 0.05
        e("denoising", bottleneck=64, arch="conv", noise="gaussian:0.2"),  # sigma 0.2: a grainy photo, still legible
    ]


# The shipped CIFAR-10 models were built on a 2-core CPU within a session's time: 5 epochs of the 50,000
# training images, batch 64, Adam from 2e-3 decaying to 0 (cosine), about 10 minutes a model (the model card
# says so). Far from converged; on a GPU, `python -m aeviz.zoo.build --dataset cifar10 --force --epochs 30`
# trains longer.
EPOCHS_CIFAR, SUBSET_CIFAR, BATCH_CIFAR, LR_CIFAR = 5, None, 64, 2e-3

ZOO: dict[str, list[ZooEntry]] = {
    "digits": _digits(),
    "mnist": _mnist_like("mnist"),
    "fashion-mnist": _mnist_like("fashion-mnist"),
    "cifar10": _cifar10(),
}
