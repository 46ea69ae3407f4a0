"""Importing torch.export folders: real round trips against the original modules, and every refusal's message."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from fakes import cifar_arrays, write_cifar_py
from foreign import SHAPE, conv, dense, export, export_folder
from torch import nn

from aeviz import checkpoints
from aeviz.cli import main as cli
from aeviz.data import load_dataset
from aeviz.foreign import importer as importing


@pytest.fixture(scope="module")
def batch():
    return load_dataset("digits", "test").images[:50]


@pytest.fixture(scope="module")
def exported_once(tmp_path_factory):
    """The default dense model's folder, exported once for the module (torch.export is the slow part)."""
    return export_folder(tmp_path_factory.mktemp("dense") / "export", *dense())


@pytest.fixture
def dense_folder(exported_once, tmp_path):
    """A copy of that folder for one test to change (its aeviz.json, a program) as it likes."""
    return Path(shutil.copytree(exported_once, tmp_path / "export"))


def imported(tmp_path, encoder, decoder, **manifest):
    folder = export_folder(tmp_path / "export", encoder, decoder, **manifest)
    result = importing.import_path(folder, tmp_path / "models")
    return result, checkpoints.load_checkpoint(result.path)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("kind", ["dense", "conv", "static-batch"])
def test_a_round_trip_matches_the_original_module(tmp_path, batch, kind):
    encoder, decoder = conv() if kind == "conv" else dense()
    folder = export_folder(tmp_path / "export", encoder, decoder, dynamic=kind != "static-batch", name=f"my-{kind}")
    result = importing.import_path(folder, tmp_path / "models")
    model = checkpoints.load_checkpoint(result.path)
    with torch.no_grad():
        code = encoder(batch)
        assert torch.allclose(model.encode(batch), code.flatten(1), atol=1e-6)
        assert torch.allclose(model.decode(code.flatten(1)), decoder(code), atol=1e-6)
        assert torch.allclose(model.reconstruct(batch), decoder(code), atol=1e-6)
    assert model.bottleneck == 4 and result.metadata["config"]["bottleneck"] == 4
    assert checkpoints.read_metadata(result.path)["interface"]["code_shape"] == ([4, 1, 1] if kind == "conv" else [4])


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_metadata_records_measured_metrics_and_its_origin(tmp_path, batch):
    result, model = imported(tmp_path, *dense(), name="measured", loss="bce")
    meta = checkpoints.read_metadata(result.path)
    assert set(meta["metrics"]) >= {"mse", "bce", "psnr", "knn7"}
    recon = model.reconstruct(load_dataset("digits", "test").images)
    mse = float((recon - load_dataset("digits", "test").images).pow(2).mean())
    assert meta["metrics"]["mse"] == pytest.approx(mse, rel=1e-4)
    info = checkpoints.list_checkpoints([tmp_path / "models"])[0]
    assert (info.imported, info.where, info.family, info.dataset) == (
        "torch.export",
        "imported (torch.export)",
        "dense",
        "digits",
    )
    assert info.label == "measured · imported (torch.export)"
    assert info.series == "measured-bce" and meta["imported"]["from"] == str(tmp_path / "export")


