"""Every family: shapes, the shared API, a few steps lower the loss, penalties, linear AE vs PCA."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from aeviz.data import load_dataset
from aeviz.models import MODELS, build_model, jacobian_frobenius, make_config, model_slug
from aeviz.train import TrainConfig, fit

TINY = {"hidden": (32,), "channels": (4, 8)}
FAMILIES = sorted(MODELS)


def tiny(family: str, shape=(1, 8, 8), q: int = 4, **extra):
    """A tiny model of `family`; q is its bottleneck, unless the family derives its own (a VQ-VAE's grid)."""
    fields = {"input_shape": shape, "channels": TINY["channels"], **sized(family, q), **extra}
    if family not in ("linear", "contractive", "vq"):
        fields["hidden"] = TINY["hidden"]
    return build_model(family, **fields)


def sized(family: str, q: int) -> dict:
    return {} if MODELS[family].derived_bottleneck else {"bottleneck": q}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train").images[:512]


COLOUR_SHAPES = [(3, 28, 28), (3, 32, 32), (3, 64, 64)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (1, 32, 32), *COLOUR_SHAPES])
def test_shapes_and_api(family, shape):
    model = tiny(family, shape)
    x = torch.rand(5, *shape)
    z = model.encode(x)
    q = model.bottleneck
    assert z.shape == (5, q) and q == (4 if not model.derived_bottleneck else model.config.bottleneck)
    assert model.decode(z).shape == (5, *shape)
    assert model.reconstruct(x).shape == (5, *shape)
    out = model(x)
    assert out.recon.shape == (5, *shape) and out.code.shape == (5, q)
    assert "recon" in out.losses and out.loss.ndim == 0 and torch.isfinite(out.loss)


@pytest.mark.parametrize("family", FAMILIES)
def test_few_steps_lower_the_loss(family, digits):
    model = tiny(family)
    model.eval()
    with torch.no_grad():
        before = model(digits).losses["recon"].item()
    fit(model, digits, TrainConfig(epochs=15, batch_size=64, lr=3e-3, seed=0))
    with torch.no_grad():
        after = model(digits).losses["recon"].item()
    assert after < 0.8 * before


def test_vae_encode_is_mean_and_forward_samples():
    model = tiny("vae")
    x = torch.rand(3, 1, 8, 8)
    mu, logvar = model.encode_stats(x)
    assert torch.equal(model.encode(x), mu)
    model.train()
    assert set(model(x).losses) == {"recon", "kl"}
    model.eval()
    assert torch.equal(model(x).code, mu)


def test_denoising_corrupts_only_in_training():
    model = tiny("denoising", noise="masking:0.5")
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x).code, model.encode(x))
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(x).code, model.encode(x))


def test_forward_rebuilds_x_from_the_inputs_it_is_given():
    x, other = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    for family in ("dense", "vae", "denoising"):
        model = tiny(family, **({"noise": "masking:0.5"} if family == "denoising" else {})).eval()
        expected = model.recon_loss(model.decode_raw(model.encode(other)), x)
        assert torch.allclose(model(x, inputs=other).losses["recon"], expected)


def test_sparse_and_contractive_penalties_are_nonzero_and_differentiable():
    x = torch.rand(6, 1, 8, 8)
    for family, key in (("sparse", "l1"), ("contractive", "contractive")):
        model = tiny(family, q=16)
        penalty = model(x).losses[key]
        assert penalty.item() > 0
        penalty.backward()
        grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads)


def test_jacobian_frobenius_matches_closed_form():
    """For a one-layer sigmoid encoder, ||J||^2 = sum_j (h_j (1 - h_j))^2 ||W_j||^2."""
    model = build_model("contractive", bottleneck=5, input_shape=(1, 4, 4))
    x = torch.rand(3, 1, 4, 4)
    h = model.encode(x)
    weight = model.encoder[-1].weight  # (q, 16)
    expected = ((h * (1 - h)) ** 2 * weight.pow(2).sum(dim=1)).sum(dim=1)
    assert torch.allclose(jacobian_frobenius(model, x), expected, rtol=1e-5)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_linear_autoencoder_reaches_pca(digits):
    """With MSE, a linear AE spans PCA's subspace, so its error approaches PCA's at the same q."""
    from sklearn.decomposition import PCA

    x = load_dataset("digits", "train").images
    flat = x.flatten(1).numpy()
    pca = PCA(8).fit(flat)
    pca_mse = float(((pca.inverse_transform(pca.transform(flat)) - flat) ** 2).mean())
    model = build_model("linear", bottleneck=8, input_shape=(1, 8, 8))
    fit(model, x, TrainConfig(epochs=100, batch_size=128, lr=1e-2, seed=0))  # within 2% of PCA (300 at 3e-3: 1.4%)
    with torch.no_grad():
        ae_mse = float(((model.reconstruct(x) - x) ** 2).mean())
    assert ae_mse <= pca_mse * 1.05, (ae_mse, pca_mse)
    assert ae_mse >= pca_mse * 0.999  # PCA is the optimum for a linear map


