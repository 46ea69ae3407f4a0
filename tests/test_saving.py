"""One save path for a trained model: its checkpoint and its replay written together, both or neither."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import full_disk_for

from aeviz.checkpoints import load_checkpoint, scan_checkpoints
from aeviz.models import build_model, make_config
from aeviz.replay import Replay, load_replay, replay_path
from aeviz.saving import save_trained


def tiny(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("dense", make_config("dense", bottleneck=2, input_shape=(1, 8, 8), hidden=(8,)))


def replay(epochs: int = 3) -> Replay:
    rng = np.random.default_rng(epochs)
    points = rng.normal(size=(epochs, 5, 2)).astype(np.float16)
    return Replay(np.arange(epochs), points, np.arange(5) % 3, np.arange(5), 2)


META = {"dataset": "digits", "slug": "dense-q2-bce", "series": "dense-bce", "metrics": {"mse": 0.1}}


def test_a_model_and_its_replay_are_saved_together_under_a_free_name(tmp_path):
    first = save_trained(tmp_path / "m.safetensors", tiny(0), META, replay(3))
    second = save_trained(tmp_path / "m.safetensors", tiny(1), META, replay(4))  # the name is taken
    assert (first.name, second.name) == ("m.safetensors", "m-2.safetensors")
    for path, epochs in ((first, 3), (second, 4)):
        model = load_checkpoint(path)
        assert model.metadata["name"] == path.stem
        assert len(load_replay(path, model.metadata["hash"]).epochs) == epochs


def test_overwriting_replaces_the_replay_too_or_removes_a_stale_one(tmp_path):
    path = save_trained(tmp_path / "m.safetensors", tiny(0), META, replay(3))
    again = save_trained(path, tiny(1), META, replay(5), overwrite=True)
    model = load_checkpoint(again)
    assert again == path and len(load_replay(path, model.metadata["hash"]).epochs) == 5
    save_trained(path, tiny(2), META, None, overwrite=True)
    assert not replay_path(path).exists()  # none for these weights: the old one does not linger


@pytest.mark.parametrize("failing", [".replay.npz", ".safetensors"])
def test_a_full_disk_at_either_file_leaves_neither(tmp_path, monkeypatch, failing):
    """Issue 26: the checkpoint was written, the replay's save failed: a model that loads, a job that 'failed'."""
    before = save_trained(tmp_path / "m.safetensors", tiny(0), META, replay(3))
    old = before.read_bytes(), replay_path(before).read_bytes()
    failed = full_disk_for(monkeypatch, failing)
    with pytest.raises(OSError, match="No space left"):
        save_trained(tmp_path / "new.safetensors", tiny(1), META, replay(3))
    with pytest.raises(OSError, match="No space left"):
        save_trained(before, tiny(2), META, replay(4), overwrite=True)
    assert len(failed) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.replay.npz", "m.safetensors"]  # no temp file left
    assert (before.read_bytes(), replay_path(before).read_bytes()) == old  # what was there is untouched
    assert [c.name for c in scan_checkpoints([tmp_path])[0]] == ["m"]
