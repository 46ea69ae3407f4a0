"""Tampered sidecar files (replays, PCA baselines, maps, test errors), built in the test: each is checked from its
.npy headers before any data is read, and a bad one is treated as missing for that model only."""

from __future__ import annotations

import contextlib
import io
import shutil
import tracemalloc
import zipfile
import zlib
from unittest import mock

import numpy as np
import pytest

from aeviz import checkpoints, diskcache, projection
from aeviz import pca as pca_module
from aeviz.replay import Replay, load_replay, replay_path, save_replay

MB = 2**20
SHIPPED = checkpoints.zoo_dir()


def npy_header(dtype: str, shape: tuple) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _run_length_deflate(*_):
    """zlib's run-length strategy: the same deflate format, as small for zeros, written 4x faster (1.2 GB of
    zeros cost ~6 s of CPU at the default strategy, a twentieth of the fast loop)."""
    return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15, 8, zlib.Z_RLE)


def forged_npz(path, arrays: dict[str, np.ndarray], forged: dict[str, tuple[str, tuple, int]]) -> None:
    """An .npz of real `arrays` plus `forged` members: (dtype, shape its header claims, zero bytes it holds),
    deflated, the zeros streamed in: 400 MB of them take 400 kB on disk."""
    # zipfile's compressor hook is private: where it is missing the default strategy writes the same archive
    faster = mock.patch.object(zipfile, "_get_compressor", _run_length_deflate)
    with faster if hasattr(zipfile, "_get_compressor") else contextlib.nullcontext():
        _write_npz(path, arrays, forged)