@pytest.mark.parametrize("output", ["linear", "relu"])
def test_an_unbounded_output_layer_is_what_decode_and_the_loss_see(output):
    model = build_model("dense", bottleneck=4, input_shape=(1, 8, 8), loss="mse", output=output).eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.normal_(0, 3)  # outputs far outside [0, 1] on both sides before the activation
        raw = model.decode_raw(model.encode(x))
        out = model(x)
    expected = raw.clamp(min=0) if output == "relu" else raw
    assert torch.equal(model.reconstruct(x), expected) and torch.equal(out.recon, expected)
    assert torch.allclose(out.losses["recon"], ((expected - x) ** 2).mean())
    assert (raw < 0).any() and (raw > 1).any()  # so the two outputs differ where it matters
    assert model_slug("dense", model.config) == f"dense-q4-mse-{output}"
    assert model_slug("linear", make_config("linear", bottleneck=4)) == "linear-q4-mse"  # its own output unsaid


def test_config_validation_and_registry():
    with pytest.raises(ValueError, match="BCE needs a sigmoid"):
        make_config("dense", loss="bce", output="linear")
    with pytest.raises(ValueError, match="BCE needs a sigmoid"):
        make_config("dense", loss="bce", output="relu")
    with pytest.raises(ValueError, match="output must be one of"):
        make_config("dense", loss="mse", output="tanh")
    with pytest.raises(ValueError, match="no hidden layers"):
        make_config("linear", hidden=(8,))
    with pytest.raises(ValueError, match="unknown config fields"):
        make_config("dense", beta=2.0)
    with pytest.raises(KeyError, match="unknown model family"):
        make_config("gan")
    assert make_config("vae", beta=4.0).beta == 4.0
    cfg = make_config("dense", hidden=[512, 256], bottleneck=8)
    assert cfg.hidden == (512, 256)
    assert type(cfg).from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_declares_itself_once(family):
    """The registry maps a family's name to its class; the class's declaration builds valid configs."""
    from aeviz.params import BODIES

    cls = MODELS[family]
    assert cls.family == family and cls.label and isinstance(make_config(family), cls.config_class)
    assert set(cls.body_choices) <= set(BODIES) and (not cls.body_choices or cls.default_body in cls.body_choices)
    assert cls.loss_choices and {p.field for p in cls.hyperparams} <= {
        f.name for f in dataclasses.fields(cls.config_class)
    }
    modes = [p for p in cls.hyperparams if p.kind == "choice"]
    for combo in itertools.product(*(list(m.choices) for m in modes)):  # one empty combo when there are none
        picked = {m.field: value for m, value in zip(modes, combo, strict=True)}
        offered = [
            p for p in cls.hyperparams if p.kind == "number" and (p.when is None or picked.get(p.when[0]) == p.when[1])
        ]
        make_config(family, **picked, **{p.field: p.default for p in offered})  # the page's defaults are valid
        for p in offered:
            assert p.default in p.steps if p.steps else p.low <= p.default <= p.high


@pytest.mark.parametrize(
    "family,fields,slug",
    [
        ("dense", {"bottleneck": 8}, "dense-q8-bce"),
        ("dense", {"bottleneck": 8, "hidden": (512, 256)}, "dense-h512x256-q8-bce"),
        ("vae", {"bottleneck": 2, "arch": "conv"}, "vae-conv-q2-bce"),
        ("denoising", {"bottleneck": 32, "noise": "gaussian:0.5"}, "denoising-q32-bce-gaussian0.5"),
        ("vae", {"bottleneck": 16, "hidden": (256,), "beta": 4.0}, "vae-h256-q16-bce-beta4"),
        ("sparse", {"bottleneck": 1024, "sparsity": "topk", "topk": 32}, "sparse-q1024-bce-top32"),
        ("vq", {}, "vq-q392-bce-codes128"),
        ("vq", {"code_dim": 4, "codebook_size": 512, "codebook": "loss"}, "vq-q196-bce-codes512-gradcodes"),
    ],
)
def test_slugs(family, fields, slug):
    assert model_slug(family, make_config(family, **fields)) == slug


