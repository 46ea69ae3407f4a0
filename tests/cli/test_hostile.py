"""`aeviz train` with hostile arguments: one error line, exit 2, nothing written; a trained model is never lost."""

from __future__ import annotations

import shutil

import pytest
import torch

from aeviz import data
from aeviz.checkpoints import load_checkpoint, read_metadata, save_checkpoint, user_dir
from aeviz.cli import trainargs
from aeviz.cli.main import main
from aeviz.headers import MAX_LAYERS

QUICK = ["--dataset", "digits", "--epochs", "1", "--subset", "200"]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

BAD_ARGUMENTS = {
    "unknown dataset": ["--dataset", "nope"],
    "epochs 0": ["--epochs", "0"],
    "epochs negative": ["--epochs", "-3"],
    "epochs not a number": ["--epochs", "many"],
    "batch size 0": ["--batch-size", "0"],
    "batch size negative": ["--batch-size", "-1"],
    "subset 0": ["--subset", "0"],
    "subset negative": ["--subset", "-5"],
    "subset below kNN-7": ["--subset", "3"],
    "lr nan": ["--lr", "nan"],
    "lr inf": ["--lr", "inf"],
    "lr 0": ["--lr", "0"],
    "lr negative": ["--lr", "-0.01"],
    "out is a file": ["--out", "{tmp}/a-file"],
    "out below a file": ["--out", "{tmp}/a-file/sub"],
    "device banana": ["--device", "banana"],
    "device meta": ["--device", "meta"],
    "device cuda:99": ["--device", "cuda:99"],
    "device cuda without CUDA": pytest.param(["--device", "cuda"], marks=NO_CUDA),
    "hidden negative": ["--hidden", "-4"],
    "hidden too wide": ["--hidden", "5000"],
    "hidden deeper than a checkpoint holds": ["--hidden", *["2"] * (MAX_LAYERS + 1)],
    "channels deeper than a checkpoint holds": ["--family", "conv", "--channels", *["2"] * (MAX_LAYERS + 1)],
    "channels 0": ["--family", "conv", "--channels", "0"],
    "conv without channels": ["--family", "conv", "--channels"],
    "conv side not divisible": ["--family", "conv", "--channels", "4", "4", "4", "4"],
    "bottleneck 3e9": ["--bottleneck", "3e9"],
    "bottleneck 3000000000": ["--bottleneck", "3000000000"],
    "bottleneck 0": ["--bottleneck", "0"],
    "bottleneck negative": ["--bottleneck", "-2"],
    "bottleneck above the cap": ["--bottleneck", "4097"],
    "bottleneck twice": ["--bottleneck", "4", "4"],
    "too many parameters": ["--hidden", "4096", "4096", "4096", "4096"],
    "noise without level": ["--family", "denoising", "--noise", "gaussian"],
    "noise unknown kind": ["--family", "denoising", "--noise", "blur:0.3"],
    "noise level not a number": ["--family", "denoising", "--noise", "gaussian:x"],
    "noise level out of range": ["--family", "denoising", "--noise", "masking:1.5"],
    "noise on a dense model": ["--noise", "gaussian:0.5"],
    "beta negative": ["--family", "vae", "--beta", "-1"],
    "beta nan": ["--family", "vae", "--beta", "nan"],
    "beta on a dense model": ["--beta", "2"],
    "l1 negative": ["--family", "sparse", "--l1", "-0.1"],
    "l1 nan": ["--family", "sparse", "--l1", "nan"],
    "sparsity unknown": ["--family", "sparse", "--sparsity", "l2"],
    "kl target 0": ["--family", "sparse", "--sparsity", "kl", "--kl-target", "0"],
    "kl target 1": ["--family", "sparse", "--sparsity", "kl", "--kl-target", "1"],
    "kl weight negative": ["--family", "sparse", "--sparsity", "kl", "--kl-weight", "-1"],
    "kl flags on an l1 model": ["--family", "sparse", "--kl-target", "0.05"],
    "kl weight on an l1 model": ["--family", "sparse", "--sparsity", "l1", "--kl-weight", "0.1"],
    "l1 on a kl model": ["--family", "sparse", "--sparsity", "kl", "--l1", "1e-3"],
    "sparsity on a dense model": ["--sparsity", "kl"],
    "topk on an l1 model": ["--family", "sparse", "--topk", "8"],
    "topk not whole": ["--family", "sparse", "--sparsity", "topk", "--topk", "8.5"],
    "topk 0": ["--family", "sparse", "--sparsity", "topk", "--topk", "0"],
    "topk above the bottleneck": ["--family", "sparse", "--sparsity", "topk", "--topk", "32", "--bottleneck", "16"],
    "bottleneck on a vq-vae": ["--family", "vq", "--bottleneck", "16"],
    "codebook size 0": ["--family", "vq", "--codebook-size", "0"],
    "code dim not whole": ["--family", "vq", "--code-dim", "2.5"],
    "codebook unknown": ["--family", "vq", "--codebook", "kmeans"],
    "decay 1": ["--family", "vq", "--decay", "1"],
    "decay with a gradient codebook": ["--family", "vq", "--codebook", "loss", "--decay", "0.9"],
    "vq grid not divisible": ["--family", "vq", "--channels", "4", "4", "4", "4"],
    "codebook size on a dense model": ["--codebook-size", "64"],
    "weight negative": ["--family", "contractive", "--weight", "-1e-3"],
    "weight nan": ["--family", "contractive", "--weight", "nan"],
    "seed negative": ["--seed", "-1"],
    "seed too large": ["--seed", str(2**64)],
    "folder missing": ["--dataset", "folder:{tmp}/no-such-folder"],
    "folder is a file": ["--dataset", "folder:{tmp}/a-file"],
    "folder without images": ["--dataset", "folder:{tmp}/empty"],
    "unknown family": ["--family", "gan"],
    "bce with linear output": ["--loss", "bce", "--output", "linear"],
    "linear with hidden layers": ["--family", "linear", "--hidden", "32"],
    "name with a path": ["--name", "../escape"],
    "name empty": ["--name", ""],
    "name too long with several sizes": ["--name", "n" * 99, "--bottleneck", "2", "4"],
    "overwrite without name": ["--overwrite"],
}


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def playground(tmp_path, monkeypatch):
    """An output folder, an empty zoo, a plain file and an empty folder for the arguments to point at."""
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path / "zoo"))
    (tmp_path / "zoo").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path


