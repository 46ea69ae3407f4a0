"""Denoising views on real zoo models: one batched sweep per slider, PSNR curves cached on disk, model pairing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aeviz import diskcache, list_checkpoints, load_checkpoint, load_dataset, sweeps
from aeviz.metrics import reconstruct_all
from aeviz.noise import NOISE_KINDS, noise_frames
from aeviz.views import denoising as view
from aeviz.zoo import catalog


def pairs(dataset: str) -> dict[str, object]:
    """Row label -> model for every zoo denoiser and its plain twin, the way the page builds its rows."""
    infos = list_checkpoints(dataset=dataset)
    rows = {}
    for arch, group in catalog.denoisers(infos).items():
        rows[f"plain ({arch})"] = load_checkpoint(catalog.plain_twin(group[0], infos).path)
        rows[f"denoising ({arch})"] = load_checkpoint(group[0].path)
    return rows


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "test").images[:8].numpy(), pairs("digits")


def test_levels_span_each_kinds_slider_and_read_well():
    masking = sweeps.levels("masking")
    assert len(masking) == sweeps.SCRUB_STEPS == 21 and masking[0] == 0 and masking[-1] == pytest.approx(0.7)
    for kind, spec in NOISE_KINDS.items():
        assert sweeps.levels(kind, 5)[[0, -1]].tolist() == pytest.approx([spec.min, spec.max])
    assert view.level_label("gaussian", 0.5) == "0.50"
    assert [view.level_label("masking", v) for v in (0.035, 0.35, 0.0)] == ["3.5 %", "35 %", "0 %"]


def test_sweep_reconstructs_every_level_of_the_slider(digits):
    x, models = digits
    levels = sweeps.levels("masking")
    result = sweeps.sweep(models, x, "masking", levels, seed=3)
    assert result.noisy.shape == (21, *x.shape) and set(result.outputs) == set(models)
    expected_noisy = noise_frames(torch.from_numpy(x), "masking", levels.tolist(), seed=3).numpy()
    np.testing.assert_array_equal(result.noisy, expected_noisy)
    for label, model in models.items():
        assert result.outputs[label].shape == result.noisy.shape
        for k in (0, 10, 20):  # the batched pass gives what each level alone gives
            single = reconstruct_all(model, torch.from_numpy(result.noisy[k]))
            np.testing.assert_allclose(result.outputs[label][k], single, atol=1e-5)
        assert result.psnr[label].shape == (21, len(x))
    assert (result.psnr["noisy"][0] == 100).all()  # no noise: the input is exact
    assert np.all(np.diff(result.psnr["noisy"].mean(axis=1)) < 0)  # more masking, further from clean


def test_sweep_is_seeded(digits):
    x, models = digits
    a = sweeps.sweep(models, x, "gaussian", [0.3], seed=1)
    assert np.array_equal(a.noisy, sweeps.sweep(models, x, "gaussian", [0.3], seed=1).noisy)
    assert not np.array_equal(a.noisy, sweeps.sweep(models, x, "gaussian", [0.3], seed=2).noisy)


def test_frames_compose_each_level_with_psnr_captions(digits):
    x, models = digits
    result = sweeps.sweep(models, x, "salt_pepper", sweeps.levels("salt_pepper"), seed=0)
    frames = view.sweep_frames(result)
    assert frames.dtype == np.uint8 and frames.ndim == 3 and len(frames) == 21
    scale = 10  # 8x8 digits shown 80 px tall
    assert frames.shape[2] > 8 * (8 * scale + 2)  # eight cells plus the row labels
    assert all(not np.array_equal(frames[k], frames[k + 1]) for k in range(20))
    assert view.db(100.0) == "exact" and view.db(23.456) == "23.5 dB"


def test_cell_numbers_never_run_together_a_tenth_where_it_fits_else_whole_db_else_none(digits):
    """At 1280x720 the cells were 30 px and '11.9' '11.1' read as '11.911.1'."""
    from aeviz.views.lettering import font, text_width

    x, models = digits
    result = sweeps.sweep(models, x, "gaussian", [0.0, 0.5], seed=0)
    labels = list(result.outputs)
    wide = view.cell_captions(result, labels, 80, 16)
    assert wide[0][1][0] == "exact" and "." in wide[1][2][0]  # noise-free input is exact; at 0.5 a tenth of a dB
    narrow = view.cell_captions(result, labels, 30, 16)
    assert narrow[0][1] == ["inf"] * len(x) and all("." not in t for row in narrow[1] for t in row)
    for captions, cell in ((wide, 80), (narrow, 30)):
        assert max(text_width(t, font(16)) for frame in captions for row in frame for t in row) + 4 <= cell
    assert view.cell_captions(result, labels, 12, 16) is None  # the row labels keep each row's mean


def test_scrub_figure_opens_at_the_kinds_usual_level(digits):
    x, models = digits
    result = sweeps.sweep(models, x, "gaussian", sweeps.levels("gaussian"), seed=0)
    fig = view.scrub(result, "gaussian")
    slider = fig.layout.sliders[0]
    assert len(fig.frames) == 21 and slider.active == 10 and slider.steps[10].label == "0.50"
    assert fig.data[0].source == fig.frames[10].data[0].source
    assert slider.currentvalue.prefix == "Gaussian sigma = "


@pytest.mark.slow
def test_denoisers_win_on_their_training_noise_and_plain_models_on_clean_images():
    test = load_dataset("mnist", "test").images[: sweeps.curve_images((1, 28, 28))].numpy()
    curves = sweeps.psnr_curves(pairs("mnist"), test, "gaussian")
    half = int(np.argmin(np.abs(curves["levels"] - 0.5)))
    for arch in ("dense", "conv"):
        plain, trained = curves[f"plain ({arch})"], curves[f"denoising ({arch})"]
        assert plain[0] > trained[0]  # on clean images the plain autoencoder reconstructs better
        assert trained[half] > plain[half] + 3  # at sigma 0.5 the denoiser is far closer to the clean image
        assert trained[half] > curves["noisy"][half] + 5  # and far closer than the noisy input itself


def test_psnr_curves_are_computed_once_and_kept_on_disk(digits):
    _, models = digits
    x = load_dataset("digits", "test").images[:40].numpy()
    first = sweeps.cached_psnr_curves(models, x, "occlusion", steps=5)
    files = list((diskcache.cache_dir() / "psnr_curves").glob("*.npz"))
    assert len(files) == 1 and set(first) == {"levels", "noisy", *models}
    stamp = files[0].stat().st_mtime_ns
    again = sweeps.cached_psnr_curves(models, x, "occlusion", steps=5)
    assert files[0].stat().st_mtime_ns == stamp and list(again) == list(first)
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])
    np.testing.assert_allclose(first["noisy"][1:], sweeps.psnr_curves(models, x, "occlusion", steps=5)["noisy"][1:])
    sweeps.cached_psnr_curves(models, x[:20], "occlusion", steps=5)  # other images: another entry
    assert len(list((diskcache.cache_dir() / "psnr_curves").glob("*.npz"))) == 2


def test_curve_figure_draws_one_line_per_model_and_marks_the_training_noise():
    curves = {
        "levels": np.array([0.0, 0.35, 0.7]),
        "noisy": np.array([100.0, 12.0, 8.0]),
        "plain (dense)": np.array([20.0, 12.0, 9.0]),
        "denoising (dense)": np.array([15.0, 16.0, 12.0]),
    }
    fig = view.curve_figure(curves, "masking", trained_at=0.35)
    assert [t.name for t in fig.data] == ["noisy", "plain (dense)", "denoising (dense)"]
    assert list(fig.data[0].x) == pytest.approx([0, 35, 70])  # percent for fractions
    assert np.isnan(fig.data[0].y[0]) and fig.data[0].line.dash == "dash"  # exact input: no point at 100 dB
    assert "training noise" in json.dumps(fig.to_plotly_json()["layout"]["annotations"])
    assert fig.layout.yaxis.title.text.startswith("mean per-image PSNR")  # not the PSNR of the mean error


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_each_denoiser_is_paired_with_the_plain_model_of_its_architecture_and_code_size():
    infos = list_checkpoints(dataset="mnist")
    by_arch = catalog.denoisers(infos)
    assert list(by_arch)[0] == "dense" and set(by_arch) == {"dense", "conv"}
    for arch, group in by_arch.items():
        for info in group:
            twin = catalog.plain_twin(info, infos)
            assert twin.family in ("dense", "conv") and twin.arch == arch
            assert twin.bottleneck == info.bottleneck and twin.dataset == "mnist"
            assert twin.metadata["config"]["loss"] == info.metadata["config"]["loss"]
        assert catalog.trained_noise(group[0]) == ("gaussian", 0.5)
    vae = next(c for c in infos if c.family == "vae" and c.bottleneck == 2)
    assert catalog.plain_twin(vae, infos).bottleneck == 2  # the VAE page's comparison model
    assert catalog.plain_twin(vae, [c for c in infos if c.bottleneck != 2]) is None
    nearest = catalog.plain_twin(vae, [c for c in infos if c.bottleneck != 2], same_size=False)
    assert nearest.bottleneck == min(
        c.bottleneck for c in infos if c.family in ("dense", "conv") and c.bottleneck != 2 and c.arch == vae.arch
    )