def test_ranges_map_to_and_from_the_images_of_zero_to_one(tmp_path, batch):
    encoder, decoder = dense(last=nn.Tanh())
    _, model = imported(tmp_path, encoder, decoder, input_range=[-1, 1], output_range=[-1, 1])
    with torch.no_grad():
        expected = (decoder(encoder(2 * batch - 1)) + 1) / 2
    assert torch.allclose(model.reconstruct(batch), expected, atol=1e-6)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_logits_decoder_gets_its_sigmoid(tmp_path, batch):
    encoder, decoder = dense(last=nn.Identity())
    _, model = imported(tmp_path, encoder, decoder, output_range="logits")
    with torch.no_grad():
        assert torch.allclose(model.reconstruct(batch), torch.sigmoid(decoder(encoder(batch))), atol=1e-6)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_vae_gives_its_mean_and_log_variance(tmp_path, batch):
    encoder, decoder = dense(vae=True)
    result, model = imported(tmp_path, encoder, decoder, family="vae", log_variance_output=1)
    mu, logvar = model.encode_stats(batch)
    with torch.no_grad():
        assert torch.allclose(mu, encoder(batch)[0]) and torch.allclose(logvar, encoder(batch)[1].clamp(-20, 10))
    assert torch.allclose(model.encode(batch), mu)
    assert checkpoints.list_checkpoints([tmp_path / "models"])[0].family == "vae"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_cli_imports_and_says_what_it_measured(tmp_path, capsys):
    folder = export_folder(tmp_path / "export", *dense(), name="cli-model")
    assert cli.main(["import", str(folder), "--out", str(tmp_path / "models")]) == 0
    out = capsys.readouterr().out
    assert "imported" in out and "dense q=4 on digits" in out and "kNN-7" in out
    assert cli.main(["import", str(folder), "--out", str(tmp_path / "models"), "--name", "cli-model"]) == 1
    assert "exists" in capsys.readouterr().err
    assert cli.main(["import", str(folder), "--out", str(tmp_path / "models")]) == 0  # a default name: the next free
    assert "importing as cli-model-2" in capsys.readouterr().out


def _refused(tmp_path, folder, *needles):
    with pytest.raises(importing.ImportRefused) as exc:
        importing.import_path(folder, tmp_path / "models")
    for needle in needles:
        assert needle in str(exc.value)
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())  # nothing left behind
    return str(exc.value)


def test_a_folder_without_aeviz_json_is_refused(tmp_path, dense_folder):
    folder = dense_folder
    (folder / "aeviz.json").unlink()
    _refused(tmp_path, folder, "no aeviz.json", '"dataset"')


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ('{"dataset": "digits"}', "input_shape"),
        ('{"dataset": "digits", "input_shape": [1, 8, 8], "colour": 1}', "unknown setting 'colour'"),
        ('{"dataset": "imagenet", "input_shape": [1, 8, 8]}', "dataset must be one of"),
        ('{"dataset": "digits", "input_shape": [8, 8]}', "[channels, height, width]"),
        (
            '{"dataset": "cifar10", "input_shape": [1, 28, 28]}',
            "[1, 28, 28] is not the image shape of cifar10, [3, 32, 32]",
        ),
        (
            '{"dataset": "folder:/photos", "input_shape": [3, 32, 32]}',
            "[3, 32, 32] is not the image shape of folder:/photos, [1, 28, 28]",  # colour: folder@rgb32:/photos
        ),
        ('{"dataset": "folder@rgb48:/photos", "input_shape": [3, 48, 48]}', "or folder@rgb32:PATH (colour, 32x32)"),
        ('{"dataset": "digits", "input_shape": [1, 8, 8], "output_range": [1, 0]}', "output_range must be"),
        ('{"dataset": "digits", "input_shape": [1, 8, 8], "family": "vae"}', "log_variance_output"),
        ('{"dataset": "digits", "input_shape": [1, 8, 8], "family": "denoising"}', "needs noise"),
    ],
)
def test_a_bad_aeviz_json_names_the_problem(tmp_path, dense_folder, settings, needle):
    folder = dense_folder
    (folder / "aeviz.json").write_text(settings)
    _refused(tmp_path, folder, needle)


def test_a_model_for_another_input_shape_than_its_dataset_is_refused(tmp_path, dense_folder):
    folder = dense_folder
    (folder / "aeviz.json").write_text(json.dumps({"dataset": "digits", "input_shape": [1, 28, 28]}))
    _refused(tmp_path, folder, "aeviz.json: input_shape [1, 28, 28] is not the image shape of digits, [1, 8, 8]")
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 4)).eval()
    decoder = nn.Sequential(nn.Linear(4, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))).eval()
    folder = tmp_path / "mnist-sized"
    folder.mkdir()
    export(encoder, torch.rand(2, 1, 28, 28), folder / "encoder.pt2")
    export(decoder, torch.rand(2, 4), folder / "decoder.pt2")
    (folder / "aeviz.json").write_text(json.dumps({"dataset": "digits", "input_shape": [1, 8, 8]}))
    _refused(tmp_path, folder, "encoder.pt2 takes [1, 28, 28] images, but aeviz.json says [1, 8, 8]")


