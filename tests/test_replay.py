"""The code space's replay: per-epoch maps aligned to the one before, stored beside a checkpoint without pickles."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

from aeviz.checkpoints import load_checkpoint
from aeviz.diskcache import save_arrays
from aeviz.models import build_model, make_config
from aeviz.replay import (
    SAMPLE,
    CodeWatch,
    Replay,
    epoch_map,
    load_replay,
    replay_path,
    sample_indices,
    save_replay,
)
from aeviz.train import TrainConfig, train


def codes_with_plane(plane: np.ndarray, q: int, seed: int = 0) -> np.ndarray:
    """(N,q) codes whose top-2 PCA plane is `plane` (N,2) (big variances) plus small noise in q-2 more axes,
    turned by a random rotation of the whole code space."""
    rng = np.random.default_rng(seed)
    rest = rng.normal(scale=0.01, size=(len(plane), q - 2))
    turn, _ = np.linalg.qr(rng.normal(size=(q, q)))
    return np.hstack([plane, rest]) @ turn


@pytest.fixture
def previous():
    rng = np.random.default_rng(1)
    return (rng.normal(size=(500, 2)) * [3.0, 1.0]).astype(np.float32)


@pytest.mark.parametrize("flip", [(1, 1), (-1, 1), (1, -1), (-1, -1)])
@pytest.mark.parametrize("angle", [0.0, 0.4, 2.5])
def test_a_turned_and_flipped_copy_of_the_last_map_comes_back_aligned(previous, angle, flip):
    c, s = np.cos(angle), np.sin(angle)
    moved = (previous - previous.mean(axis=0)) @ np.array([[c, -s], [s, c]]) * np.array(flip)
    codes = codes_with_plane(moved, q=16)
    aligned = epoch_map(codes, previous)
    assert aligned.shape == (500, 2) and aligned.dtype == np.float32
    np.testing.assert_allclose(aligned, previous - previous.mean(axis=0), atol=0.05)


def test_without_a_previous_map_the_axes_are_the_pca_ones(previous):
    """Not aligned to anything: PCA's own axes (the larger variance first), whatever the turn was."""
    turned = previous @ np.array([[0.0, -1.0], [1.0, 0.0]])  # the big axis now along y
    points = epoch_map(codes_with_plane(turned, q=8))
    spread = points.var(axis=0)
    assert spread[0] > 5 * spread[1]
    assert not np.allclose(points, turned - turned.mean(axis=0), atol=0.5)  # so alignment is what fixes the turn


def test_a_2d_code_is_its_own_map_and_a_1d_code_lies_on_a_line():
    codes = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_array_equal(epoch_map(codes, codes[::-1] * 7), codes)  # raw: never turned
    line = epoch_map(codes[:, :1])
    assert line.shape == (50, 2) and np.all(line[:, 1] == 0)
    with pytest.raises(ValueError):
        epoch_map(np.zeros((0, 4)))


def test_the_sample_is_seeded_sorted_and_at_most_2000():
    a, b = sample_indices(10_000), sample_indices(10_000)
    assert len(a) == SAMPLE and np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sample_indices(10_000, seed=1))
    assert np.array_equal(sample_indices(360), np.arange(360))


def test_the_watch_encodes_in_eval_mode_and_puts_the_mode_back():
    model = build_model("vae", make_config("vae", bottleneck=2, input_shape=(1, 8, 8))).train()
    images = torch.rand(300, 1, 8, 8)
    watch = CodeWatch(images, labels=np.arange(300) % 10)
    first = watch.record(model, 0)
    assert model.training and first.dtype == np.float16 and first.shape == (300, 2)
    with torch.inference_mode():
        mean = model.eval().encode(images).numpy()  # a VAE's map is of its means, not of samples
    np.testing.assert_allclose(first.astype(np.float32), mean, atol=2e-3)
    assert np.array_equal(watch.labels, np.arange(300) % 10)
    replay = watch.replay()
    assert replay.q == 2 and list(replay.epochs) == [0] and replay.points.shape == (1, 300, 2)


def test_a_long_run_keeps_at_most_max_frames_with_its_first_and_last_epoch():
    model = build_model("dense", make_config("dense", bottleneck=4, input_shape=(1, 8, 8)))
    watch = CodeWatch(torch.rand(20, 1, 8, 8))
    for epoch in range(31):
        watch.record(model, epoch)
    thin = watch.replay(max_frames=7)
    assert list(thin.epochs) == [0, 5, 10, 15, 20, 25, 30] and thin.points.shape == (7, 20, 2)
    assert np.all(watch.labels == -1)  # no labels given: unknown


def make_replay(epochs: int = 4, n: int = 30, q: int = 16) -> Replay:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(epochs, n, 2)).astype(np.float16)
    return Replay(np.arange(epochs), points, rng.integers(0, 10, n), np.sort(rng.choice(1000, n, replace=False)), q)


