"""One image's posterior on real zoo VAEs: mean and std from the encoder, seeded draws, the 1σ/2σ ellipse, the
decoded draws, and the loss's two terms read from the checkpoint's history with a sentence computed from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeviz import list_checkpoints, load_checkpoint, load_dataset
from aeviz.metrics import decode_all
from aeviz.views import posterior as view
from aeviz.zoo import catalog


def zoo_vae(dataset: str, q: int):
    info = next(c for c in catalog.vaes(list_checkpoints(dataset=dataset)) if c.bottleneck == q)
    return info, load_checkpoint(info.path)


@pytest.fixture(scope="module")
def digits_vae():
    return zoo_vae("digits", 2)


def test_posterior_is_the_encoders_mean_and_std(digits_vae):
    _, vae = digits_vae
    image = load_dataset("digits", "test").images[7].numpy()
    post = view.posterior(vae, image)
    with torch.inference_mode():
        mu, logvar = vae.encode_stats(torch.as_tensor(image)[None])
    assert post.mean == pytest.approx(mu[0].double().numpy(), abs=1e-6)
    assert post.std == pytest.approx(torch.exp(0.5 * logvar[0]).double().numpy(), rel=1e-6)
    assert (post.std > 0).all() and post.kl.shape == (2,) and (post.kl >= 0).all()


def test_draws_are_seeded_and_follow_the_posterior():
    post = view.Posterior(np.array([1.0, -2.0, 0.0]), np.array([0.5, 0.1, 2.0]))
    a, b, c = view.draws(post, 4000, 3), view.draws(post, 4000, 3), view.draws(post, 4000, 4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.mean(axis=0) == pytest.approx(post.mean, abs=0.1)
    assert a.std(axis=0) == pytest.approx(post.std, rel=0.06)


def test_decoded_draws_put_the_means_decoding_first(digits_vae):
    _, vae = digits_vae
    image = load_dataset("digits", "test").images[3].numpy()
    post, decoded = view.decoded_draws(vae, image, n=5, seed=9)
    assert decoded.shape == (6, *image.shape)
    assert np.allclose(decoded[0], decode_all(vae, post.mean[None].astype(np.float32))[0])
    assert np.allclose(decoded[1:], decode_all(vae, view.draws(post, 5, 9)))
    _, again = view.decoded_draws(vae, image, n=5, seed=9)
    assert np.array_equal(decoded, again)  # the same seed, the same pictures
    picture = view.draws_picture(image, decoded)
    assert picture.ndim == 3 and picture.shape[1] > 7 * picture.shape[0] // 2  # one row of seven cells


def test_ellipse_lies_k_standard_deviations_out():
    ring = view.ellipse(np.array([1.0, 2.0]), np.array([0.5, 0.25]), 2)
    assert ring[0] == pytest.approx(ring[-1])  # closed
    z = (ring - [1.0, 2.0]) / [0.5, 0.25]  # standardised: on the circle of radius 2
    assert np.hypot(z[:, 0], z[:, 1]) == pytest.approx(np.full(len(ring), 2.0))
    assert ring[:, 0].max() == pytest.approx(2.0) and ring[:, 1].max() == pytest.approx(2.5)


def test_plane_figure_draws_both_ellipses_over_the_codes(digits_vae):
    _, vae = digits_vae
    test = load_dataset("digits", "test")
    post = view.posterior(vae, test.images[0].numpy())
    codes = np.random.default_rng(0).normal(size=(50, 2))
    fig = view.plane_figure(codes, test.labels.numpy()[:50], test.classes, post, view.draws(post, 3, 0))
    rings = [t for t in fig.data if t.name in ("μ ± 1σ", "μ ± 2σ")]
    assert len(rings) == 2
    for t, k in zip(rings, (1, 2), strict=True):
        assert np.allclose(np.c_[t.x, t.y], view.ellipse(post.mean, post.std, k))
    assert sum(len(t.x) for t in fig.data if t.type == "scattergl") == 50


def test_loss_terms_come_from_every_zoo_vaes_history():
    for info in catalog.vaes(list_checkpoints()):
        terms = view.loss_terms(info.metadata.get("history"))
        assert terms is not None, f"{info.name} has no per-term history"
        epochs = len(info.metadata["history"])
        assert terms.recon.shape == terms.kl.shape == terms.test_recon.shape == (epochs,)
        assert terms.recon[-1] == info.metadata["history"][-1]["train"]["recon"]


def test_loss_terms_are_none_without_a_kl_part():
    assert view.loss_terms(None) is None
    assert view.loss_terms([{"epoch": 1, "train": {"recon": 0.3}, "test": None}]) is None
    terms = view.loss_terms([{"epoch": 1, "train": {"recon": 0.3, "kl": 0.01}, "test": None}])
    assert terms is not None and terms.test_recon.size == 0


def history(recon, kl):
    return [{"epoch": i + 1, "train": {"recon": r, "kl": k}, "test": None} for i, (r, k) in enumerate(zip(recon, kl))]


def test_the_sentence_says_which_term_dominates_and_when_kl_settled():
    terms = view.loss_terms(history([0.30, 0.22, 0.20, 0.19, 0.19], [0.002, 0.006, 0.0077, 0.0079, 0.008]))
    assert view.settled_epoch(terms.kl) == 3  # 0.0077 is within 5 % of 0.008, 0.006 is not
    text = view.loss_sentence(terms)
    assert "After 5 epochs the reconstruction term is 0.1900 and the KL term 0.0080 per pixel" in text
    assert "the reconstruction term dominates, the KL term being 4% of the loss" in text
    assert "the KL term rose from 0.0020 and settled by epoch 3" in text
    moving = view.loss_terms(history([0.3, 0.2, 0.1], [0.5, 0.3, 0.9]))
    assert "KL term dominates" in view.loss_sentence(moving) and "still moving in the last epoch" in (
        view.loss_sentence(moving)
    )
    assert "weighted by β = 4" in view.loss_sentence(terms, beta=4.0)


def test_loss_terms_figure_stacks_the_two_terms():
    info, _ = zoo_vae("mnist", 2)
    terms = view.loss_terms(info.metadata["history"])
    fig = view.loss_terms_figure(terms)
    stacked = [t for t in fig.data if t.stackgroup == "loss"]
    assert [t.name for t in stacked] == ["KL term (train)", "reconstruction (train)"]
    assert np.allclose(stacked[1].y, terms.recon) and len(fig.data) == 3  # and the test loss, dotted


def test_posterior_figure_has_error_bars_of_one_and_two_std():
    post = view.Posterior(np.array([0.5, -1.0]), np.array([0.2, 1.0]))
    fig = view.posterior_figure(post)
    bars = {t.name: t.error_y.array for t in fig.data if t.error_y.array is not None}
    assert np.allclose(bars["μ ± 1σ"], [0.2, 1.0]) and np.allclose(bars["μ ± 2σ"], [0.4, 2.0])


def test_train_sample_takes_every_kth():
    assert len(view.train_sample(60_000)) == 5000 and view.train_sample(10).tolist() == list(range(10))
