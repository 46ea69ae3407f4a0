"""The CLI end to end on the offline digits dataset."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aeviz.checkpoints import read_metadata
from aeviz.cli.main import main


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_train_zoo_info_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path / "zoo"))
    code = main(
        [
            "train",
            "--dataset",
            "digits",
            "--family",
            "dense",
            "--bottleneck",
            "2",
            "4",
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "zoo"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("saved") == 2 and "kNN-7" in out
    assert main(["zoo"]) == 0
    listing = capsys.readouterr().out
    assert "digits-dense-q2-bce" in listing and "digits-dense-q4-bce" in listing
    assert main(["zoo", "--write"]) == 0  # --write alone was ignored without a word: it writes the card now
    assert "wrote" in capsys.readouterr().out
    card = (tmp_path / "zoo" / "README.md").read_text()
    assert card.startswith("# Model zoo") and "| digits-dense-q4-bce | dense | 4 |" in card
    (tmp_path / "zoo" / "README.md").unlink()
    assert main(["zoo", "--markdown", "--write"]) == 0 and (tmp_path / "zoo" / "README.md").read_text() == card
    capsys.readouterr()
    assert main(["info", str(tmp_path / "zoo" / "digits-dense-q2-bce.safetensors")]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["config"]["bottleneck"] == 2 and meta["family"] == "dense"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_train_a_kl_sparse_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path / "zoo"))
    argv = [
        "train",
        "--dataset",
        "digits",
        "--family",
        "sparse",
        "--sparsity",
        "kl",
        "--kl-target",
        "0.1",
        "--kl-weight",
        "0.01",
        "--bottleneck",
        "8",
        "--epochs",
        "1",
        "--subset",
        "200",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    assert "saved" in capsys.readouterr().out
    meta = read_metadata(tmp_path / "digits-sparse-q8-bce-kl0.1.safetensors")
    assert {k: meta["config"][k] for k in ("sparsity", "code_activation", "l1", "kl_target", "kl_weight")} == {
        "sparsity": "kl",
        "code_activation": "sigmoid",
        "l1": 0.0,
        "kl_target": 0.1,
        "kl_weight": 0.01,
    }


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_train_a_vq_vae_and_a_topk_dictionary(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path / "zoo"))
    quick = ["train", "--dataset", "digits", "--epochs", "1", "--subset", "200", "--out", str(tmp_path)]
    assert main([*quick, "--family", "vq", "--codebook-size", "32", "--code-dim", "4", "--channels", "16"]) == 0
    bar = capsys.readouterr().err
    assert "vq q=64" in bar and "perplexity" in bar and "dead codes" in bar  # 8x8 digits, one layer: 4x4x4
    meta = read_metadata(tmp_path / "digits-vq-q64-bce-codes32.safetensors")
    assert {k: meta["config"][k] for k in ("bottleneck", "code_dim", "codebook_size", "codebook")} == {
        "bottleneck": 64,
        "code_dim": 4,
        "codebook_size": 32,
        "codebook": "ema",
    }
    assert set(meta["history"][-1]["diagnostics"]) == {"perplexity", "dead_codes"}
    assert main([*quick, "--family", "sparse", "--sparsity", "topk", "--topk", "4", "--bottleneck", "128"]) == 0
    meta = read_metadata(tmp_path / "digits-sparse-q128-bce-top4.safetensors")
    assert (meta["config"]["topk"], meta["config"]["code_activation"]) == (4, "relu")
    assert meta["history"][-1]["diagnostics"]["l0"] <= 4


def test_the_model_cards_code_column_reads_the_last_epochs_diagnostics():
    from aeviz.cli.main import code_figures

    history = [{"diagnostics": {"perplexity": 3.2, "dead_codes": 118.0}}, {"diagnostics": {"perplexity": 84.81}}]
    assert code_figures({"history": history}) == "perplexity 84.8"
    assert code_figures({"history": [{"diagnostics": {"active_units": 9.0, "l0": 31.94}}]}) == "active units 9, l0 31.9"
    for hostile in ({}, {"history": []}, {"history": "x"}, {"history": [3]}, {"history": [{"diagnostics": [1]}]}):
        assert code_figures(hostile) == ""
    assert code_figures({"history": [{"diagnostics": {"a": "text", "b": True, "c": 2}}]}) == "c 2"


def test_model_card_notes_say_what_the_denoisers_and_bce_figures_mean(tmp_path, monkeypatch):
    from aeviz.cli.main import MODEL_CARD_HEAD, card_notes

    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert card_notes() == ""  # no reproduce run stored: no notes rather than made-up ones
    (tmp_path / "reproduce.json").write_text(
        json.dumps(
            {
                "datasets": {"mnist": {"bce_floor": 0.0581}, "fashion-mnist": {"bce_floor": 0.2422}},
                "denoisers": {
                    "mnist-denoising-q32-bce-gaussian0.5": {"noise": "gaussian:0.5", "psnr": 17.48, "psnr_input": 9.38}
                },
            }
        )
    )
    notes = card_notes()
    assert "BCE floor" in notes and "mnist 0.058, fashion-mnist 0.242" in notes
    assert "gaussian:0.5" in notes and "17.48 dB" in notes and "9.38 dB" in notes and "clean input" in notes
    assert "mean of per-image PSNR" in MODEL_CARD_HEAD and "clean test images" in MODEL_CARD_HEAD


def test_bad_arguments_give_clear_errors(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.safetensors")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--dataset",
                "digits",
                "--family",
                "dense",
                "--loss",
                "bce",
                "--output",
                "linear",
                "--epochs",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "BCE needs a sigmoid" in capsys.readouterr().err


def test_a_relu_output_layer_trains_from_the_command_line(tmp_path):
    argv = ["train", "--dataset", "digits", "--family", "dense", "--bottleneck", "4", "--loss", "mse"]
    assert main([*argv, "--output", "relu", "--epochs", "1", "--out", str(tmp_path)]) == 0
    saved = read_metadata(tmp_path / "digits-dense-q4-mse-relu.safetensors")
    assert (saved["config"]["output"], saved["config"]["loss"]) == ("relu", "mse")


@pytest.mark.slow  # a fresh interpreter that imports torch: ~3 s of CPU
def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "aeviz.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "train" in proc.stdout and "zoo" in proc.stdout


def test_the_family_flags_come_from_the_family_declarations():
    """--family offers every registered family, and every hyper-parameter a family declares is a flag."""
    from aeviz.cli.main import _parser
    from aeviz.models import MODELS

    train = _parser()._subparsers._group_actions[0].choices["train"]
    flags = {option: action for action in train._actions for option in action.option_strings}
    assert flags["--family"].choices == sorted(MODELS)
    for cls in MODELS.values():
        for param in cls.hyperparams:
            action = flags[param.flag]
            assert action.dest == param.field and action.help == param.cli_help
            assert action.choices == (list(param.choices) if param.kind == "choice" else None)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_train_a_colour_conv_model_on_cifar10(tmp_path, capsys, monkeypatch):
    """`aeviz train --dataset cifar10 --family conv` end to end on a small CIFAR-10 in its official layout: the body
    sized for 3x32x32, the checkpoint's metadata naming the copy it was trained on, the zoo's model card noting it."""
    from fakes import cifar_arrays, write_cifar_py

    write_cifar_py(tmp_path / "data" / "CIFAR10", cifar_arrays(40, 0), cifar_arrays(12, 1))
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path / "zoo"))
    argv = ["train", "--dataset", "cifar10", "--family", "conv", "--bottleneck", "8", "--loss", "mse"]
    assert main([*argv, "--epochs", "2", "--batch-size", "16", "--subset", "32", "--out", str(tmp_path / "zoo")]) == 0
    assert "saved" in capsys.readouterr().out
    meta = read_metadata(tmp_path / "zoo" / "cifar10-conv-q8-mse.safetensors")
    assert meta["input_shape"] == [3, 32, 32] and meta["config"]["channels"] == [32, 64, 128]
    assert meta["train_images"] == 32 and "cifar-10-batches-py" in meta["data_source"]
    assert len(meta["history"]) == 2 and meta["metrics"]["psnr"] > 0
    assert main(["zoo", "--markdown", "--write"]) == 0
    card = (tmp_path / "zoo" / "README.md").read_text()
    assert "cifar10 (3x32x32): conv bodies of widths [32, 64, 128] down to a 4x4 grid" in card
    assert "Trained and measured on cifar-10-batches-py." in card


def test_a_folder_of_photos_trains_in_colour_at_the_size_asked_for(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(12):
        cls = "warm" if i % 2 else "cool"
        (tmp_path / "photos" / cls).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 60, (40, 70, 3), dtype=np.uint8)
        pixels[..., 0 if cls == "warm" else 2] += 180
        Image.fromarray(pixels).save(tmp_path / "photos" / cls / f"{i}.png")
    args = ["train", "--dataset", f"folder:{tmp_path / 'photos'}", "--epochs", "1", "--bottleneck", "4"]
    assert main([*args, "--pictures", "rgb32", "--family", "conv", "--out", str(tmp_path / "out")]) == 0
    saved = read_metadata(tmp_path / "out" / "photos-rgb32-conv-q4-bce.safetensors")
    assert saved["input_shape"] == [3, 32, 32] and saved["dataset"] == f"folder@rgb32:{tmp_path / 'photos'}"
    capsys.readouterr()
    assert main(["train", "--dataset", "digits", "--pictures", "rgb32", "--epochs", "1"]) == 2
    assert "--pictures applies to folder:PATH datasets" in capsys.readouterr().err


def test_the_model_card_says_a_lessons_recipe():
    from aeviz.cli.main import recipe

    assert recipe({"training": {"epochs": 30}}) == "30"
    assert recipe({"training": {"epochs": 3, "subset": 10_000}, "train_images": 10_000}) == "3 on 10,000 images"
    stacked = {"training": {"epochs": 20, "pretrain_epochs": 5}}
    assert recipe(stacked) == "20 after 5 a layer alone"
    mixed = {"training": {"epochs": 30, "outliers": "fashion-mnist:0.05"}}
    assert recipe(mixed) == "30, 0.05 of the images fashion-mnist's"
