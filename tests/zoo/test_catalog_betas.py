"""The VAE page's beta control: the same VAE at other betas, one per beta, and the 2-d planes beside them."""

from __future__ import annotations

import copy
from pathlib import Path

from aeviz.checkpoints import SERVER, ZOO, CheckpointInfo
from aeviz.zoo import catalog


def vae(name: str, q: int, beta: float | None, origin: str = ZOO, hidden=(256,), dataset="mnist") -> CheckpointInfo:
    config = {"arch": "dense", "loss": "bce", "hidden": list(hidden), "bottleneck": q, "input_shape": [1, 28, 28]}
    if beta is not None:
        config["beta"] = beta
    metadata = {"family": "vae", "dataset": dataset, "config": config, "hash": name, "name": name}
    return CheckpointInfo(Path(f"/{origin}/{name}.safetensors"), metadata, origin)


def test_siblings_differ_in_beta_alone_one_per_beta_the_chosen_first():
    one, four, sixteen = vae("q16", 16, None), vae("q16-b4", 16, 4.0), vae("q16-b16", 16, 16.0)
    mine = vae("q16-b4-mine", 16, 4.0, SERVER)
    others = [vae("q2", 2, None), vae("deep", 16, 4.0, hidden=(512, 256)), vae("f", 16, 4.0, dataset="fashion-mnist")]
    infos = [sixteen, mine, *others, four, one]
    assert catalog.beta_siblings(one, infos) == [one, four, sixteen]  # the zoo's beta 4, not the server's
    assert catalog.beta_siblings(mine, infos) == [one, mine, sixteen]  # the chosen model stands for its beta
    assert catalog.beta_siblings(copy.deepcopy(one), infos)[0].path == one.path  # a widget's copy of it
    planes = catalog.beta_planes(four, [*infos, vae("q2-b4", 2, 4.0)])
    assert {b: c.name for b, c in planes.items()} == {1.0: "q2", 4.0: "q2-b4"}
    assert catalog.two_d_vae(four, [*infos, vae("q2-b4", 2, 4.0)]).name == "q2-b4"  # the same beta's plane