def _photo_folder(root: Path) -> str:
    """Twelve colour pictures in two class folders; their dataset name read at 32x32 colour."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(12):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / f"c{i % 2}" / f"{i}.png")
    return f"folder@rgb32:{root}"


@pytest.mark.parametrize("where", ["cifar10", "a folder of photos"])
def test_a_colour_model_imports_on_cifar10_or_a_colour_folder(tmp_path, monkeypatch, where):
    """A 3x32x32 torch.export model named for cifar10 (the shape checked against the registry's) or for a folder
    read in colour at 32x32 imports, is measured on that set's test images and round-trips."""
    write_cifar_py(tmp_path / "data" / "CIFAR10", cifar_arrays(15, 0), cifar_arrays(8, 1))
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "data"))
    dataset = "cifar10" if where == "cifar10" else _photo_folder(tmp_path / "pics")
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 6))
    decoder = nn.Sequential(nn.Linear(6, 3 * 32 * 32), nn.Sigmoid(), nn.Unflatten(1, (3, 32, 32)))
    folder = tmp_path / "photos"
    folder.mkdir()
    export(encoder.eval(), torch.rand(2, 3, 32, 32), folder / "encoder.pt2")
    export(decoder.eval(), torch.rand(2, 6), folder / "decoder.pt2")
    (folder / "aeviz.json").write_text(json.dumps({"dataset": dataset, "input_shape": [3, 32, 32], "name": "mine"}))
    result = importing.import_path(folder, tmp_path / "models")
    model = checkpoints.load_checkpoint(result.path)
    meta = checkpoints.read_metadata(result.path)
    assert (
        meta["dataset"] == dataset
        and meta["input_shape"] == [3, 32, 32]
        and meta["config"]["input_shape"] == [3, 32, 32]
    )
    images = load_dataset(dataset, "test").images
    with torch.no_grad():
        assert torch.allclose(model.reconstruct(images), decoder(encoder(images)), atol=1e-6)
    mse = float((model.reconstruct(images) - images).pow(2).mean())
    assert meta["metrics"]["mse"] == pytest.approx(mse, rel=1e-4)


def test_a_pickle_where_a_pt2_is_expected_is_refused_unread(tmp_path, dense_folder):
    folder = dense_folder
    (folder / "encoder.pt2").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    _refused(tmp_path, folder, "encoder.pt2 is a Python pickle", "never unpickles")
    torch.save(dense()[0], folder / "encoder.pt2")  # torch.save's zip: a pickle inside
    _refused(tmp_path, folder, "torch.save checkpoint", "not a torch.export program")
    (folder / "encoder.pt2").write_bytes(b"hello, not a model at all")
    _refused(tmp_path, folder, "not a torch.export file")


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_an_encoder_that_does_not_feed_the_decoder_is_refused(tmp_path):
    encoder, _ = dense(q=4)
    _, decoder = dense(q=6)
    folder = export_folder(tmp_path / "export", encoder, dense(q=4)[1])
    export_folder(tmp_path / "other", dense(q=6)[0], decoder)
    (folder / "decoder.pt2").write_bytes((tmp_path / "other" / "decoder.pt2").read_bytes())
    _refused(tmp_path, folder, "do not feed the decoder", "(N, 4)", "(N, 6)")


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_nan_outputs_are_refused(tmp_path):
    class NaNs(nn.Module):
        def forward(self, z):
            return torch.full((z.shape[0], *SHAPE), float("nan"))

    folder = export_folder(tmp_path / "export", dense()[0], NaNs())
    _refused(tmp_path, folder, "NaN")


