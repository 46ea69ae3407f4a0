"""pythae model folders imported as torch.export checkpoints: refusals, and tiny trained models round-tripped."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

from aeviz import checkpoints
from aeviz.cli.main import main
from aeviz.data import load_dataset
from aeviz.foreign import importer as importing

REPO = Path(__file__).resolve().parents[2]
# model type -> its config class, in pythae.models (the default MLP networks for 8x8 inputs)
OTHERS = {
    "BetaVAE": "BetaVAEConfig",
    "IWAE": "IWAEConfig",
    "RAE_L2": "RAE_L2_Config",
    "WAE_MMD": "WAE_MMD_Config",
    "VQVAE": "VQVAEConfig",
    "SVAE": "SVAEConfig",
    "HVAE": "HVAEConfig",
    "VAMP": "VAMPConfig",
    "Adversarial_AE": "Adversarial_AE_Config",
}


def needs_pythae():
    """pythae is an optional extra (aeviz[pythae]): the tests that run it are skipped without it."""
    return pytest.importorskip("pythae.models", reason="needs pythae, an optional extra: pip install 'aeviz[pythae]'")


def pythae_model(kind: str, config: str):
    models = needs_pythae()
    return getattr(models, kind)(getattr(models, config)(input_dim=(1, 8, 8), latent_dim=4))


def trained(model, images: torch.Tensor, out: Path) -> Path:
    """`model` trained one epoch on `images` by pythae's pipeline; its saved final_model folder."""
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import AdversarialTrainerConfig, BaseTrainerConfig, CoupledOptimizerTrainerConfig

    config = {"RAE_L2": CoupledOptimizerTrainerConfig, "Adversarial_AE": AdversarialTrainerConfig}
    settings = dict(num_epochs=1, output_dir=str(out), per_device_train_batch_size=64)
    pipeline = TrainingPipeline(
        model=model, training_config=config.get(model.model_name, BaseTrainerConfig)(**settings)
    )
    pipeline(train_data=images)
    return Path(pipeline.trainer.training_dir) / "final_model"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # the module's fixtures run before the per-test isolated_dirs
        mp.setenv("AEVIZ_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        return load_dataset("digits", "train").images, load_dataset("digits", "test").images[:32]


def test_a_pythae_folder_needs_its_dataset(tmp_path):
    pythae_model("AE", "AEConfig").save(str(tmp_path / "ae"))
    with pytest.raises(importing.ImportRefused, match="pythae records no dataset: pass --dataset mnist") as info:
        importing.import_path(tmp_path / "ae", tmp_path / "out")
    assert "digits" in str(info.value)  # the choices are listed
    assert not (tmp_path / "out").exists()


def test_a_folder_pythae_cannot_load_is_refused(tmp_path):
    needs_pythae()
    (tmp_path / "model_config.json").write_text(json.dumps({"name": "NoSuchModelConfig", "input_dim": [1, 8, 8]}))
    with pytest.raises(importing.ImportRefused, match="pythae could not load"):
        importing.import_path(tmp_path, tmp_path / "out", dataset="digits")


def test_without_pythae_the_refusal_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "model_config.json").write_text(json.dumps({"name": "AEConfig", "input_dim": [1, 8, 8]}))
    for name in ["pythae", *(m for m in sys.modules if m.startswith("pythae."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: importing any of it fails
    with pytest.raises(
        importing.ImportRefused, match=re.escape('importing one needs pythae: pip install "aeviz[pythae]"')
    ):
        importing.import_path(tmp_path, dataset="digits")


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("input_dim", [(1, 8, 8), (64,)])  # pythae's MLPs also take flat images
def test_cli_imports_a_pythae_folder(tmp_path, capsys, input_dim):
    pythae_models = needs_pythae()
    pythae_models.AE(pythae_models.AEConfig(input_dim=input_dim, latent_dim=4)).save(str(tmp_path / "ae"))
    assert main(["import", str(tmp_path / "ae"), "--dataset", "digits", "--out", str(tmp_path / "out")]) == 0
    assert "imported" in capsys.readouterr().out
    model = checkpoints.load_checkpoint(tmp_path / "out" / "pythae-ae-q4.safetensors")
    assert model.reconstruct(torch.rand(3, 1, 8, 8)).shape == (3, 1, 8, 8)


def imported(folder: Path, out: Path):
    from pythae.models import AutoModel

    result = importing.import_path(folder, out, dataset="digits")
    return result, checkpoints.load_checkpoint(result.path), AutoModel.load_from_folder(str(folder)).eval()


@pytest.mark.slow
def test_a_trained_ae_and_vae_import_as_the_same_functions(tmp_path, digits):
    train, x = digits
    for kind, family in (("AE", "dense"), ("VAE", "vae")):
        folder = trained(pythae_model(kind, f"{kind}Config"), train, tmp_path / "train")
        result, model, original = imported(folder, tmp_path / "out")
        assert result.metadata["family"] == family
        with torch.no_grad():
            out = original.encoder(x)
            assert torch.allclose(model.encode(x), out.embedding, atol=1e-6)
            assert torch.allclose(model.decode(out.embedding), original.decoder(out.embedding).reconstruction)
            assert torch.allclose(model.reconstruct(x), original.predict(x).recon_x, atol=1e-6)
        if kind == "VAE":
            mu, log_variance = model.encode_stats(x)
            assert torch.allclose(mu, out.embedding, atol=1e-6)
            assert torch.allclose(log_variance, out.log_covariance, atol=1e-6)
    listed = {info.name: info for info in checkpoints.list_checkpoints([tmp_path / "out"])}
    assert set(listed) == {"pythae-ae-q4", "pythae-vae-q4"}
    assert listed["pythae-vae-q4"].family == "vae"
    assert listed["pythae-vae-q4"].where == "imported (pythae)"


def pythae_reconstruction(model, x: torch.Tensor) -> torch.Tensor:
    """What the pythae model decodes at the centre of its posterior (a VQVAE quantizes, an SVAE normalizes)."""
    from pythae.data.datasets import DatasetOutput

    if model.model_name == "VQVAE":
        return model(DatasetOutput(data=x)).recon_x
    code = model.encoder(x).embedding
    if model.model_name == "SVAE":
        code = code / code.norm(dim=-1, keepdim=True)
    return model.decoder(code).reconstruction


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(OTHERS))
def test_other_pythae_models_import(tmp_path, digits, kind):
    train, x = digits
    folder = trained(pythae_model(kind, OTHERS[kind]), train[:256], tmp_path / "train")
    result, model, original = imported(folder, tmp_path / "out")
    with torch.no_grad():
        assert torch.allclose(model.reconstruct(x), pythae_reconstruction(original, x), atol=1e-5)
        out = original.encoder(x)
    if "log_covariance" in out:
        assert result.metadata["family"] == "vae"
        assert torch.allclose(model.encode_stats(x)[1], out.log_covariance.clamp(-20.0, 10.0), atol=1e-6)
    else:
        assert result.metadata["family"] == ("vq" if kind == "VQVAE" else "dense")


def branching_encoder():
    """A custom pythae encoder whose control flow depends on its input's values, which torch.export refuses."""
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseEncoder

    class BranchingEncoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(64, 4)

        def forward(self, x):
            code = self.linear(x.reshape(len(x), -1))
            return ModelOutput(embedding=code if code.sum() > 0 else -code)

    return BranchingEncoder()


def test_a_model_torch_export_cannot_capture_is_refused_naming_its_type(tmp_path):
    pythae_models = needs_pythae()
    pythae_models.AE(pythae_models.AEConfig(input_dim=(1, 8, 8), latent_dim=4), encoder=branching_encoder()).save(
        str(tmp_path / "ae")
    )
    with pytest.raises(importing.ImportRefused, match="torch.export cannot capture this pythae AE's encoder"):
        importing.import_path(tmp_path / "ae", tmp_path / "out", dataset="digits")
    assert not (tmp_path / "out").exists()
