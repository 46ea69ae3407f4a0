"""VQ-VAE: the token grid, straight-through gradients, the loss parts, EMA and gradient codebooks, restarts and
codebook usage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aeviz import vq
from aeviz.models import build_model, make_config
from aeviz.vq import Codebook, codebook_usage


def tiny(**fields):
    """A 2x2 grid of 4-wide codes for 8x8 images: q = 16."""
    return build_model("vq", input_shape=(1, 8, 8), channels=(4, 8), code_dim=4, codebook_size=16, **fields)


def test_q_is_the_grid_cells_times_the_code_width_whatever_the_image_size():
    assert make_config("vq").bottleneck == 7 * 7 * 8  # 28x28 through two stride-2 layers
    assert make_config("vq", input_shape=(3, 32, 32), code_dim=4).bottleneck == 8 * 8 * 4  # colour comes for free
    assert make_config("vq", channels=(8, 16, 32), input_shape=(1, 64, 64)).bottleneck == 8 * 8 * 8
    config = make_config("vq").for_input((3, 32, 32))  # what training does for the dataset's shape
    assert config.bottleneck == 8 * 8 * 8 and config.input_shape == (3, 32, 32)
    with pytest.raises(ValueError, match="divisible by 4"):
        make_config("vq", input_shape=(1, 30, 30))
    with pytest.raises(ValueError, match="7x7 token grid"):
        build_model("vq", bottleneck=16)
    model = build_model("vq", input_shape=(3, 32, 32), code_dim=2)
    x = torch.rand(2, 3, 32, 32)
    assert model.encode(x).shape == (2, 128) and model.reconstruct(x).shape == (2, 3, 32, 32)


def test_tokens_codes_and_decoding_agree():
    model = tiny().eval()
    x = torch.rand(5, 1, 8, 8)
    tokens = model.tokens(x)
    assert tokens.shape == (5, 2, 2) and tokens.dtype == torch.long
    assert int(tokens.min()) >= 0 and int(tokens.max()) < 16
    z = model.encode(x)  # (N, D*h*w): the codebook vectors of the tokens, channel-major
    expected = model.codebook.embedding[tokens].permute(0, 3, 1, 2).flatten(1)
    assert z.shape == (5, 16) and torch.equal(z, expected)
    assert torch.equal(model.decode_tokens(tokens), model.reconstruct(x))
    # decode() snaps a code to the codebook first: a nudged code decodes to the same picture
    assert torch.equal(model.decode(z + 1e-4 * torch.randn_like(z)), model.decode(z))
    with torch.no_grad():
        assert torch.equal(model(x).code, z)  # a forward without gradients: the quantized grid itself


def test_straight_through_gradients_reach_the_encoder():
    """The decoder's gradient at z_q is passed to z_e unchanged (the quantizer counts as the identity backwards)."""
    torch.manual_seed(0)
    model = tiny().train()
    x = torch.rand(6, 1, 8, 8)
    z_e = model.encoder(x)
    z_e.retain_grad()
    z_st, _, _ = model.codebook(z_e)
    z_st.retain_grad()
    recon = model.recon_loss(model.decoder(z_st), x)
    recon.backward()
    assert z_e.grad is not None and z_e.grad.abs().sum() > 0 and torch.equal(z_e.grad, z_st.grad)
    first = model.encoder[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    model.zero_grad()
    model(x).loss.backward()  # the whole forward: every encoder layer learns
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_loss_parts_are_named_and_summed():
    torch.manual_seed(0)
    for codebook, parts in (("ema", {"recon", "commitment"}), ("loss", {"recon", "commitment", "codebook"})):
        model = tiny(codebook=codebook, commitment=0.5).eval()  # eval: no codebook update in the forward
        x = torch.rand(4, 1, 8, 8)
        out = model(x)
        assert set(out.losses) == parts
        assert torch.allclose(out.loss, sum(out.losses.values()))
        z_e = model.encoder(x)
        z_q = model.codebook.quantize(z_e)[0]
        assert torch.allclose(out.losses["commitment"], 0.5 * F.mse_loss(z_e, z_q))
        assert torch.allclose(out.losses["recon"], model.recon_loss(model.decoder(z_q), x))


def test_the_codebook_loss_trains_the_codes_and_the_commitment_the_encoder():
    torch.manual_seed(0)
    model = tiny(codebook="loss").eval()
    out = model(torch.rand(4, 1, 8, 8))
    out.losses["codebook"].backward(retain_graph=True)
    assert model.codebook.embedding.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.encoder.parameters())  # sg(z_e): no gradient to the encoder
    model.zero_grad()
    out.losses["commitment"].backward()
    assert model.codebook.embedding.grad is None or model.codebook.embedding.grad.abs().sum() == 0
    assert all(p.grad is not None for p in model.encoder.parameters())
    ema = tiny(codebook="ema")
    assert "codebook.embedding" in dict(ema.named_buffers())  # not a parameter: updated by averages, not Adam
    assert "codebook.embedding" in dict(model.named_parameters())


