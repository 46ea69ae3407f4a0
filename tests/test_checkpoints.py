"""Checkpoints: exact round trip, atomic save under a crash, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
import torch

from aeviz.checkpoints import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
    scan_checkpoints,
)
from aeviz.models import MODELS, build_model


def tiny(family: str):
    return build_model(family, **sized(family, 3), input_shape=(1, 8, 8), channels=(4, 8))


def sized(family: str, q: int) -> dict:
    """The bottleneck field, unless the family derives its own (a VQ-VAE's token grid)."""
    return {} if MODELS[family].derived_bottleneck else {"bottleneck": q}


@pytest.mark.parametrize("family", sorted(MODELS))
def test_round_trip_is_exact(tmp_path, family):
    model = tiny(family)
    path = save_checkpoint(tmp_path / f"{family}.safetensors", model, {"dataset": "digits", "metrics": {"mse": 0.1}})
    loaded = load_checkpoint(path)
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.config == model.config and loaded.family == family
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    meta = loaded.metadata
    assert meta["dataset"] == "digits" and meta["metrics"]["mse"] == 0.1
    assert len(meta["hash"]) == 64 and "torch" in meta["versions"] and meta["created"]
    x = torch.rand(2, 1, 8, 8)
    model.eval()
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))


@pytest.mark.parametrize("family", MODELS)
def test_a_directly_built_model_carries_its_family_and_round_trips(tmp_path, family):
    """The family is the class's own: a model built without build_model saves and loads as its family."""
    cls = MODELS[family]
    model = cls(cls.config_class(**sized(family, 3), input_shape=(1, 8, 8), channels=(4, 8)))
    assert model.family == type(model).family == family
    loaded = load_checkpoint(save_checkpoint(tmp_path / f"{family}.safetensors", model, {"dataset": "digits"}))
    assert type(loaded) is cls and loaded.family == family and loaded.config == model.config
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize(("shape", "dataset"), [((3, 32, 32), "cifar10"), ((3, 64, 64), "folder:/photos")])
def test_a_colour_model_round_trips_exactly(tmp_path, family, shape, dataset):
    """Every family on colour images: weights, config and reconstructions identical after save and load, its
    input shape accepted by the header's schema (cifar10's own shape; a 64x64 folder set)."""
    fields = {} if family in ("linear", "contractive") else {"hidden": (16,)}
    size = {} if family == "vq" else {"bottleneck": 3}  # a VQ-VAE's q is its token grid's cells × code_dim
    model = build_model(family, input_shape=shape, channels=(4, 8), **size, **fields)
    path = save_checkpoint(tmp_path / f"{family}.safetensors", model, {"dataset": dataset, "input_shape": list(shape)})
    loaded = load_checkpoint(path)
    assert loaded.config == model.config and loaded.config.input_shape == shape
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(2, *shape)
    model.eval()
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    assert read_metadata(path)["input_shape"] == list(shape)


def test_a_model_that_does_not_take_its_datasets_shape_is_refused(tmp_path):
    grey = build_model("dense", bottleneck=3, input_shape=(1, 32, 32))
    path = save_checkpoint(tmp_path / "grey.safetensors", grey, {"dataset": "cifar10"})
    with pytest.raises(
        CheckpointError, match=r"its input \[1, 32, 32\] is not the image shape of cifar10, \[3, 32, 32\]"
    ):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "family,fields",
    [
        ("sparse", {"bottleneck": 16, "sparsity": "topk", "topk": 3}),
        ("vq", {"codebook": "loss", "code_dim": 2, "codebook_size": 8}),
        ("vq", {"codebook": "ema", "code_dim": 2, "codebook_size": 8}),
        ("vae", {"bottleneck": 3, "beta": 4.0}),
    ],
)
def test_the_new_modes_round_trip_exactly_after_training(tmp_path, family, fields):
    """Trained a few steps (a TopK centre set, EMA averages and restarts moved), saved, loaded: the same tensors,
    the same reconstructions, and a loaded model that trains on (no state left on the meta device)."""
    from aeviz.train import TrainConfig, fit

    model = build_model(family, input_shape=(1, 8, 8), channels=(4, 8), **fields)
    x = torch.rand(64, 1, 8, 8)
    fit(model, x, TrainConfig(epochs=2, batch_size=16, seed=0))
    loaded = load_checkpoint(save_checkpoint(tmp_path / f"{family}.safetensors", model, {"dataset": "digits"}))
    assert loaded.state_dict().keys() == model.state_dict().keys() and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(loaded.reconstruct(x), model.eval().reconstruct(x))
    loaded.requires_grad_(True)
    fit(loaded, x, TrainConfig(epochs=1, batch_size=16, seed=0))


