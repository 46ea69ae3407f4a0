"""Every page's picture helpers on colour images (a CIFAR-shaped model): pictures come out in colour, laid out as
for grey ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from aeviz import sweeps
from aeviz.metrics import encode_all
from aeviz.models import build_model
from aeviz.projection import fit_map
from aeviz.views import anomalies, denoising, home, latent_map, vae, vaeplane
from aeviz.views.lettering import Fit

SHAPE = (3, 16, 16)
SCREEN = Fit(1280, 720, 24)  # a projector's box: the layout functions size colour pictures as grey ones


def coloured(n: int, seed: int = 0) -> np.ndarray:
    """Images whose channels differ: a colour picture of them cannot come out grey by accident."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *SHAPE), dtype=np.float32) * 0.3
    x[:, 0] += 0.7  # reddish
    return x


def is_colour(picture: np.ndarray) -> bool:
    return picture.ndim >= 3 and picture.shape[-1] == 3 and not np.array_equal(picture[..., 0], picture[..., 2])


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    plain = build_model("conv", bottleneck=4, input_shape=SHAPE, channels=(4, 8)).eval()
    variational = build_model("vae", bottleneck=2, input_shape=SHAPE, arch="conv", channels=(4, 8)).eval()
    with torch.no_grad():  # a bias towards red in the output, so decoded pictures are visibly coloured
        for model in (plain, variational):
            model.decoder[-1].bias.copy_(torch.tensor([2.0, -2.0, -2.0]))
    return plain, variational


def test_denoising_frames_are_in_colour(models):
    x = coloured(3)
    result = sweeps.sweep({"plain": models[0]}, x, "salt_pepper", sweeps.levels("salt_pepper", 4), seed=0)
    frames = denoising.sweep_frames(result)
    assert frames.shape[0] == 4 and is_colour(frames)
    assert is_colour(denoising.sweep_frames(result, fit=SCREEN))
    salted = result.noisy[-1]  # salt and pepper per pixel: black or white in every channel at once
    hit = (salted != x).any(axis=1)
    assert np.isin(salted.transpose(0, 2, 3, 1)[hit], [0.0, 1.0]).all()
    assert (salted[:, 0][hit] == salted[:, 2][hit]).all()


def test_vae_pictures_are_in_colour(models):
    _, model = models
    x = coloured(2)
    interpolation = vae.interpolate(model, x, ae=models[0], steps=5)
    frames = vae.interpolation_frames(interpolation, fit=SCREEN)
    assert frames.shape[0] == 5 and is_colour(frames)
    assert is_colour(vae.interpolation_strip(interpolation, every=2))
    steps = vae.traverse(model, x[0], [0, 1], steps=5)
    assert steps.shape == (2, 5, *SHAPE)
    assert is_colour(vae.traversal_picture(steps, [0, 1], np.array([0.5, 0.1]), fit=SCREEN))
    samples = vae.sample(model, 8, seed=0)
    assert samples.shape == (8, *SHAPE) and is_colour(vae.samples_picture(samples, columns=4, fit=SCREEN))
    decoded = vaeplane.manifold(model, n=4)
    codes = encode_all(model, torch.from_numpy(coloured(20, 1)))
    figure = vaeplane.manifold_figure(decoded, codes, np.zeros(20, int), ["a"])
    source = figure.layout.images[0].source
    picture = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(source.split(",", 1)[1]))))
    assert is_colour(picture)


def test_latent_map_backdrop_is_in_colour(models):
    model = models[0]
    codes = encode_all(model, torch.from_numpy(coloured(30)))
    fitted = fit_map(codes, "pca", seed=0)
    picture = latent_map.backdrop(fitted, model, latent_map.map_extent(fitted.points), n=3)
    assert picture.shape == (3 * 16, 3 * 16, 3) and picture.dtype == np.uint8 and is_colour(picture)
    figure = latent_map.map_figure(fitted.points, np.zeros(30, int), ["a"], backdrop=picture, grid=0)
    assert figure.layout.images[0].source.startswith("data:image/png")


def test_anomaly_gallery_home_and_injected_grey_images_in_colour(models):
    model = models[0]
    x = coloured(4)
    png = anomalies.gallery_png(model, x, [["a"] * 4] * 3, "mse", "light", fit=SCREEN)
    assert is_colour(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    digits = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    injected = anomalies.fit_to(digits, SHAPE)  # grey digits into a colour set: grey RGB at its size
    assert injected.shape == (2, *SHAPE) and np.array_equal(injected[:, 0], injected[:, 2])
    with pytest.raises(ValueError, match="colour images"):
        anomalies.fit_to(x, (1, 16, 16))
    first = home.first_look(model, x[:1], left=SCREEN)
    assert is_colour(np.asarray(Image.open(io.BytesIO(first["grid"])).convert("RGB")))


def test_posterior_beta_and_token_pictures_are_in_colour(models):
    """The family pages' pictures (VAE posterior draws, beta samples, VQ token edits and token users) keep the
    channels of colour images, as the other pages' do."""
    from aeviz.views import betas, posterior, tokens

    _, variational = models
    x = coloured(4)
    _, decoded = posterior.decoded_draws(variational, x[0], n=3, seed=0)
    assert is_colour(posterior.draws_picture(x[0], decoded))
    png = betas.samples_png(variational, x, "light")
    assert is_colour(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    torch.manual_seed(0)
    vq = build_model("vq", input_shape=SHAPE, channels=(4, 8), codebook_size=4).eval()
    grid = tokens.tokens_of(vq, torch.from_numpy(x))  # (4,4,4): a 4x4 token grid per image
    mine = tokens.decode_grid(vq, grid[0])  # (3,16,16)
    edited = tokens.decode_grid(vq, tokens.apply_edits(grid[0], [0, (int(grid[0, 0, 0]) + 1) % 4], 4))
    assert is_colour(tokens.edit_picture(x[0], mine, edited))
    used = tokens.token_picture(grid, torch.from_numpy(x), int(grid[0, 0, 0]))
    assert used is not None and is_colour(used)