def test_training_is_deterministic(digits):
    results = []
    for _ in range(2):
        torch.manual_seed(123)  # same init
        model = tiny("dense")
        fit(model, digits, TrainConfig(epochs=2, batch_size=64, seed=7))
        results.append(np.concatenate([p.detach().numpy().ravel() for p in model.parameters()]))
    assert np.array_equal(results[0], results[1])


def test_kl_sparsity_without_a_mode_is_refused_not_nan():
    """kl_weight > 0 on the ReLU code with rho = 0 was a NaN loss (0 * log 0); it is now a clear error."""
    with pytest.raises(ValueError, match="needs sparsity='kl'"):
        make_config("sparse", kl_weight=0.1)
    for rho in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="kl_target"):
            make_config("sparse", sparsity="kl", kl_target=rho)  # -0.1 fails the >= 0 check first
    for bad in ({"l1": -1e-3}, {"sparsity": "kl", "kl_weight": -1.0}, {"sparsity": "kl", "kl_weight": float("inf")}):
        with pytest.raises(ValueError, match="finite number >= 0"):
            make_config("sparse", **bad)
    with pytest.raises(ValueError, match="needs a sigmoid code"):
        make_config("sparse", sparsity="kl", code_activation="relu")
    with pytest.raises(ValueError, match="sparsity must be one of"):
        make_config("sparse", sparsity="kl2")


def test_kl_sparse_code_is_a_rate_and_every_unit_gets_a_gradient():
    """The KL code is a sigmoid, so each unit's mean is a rate in (0, 1); under ReLU, units above 1 got a
    clamped rate and no gradient. Here every unit, however large its pre-activation, is pulled to rho."""
    torch.manual_seed(0)
    model = tiny("sparse", q=16, sparsity="kl", kl_target=0.05, kl_weight=1.0)
    last = model.encoder[-1]
    with torch.no_grad():
        last.bias[:8] += 4.0  # half the units start far above 1 before the activation
    out = model(torch.rand(32, 1, 8, 8))
    assert set(out.losses) == {"recon", "kl_sparsity"} and torch.isfinite(out.loss)
    assert ((out.code > 0) & (out.code < 1)).all()
    out.losses["kl_sparsity"].backward()
    assert (last.bias.grad[:8] > 0).all() and (last.bias.grad != 0).all()  # the big ones are pushed down


def test_kl_penalty_matches_its_formula_and_vanishes_at_the_target():
    from aeviz.models import kl_sparsity

    rho, code = 0.05, torch.tensor([[0.1, 0.05], [0.3, 0.05]])  # unit means 0.2 and 0.05
    expected = rho * np.log(rho / 0.2) + (1 - rho) * np.log((1 - rho) / 0.8)
    assert kl_sparsity(code, rho).item() == pytest.approx(expected, rel=1e-5)
    assert kl_sparsity(torch.full((4, 3), rho), rho).item() == pytest.approx(0.0, abs=1e-6)


def test_sparse_configs_saved_before_kl_load_unchanged():
    """Old sparse metadata has no 'sparsity' (or 'topk', 'auxk') key: it means L1 on a ReLU code, with the same
    penalty as before."""
    old = {
        "bottleneck": 16,
        "input_shape": [1, 8, 8],
        "arch": "dense",
        "hidden": [32],
        "channels": [4, 8],
        "loss": "bce",
        "output": "sigmoid",
        "code_activation": "relu",
        "l1": 1e-4,
        "kl_target": 0.0,
        "kl_weight": 0.0,
    }
    config = make_config("sparse", **old)
    assert config.sparsity == "l1" and config.code_activation == "relu" and config.topk == 0 and config.auxk == 0
    assert {k: v for k, v in config.to_dict().items() if k not in ("sparsity", "topk", "auxk")} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in old.items()
    }
    assert make_config("sparse") == make_config("sparse", sparsity="l1", code_activation="relu", l1=1e-3)
    model = build_model("sparse", config)
    x = torch.rand(5, 1, 8, 8)
    out = model(x)
    assert set(out.losses) == {"recon", "l1"}
    assert torch.equal(out.losses["l1"], 1e-4 * out.code.abs().sum(dim=1).mean())
    assert model_slug("sparse", config) == "sparse-h32-q16-bce"