def test_save_and_load_round_trip_exactly(tmp_path):
    checkpoint = tmp_path / "m.safetensors"
    replay = make_replay()
    path = save_replay(checkpoint, replay, "abc")
    assert path == tmp_path / "m.replay.npz" == replay_path(checkpoint)
    back = load_replay(checkpoint, "abc")
    assert back.points.dtype == np.float16 and np.array_equal(back.points, replay.points)
    assert np.array_equal(back.epochs, replay.epochs) and np.array_equal(back.labels, replay.labels)
    assert np.array_equal(back.indices, replay.indices) and back.q == 16
    assert load_replay(checkpoint, "other weights") is None  # stale: the checkpoint was retrained
    assert load_replay(tmp_path / "none.safetensors", "abc") is None


@pytest.mark.parametrize(
    "broken",
    [
        {"points": np.zeros((4, 29, 2), np.float16)},  # one point short of the labels
        {"points": np.zeros((4, 30, 3), np.float16)},
        {"points": np.zeros((4, 30, 2), np.float32)},
        {"epochs": np.arange(5)},
        {"epochs": np.zeros(0, np.int32), "points": np.zeros((0, 30, 2), np.float16)},
        {"indices": np.arange(31)},
        {"q": np.array([16, 2])},
    ],
)
def test_a_misshapen_replay_is_none_and_left_in_place(tmp_path, broken):
    checkpoint = tmp_path / "m.safetensors"
    r = make_replay()
    fields = dict(epochs=r.epochs, points=r.points, labels=r.labels, indices=r.indices, q=np.array(16))
    save_arrays(replay_path(checkpoint), content_hash=np.array("abc"), **{**fields, **broken})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert load_replay(checkpoint, "abc") is None
    assert replay_path(checkpoint).exists()
    assert all("refused" in str(w.message) for w in seen)  # a refusal says so; an inconsistent one may be silent


def test_a_replay_holding_a_pickle_is_never_unpickled(tmp_path):
    checkpoint = tmp_path / "m.safetensors"
    r = make_replay()
    np.savez(  # an object array: np.load would need allow_pickle to read it
        replay_path(checkpoint),
        content_hash=np.array("abc"),
        epochs=np.array([{"evil": 1}], dtype=object),
        points=r.points,
        labels=r.labels,
        indices=r.indices,
        q=np.array(16),
    )
    with pytest.warns(RuntimeWarning, match="refused .*dtype"):
        assert load_replay(checkpoint, "abc") is None


@pytest.mark.parametrize("q", [2, 8])
def test_train_saves_a_replay_of_every_epoch_and_the_untrained_one(tmp_path, q):
    events = []
    result = train(
        "dense",
        make_config("dense", bottleneck=q),
        "digits",
        TrainConfig(epochs=3, batch_size=64),
        callback=events.append,
        out_dir=tmp_path,
    )
    content = load_checkpoint(result.path).metadata["hash"]
    replay = load_replay(result.path, content)
    assert replay is not None and list(replay.epochs) == [0, 1, 2, 3] and replay.q == q
    assert replay.points.shape == (4, 360, 2) and len(set(replay.labels.tolist())) == 10  # digits: 360 test images
    maps = [e.code_map for e in events if e.code_map is not None]
    assert [e.event for e in events if e.code_map is not None] == ["start", "epoch", "epoch", "epoch"]
    assert all(np.array_equal(m, p) for m, p in zip(maps, replay.points, strict=True))  # what was shown live
    assert np.array_equal(events[0].code_labels, replay.labels)
    assert not np.array_equal(replay.points[0], replay.points[-1])  # training moved the codes
    epoch = next(e for e in events if e.event == "epoch")
    assert len(pickle.dumps(epoch)) < 8_000  # the worker sends every report through a pipe
    if q == 2:  # the raw plane: the model's own codes of those images
        test = torch.from_numpy(load_dataset_images(replay.indices))
        with torch.inference_mode():
            codes = result.model.cpu().eval().encode(test).numpy()
        np.testing.assert_allclose(replay.points[-1].astype(np.float32), codes, rtol=2e-3, atol=2e-3)


def load_dataset_images(indices: np.ndarray) -> np.ndarray:
    from aeviz.data import load_dataset

    return load_dataset("digits", "test").images.numpy()[indices]


def test_a_diverged_models_codes_still_map():
    """NaN or huge codes (a learning rate too high) must not end the training the map watches."""

    class Diverged(torch.nn.Module):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value, self.weight = value, torch.nn.Parameter(torch.zeros(1))

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            codes = torch.randn(len(x), 8)
            codes[::3] = self.value
            return codes

    watch = CodeWatch(torch.rand(30, 1, 8, 8))
    for value in (float("nan"), float("inf"), 1e30):
        points = watch.record(Diverged(value), 0)
        assert points.dtype == np.float16 and np.isfinite(points).all()
