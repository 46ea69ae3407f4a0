"""The trainer: callbacks, cancellation, metrics and the saved checkpoint, on real digits."""

from __future__ import annotations

import pytest
import torch

from aeviz.checkpoints import load_checkpoint
from aeviz.data import load_dataset
from aeviz.models import make_config
from aeviz.train import TrainConfig, TrainingCancelled, train


def test_train_reports_progress_and_saves_checkpoint(tmp_path):
    events = []
    result = train(
        "dense",
        make_config("dense", bottleneck=8),
        "digits",
        TrainConfig(epochs=3, batch_size=64, report_every_s=0.0),
        callback=events.append,
        out_dir=tmp_path,
    )
    kinds = [e.event for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 3 and "step" in kinds
    epoch_events = [e for e in events if e.event == "epoch"]
    assert epoch_events[-1].preview.shape == (8, 1, 8, 8) and epoch_events[-1].test_losses["recon"] > 0
    assert epoch_events[-1].fraction == 1.0
    assert result.path.parent == tmp_path and result.path.name == "digits-dense-q8-bce.safetensors"
    meta = load_checkpoint(result.path).metadata
    metrics = meta["metrics"]
    assert {"mse", "bce", "psnr", "knn7", "dead_units"} <= set(metrics)
    assert 0.3 < metrics["knn7"] <= 1.0 and metrics["mse"] < 0.2
    assert meta["dataset"] == "digits" and meta["training"]["epochs"] == 3 and len(meta["history"]) == 3
    assert meta["device"].startswith("CPU") and meta["input_shape"] == [1, 8, 8]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_losses_fall_over_epochs():
    result = train(
        "conv",
        make_config("conv", bottleneck=8, channels=(8, 16)),
        "digits",
        TrainConfig(epochs=6, batch_size=64),
        save=False,
    )
    history = result.history
    assert history[-1]["train"]["recon"] < history[0]["train"]["recon"]
    assert result.path is None


def test_a_denoisers_test_loss_is_taken_on_noisy_inputs_like_its_train_loss():
    result = train(
        "denoising",
        make_config("denoising", bottleneck=8, noise="masking:0.5"),
        "digits",
        TrainConfig(epochs=2, batch_size=64),
        save=False,
    )
    model, probe = result.model.eval(), load_dataset("digits", "test").images[:2000]
    with torch.inference_mode():
        on_noisy = float(model(probe, inputs=model.corrupt(probe, torch.Generator().manual_seed(0))).losses["recon"])
        on_clean = float(model(probe).losses["recon"])
    assert result.history[-1]["test"]["recon"] == pytest.approx(on_noisy, rel=1e-5)
    assert abs(on_clean - on_noisy) > 0.01  # clean inputs would read differently: the curves would not compare


def test_cancel_stops_and_saves_nothing(tmp_path):
    calls = {"n": 0}

    def stop_after_a_few():
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(TrainingCancelled):
        train(
            "dense",
            make_config("dense", bottleneck=4),
            "digits",
            TrainConfig(epochs=50, report_every_s=0.0),
            should_stop=stop_after_a_few,
            out_dir=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


def weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture
def global_rng_to_ourselves():
    """No other thread of this process draws from torch's global RNG meanwhile: the Train page's speed probes,
    which earlier page tests may have started, are waited for (they build and step models in a thread)."""
    from aeviz.jobs import setup

    assert setup.all_idle(300), "a speed probe of an earlier test is still running after 300 s"


@pytest.mark.usefixtures("global_rng_to_ourselves")
def test_training_leaves_the_global_rng_as_it_was():
    """A server trains beside other users of torch's global RNG: train() must not reseed it (a VAE draws from it
    in every step, and the model's constructor for its initial weights)."""
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    train("vae", make_config("vae", bottleneck=2), "digits", TrainConfig(epochs=1, batch_size=256), save=False)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.usefixtures("global_rng_to_ourselves")
def test_the_same_seed_trains_the_same_model_whatever_the_global_rng_holds():
    config, runs = make_config("vae", bottleneck=2), []
    for seed, noise in ((3, 0), (3, 99), (4, 0)):
        torch.manual_seed(noise)  # whatever else the process drew before does not matter
        runs.append(weights(train("vae", config, "digits", TrainConfig(epochs=1, seed=seed), save=False).model))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_job_probes_time_the_trainers_own_step(monkeypatch):
    """The memory/time probe of a job and the Train page's speed estimate step as fit() does: its optimizer
    (fused Adam), its memory layout (channels_last for a conv net) and its step function."""
    from aeviz import train as trainer
    from aeviz.jobs import setup, worker
    from aeviz.models import build_model

    seen, real = [], trainer.step

    def spy(model, optimizer, batch):
        seen.append((optimizer.defaults["fused"], batch.is_contiguous(memory_format=torch.channels_last)))
        return real(model, optimizer, batch)

    monkeypatch.setattr(trainer, "step", spy)
    config = make_config("conv", bottleneck=4, input_shape=(1, 8, 8), channels=(4, 8))
    worker.probe(build_model("conv", config), torch.rand(32, 1, 8, 8), batch_size=16, epochs=1)
    probed = len(seen)  # memory: a warm-up and two sizes; time (timing.measure): a warm-up, 3+ steps at two sizes
    assert probed >= 3 + 1 + 2 * 3
    assert setup.rates_of("conv", config, batch_size=8).step_s(8) > 0
    assert len(seen) >= probed + 1 + 2 * 3 and set(seen) == {(True, True)}


def test_training_leaves_the_allocator_to_the_process_entry_points(monkeypatch, tmp_path):
    """glibc's malloc thresholds are the process's: the CLI sets them, training as a library (a notebook) not."""
    from aeviz import devices
    from aeviz import train as trainer
    from aeviz.cli import main as cli
    from aeviz.models import build_model

    calls = []
    monkeypatch.setattr(devices, "keep_freed_memory", lambda: calls.append("set") or True)
    monkeypatch.setattr(trainer, "keep_freed_memory", devices.keep_freed_memory, raising=False)  # a direct import
    model = build_model("dense", make_config("dense", bottleneck=2, input_shape=(1, 8, 8)))
    trainer.fit(model, torch.rand(64, 1, 8, 8), TrainConfig(epochs=1, batch_size=32))
    assert calls == []
    assert cli.main(["info", str(tmp_path / "missing.safetensors")]) == 1
    assert calls == ["set"]


def test_a_cosine_schedule_decays_to_zero_and_trains_differently():
    recipe = TrainConfig(epochs=4, lr=1e-2, schedule="cosine")
    assert recipe.lr_at(0) == 1e-2 and recipe.lr_at(0.5) == pytest.approx(5e-3) and recipe.lr_at(1) == 0
    assert TrainConfig(lr=1e-2).lr_at(0.9) == 1e-2  # constant by default: every zoo recipe before it
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="step")
    config = make_config("dense", bottleneck=2, input_shape=(1, 8, 8))
    plain = train("dense", config, "digits", TrainConfig(epochs=4, lr=1e-2, batch_size=64), save=False)
    decayed = train(
        "dense", config, "digits", TrainConfig(epochs=4, lr=1e-2, batch_size=64, schedule="cosine"), save=False
    )
    assert decayed.metadata["training"]["schedule"] == "cosine"
    weights = lambda r: torch.cat([p.flatten() for p in r.model.parameters()])
    assert not torch.equal(weights(plain), weights(decayed))