def test_kl_defaults_and_slug_keep_it_apart_from_l1():
    from aeviz.models import series_of

    config = make_config("sparse", sparsity="kl", bottleneck=64)
    assert (config.code_activation, config.l1, config.kl_target) == ("sigmoid", 0.0, 0.05) and config.kl_weight > 0
    assert type(config).from_dict(config.to_dict()) == config
    slug = model_slug("sparse", config)
    assert slug == "sparse-q64-bce-kl0.05" and slug != model_slug("sparse", make_config("sparse", bottleneck=64))
    assert series_of(slug) == "sparse-bce-kl0.05" != series_of("sparse-q64-bce")


@pytest.mark.parametrize(
    ("shape", "widths", "grid"),
    [
        ((1, 8, 8), (16, 32), 2),
        ((1, 28, 28), (16, 32), 7),
        ((3, 28, 28), (32, 64), 7),
        ((1, 32, 32), (16, 32, 64), 4),
        ((3, 32, 32), (32, 64, 128), 4),
        ((3, 64, 64), (32, 64, 128, 256), 4),
    ],
)
@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in ("linear", "vq")])  # no conv_widths body
def test_conv_bodies_are_sized_for_the_input(family, shape, widths, grid):
    """Without channels, every family's conv body is conv_widths(input_shape): colour starts wider, 32 and 64
    go down to a 4x4 grid; MNIST's stays (16, 32) on a 7x7 grid."""
    fields = {} if family == "conv" else {"arch": "conv"}
    model = build_model(family, bottleneck=4, input_shape=shape, **fields)
    assert model.config.channels == widths
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(widths) and convs[0].in_channels == shape[0]
    assert model.encoder[-1].in_features == widths[-1] * grid * grid
    x = torch.rand(2, *shape)
    assert model.reconstruct(x).shape == (2, *shape)


def test_denoising_noise_on_colour_is_per_channel_and_salt_and_pepper_per_pixel():
    x = torch.full((64, 3, 8, 8), 0.5)
    gaussian = tiny("denoising", shape=(3, 8, 8), noise="gaussian:0.3").corrupt(x)
    assert not torch.equal(gaussian[:, 0], gaussian[:, 1])  # each channel its own draw
    salted = tiny("denoising", shape=(3, 8, 8), noise="salt_pepper:0.4").corrupt(x)
    hit = salted != 0.5
    assert torch.equal(hit[:, 0], hit[:, 1]) and torch.equal(hit[:, 1], hit[:, 2])  # the same pixels in all
    assert torch.equal(salted[:, 0], salted[:, 2])  # ... and black or white in all channels, not coloured specks
    assert 0.3 < hit[:, 0].float().mean() < 0.5
    masked = tiny("denoising", shape=(3, 8, 8), noise="masking:0.4").corrupt(x)
    assert torch.equal(masked[:, 0] == 0, masked[:, 2] == 0)


