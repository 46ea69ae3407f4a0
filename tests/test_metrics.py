"""PSNR: known values, the cap for identical images, and one definition for tensors and plain errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aeviz.metrics import psnr, psnr_from_mse


def test_psnr_known_values():
    x = torch.full((3, 1, 8, 8), 0.5)
    assert psnr(x, x + 0.1).tolist() == pytest.approx([20.0] * 3, abs=1e-3)
    assert psnr(x, x + 0.01).tolist() == pytest.approx([40.0] * 3, abs=1e-2)
    assert psnr(x, x).tolist() == [100.0] * 3
    assert psnr(x * 255, x * 255 + 25.5, data_range=255.0)[0].item() == pytest.approx(20.0, abs=1e-3)
    mixed = psnr(x, torch.stack([x[0], x[1] + 0.1, x[2]]))
    assert mixed.shape == (3,) and math.isclose(mixed[1].item(), 20.0, abs_tol=1e-3)


def test_psnr_from_mse_caps_zero_error_and_keeps_types():
    assert psnr_from_mse(0.01) == pytest.approx(20.0)
    assert psnr_from_mse(0.0) == 100.0 and psnr_from_mse(1e-12) == 100.0  # no +inf, no warning
    errors = np.array([0.0, 0.01, 0.001], np.float32)
    out = psnr_from_mse(errors)
    assert out.dtype == np.float32 and out.shape == (3,)
    assert out.tolist() == pytest.approx([100.0, 20.0, 30.0], abs=1e-4)