def _assert_one_error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == ""
    assert len(lines) == 1, err
    assert lines[0].startswith("aeviz train: error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("bad", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_argument_exits_2_with_one_line_and_writes_nothing(bad, playground, capsys):
    before = _files(playground)
    argv = ["train", *QUICK, "--out", str(playground / "out"), *[a.format(tmp=playground) for a in bad]]
    assert main(argv) == 2
    _assert_one_error_line(capsys)
    assert _files(playground) == before


def test_unwritable_output_folder_is_refused_before_training(playground, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # root may write anywhere, so a read-only folder is simulated where the check tries to write
    monkeypatch.setattr(trainargs.tempfile, "TemporaryFile", refuse)
    assert main(["train", *QUICK, "--out", str(playground / "out")]) == 2
    assert "cannot write to --out" in _assert_one_error_line(capsys)
    assert _files(playground / "out") == []


def test_help_documents_names_overwrite_and_exit_codes(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--overwrite" in text and "--name STEM" in text and "exit codes" in text and "-2, -3" in text


def test_dataset_unavailable_is_one_line_exit_1(playground, capsys, monkeypatch):
    monkeypatch.setenv("AEVIZ_DATA_DIR", str(playground / "empty"))
    monkeypatch.setattr(data, "_DOWNLOADS", {"allowed": False})  # put back afterwards, whatever it was
    assert main(["train", "--dataset", "mnist", "--epochs", "1", "--out", str(playground / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "aeviz train: error: MNIST is not available" in err and "Traceback" not in err
    assert _files(playground / "out") == []


def test_the_deepest_network_the_cli_accepts_is_one_a_checkpoint_holds(playground):
    """The CLI's layer limit is the checkpoint's: the deepest model it plans passes validation at load."""
    from aeviz.cli.main import _parser
    from aeviz.models import build_model

    deepest = ["--hidden", *["4"] * MAX_LAYERS, "--bottleneck", "2", "--name", "deep"]
    args = _parser().parse_args(["train", *QUICK, "--out", str(playground / "out"), *deepest])
    (job,) = trainargs.plan_training(args)
    save_checkpoint(job.path, build_model("dense", job.config))
    assert len(load_checkpoint(job.path).config.hidden) == MAX_LAYERS  # validated, not refused


def test_info_on_a_non_checkpoint_is_one_line(playground, capsys):
    assert main(["info", str(playground / "a-file")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("aeviz info: error: ") and "not a readable" in err


# --- a trained model is never lost -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    """One real 1-epoch digits model (q=4), trained once for the module and copied where a test needs it."""
    base = tmp_path_factory.mktemp("good")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("AEVIZ_CACHE_DIR", "AEVIZ_HOME", "AEVIZ_ZOO_DIR"):
            mp.setenv(var, str(base / var.lower()))
        assert main(["train", *QUICK, "--bottleneck", "4", "--name", "good", "--out", str(base)]) == 0
    return base / "good.safetensors"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_bad_or_repeated_train_leaves_an_existing_checkpoint_byte_identical(good_checkpoint, playground, capsys):
    out = playground / "out"
    target = shutil.copy(good_checkpoint, out / "mine.safetensors")
    original = target.read_bytes()
    for extra in (["--epochs", "0"], ["--batch-size", "-1"], []):
        assert main(["train", *QUICK, "--bottleneck", "4", "--name", "mine", "--out", str(out), *extra]) == 2
        assert "Traceback" not in capsys.readouterr().err
        assert target.read_bytes() == original and _files(out) == ["mine.safetensors"]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_overwrite_replaces_an_explicitly_named_checkpoint(good_checkpoint, playground, capsys):
    out = playground / "out"
    target = shutil.copy(good_checkpoint, out / "mine.safetensors")
    old = read_metadata(target)
    assert (
        main(["train", *QUICK, "--bottleneck", "4", "--seed", "1", "--name", "mine", "--overwrite", "--out", str(out)])
        == 0
    )
    new = read_metadata(target)
    assert new["hash"] != old["hash"] and new["training"]["seed"] == 1 and new["name"] == "mine"
    assert f"saved {target}" in capsys.readouterr().out
    assert _files(out) == ["mine.replay.npz", "mine.safetensors"]  # saved as a browser's job saves: with its replay


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_default_name_taken_in_the_output_folder_gets_a_free_suffix(good_checkpoint, playground, capsys):
    out = playground / "out"
    target = shutil.copy(good_checkpoint, out / "digits-dense-q4-bce.safetensors")
    original = target.read_bytes()
    assert main(["train", *QUICK, "--bottleneck", "4", "--out", str(out)]) == 0
    assert "saving as digits-dense-q4-bce-2" in capsys.readouterr().out
    assert target.read_bytes() == original
    assert read_metadata(out / "digits-dense-q4-bce-2.safetensors")["name"] == "digits-dense-q4-bce-2"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_default_name_never_repeats_a_zoo_model(good_checkpoint, playground, capsys):
    zoo_model = shutil.copy(good_checkpoint, playground / "zoo" / "digits-dense-q4-bce.safetensors")
    assert main(["train", *QUICK, "--bottleneck", "4"]) == 0  # into the user folder, which the pages list too
    assert "exists in the zoo; saving as digits-dense-q4-bce-2" in capsys.readouterr().out
    assert _files(user_dir()) == ["digits-dense-q4-bce-2.replay.npz", "digits-dense-q4-bce-2.safetensors"]
    assert main(["zoo"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["digits-dense-q4-bce", "digits-dense-q4-bce-2"]
    assert main(["train", *QUICK, "--bottleneck", "4", "--name", zoo_model.stem]) == 2
    assert "name of a zoo model" in _assert_one_error_line(capsys)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_explicit_name_with_several_sizes_names_each(playground, capsys):
    out = playground / "out"
    assert main(["train", *QUICK, "--bottleneck", "2", "4", "--name", "sweep", "--out", str(out)]) == 0
    assert _files(out) == ["sweep-q2.replay.npz", "sweep-q2.safetensors", "sweep-q4.replay.npz", "sweep-q4.safetensors"]
    assert read_metadata(out / "sweep-q4.safetensors")["config"]["bottleneck"] == 4