@pytest.fixture(scope="module")
def tinted(digits):
    """Colour 32x32 images with structure: digits upscaled 4x, each in a colour of its own."""
    colours = torch.rand(128, 3, 1, 1, generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.interpolate(digits[:128], scale_factor=4) * colours  # (128,3,32,32)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_colour_model_trains_a_few_steps(family, tinted):
    """CIFAR-shaped images through fit() (channels_last, index batches on 3 channels): every family learns."""
    model = tiny(family, shape=(3, 32, 32), loss="mse")
    with torch.no_grad():
        before = model.eval()(tinted).losses["recon"].item()
    fit(model, tinted, TrainConfig(epochs=16, batch_size=32, lr=3e-3, seed=0))  # 8 left contractive short
    with torch.no_grad():
        after = model.eval()(tinted).losses["recon"].item()
    assert after < 0.8 * before, (before, after)


def test_topk_keeps_exactly_k_units_and_only_they_learn():
    """The k largest pre-activations of each image survive (after a ReLU, all k when they are positive); the
    gradient reaches only the encoder rows of the units that fired."""
    model = build_model("sparse", bottleneck=12, input_shape=(1, 4, 4), sparsity="topk", topk=3)
    with torch.no_grad():
        model.encoder[-1].bias.fill_(5.0)  # every pre-activation positive: exactly k fire
    x = torch.rand(7, 1, 4, 4)
    pre = model.encoder(x)
    code = model.encode(x)
    assert ((code != 0).sum(dim=1) == 3).all()
    assert torch.equal(code.topk(3).indices.sort().values, pre.topk(3).indices.sort().values)
    kept = code != 0
    assert torch.equal(code[kept], pre[kept])
    with torch.no_grad():
        model.encoder[-1].bias.fill_(-5.0)  # now most are negative: the ReLU leaves at most k
    assert ((model.encode(x) != 0).sum(dim=1) <= 3).all()
    with torch.no_grad():
        model.encoder[-1].bias.fill_(5.0)
    out = model(x[:2])  # the first training batch also sets the encoder's centre (Gao et al.'s b_pre) to its mean
    assert torch.allclose(model.center.detach(), x[:2].mean(dim=0))
    assert torch.equal(out.code, model.encode(x[:2])) and ((out.code != 0).sum(dim=1) == 3).all()
    assert set(out.losses) == {"recon"}  # no penalty: sparse by construction
    out.loss.backward()
    rows_with_grad = model.encoder[-1].weight.grad.abs().sum(dim=1) > 0
    assert torch.equal(rows_with_grad, (out.code != 0).any(dim=0))


def test_topk_configs_and_their_defaults():
    config = make_config("sparse", sparsity="topk", bottleneck=1024)
    assert (config.topk, config.code_activation, config.l1, config.kl_weight) == (32, "relu", 0.0, 0.0)
    assert type(config).from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="at most|from 1 to the bottleneck"):
        make_config("sparse", sparsity="topk", bottleneck=16, topk=32)
    with pytest.raises(ValueError, match="topk and auxk apply to sparsity='topk'"):
        make_config("sparse", topk=8)
    with pytest.raises(ValueError, match="topk and auxk apply"):
        make_config("sparse", sparsity="kl", auxk=0.1)
    assert config.auxk == 1 / 32 and make_config("sparse", sparsity="topk", auxk=0.0).auxk == 0.0
    with pytest.raises(ValueError, match="l1 applies"):
        make_config("sparse", sparsity="topk", l1=1e-3)
    assert make_config("sparse").topk == 0 and make_config("sparse", sparsity="kl").topk == 0


def test_each_family_reports_what_its_regulariser_does_to_the_code():
    x = torch.rand(20, 1, 8, 8)
    topk = tiny("sparse", q=16, sparsity="topk", topk=4).eval()
    seen = topk.diagnostics(x)
    code = topk.encode(x).detach()
    assert seen["l0"] == pytest.approx(float((code > 0).sum(dim=1).float().mean())) and seen["l0"] <= 4
    assert seen["dead_units"] == int(((code > 0).sum(dim=0) == 0).sum())
    kl = tiny("sparse", q=16, sparsity="kl").eval()
    assert kl.diagnostics(x)["l0"] == pytest.approx(float((kl.encode(x) > 0.5).sum(dim=1).float().mean()))
    vae = tiny("vae").eval()
    assert set(vae.diagnostics(x)) == {"active_units", "kl_nats"} and vae.diagnostics(x)["active_units"] <= 4
    assert tiny("dense").diagnostics(x) == {}


def test_auxk_gives_dead_topk_units_gradients_and_only_them():
    """Units idle for IDLE_BATCHES rebuild the image beside the detached live code (Gao et al.'s AuxK), so the
    gradient of that loss reaches dead units' encoder rows and no live unit's; with auxk 0 there is no such part."""
    from aeviz.models import IDLE_BATCHES

    torch.manual_seed(0)
    model = build_model("sparse", bottleneck=12, input_shape=(1, 4, 4), sparsity="topk", topk=2).train()
    x = torch.rand(5, 1, 4, 4)
    assert set(model(x).losses) == {"recon"}  # nobody has been idle long enough yet
    assert model.idle is not None
    model.idle.fill_(IDLE_BATCHES)  # as if no unit had fired for IDLE_BATCHES batches
    out = model(x)
    live = (out.code > 0).any(dim=0)
    assert model.idle[live].eq(0).all() and model.idle[~live].eq(IDLE_BATCHES + 1).all()
    assert set(out.losses) == {"recon", "auxk"}
    out.losses["auxk"].backward()
    rows = model.encoder[-1].weight.grad.abs().sum(dim=1) > 0
    assert rows.any() and not (rows & live).any()
    assert "idle" not in model.state_dict()  # training state only: checkpoints stay as they were
    off = build_model("sparse", bottleneck=12, input_shape=(1, 4, 4), sparsity="topk", topk=2, auxk=0.0).train()
    off.idle = torch.full((12,), float(IDLE_BATCHES))
    assert set(off(x).losses) == {"recon"}
