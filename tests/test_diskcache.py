"""The on-disk array cache: round trip, atomic writes, corrupt files, one computation per key."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aeviz import diskcache
from aeviz.diskcache import cache_dir, cache_key, cached_arrays, load_arrays, save_arrays


def test_round_trip(tmp_path):
    arrays = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([1, 2], np.int64),
        "s": np.array("a string"),
    }
    save_arrays(tmp_path / "sub" / "x.npz", **arrays)
    loaded = load_arrays(tmp_path / "sub" / "x.npz")
    assert set(loaded) == set(arrays)
    for name, value in arrays.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        save_arrays(tmp_path / "x.npz", o=np.array([{"a": 1}], dtype=object))
    assert list(tmp_path.iterdir()) == []


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "x.npz"
    save_arrays(path, a=np.zeros(5))

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        save_arrays(path, a=np.ones(5))
    monkeypatch.undo()
    np.testing.assert_array_equal(load_arrays(path)["a"], np.zeros(5))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]  # no temp file left behind


def test_missing_file_is_none(tmp_path):
    assert load_arrays(tmp_path / "nope.npz") is None


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_corrupt_file_is_none_and_deleted(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    assert load_arrays(path) is None
    assert not path.exists()


def test_truncated_npz_is_none(tmp_path):
    path = tmp_path / "x.npz"
    save_arrays(path, a=np.arange(10_000))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert load_arrays(path) is None
    assert not path.exists()


def test_corrupt_file_kept_when_asked(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"junk")
    assert load_arrays(path, delete_corrupt=False) is None
    assert path.exists()


def test_pickled_content_is_never_loaded(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, o=np.array([{"a": 1}], dtype=object))  # written with pickle by someone else
    assert load_arrays(path) is None


def test_cache_dir_respects_env(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()
    cached_arrays("ns", "k", lambda: {"a": np.ones(2)})
    assert (tmp_path / "c" / "ns" / "k.npz").is_file()


def test_cache_dir_falls_back_to_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("AEVIZ_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "aeviz"


def test_cache_key_is_canonical():
    assert cache_key(a=1, b="x") == cache_key(b="x", a=1)
    assert cache_key(shape=(3, 4)) == cache_key(shape=[3, 4])
    assert cache_key(n=np.int64(3)) == cache_key(n=3)
    assert cache_key(a=1) != cache_key(a=2) != cache_key(a="1")
    assert len(cache_key(a=1)) == 24 and int(cache_key(a=1), 16) >= 0
    with pytest.raises(TypeError):
        cache_key(a=np.zeros(3))


def test_hit_does_not_compute():
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(4)}

    first = cached_arrays("ns", "key1", compute)
    second = cached_arrays("ns", "key1", compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["a"], second["a"])


def test_corrupt_entry_is_recomputed():
    calls = []
    compute = lambda: calls.append(1) or {"a": np.arange(4)}
    cached_arrays("ns", "key2", compute)
    (cache_dir() / "ns" / "key2.npz").write_bytes(b"garbage")
    np.testing.assert_array_equal(cached_arrays("ns", "key2", compute)["a"], np.arange(4))
    assert len(calls) == 2
    assert load_arrays(cache_dir() / "ns" / "key2.npz") is not None


def test_concurrent_threads_compute_once():
    calls = []
    barrier = threading.Barrier(6)

    def compute():
        calls.append(1)
        time.sleep(0.2)  # long enough for every other thread to arrive while this one computes
        return {"a": np.arange(3)}

    results = []

    def worker():
        barrier.wait()
        results.append(cached_arrays("ns", "shared", compute))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 6 and all(np.array_equal(r["a"], np.arange(3)) for r in results)


def test_unwritable_cache_still_returns(monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(diskcache, "save_arrays", fail)
    with pytest.warns(RuntimeWarning, match="disk full"):
        out = cached_arrays("ns", "k3", lambda: {"a": np.ones(2)})
    np.testing.assert_array_equal(out["a"], np.ones(2))


@pytest.mark.parametrize("bad", ["", "..", "a/b", "../x"])
def test_path_like_keys_are_refused(bad):
    with pytest.raises(ValueError):
        cached_arrays("ns", bad, lambda: {})
    with pytest.raises(ValueError):
        cached_arrays(bad, "k", lambda: {})


def test_no_temp_files_after_saves(tmp_path):
    for i in range(3):
        save_arrays(tmp_path / "x.npz", a=np.full(3, i))
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["x.npz"]
