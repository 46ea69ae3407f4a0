"""Which checkpoints a page opens on or compares: the default model, twins, denoisers, VAEs, a 2-d VAE."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..checkpoints import ZOO, CheckpointInfo

PLAIN_FAMILIES = ("dense", "conv")


def default_model(infos: Sequence[CheckpointInfo]) -> CheckpointInfo:
    """The model a page opens on: the plain dense q=16 (the lecture's running example) when there is one,
    the zoo's when a model trained here has the same series and size; else the first of `infos`."""
    running = [m for m in infos if m.series == "dense-bce" and m.bottleneck == 16]
    return min(running, key=lambda m: m.origin != ZOO) if running else infos[0]


def plain_twin(
    info: CheckpointInfo, infos: Sequence[CheckpointInfo], *, same_size: bool = True
) -> CheckpointInfo | None:
    """The plain autoencoder most like `info`: same dataset and architecture, the same code size (or, with
    same_size=False, the nearest one), then the same loss and layers. None when there is none."""
    config = info.config
    candidates = [
        c
        for c in infos
        if c.family in PLAIN_FAMILIES
        and c.dataset == info.dataset
        and c.arch == info.arch
        and (c.bottleneck == info.bottleneck or not same_size)
    ]

    def distance(c: CheckpointInfo) -> tuple:
        other = c.config
        hidden, mine = list(other.get("hidden", [])), list(config.get("hidden", []))
        return (
            abs(np.log2(c.bottleneck / info.bottleneck)),
            other.get("loss") != config.get("loss"),
            abs(len(hidden) - len(mine)),
            hidden != mine,
            other.get("channels") != config.get("channels"),
            -c.bottleneck,
            c.name,
        )

    return min(candidates, key=distance, default=None)


def denoisers(infos: Sequence[CheckpointInfo], prefer: str | None = None) -> dict[str, list[CheckpointInfo]]:
    """Denoising models by architecture ('dense', 'conv'): those trained with the noise kind `prefer` first (under
    Occlusion, the occlusion-trained one), then the one with the code size closest to 32."""
    found: dict[str, list[CheckpointInfo]] = {}
    for info in infos:
        if info.family == "denoising":
            found.setdefault(info.arch, []).append(info)

    def order(c: CheckpointInfo) -> tuple:
        kind = (trained_noise(c) or ("", 0.0))[0]
        return (prefer is not None and kind != prefer, abs(np.log2(c.bottleneck / 32)), c.name)

    return {arch: sorted(group, key=order) for arch, group in sorted(found.items(), key=lambda kv: kv[0] != "dense")}


def imputation_models(infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
    """Every denoising model and, after each, its plain twin (once): the imputation lesson compares them all."""
    chosen: list[CheckpointInfo] = []
    for info in (i for group in denoisers(infos).values() for i in group):
        twin = plain_twin(info, infos)
        chosen += [m for m in (info, twin) if m is not None and m not in chosen]
    return chosen


def trained_noise(info: CheckpointInfo) -> tuple[str, float] | None:
    """(kind, level) a denoising model was trained with, from its config."""
    from ..noise import parse_noise

    text = info.config.get("noise")
    if not text:
        return None
    spec = parse_noise(text)
    return spec.kind, spec.level


def vaes(infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
    """VAE checkpoints, dense before conv, larger codes first (the interpolation default)."""
    found = [c for c in infos if c.family == "vae"]
    return sorted(found, key=lambda c: (c.arch != "dense", -c.bottleneck, c.name))


def beta(info: CheckpointInfo) -> float:
    """The weight of a VAE's KL term (1 for the plain VAE)."""
    return float(info.config.get("beta", 1.0))


def two_d_vae(info: CheckpointInfo, infos: Sequence[CheckpointInfo]) -> CheckpointInfo | None:
    """`info` itself when its code is 2-d, else a 2-d VAE of the same architecture and beta, else of the same
    architecture, else any 2-d VAE."""
    if info.bottleneck == 2:
        return info
    flat = [c for c in vaes(infos) if c.bottleneck == 2]
    return min(flat, key=lambda c: (c.arch != info.arch, beta(c) != beta(info), c.origin != ZOO), default=None)


def beta_siblings(info: CheckpointInfo, infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
    """The VAEs that differ from `info` in beta alone (the same dataset, net and code size; `info` among them),
    one per beta (the zoo's first), by beta: what the VAE page's beta control switches among."""
    same = [
        c
        for c in vaes(infos)
        if c.dataset == info.dataset
        and c.bottleneck == info.bottleneck
        and _net(c) == _net(info)
        and (c.path == info.path or beta(c) != beta(info))  # a widget may hand back a copy of `info`
    ]
    by_beta: dict[float, CheckpointInfo] = {}
    for c in sorted(same, key=lambda c: (c.path != info.path, c.origin != ZOO, c.name)):
        by_beta.setdefault(beta(c), c)
    return [by_beta[b] for b in sorted(by_beta)]


def beta_planes(info: CheckpointInfo, infos: Sequence[CheckpointInfo]) -> dict[float, CheckpointInfo]:
    """The 2-d VAEs of `info`'s dataset and net, one per beta: whose code planes the beta control compares."""
    flat = [c for c in vaes(infos) if c.bottleneck == 2 and c.dataset == info.dataset and _net(c) == _net(info)]
    return {beta(c): c for c in beta_siblings(flat[0], infos)} if flat else {}


def _net(info: CheckpointInfo) -> tuple:
    config = info.config
    return (info.arch, config.get("loss"), tuple(config.get("hidden", ())), tuple(config.get("channels", ())))


def vq_models(infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
    """VQ-VAE checkpoints, the zoo's first."""
    return sorted((c for c in infos if c.family == "vq"), key=lambda c: (c.origin != ZOO, c.name))


def feature_models(infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
    """Models whose code units the feature dashboard shows: sparse ones (L1, KL, TopK), and any other with more
    units than pixels (overcomplete), except VAEs and VQ-VAEs, whose codes are distributions and token vectors.
    Sparse first (TopK by k), then by code size."""
    found = [c for c in infos if c.family == "sparse" or (c.family not in ("vae", "vq") and c.bottleneck > pixels(c))]

    def order(c: CheckpointInfo) -> tuple:
        config = c.config
        return (c.family != "sparse", config.get("sparsity", ""), config.get("topk", 0), -c.bottleneck, c.name)

    return sorted(found, key=order)


def pixels(info: CheckpointInfo) -> int:
    """The numbers in one of the model's input images (C·H·W)."""
    return int(np.prod(info.config["input_shape"]))


def variant_models(infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
    """The running example's variants among the zoo's models: every dense q = 16 with no hidden layer (other
    output layers, losses, tied weights, weight decay), then each layer-wise pre-trained deep net after its twin
    trained end to end; none trained with anomalies mixed in. aeviz.choices compares them."""
    training = lambda i: i.metadata.get("training") or {}
    dense = [
        i
        for i in sorted(infos, key=lambda i: i.name)
        if i.origin == ZOO and i.family == "dense" and i.arch == "dense" and i.bottleneck == 16
        and i.config.get("code_activation", "linear") == "linear" and not training(i).get("outliers")
    ]  # fmt: skip
    stacked = [i for i in dense if training(i).get("pretrain_epochs")]
    twins = [i for s in stacked for i in dense if i.series + "-stacked" == s.series and i.dataset == s.dataset]
    return [i for i in dense if not i.config.get("hidden")] + [m for pair in zip(twins, stacked) for m in pair]
