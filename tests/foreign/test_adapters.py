"""Adapters: the operator's own Python models, from AEVIZ_ADAPTERS files and entry points, checked and measured once."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
import torch

from aeviz import diskcache
from aeviz.cli.main import main
from aeviz.data import load_dataset
from aeviz.foreign import adapters
from aeviz.headers import check_metadata

MODULES = """
import torch
from torch import nn


class Dense(nn.Module):
    metadata = {"name": "dense4", "dataset": "digits", "input_shape": [1, 8, 8]}

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.enc, self.dec = nn.Linear(64, 4), nn.Linear(4, 64)

    def encode(self, x):
        return self.enc(x.flatten(1))

    def decode(self, z):
        return torch.sigmoid(self.dec(z)).view(-1, 1, 8, 8)


class Vae(Dense):
    metadata = {"name": "vae2", "dataset": "digits", "input_shape": [1, 8, 8], "family": "vae"}

    def __init__(self):
        super().__init__(1)
        self.dec = nn.Linear(2, 64)

    def encode_stats(self, x):
        mean, log_variance = self.enc(x.flatten(1)).chunk(2, dim=1)
        return mean, log_variance

    def encode(self, x):
        return self.encode_stats(x)[0]
"""
GOOD = MODULES + "\n\ndef models():\n    return [Dense(), Vae()]\n"
BAD_OBJECTS = MODULES + textwrap.dedent(
    """
    class NoEncode:
        metadata = {"name": "noencode", "dataset": "digits", "input_shape": [1, 8, 8]}

        def decode(self, z):
            return z


    class WrongMetadata(Dense):
        metadata = {"name": "wrong", "dataset": "digits", "input_shape": [1, 8, 8], "colour": "red"}


    class NanDecoder(Dense):
        metadata = {"name": "nan", "dataset": "digits", "input_shape": [1, 8, 8]}

        def decode(self, z):
            return super().decode(z) * float("nan")


    class Other(Dense):
        metadata = {"name": "other", "dataset": "digits", "input_shape": [1, 8, 8]}


    def models():
        return [NoEncode(), WrongMetadata(), NanDecoder(), Other()]
    """
)


@pytest.fixture
def good(tmp_path, monkeypatch):
    path = tmp_path / "good.py"
    path.write_text(GOOD)
    monkeypatch.setenv(adapters.ENV, str(path))
    return path


def _objects(path):
    """The adapter file's own objects, built as aeviz builds them (seeded: the same weights)."""
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return {obj.metadata["name"]: obj.eval() for obj in namespace["models"]()}


def test_a_file_with_two_models_is_discovered_and_runs_as_the_adapter_does(good):
    scan = adapters.discover()
    assert scan.errors == ()
    assert [a.info.name for a in scan.models] == ["good.dense4", "good.vae2"]
    own, x = _objects(good), load_dataset("digits", "test").images[:32]
    for adapted in scan.models:
        info, model, obj = adapted.info, adapted.model, own[adapted.info.name.split(".")[1]]
        assert info.imported == "adapter" and info.where == "imported (adapter)" and info.dataset == "digits"
        assert info.path == good.parent / f"{info.name}.adapter" and not info.path.exists()
        assert info.metadata["imported"]["from"] == str(good) and info.key == f"server:{info.name}"
        check_metadata(info.name, info.metadata)  # what a checkpoint's header must hold, so pages read it alike
        assert set(info.metrics) >= {"mse", "bce", "psnr", "knn7"} and 0 < info.metrics["mse"] < 1
        with torch.inference_mode():
            assert torch.allclose(model.encode(x), obj.encode(x))
            z = torch.randn(5, info.bottleneck)
            assert torch.allclose(model.decode(z), obj.decode(z))
            assert torch.allclose(model.reconstruct(x), obj.decode(obj.encode(x)))
    vae, obj = scan.models[1], own["vae2"]
    assert vae.info.family == "vae" and vae.info.bottleneck == 2
    with torch.inference_mode():
        assert all(torch.allclose(a, b) for a, b in zip(vae.model.encode_stats(x), obj.encode_stats(x)))


def test_metrics_are_measured_once_and_read_from_the_disk_cache(good):
    first = adapters.discover()
    assert all(a.measured for a in first.models)
    files = sorted((diskcache.cache_dir() / adapters.METRICS).glob("*.npz"))
    keys = [diskcache.cache_key(hash=a.info.metadata["hash"], dataset=a.info.dataset) for a in first.models]
    assert files == sorted(diskcache.cache_dir() / adapters.METRICS / f"{key}.npz" for key in keys)
    marked = dict(diskcache.load_arrays(files[0]), mse=0.123456)  # a figure only the cache file holds
    diskcache.save_arrays(files[0], **marked)
    second = adapters.discover()
    assert not any(a.measured for a in second.models)
    assert 0.123456 in [a.info.metrics["mse"] for a in second.models]
    assert [a.info.metadata["hash"] for a in second.models] == [a.info.metadata["hash"] for a in first.models]


