"""The browser's decoder kernel in headless Chromium draws what torch draws: max |difference| <= 1e-4 on [0, 1]
outputs, for every zoo checkpoint (every decoder architecture the zoo ships), every family and body in grey and
colour, every layer type the kernel has, and imported torch.export programs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from foreign import conv, dense, export_folder
from kit import browser_decode, load_kit
from webkernel import every_layer_type

from aeviz import checkpoints, metrics, projection, webdecoder
from aeviz.foreign import importer
from aeviz.models import MODELS, build_model
from aeviz.views import decoding

TOLERANCE = 1e-4  # the bound on [0, 1] outputs


@pytest.fixture(scope="module")
def kit_page(browser):
    context = browser.new_context()
    page = context.new_page()
    load_kit(page)
    yield page
    context.close()


def worst(page, model, q: int, n: int = 8) -> float:
    """The largest |browser - torch| over n codes spread over the code's typical range, outputs clipped to [0, 1]."""
    codes = torch.randn(n, q, generator=torch.Generator().manual_seed(q)) * 2
    with torch.inference_mode():
        expected = model.decode(codes).reshape(n, -1).numpy()
    got = browser_decode(page, webdecoder.export(model).to_bytes("test"), codes.numpy())
    return float(np.abs(np.clip(got, 0, 1) - np.clip(expected, 0, 1)).max())


def test_every_zoo_decoder_in_chromium(kit_page):
    # a VQ-VAE snaps codes to its codebook before decoding: the server decodes it (tests/test_webdecoder.py)
    zoo = [i for i in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if not MODELS[i.family].derived_bottleneck]
    assert len(zoo) > 50
    differences = {info.name: worst(kit_page, checkpoints.load_checkpoint(info.path), info.bottleneck) for info in zoo}
    assert max(differences.values()) <= TOLERANCE, sorted(differences.items(), key=lambda kv: -kv[1])[:3]


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=["grey", "colour"])
def test_every_family_and_body_in_chromium(kit_page, shape):
    for family in (f for f, cls in MODELS.items() if not cls.derived_bottleneck):  # a VQ-VAE decodes on the server
        for arch in ("dense", "conv") if family != "linear" else ("dense",):
            torch.manual_seed(0)
            body = {"channels": (32, 64, 128)} if arch == "conv" and shape[0] == 3 else {"hidden": (64,)}
            fields = {"input_shape": shape, "bottleneck": 16, "arch": arch} | (body if family != "linear" else {})
            model = build_model(family, **fields).eval()
            assert worst(kit_page, model, 16) <= TOLERANCE, (family, arch)


def test_every_layer_type_in_chromium(kit_page):
    net = every_layer_type()
    codes = torch.randn(8, 5, generator=torch.Generator().manual_seed(3)) * 2
    with torch.inference_mode():
        expected = net(codes).reshape(8, -1).numpy()
    got = browser_decode(kit_page, webdecoder.from_sequential(net, 5, output="linear").to_bytes(), codes.numpy())
    assert np.abs(got - expected).max() <= TOLERANCE


def test_imported_programs_in_chromium(kit_page, tmp_path):
    for name, pair in {"dense": dense(q=4), "conv": conv(q=4)}.items():
        folder = export_folder(tmp_path / name, *pair)
        saved = importer.import_folder(folder, tmp_path / "out", name=f"imp-{name}").path
        assert worst(kit_page, checkpoints.load_checkpoint(saved), 4) <= TOLERANCE, name


def test_map_inverses_in_chromium(kit_page):
    """A map position becomes the same code in the browser as LatentMap.inverse makes of it on the server."""
    codes = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32) * [3, 2, 1, 1, 0.5, 0.2]
    pca = projection.fit_map(codes, "pca")
    spots = np.array([[0.0, 0.0], [1.5, -2.0], [-4.0, 3.3]], dtype=np.float32)
    got = kit_page.evaluate(
        "([inverse, spots]) => spots.map(([x, y]) => window.kit.codeAt(inverse, x, y))",
        [decoding.map_inverse(pca), spots.tolist()],
    )
    assert np.abs(np.asarray(got, dtype=np.float32) - pca.inverse(spots)).max() < 1e-5
    probabilities = [1e-6, 0.01, 0.05, 0.3, 0.5, 0.77, 0.95, 0.999999]
    quantiles = kit_page.evaluate("(ps) => ps.map((p) => window.kit.ndtri(p))", probabilities)
    expected = torch.special.ndtri(torch.tensor(probabilities, dtype=torch.float64)).numpy()
    assert np.abs(np.asarray(quantiles) - expected).max() < 1e-9


def test_a_decoded_code_matches_the_servers_decode_all(kit_page):
    """What the pages decode on the server (metrics.decode_all) is what the browser draws."""
    info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == "mnist-conv-q16-bce")
    model = checkpoints.load_checkpoint(info.path)
    codes = np.random.default_rng(1).normal(size=(4, 16)).astype(np.float32) * 3
    server = metrics.decode_all(model, codes).reshape(4, -1)
    got = browser_decode(kit_page, webdecoder.export(model).to_bytes(), codes)
    assert np.abs(got - server).max() <= TOLERANCE