def _write_npz(path, arrays: dict[str, np.ndarray], forged: dict[str, tuple[str, tuple, int]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())
        for name, (dtype, shape, zeros) in forged.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                member.write(npy_header(dtype, shape))
                for _ in range(zeros // MB):
                    member.write(bytes(MB))


def peak_of(fn):
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def a_replay(n: int = 30) -> Replay:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(3, n, 2)).astype(np.float16)
    return Replay(np.arange(3), points, rng.integers(0, 10, n), np.arange(n), 16)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_replay_bomb_is_refused_from_its_header_without_reading_it(tmp_path):
    """A few hundred kB whose points inflate to 400 MB (the finding: a 2 MB replay cost the server 2 GB)."""
    checkpoint = tmp_path / "m.safetensors"
    r = a_replay()
    fields = {"content_hash": np.array("abc"), "epochs": r.epochs, "labels": r.labels, "indices": r.indices}
    forged_npz(replay_path(checkpoint), {**fields, "q": np.array(16)}, {"points": ("<f2", (100, 2 * MB, 1), 400 * MB)})
    assert replay_path(checkpoint).stat().st_size < MB
    with pytest.warns(RuntimeWarning, match="refused"):
        loaded, peak = peak_of(lambda: load_replay(checkpoint, "abc"))
    assert loaded is None and peak < 10 * MB, peak
    assert replay_path(checkpoint).exists()  # the user's file, never deleted
    save_replay(checkpoint, r, "abc")
    assert load_replay(checkpoint, "abc") is not None  # a good one beside the same checkpoint loads


@pytest.fixture
def own_zoo(tmp_path, monkeypatch):
    """A zoo holding the shipped digits baseline and one digits model with its sidecars, to tamper with."""
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    shutil.copy(SHIPPED / "digits.pca.npz", tmp_path)
    for suffix in (".safetensors", ".maps.npz", ".errors.npz"):
        shutil.copy(SHIPPED / f"digits-dense-q2-bce{suffix}", tmp_path)
    return tmp_path


def test_a_1kb_pca_baseline_claiming_terabytes_is_refused_and_the_baseline_fitted_afresh(own_zoo):
    shipped = diskcache.load_arrays(own_zoo / "digits.pca.npz", delete_corrupt=False)
    del shipped["components"]
    forged_npz(own_zoo / "digits.pca.npz", shipped, {"components": ("<f4", (64, 10**11), 0)})
    assert (own_zoo / "digits.pca.npz").stat().st_size < 2048
    with pytest.warns(RuntimeWarning, match="refused.*fitting the PCA baseline afresh"):
        baseline = pca_module.pca_baseline("digits")
    assert baseline.components.shape == (64, 64) and baseline.mse(8) > 0


@pytest.mark.parametrize(
    "forged",
    [
        {"components": ("|O", (64, 64), 0)},  # a pickle
        {"mean": ("<U1000000", (64,), 0)},  # text where numbers belong, 256 MB of it claimed
        {"sizes": ("<f8", (6,), 48)},
        {"mean": ("<f4", (65,), 260)},  # one pixel too many
    ],
)
def test_a_pca_baseline_with_wrong_arrays_is_refused_before_reading(own_zoo, forged):
    shipped = diskcache.load_arrays(own_zoo / "digits.pca.npz", delete_corrupt=False)
    forged_npz(own_zoo / "digits.pca.npz", {k: v for k, v in shipped.items() if k not in forged}, forged)
    with pytest.warns(RuntimeWarning, match="refused"):
        assert pca_module.load_shipped_pca("digits") is None


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_tampered_maps_and_test_errors_are_missing_for_that_model_only(own_zoo):
    model = own_zoo / "digits-dense-q2-bce.safetensors"
    content = checkpoints.read_metadata(model)["hash"]
    codes = np.zeros((360, 2), np.float32)  # digits' test split, a 2-d code
    assert checkpoints.load_test_errors(model, content, "mse", 360) is not None
    maps = projection.load_maps(checkpoints.maps_path(model), content, codes)
    assert maps, "the shipped maps load before tampering"
    errors = {"content_hash": np.array(content)}
    forged_npz(checkpoints.shipped_path(model, "errors"), errors, {"mse": ("<f4", (10**10,), 0)})
    with pytest.warns(RuntimeWarning, match="refused"):
        assert checkpoints.load_test_errors(model, content, "mse", 360) is None
    kept = {"content_hash": np.array(content), "codes_shape": np.array([360, 2])}
    forged_npz(checkpoints.maps_path(model), kept, {"umap__points": ("|O", (360, 2), 0)})
    with pytest.warns(RuntimeWarning, match="refused"):
        assert projection.load_maps(checkpoints.maps_path(model), content, codes) == {}
    forged_npz(checkpoints.maps_path(model), kept, {"umap__points": ("<f2", (200 * MB, 2), 800 * MB)})
    with pytest.warns(RuntimeWarning, match="refused"):
        loaded, peak = peak_of(lambda: projection.load_maps(checkpoints.maps_path(model), content, codes))
    assert loaded == {} and peak < 10 * MB, peak
    other = "digits-dense-q4-bce"  # another model's sidecars are untouched
    info = checkpoints.read_metadata(SHIPPED / f"{other}.safetensors")
    assert checkpoints.load_test_errors(SHIPPED / f"{other}.safetensors", info["hash"], "mse", 360) is not None


def test_the_cache_reader_refuses_pickles_and_claims_beyond_its_cap_without_raising(tmp_path):
    forged_npz(tmp_path / "a.npz", {"ok": np.arange(3)}, {"bad": ("|O", (3,), 0)})
    assert diskcache.load_arrays(tmp_path / "a.npz") is None and not (tmp_path / "a.npz").exists()
    forged_npz(tmp_path / "b.npz", {"ok": np.arange(3)}, {"big": ("<f8", (10**12,), 0)})
    assert diskcache.load_arrays(tmp_path / "b.npz", delete_corrupt=False) is None  # no MemoryError
    forged_npz(tmp_path / "c.npz", {}, {"x": ("<f4", (4,), 64)})  # data longer than its header says
    assert diskcache.load_arrays(tmp_path / "c.npz") is None
