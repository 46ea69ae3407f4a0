"""`python -m aeviz.zoo.build --only NAME...`: retrain just the named zoo models, each with its replay beside it."""

from __future__ import annotations

import pytest

from aeviz.checkpoints import load_checkpoint
from aeviz.replay import load_replay
from aeviz.zoo import build as build_zoo


@pytest.fixture
def tiny_zoo(monkeypatch):
    entries = [
        build_zoo.ZooEntry("digits", "dense", {"input_shape": (1, 8, 8), "bottleneck": q}, 2, 64) for q in (2, 4)
    ]
    monkeypatch.setitem(build_zoo.ZOO, "digits", entries)
    return [e.name for e in entries]


def test_only_retrains_the_named_models_and_writes_their_replays(tmp_path, tiny_zoo):
    first, second = tiny_zoo
    build_zoo.build(["digits"], tmp_path)
    stamps = {n: (tmp_path / f"{n}.safetensors").stat().st_mtime_ns for n in tiny_zoo}
    (tmp_path / f"{first}.replay.npz").unlink()  # as for a model trained before replays existed
    build_zoo.build(["digits"], tmp_path, only={first})
    assert (tmp_path / f"{first}.safetensors").stat().st_mtime_ns > stamps[first]  # retrained although it existed
    assert (tmp_path / f"{second}.safetensors").stat().st_mtime_ns == stamps[second]  # left alone
    model = load_checkpoint(tmp_path / f"{first}.safetensors")
    replay = load_replay(tmp_path / f"{first}.safetensors", model.metadata["hash"])
    assert replay is not None and list(replay.epochs) == [0, 1, 2]
    build_zoo.build(["digits"], tmp_path)  # without --only: nothing missing, nothing trained
    assert (tmp_path / f"{second}.safetensors").stat().st_mtime_ns == stamps[second]


def test_only_refuses_a_name_that_is_no_zoo_model(tiny_zoo, capsys):
    with pytest.raises(SystemExit):
        build_zoo.main(["--dataset", "digits", "--only", tiny_zoo[0], "digits-nonsense", "--out", "/nonexistent"])
    assert "not zoo models of digits: digits-nonsense" in capsys.readouterr().err