def test_a_kl_sparse_model_round_trips_exactly(tmp_path):
    model = build_model("sparse", bottleneck=5, input_shape=(1, 8, 8), sparsity="kl", kl_target=0.1, kl_weight=0.02)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "kl.safetensors", model, {"dataset": "digits"}))
    assert loaded.config == model.config and loaded.config.sparsity == "kl" and loaded.config.kl_target == 0.1
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(loaded(x).losses["kl_sparsity"], model(x).losses["kl_sparsity"])
    assert torch.equal(loaded.encode(x), model.encode(x)) and (loaded.encode(x) < 1).all()


def test_crash_mid_save_keeps_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny("dense"), {"dataset": "digits"})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(path, tiny("conv"), {"dataset": "digits"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left behind
    assert load_checkpoint(path).family == "dense"


def _corrupt_variants(path):
    blob = path.read_bytes()
    header_len = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + header_len])
    yield "truncated", blob[: len(blob) // 2]
    yield "empty", b""
    yield "foreign text", b"this is not a checkpoint at all"
    flipped = bytearray(blob)
    flipped[-5] ^= 0xFF
    yield "tampered weights", bytes(flipped)
    header["__metadata__"] = {"note": "someone else's safetensors"}
    raw = json.dumps(header).encode()
    yield "foreign safetensors", struct.pack("<Q", len(raw)) + raw + blob[8 + header_len :]
    meta = json.loads(json.loads(blob[8 : 8 + header_len])["__metadata__"]["aeviz"])
    meta["config"]["bottleneck"] = 5
    header["__metadata__"] = {"aeviz": json.dumps(meta)}
    raw = json.dumps(header).encode()
    yield "mismatched config", struct.pack("<Q", len(raw)) + raw + blob[8 + header_len :]


def test_bad_files_raise_checkpoint_error(tmp_path):
    good = save_checkpoint(tmp_path / "good.safetensors", tiny("dense"), {"dataset": "digits"})
    for label, blob in _corrupt_variants(good):
        bad = tmp_path / f"{label.replace(' ', '_')}.safetensors"
        bad.write_bytes(blob)
        with pytest.raises(CheckpointError):
            load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    evil = tmp_path / "evil.safetensors"
    torch.save({"weights": torch.zeros(2)}, evil)  # a pickle archive under our suffix
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)


def test_listing_skips_bad_files_and_filters(tmp_path):
    save_checkpoint(tmp_path / "a.safetensors", tiny("dense"), {"dataset": "digits", "slug": "dense-q3-bce"})
    save_checkpoint(tmp_path / "b.safetensors", tiny("vae"), {"dataset": "mnist", "slug": "vae-q3-bce"})
    (tmp_path / "c.safetensors").write_bytes(b"garbage")
    infos, errors = scan_checkpoints([tmp_path])
    assert [i.name for i in infos] == ["a", "b"] and len(errors) == 1 and "c.safetensors" in errors[0]
    digits = list_checkpoints([tmp_path], dataset="digits")
    assert [i.family for i in digits] == ["dense"] and digits[0].series == "dense-bce"
    assert read_metadata(tmp_path / "a.safetensors")["dataset"] == "digits"


def test_shipped_test_errors_round_trip_and_refuse_stale_files(tmp_path):
    from aeviz.checkpoints import load_test_errors, save_test_errors, shipped_path

    ckpt = tmp_path / "m.safetensors"
    errors = {"mse": np.linspace(0, 1, 5, dtype=np.float32), "bce": np.ones(5, np.float32)}
    save_test_errors(ckpt, "h1", errors)
    assert shipped_path(ckpt, "errors").name == "m.errors.npz"
    np.testing.assert_array_equal(load_test_errors(ckpt, "h1", "mse", 5), errors["mse"])
    assert load_test_errors(ckpt, "retrained", "mse", 5) is None  # another checkpoint's errors
    assert load_test_errors(ckpt, "h1", "mse", 6) is None  # another split's size
    assert load_test_errors(ckpt, "h1", "l1", 5) is None
    assert load_test_errors(tmp_path / "none.safetensors", "h1", "mse", 5) is None


def test_the_zoo_ships_the_errors_the_app_would_compute():
    from aeviz.checkpoints import load_test_errors, zoo_dir
    from aeviz.data import load_dataset
    from aeviz.metrics import image_errors, reconstruct_all

    path = zoo_dir() / "digits-conv-q8-bce.safetensors"
    model = load_checkpoint(path)
    test = load_dataset("digits", "test").images
    recon = reconstruct_all(model, test)
    for metric in ("mse", "bce"):
        shipped = load_test_errors(path, model.metadata["hash"], metric, len(test))
        np.testing.assert_allclose(shipped, image_errors(test, recon, metric), rtol=1e-5)


def test_older_checkpoints_read_one_thread_not_one_threads():
    """The zoo's older models recorded 'CPU (1 threads)', which Home printed under the picture."""
    zoo = {c.name: c for c in list_checkpoints(dataset="digits")}
    old = zoo["digits-contractive-q16-bce"]
    assert old.metadata["device"] == "CPU (1 threads)" and old.trained_on == "CPU (1 thread)"
