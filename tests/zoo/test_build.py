"""`python -m aeviz.zoo.build --only NAME...`: retrain just the named zoo models, each with its replay beside it."""

from __future__ import annotations

import numpy as np
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


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_maps_ship_pca_umap_and_tsne_and_only_the_missing_ones_are_fitted(tmp_path, tiny_zoo, monkeypatch):
    """t-SNE was not shipped: its first click fitted for about 4 minutes. Maps already stored are kept."""
    from aeviz import projection
    from aeviz.checkpoints import maps_path, scan_checkpoints
    from aeviz.data import load_dataset
    from aeviz.metrics import encode_all

    build_zoo.build(["digits"], tmp_path)
    build_zoo.build_maps(["digits"], tmp_path)
    info = next(i for i in scan_checkpoints([tmp_path])[0] if i.name == tiny_zoo[1])
    codes = encode_all(load_checkpoint(info.path), load_dataset("digits", "test").images)
    stored = projection.load_maps(maps_path(info.path), info.metadata["hash"], codes)
    assert set(stored) == {"pca", "umap", "tsne"} and stored["tsne"].points.shape == (len(codes), 2)
    two_d = next(i for i in scan_checkpoints([tmp_path])[0] if i.name == tiny_zoo[0])
    assert "raw" in projection.load_maps(maps_path(two_d.path), two_d.metadata["hash"], encode_all(
        load_checkpoint(two_d.path), load_dataset("digits", "test").images))  # fmt: skip
    fits = []
    monkeypatch.setattr(
        build_zoo, "_fit", lambda codes, method: fits.append(method) or projection.fit_map(codes, method)
    )
    build_zoo.build_maps(["digits"], tmp_path)
    assert fits == []  # all there: nothing refitted


@pytest.mark.slow  # trains two tiny models and fits their maps
def test_fitting_one_method_keeps_the_maps_already_stored(tmp_path, tiny_zoo):
    """`--map-methods tsne` rewrote each maps file with t-SNE alone, dropping its PCA and UMAP maps."""
    import numpy as np

    from aeviz.checkpoints import maps_path, scan_checkpoints

    build_zoo.build(["digits"], tmp_path)
    build_zoo.build_maps(["digits"], tmp_path, methods=("pca",))
    build_zoo.build_maps(["digits"], tmp_path, methods=("tsne",))
    for info in scan_checkpoints([tmp_path])[0]:
        assert {"pca__method", "tsne__points"} <= set(np.load(maps_path(info.path)).files), info.name


def test_every_shipped_zoo_model_ships_its_own_per_image_errors():
    """The dense q=2 models were retrained and their errors.npz kept the old weights' hash (so a cold server
    recomputed them): a sidecar of other weights fails here, naming the model."""
    from aeviz.checkpoints import ERROR_METRICS, ZOO, scan_checkpoints, shipped_path

    for info in (i for i in scan_checkpoints()[0] if i.origin == ZOO):
        arrays = np.load(shipped_path(info.path, "errors"))
        assert str(arrays["content_hash"]) == info.metadata["hash"], f"{info.name}: errors of other weights"
        assert set(ERROR_METRICS) <= set(arrays.files), info.name


def test_every_shipped_zoo_model_ships_its_tsne_map():
    from aeviz.checkpoints import ZOO, maps_path, scan_checkpoints

    for info in (i for i in scan_checkpoints()[0] if i.origin == ZOO):
        arrays = dict(np.load(maps_path(info.path)))
        assert str(arrays["content_hash"]) == info.metadata["hash"], f"{info.name}: maps of other weights"
        assert {"pca__method", "umap__points", "tsne__points"} <= set(arrays), f"{info.name}: {sorted(arrays)}"


def test_every_shipped_zoo_model_was_trained_by_its_recipe():
    """The zoo's recipe and its shipped weights agree (epochs, batch, learning rate, schedule), so that
    `python -m aeviz.zoo.build --force` rebuilds what is shipped: a recipe changed without retraining fails here."""
    from aeviz.checkpoints import list_checkpoints

    shipped = {c.name: c for c in list_checkpoints()}
    differ = {}
    for entry in (e for entries in build_zoo.ZOO.values() for e in entries if e.name in shipped):
        training = shipped[entry.name].metadata.get("training", {})
        trained = (training.get("epochs"), training.get("batch_size"), training.get("lr"))
        trained += (training.get("outliers", ""), training.get("pretrain_epochs", 0))
        if trained + (training.get("schedule") or "constant",) != (
            entry.epochs,
            entry.batch_size,
            entry.lr,
            entry.outliers,
            entry.pretrain_epochs,
            entry.schedule,
        ):
            differ[entry.name] = trained
    assert not differ, f"retrain: python -m aeviz.zoo.build --only {' '.join(differ)} ({differ})"
