"""A model's layers as the diagram lists them: shapes and parameter counts from the module tree, or from the ops
an imported program declares."""

from __future__ import annotations

import math

import pytest
import torch
from foreign import conv, dense

from aeviz import architecture
from aeviz.foreign.interface import Interface
from aeviz.foreign.model import ImportedModel
from aeviz.models import MODELS, build_model


@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_every_family_lists_its_layers_with_all_its_parameters(family, arch):
    if arch == "conv" and family == "linear":
        pytest.skip("a linear autoencoder has no conv body")
    if MODELS[family].derived_bottleneck:
        pytest.skip("a VQ-VAE's code size follows from its grid: test_a_vq_vae_shows_its_token_grid_and_codebook")
    extra = {"hidden": (32,)} if arch == "dense" and family != "linear" else {}
    model = build_model(family, bottleneck=6, input_shape=(3, 16, 16), arch=arch, **extra)
    d = architecture.describe(model)
    assert d["input"] == (3, 16, 16) and d["code"] == 6 and d["variational"] == (family == "vae")
    assert architecture.parameter_count(d["encoder"]) == sum(p.numel() for p in model.encoder.parameters())
    assert architecture.parameter_count(d["decoder"]) == sum(p.numel() for p in model.decoder.parameters())
    assert d["decoder"][-1].shape == (3, 16, 16)  # the decoder ends at the image
    weighted = [layer for layer in d["encoder"] if layer.params]
    assert weighted[-1].shape == (12 if family == "vae" else 6,)  # a VAE's encoder outputs mean and log-variance
    if model.config.output == "sigmoid":
        assert d["decoder"][-1].kind == "Sigmoid"  # applied by decode, shown as the last step


def test_a_vq_vae_shows_its_token_grid_and_codebook():
    model = build_model("vq", input_shape=(3, 16, 16), channels=(4, 8), code_dim=5, codebook_size=32)
    d = architecture.describe(model)
    assert d["input"] == (3, 16, 16) and d["code"] == 4 * 4 * 5 and not d["variational"]
    *body, book = d["encoder"]
    assert (book.kind, book.detail, book.shape, book.params) == ("Codebook", "nearest of 32", (5, 4, 4), 32 * 5)
    assert architecture.parameter_count(body) == sum(p.numel() for p in model.encoder.parameters())
    assert architecture.parameter_count(d["decoder"]) == sum(p.numel() for p in model.decoder.parameters())
    assert d["decoder"][-1].shape == (3, 16, 16) and d["decoder"][-1].kind == "Sigmoid"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_an_imported_model_shows_what_its_programs_declare():
    for encoder, decoder, code in (dense(q=4) + ((4,),), conv(q=4) + ((4, 1, 1),)):
        example = torch.rand(2, 1, 8, 8)
        enc = torch.export.export(encoder, (example,)).module()
        with torch.no_grad():
            dec = torch.export.export(decoder, (encoder(example),)).module()
        interface = Interface(code_shape=code, decoder_input=code)
        model = ImportedModel("imp", "dense", interface, enc, dec)
        model.metadata = {"config": {"input_shape": [1, 8, 8]}}
        d = architecture.describe(model)
        params = sum(p.numel() for p in decoder.parameters())
        assert architecture.parameter_count(d["decoder"]) == params
        assert d["decoder"][-1].shape == (1, 8, 8) and d["code"] == 4
        kinds = {layer.kind for layer in d["decoder"]}
        assert kinds & {"linear", "conv_transpose2d"} and "sigmoid" in kinds
        assert math.prod(d["encoder"][-1].shape) == 4
