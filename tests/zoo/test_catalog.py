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
