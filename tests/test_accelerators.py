"""Every family and the app's inference helpers on each device this machine has: the CPU always, CUDA where
there is a GPU (`pytest -m cuda` runs only those). The CPU cases check the tests themselves on every machine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeviz import metrics
from aeviz.checkpoints import load_checkpoint, save_checkpoint
from aeviz.data import load_dataset
from aeviz.models import MODELS, build_model
from aeviz.train import TrainConfig, fit

NO_GPU = not torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(NO_GPU, reason="no CUDA GPU")])]


def tiny(family: str, device: str):
    torch.manual_seed(0)
    sized = {} if MODELS[family].derived_bottleneck else {"bottleneck": 3}  # a VQ-VAE's q follows from its grid
    return build_model(family, **sized, input_shape=(1, 8, 8), channels=(4, 8)).to(device)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("digits", "test").images[:64]  # (64, 1, 8, 8) in [0, 1]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", sorted(MODELS))
def test_forward_backward_save_load_on_the_device(tmp_path, digits, family, device):
    model = tiny(family, device).train()
    x = digits.to(device)
    out = model(x)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.device.type == device and torch.isfinite(g).all() for g in grads)
    assert out.loss.device.type == device and set(out.losses) >= {"recon"}

    model.eval()
    path = save_checkpoint(tmp_path / f"{family}.safetensors", model, {"dataset": "digits"})
    loaded = load_checkpoint(path, device=device)
    assert all(p.device.type == device for p in loaded.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with torch.inference_mode():
        assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", ["dense", "conv", "vae"])
def test_inference_helpers_take_numpy_and_return_host_arrays(digits, family, device):
    """What the pages call: codes, reconstructions and errors, the same on the device as on the CPU."""
    on_device, on_cpu = tiny(family, device).eval(), tiny(family, "cpu").eval()
    images = digits.numpy()
    codes = metrics.encode_all(on_device, images)
    recon, errors = metrics.reconstruct_and_score(on_device, images, "bce")
    assert isinstance(codes, np.ndarray) and codes.shape == (64, 3) and codes.dtype == np.float32
    assert recon.shape == images.shape and errors.shape == (64,) and (recon >= 0).all() and (recon <= 1).all()
    np.testing.assert_allclose(codes, metrics.encode_all(on_cpu, images), atol=1e-5)
    np.testing.assert_allclose(errors, metrics.reconstruct_and_score(on_cpu, images, "bce")[1], atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", ["dense", "conv"])
def test_the_trainer_trains_on_the_device_and_repeats_itself(digits, family, device):
    runs = []
    for _ in range(2):
        model = tiny(family, device)
        history = fit(model, digits, TrainConfig(epochs=3, batch_size=16, device=device), test_x=digits)
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        assert all(p.device.type == device for p in model.parameters())
    assert history[-1]["train"]["recon"] < history[0]["train"]["recon"]
    assert np.isfinite(history[-1]["test"]["recon"])
    if device == "cpu" or family == "dense":  # cuDNN may pick non-deterministic convolution backward kernels
        assert torch.equal(runs[0], runs[1])