def test_the_hash_and_the_stamp_follow_the_file(good):
    before, stamp = adapters.discover().models[0].info.metadata["hash"], adapters.stamp()
    good.write_text(GOOD.replace("seed=0", "seed=5"))  # other weights
    os.utime(good, ns=(0, 1))  # a distinct mtime even on a coarse clock
    assert adapters.stamp() != stamp
    assert adapters.discover().models[0].info.metadata["hash"] != before


def test_bad_adapters_each_say_why_and_the_good_models_stay_listed(tmp_path, monkeypatch, good):
    (tmp_path / "syntax.py").write_text("def models(:\n    return []\n")
    (tmp_path / "raising.py").write_text("def models():\n    raise RuntimeError('no weights in /srv/w.pt')\n")
    (tmp_path / "objects.py").write_text(BAD_OBJECTS)
    files = [good, tmp_path / "syntax.py", tmp_path / "raising.py", tmp_path / "objects.py", tmp_path / "gone.py"]
    monkeypatch.setenv(adapters.ENV, os.pathsep.join(map(str, files)))
    scan = adapters.discover()
    assert [a.info.name for a in scan.models] == ["good.dense4", "good.vae2", "objects.other"]
    syntax, raising, noencode, wrong, nan, gone = scan.errors
    assert syntax.startswith(f"{tmp_path / 'syntax.py'}: importing it failed (SyntaxError")
    assert raising == f"{tmp_path / 'raising.py'}: models() raised RuntimeError: no weights in /srv/w.pt"
    assert noencode.endswith("models()[0] (NoEncode) has no encode(x) method")
    assert wrong.endswith("wrong: metadata: unknown setting 'colour'; known: " + wrong.split("known: ")[1])
    assert nan.endswith("nan: the decoder's output holds NaN or infinite values on test images")
    assert gone == f"{tmp_path / 'gone.py'}: no such file (named in {adapters.ENV})"
    assert all("\n" not in e for e in scan.errors)


def test_an_entry_point_adapter_from_an_installed_distribution(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "tiny_adapters-0.1.dist-info").mkdir(parents=True)
    (site / "tiny_adapters-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-adapters\n")
    (site / "tiny_adapters-0.1.dist-info" / "entry_points.txt").write_text(
        "[aeviz.adapters]\ntiny = aeviz_tiny_adapters:models\n"
    )
    (site / "aeviz_tiny_adapters.py").write_text(GOOD)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(adapters.ENV, raising=False)
    monkeypatch.delitem(sys.modules, "aeviz_tiny_adapters", raising=False)  # restored (removed) after the test
    scan = adapters.discover()
    sys.modules.pop("aeviz_tiny_adapters", None)
    assert scan.errors == ()
    assert [a.info.name for a in scan.models] == ["tiny.dense4", "tiny.vae2"]
    assert scan.models[0].info.path.parent == site
    assert scan.models[0].info.metadata["imported"]["from"] == "entry point tiny (aeviz_tiny_adapters:models)"
    assert adapters.discover(entry_points=False).models == ()


def test_cli_lists_measures_and_fails_on_errors(tmp_path, monkeypatch, capsys, good):
    assert main(["adapters"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["good.dense4", "good.vae2"] and "(measured in" in out[0]
    assert main(["adapters"]) == 0 and "(cached metrics, checked in" in capsys.readouterr().out
    (tmp_path / "raising.py").write_text("def models():\n    raise ValueError('broken')\n")
    monkeypatch.setenv(adapters.ENV, f"{good}{os.pathsep}{tmp_path / 'raising.py'}")
    assert main(["adapters"]) == 1
    captured = capsys.readouterr()
    assert "good.dense4" in captured.out and "models() raised ValueError: broken" in captured.err
    assert main(["zoo"]) == 0 and "good.vae2" in capsys.readouterr().out


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_latent_space_page_opens_an_adapter_model(good):
    from apptest import run_page

    at = run_page("pages/latent_map.py", {"dataset": "digits", "map_method": "pca"}, timeout=180)
    box = at.selectbox(key="w_map_model")
    label = "good.dense4 · imported (adapter)"
    assert label in box.options
    at = box.select_index(box.options.index(label)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="w_map_model").value.name == "good.dense4"
    assert "PCA of 360 codes" in "\n".join(str(e.value) for e in at.markdown)