def test_outputs_outside_the_declared_range_are_refused_with_the_fix(tmp_path):
    folder = export_folder(tmp_path / "export", *dense(last=nn.Identity()))
    message = _refused(tmp_path, folder, "outside the output_range [0.0, 1.0]", '"logits"')
    assert "run from" in message


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_checkpoint_whose_program_fails_here_is_refused_at_load(tmp_path):
    """An encoder exported for 28x28 images stored under a digits model: it fails on this server's images."""
    result, _ = imported(tmp_path, *dense(), name="breaks")
    big = nn.Sequential(nn.Flatten(), nn.Linear(784, 4)).eval()
    other = tmp_path / "big"
    other.mkdir()
    export(big, torch.rand(2, 1, 28, 28), other / "encoder.pt2")
    meta = checkpoints.read_metadata(result.path)
    programs = {
        "encoder.pt2": (other / "encoder.pt2").read_bytes(),
        "decoder.pt2": _program(result.path, "decoder.pt2"),
    }
    checkpoints.save_imported(result.path, programs, {k: v for k, v in meta.items() if k != "hash"})
    with pytest.raises(checkpoints.CheckpointError, match="breaks: its encoder failed on this server"):
        checkpoints.load_checkpoint(result.path)


def _program(path, key) -> bytes:
    from safetensors.torch import load_file

    return load_file(str(path))[key].numpy().tobytes()


def test_a_tampered_program_fails_its_hash(tmp_path):
    result, _ = imported(tmp_path, *dense(), name="tampered")
    blob = bytearray(result.path.read_bytes())
    blob[-10] ^= 0xFF
    result.path.write_bytes(bytes(blob))
    with pytest.raises(checkpoints.CheckpointError, match="hash"):
        checkpoints.load_checkpoint(result.path)


def test_a_forged_imported_checkpoint_is_refused_from_its_header(tmp_path):
    result, _ = imported(tmp_path, *dense(), name="forged")
    meta = {k: v for k, v in checkpoints.read_metadata(result.path).items() if k != "hash"}
    programs = {
        "encoder.pt2": _program(result.path, "encoder.pt2"),
        "decoder.pt2": _program(result.path, "decoder.pt2"),
    }
    checkpoints.save_imported(result.path, {**programs, "extra.pt2": b"\x00"}, meta)
    with pytest.raises(checkpoints.CheckpointError, match="exactly encoder.pt2 and decoder.pt2"):
        checkpoints.load_checkpoint(result.path)
    wrong = {**meta, "interface": {**meta["interface"], "code_shape": [5], "decoder_input": [5]}}
    checkpoints.save_imported(result.path, programs, wrong)
    with pytest.raises(checkpoints.CheckpointError, match="code size is not its config's bottleneck"):
        checkpoints.load_checkpoint(result.path)
    checkpoints.save_imported(result.path, programs, {**meta, "interface": {**meta["interface"], "code_shape": "x"}})
    with pytest.raises(checkpoints.CheckpointError, match="interface"):
        checkpoints.load_checkpoint(result.path)


def test_a_huge_example_input_is_named_as_the_reason_a_file_is_too_big(tmp_path, monkeypatch):
    monkeypatch.setattr(
        importing.pt2_archive, "MAX_ARCHIVE_BYTES", 1_000_000
    )  # the limit, lowered so the test stays small
    encoder, decoder = dense()
    folder = tmp_path / "export"
    folder.mkdir()
    dataset = torch.rand(4000, *SHAPE)  # 1 MB: a slice of it keeps all of it
    export(encoder, dataset[:4], folder / "encoder.pt2")
    export(decoder, torch.rand(4, 4), folder / "decoder.pt2")
    (folder / "aeviz.json").write_text(json.dumps({"dataset": "digits", "input_shape": list(SHAPE)}))
    _refused(tmp_path, folder, "over this server's limit", "example input", "images[:4].clone()")