def test_ema_moves_each_code_to_the_running_mean_of_its_vectors():
    book = Codebook(2, 2, ema=True, decay=0.5, commitment=0.25).train()
    book.usage.fill_(0.5)  # as if trained: both codes in use, so no seeding and no restart
    book.embedding.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    book.ema_sum.copy_(book.embedding)
    book.ema_count.fill_(1.0)
    # two vectors near code 0, one near code 1: each code's sum and count decay by half and take in its vectors
    vectors = torch.tensor([[1.0, 1.0], [3.0, 1.0], [9.0, 9.0]])  # (3,D) as a (1,D,1,3) grid below
    _, tokens, _ = book(vectors.T.reshape(1, 2, 1, 3))
    assert tokens.tolist() == [[[0, 0, 1]]]
    count = torch.tensor([0.5 * 1 + 0.5 * 2, 0.5 * 1 + 0.5 * 1])
    sums = torch.tensor([[0.5 * 4.0, 0.5 * 2.0], [0.5 * 10 + 0.5 * 9, 0.5 * 10 + 0.5 * 9]])
    smoothed = (count + 1e-5) / (count.sum() + 2e-5) * count.sum()
    assert torch.allclose(book.ema_count, count) and torch.allclose(book.embedding, sums / smoothed[:, None])
    book.eval()
    before = book.embedding.clone()
    book(torch.rand(1, 2, 1, 3))
    assert torch.equal(book.embedding, before)  # evaluation never moves the codes


def test_a_code_no_vector_picks_is_restarted_at_an_encoder_output(monkeypatch):
    torch.manual_seed(0)
    book = Codebook(4, 2, ema=False, decay=0.99, commitment=0.25).train()
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]])
    grid = vectors.T.reshape(1, 2, 2, 2)
    book(grid)  # seeds all four codes from these vectors
    assert all(any(torch.equal(c, v) for v in vectors) for c in book.embedding.detach())
    with torch.no_grad():
        book.embedding[3] = torch.tensor([100.0, 100.0])  # far from everything: never picked
    book.usage[3] = 0.0
    book(grid)
    assert any(torch.equal(book.embedding[3].detach(), v) for v in vectors)  # moved onto an encoder output
    monkeypatch.setattr(vq, "DEAD_SHARE", 0.0)  # restarts off: a far code stays where it is
    with torch.no_grad():
        book.embedding[3] = torch.tensor([100.0, 100.0])
    book.usage[3] = 0.0
    book(grid)
    assert torch.equal(book.embedding[3].detach(), torch.tensor([100.0, 100.0]))


def test_codebook_usage_perplexity_and_dead_codes():
    uniform = codebook_usage(np.arange(8).repeat(5), 16)  # 8 codes equally used, 8 never
    assert uniform["perplexity"] == pytest.approx(8.0) and uniform["dead_codes"] == 8
    one = codebook_usage(np.zeros((3, 7, 7), np.int64), 4)
    assert one["perplexity"] == pytest.approx(1.0) and one["dead_codes"] == 3
    skewed = codebook_usage(torch.tensor([0, 0, 0, 1]), 2)
    p = np.array([0.75, 0.25])
    assert skewed["perplexity"] == pytest.approx(math.exp(-(p * np.log(p)).sum())) and skewed["dead_codes"] == 0
    assert codebook_usage(np.zeros(0, np.int64), 5) == {"perplexity": 0.0, "dead_codes": 5.0}


def test_the_model_reports_its_codebook_usage_on_held_out_images():
    model = tiny().eval()
    x = torch.rand(10, 1, 8, 8)
    seen = model.diagnostics(x)
    assert seen == codebook_usage(model.tokens(x), 16)
    assert 1.0 <= seen["perplexity"] <= 16 and seen["dead_codes"] == 16 - len(torch.unique(model.tokens(x)))


def test_training_records_codebook_usage_each_epoch():
    from aeviz.train import TrainConfig, fit

    model = tiny()
    x = torch.rand(64, 1, 8, 8)
    reports = []
    history = fit(model, x, TrainConfig(epochs=2, batch_size=16, seed=0), test_x=x[:32], callback=reports.append)
    assert [set(h["diagnostics"]) for h in history] == [{"perplexity", "dead_codes"}] * 2
    epochs = [r for r in reports if r.event == "epoch"]
    assert [r.diagnostics for r in epochs] == [h["diagnostics"] for h in history]
    model.eval()
    assert history[-1]["diagnostics"] == model.diagnostics(x[:32])
