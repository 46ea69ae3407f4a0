"""The decoder's export for the browser: every family, shape and layer type, and imported programs, checked
against torch with a numpy run of the layer list (tests/webkernel.py); the browser's own run is in
tests/e2e/test_decoder_kernel.py."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import webkernel
from torch import nn

from aeviz import checkpoints, webdecoder
from aeviz.foreign.interface import Interface
from aeviz.foreign.model import ImportedModel
from aeviz.models import MODELS, AutoEncoder, build_model
from aeviz.webdecoder.programs import from_program

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


def numpy_decode(web: webdecoder.WebDecoder, codes: np.ndarray) -> np.ndarray:
    header, tensors = webdecoder.parse(web.to_bytes("test"))
    return np.stack([webkernel.run(header, tensors, code) for code in codes])


def assert_same(web: webdecoder.WebDecoder, decode, q: int, atol: float = 1e-5) -> None:
    codes = torch.randn(6, q, generator=torch.Generator().manual_seed(1)) * 2
    with torch.inference_mode():
        expected = decode(codes).reshape(len(codes), -1).double().numpy()
    got = numpy_decode(web, codes.numpy())
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < atol


@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("arch", ["dense", "conv"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_every_family_body_and_shape_exports_the_same_decoder(family, arch, shape):
    if arch == "conv" and family == "linear":
        pytest.skip("a linear autoencoder has no conv body")
    if MODELS[family].derived_bottleneck:  # a VQ-VAE snaps the code to its codebook first: the server decodes
        with pytest.raises(webdecoder.Unsupported, match="steps of its own"):
            webdecoder.export(build_model(family, input_shape=shape, channels=(4,)))
        return
    fields = {"input_shape": shape, "bottleneck": 3, "arch": arch}
    fields |= {"channels": (4, 8)} if arch == "conv" else {"hidden": () if family == "linear" else (12,)}
    if arch == "conv" and shape[1] % 4:
        fields["channels"] = (4,)  # 8x8 halves once
    model = build_model(family, **fields).eval()
    web = webdecoder.export(model)
    assert web.output_shape == shape and web.code_size == 3
    assert_same(web, model.decode, 3)


@pytest.mark.parametrize("output", ["sigmoid", "linear", "relu"])
@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_every_output_layer_exports_the_same_decoder(output, arch):
    loss = "bce" if output == "sigmoid" else "mse"
    fields = {"channels": (4,)} if arch == "conv" else {"hidden": (12,)}
    model = build_model("dense", input_shape=(1, 8, 8), bottleneck=3, arch=arch, loss=loss, output=output, **fields)
    web = webdecoder.export(model.eval())
    last = web.layers[-1]["op"]
    assert last == output if output != "linear" else last not in ("sigmoid", "relu")
    assert_same(web, model.decode, 3)


def test_every_layer_type_the_kernel_has():
    net = webkernel.every_layer_type()
    web = webdecoder.from_sequential(net, 5, output="linear")
    ops = {layer["op"] for layer in web.layers}
    assert ops >= {"linear", "scale_shift", "leaky_relu", "elu", "reshape", "upsample", "conv2d", "gelu"}
    assert ops >= {"conv_transpose2d", "silu", "tanh", "sigmoid"} and web.output_shape == (3, 32, 32)
    assert_same(web, net, 5)


def export(net: nn.Module, example: torch.Tensor) -> torch.fx.GraphModule:
    """The program torch.export makes of `net` (any batch size), as an imported model runs it."""
    return torch.export.export(net, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_imported_programs_are_read_op_by_op():
    net = webkernel.every_layer_type()
    program = export(net, torch.randn(2, 5))
    interface = Interface(code_shape=(5,), decoder_input=(5,), output="image", output_range=(-1.0, 1.0))
    model = ImportedModel("rich", "dense", interface, nn.Identity(), program).eval()
    web = webdecoder.export(model)
    assert web.layers[-1]["op"] == "affine"  # (out - low) / (high - low) back to [0, 1]
    assert_same(web, model.decode, 5)
    flat = nn.Sequential(nn.ConvTranspose2d(4, 2, 4), nn.ReLU(), nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1))
    program = export(flat.eval(), torch.randn(2, 4, 1, 1))
    logits = Interface(code_shape=(4,), decoder_input=(4, 1, 1), output="logits")
    web = from_program(program, logits)
    assert [layer["op"] for layer in web.layers][0] == "reshape" and web.layers[-1]["op"] == "sigmoid"
    assert_same(web, ImportedModel("conv", "conv", logits, nn.Identity(), program).decode, 4)


def test_what_the_kernel_lacks_is_named():
    with pytest.raises(webdecoder.Unsupported, match="GRU"):
        webdecoder.from_sequential(nn.Sequential(nn.Linear(2, 4), nn.GRU(4, 4)), 2)
    with pytest.raises(webdecoder.Unsupported, match="not a plain stack"):
        webdecoder.from_sequential(nn.Linear(2, 4), 2)

    class Quantised(AutoEncoder):  # a family whose decode does more than its decoder (a VQ-VAE's lookup)
        def decode(self, z):
            return super().decode(z.round())

    with pytest.raises(webdecoder.Unsupported, match="steps of its own"):
        webdecoder.export(Quantised(build_model("dense").config))

    class Doubled(nn.Module):
        def forward(self, z):
            return torch.cat([z, z], 1).view(-1, 1, 2, 2)

    program = torch.export.export(Doubled(), (torch.randn(3, 2),)).module()
    with pytest.raises(webdecoder.Unsupported):
        from_program(program, Interface(code_shape=(2,), decoder_input=(2,)))


def test_the_blob_is_safetensors_with_aligned_float32_and_the_layer_list():
    web = webdecoder.export(build_model("conv", bottleneck=4, input_shape=(3, 32, 32)))
    blob = web.to_bytes("abc")
    length = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + length])
    assert (8 + length) % 8 == 0 and all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")
    assert all(v["data_offsets"][0] % 4 == 0 for k, v in header.items() if k != "__metadata__")
    assert header["__metadata__"][webdecoder.ID_KEY] == "abc"
    spec, tensors = webdecoder.parse(blob)
    assert spec["format"] == webdecoder.FORMAT and spec["output_shape"] == [3, 32, 32]
    assert all(np.array_equal(tensors[k], web.tensors[k]) for k in web.tensors)
    from safetensors.numpy import load  # a safetensors file: its own reader agrees

    assert all(np.array_equal(load(blob)[k], web.tensors[k]) for k in web.tensors)
    assert len(blob) < 4 * web.weight_count + 4096  # float32 and a small header: nothing else travels


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_model_gives_the_same_bytes_in_every_process():
    """Streamlit's message cache spares a rerun the weights only if they are the same bytes each time."""
    path = next(c.path for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == "mnist-conv-q16-bce")
    code = (
        "import sys, hashlib; from aeviz import checkpoints, webdecoder; "
        f"blob = webdecoder.export(checkpoints.load_checkpoint({str(path)!r})).to_bytes('x'); "
        "print(hashlib.sha256(blob).hexdigest())"
    )
    # one other process and this one: two processes are what the cache sees (a third cost 2.5 s of CPU, no news)
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    here = hashlib.sha256(webdecoder.export(checkpoints.load_checkpoint(path)).to_bytes("x")).hexdigest()
    assert there == here


def zoo_by_architecture() -> dict[str, checkpoints.CheckpointInfo]:
    """One zoo checkpoint per decoder architecture: its layer list without weights, and its code size."""
    found: dict[str, checkpoints.CheckpointInfo] = {}
    for info in checkpoints.list_checkpoints([checkpoints.zoo_dir()]):
        if info.family == "vq":
            continue  # its decode snaps codes to the codebook first: the page decodes it on the server (tested there)
        web = webdecoder.export(checkpoints.load_checkpoint(info.path))
        layers = [{k: v for k, v in layer.items() if k not in ("weight", "bias")} for layer in web.layers]
        found.setdefault(json.dumps([web.code_size, layers]), info)
    return found


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_every_zoo_decoder_exports_and_agrees_with_torch():
    architectures = zoo_by_architecture()
    assert len(architectures) >= 10  # dense, deep dense, conv, linear, VAE... at several code sizes
    for info in architectures.values():
        model = checkpoints.load_checkpoint(info.path)
        assert_same(webdecoder.export(model), model.decode, model.bottleneck)
