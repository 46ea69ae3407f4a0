"""The default model: the lecture's plain dense q=16, the zoo's before a same-named one trained here."""

from __future__ import annotations

from pathlib import Path

from aeviz.checkpoints import SERVER, ZOO, CheckpointInfo
from aeviz.zoo import catalog


def info(series: str, q: int, origin: str) -> CheckpointInfo:
    meta = {"family": "dense", "series": series, "dataset": "fake", "config": {"bottleneck": q}}
    return CheckpointInfo(Path(f"/nowhere/{origin}/fake-{series}-q{q}.safetensors"), meta, origin=origin)


def test_default_model_prefers_the_zoos_dense_q16():
    mine, zoos, other = info("dense-bce", 16, SERVER), info("dense-bce", 16, ZOO), info("conv-bce", 8, ZOO)
    assert catalog.default_model([other, mine, zoos]) is zoos
    assert catalog.default_model([other, mine]) is mine
    assert catalog.default_model([other, info("dense-bce", 8, ZOO)]) is other  # no q=16: the first on offer


def test_the_running_examples_variants_are_its_one_choice_twins_and_the_stacked_pair():
    from aeviz.checkpoints import scan_checkpoints

    chosen = catalog.variant_models([i for i in scan_checkpoints()[0] if i.dataset == "mnist"])
    names = [i.name.removeprefix("mnist-") for i in chosen]
    assert names == [
        "dense-q16-bce",
        "dense-q16-bce-l21e-05",
        "dense-q16-bce-tied",
        "dense-q16-mse",
        "dense-q16-mse-linear",
        "dense-q16-mse-relu",
        "dense-h256x128-q16-bce",
        "dense-h256x128-q16-bce-stacked",
    ]  # and none trained with anomalies mixed in, nor another family or code size
