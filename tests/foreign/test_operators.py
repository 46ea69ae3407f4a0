"""The operator allow-list: pure by torch's own schemas, and wide enough for real exported autoencoders."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from foreign import conv, dense
from torch import nn

from aeviz.foreign import costs, operators, programs
from aeviz.models import MODELS

Dim = torch.export.Dim


def overload(name: str) -> torch._ops.OpOverload:
    _, op, variant = name.split(".")
    return getattr(getattr(torch.ops.aten, op), variant)


@pytest.mark.parametrize("name", sorted(operators.OPERATORS))
def test_each_allowed_operator_is_pure_by_its_schema(name):
    op = overload(name)
    assert str(op) == name
    schema = op._schema
    writes = [a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write]
    assert not writes or (name in operators.IN_PLACE and writes == ["self"]), writes
    assert "out" not in [a.name for a in schema.arguments if a.kwarg_only]
    switched_off = any(op_name == name for op_name, _ in operators.FALSE_ARGUMENTS)  # dropout: train=False only
    assert torch.Tag.nondeterministic_seeded not in op.tags or switched_off  # no random numbers
    texts = [a.name for a in schema.arguments if "str" in str(a.type)]
    assert all((name, t) in operators.STRING_ARGUMENTS for t in texts), texts


def test_operators_that_touch_files_draw_random_numbers_or_branch_are_not_allowed():
    for name in ("from_file", "save", "empty", "rand", "randn", "bernoulli", "normal", "copy_", "set_", "item"):
        assert not any(f".{name}." in f".{allowed}" for allowed in operators.OPERATORS), name
    assert not operators.is_allowed("torch.ops.higher_order.cond")
    assert not operators.is_allowed("torch.ops.aten.from_file.default")
    assert not operators.is_allowed("builtins.exec")


class Everything(nn.Module):
    """The layers autoencoders are built of, in one module: conv, norms, activations, pooling, upsampling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.same = nn.Conv2d(8, 8, 3, padding="same")
        self.bn, self.gn, self.ln = nn.BatchNorm2d(8), nn.GroupNorm(2, 8), nn.LayerNorm(8)
        self.up, self.nearest = nn.Upsample(scale_factor=2, mode="bilinear"), nn.Upsample(scale_factor=2)
        self.deconv = nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.relu(self.bn(self.same(self.conv(x))))
        h = F.gelu(self.gn(h), approximate="tanh") + F.silu(h) + F.elu(h) + F.softplus(h) + F.leaky_relu(h, 0.2)
        h = F.max_pool2d(h, 2) + F.avg_pool2d(h, 2) + F.adaptive_avg_pool2d(h, (4, 4))
        h = self.ln((self.up(h) + self.nearest(h)).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        a, b = h.chunk(2, dim=1)
        h = torch.cat([a.exp().clamp(max=10), torch.tanh(b)], 1)
        h = F.dropout(F.pad(h, (1, 1, 1, 1)), 0.1, training=False)[..., 1:-1, 1:-1]
        return torch.sigmoid(self.deconv(h)), F.normalize(h.flatten(1), dim=1), torch.softmax(h.mean((2, 3)), -1)


class Quantizer(nn.Module):
    """A VQ-VAE's codebook lookup, as pythae's and most tutorials write it."""

    def __init__(self) -> None:
        super().__init__()
        self.codebook = nn.Embedding(16, 4)

    def forward(self, z):
        distances = (z.unsqueeze(1) - self.codebook.weight.unsqueeze(0)).pow(2).sum(-1)
        return self.codebook(distances.argmin(1)) + z.view(z.shape[0], -1) * 0


def family(name: str):
    config = MODELS[name].config_class.from_dict({"bottleneck": 4, "input_shape": (1, 8, 8)})
    model = MODELS[name](config).eval()

    class Encode(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model.encode(x)

    class Decode(Encode):
        def forward(self, z):
            return self.model.decode(z)

    return [(Encode(), torch.rand(4, 1, 8, 8)), (Decode(), torch.rand(4, 4))]


CASES = {
    "everything": [(Everything(), torch.rand(4, 1, 8, 8))],
    "vq": [(Quantizer(), torch.rand(4, 4))],
    "dense": [(m, x) for m, x in zip(dense(), (torch.rand(4, 1, 8, 8), torch.rand(4, 4)))],
    "conv": [(m, x) for m, x in zip(conv(), (torch.rand(4, 1, 8, 8), torch.rand(4, 4, 1, 1)))],
    "vae": [(dense(vae=True)[0], torch.rand(4, 1, 8, 8))],
    **{f"aeviz-{name}": family(name) for name in ("dense", "conv", "vae", "sparse", "vqvae") if name in MODELS},
}


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("case", sorted(CASES))
def test_real_exported_models_load_and_give_the_same_outputs(case):
    for module, example in CASES[case]:
        module.eval()
        program = torch.export.export(module, (example,), dynamic_shapes=({0: Dim("batch")},))
        loaded = programs.load_program(programs.save_bytes(program), f"{case}.pt2")
        batch = torch.rand(7, *example.shape[1:])
        with torch.no_grad():
            expected, got = module(batch), loaded.module()(batch)
        expected, got = (v if isinstance(v, tuple) else (v,) for v in (expected, got))
        assert all(torch.allclose(e, g, atol=1e-5) for e, g in zip(expected, got, strict=True)), case


def test_costs_are_computed_at_every_batch_size_and_grow_with_it():
    encoder, _ = conv()
    program = torch.export.export(encoder, (torch.rand(4, 1, 8, 8),), dynamic_shapes=({0: Dim("batch")},))
    measured = costs.check_costs(programs.load_program(programs.save_bytes(program), "e"), "e")
    assert [c.batch for c in measured] == list(costs.BATCH_SIZES)
    peaks = [c.peak_bytes for c in measured]
    # the peak: the first conv's output (256 x 8 x 4 x 4 floats) and the ReLU's, alive together (the input is
    # freed after its last use, by the conv)
    assert peaks[-1] == 256 * 4 * (8 * 16 + 8 * 16)
    assert peaks == sorted(peaks) and measured[-1].operations > 256 * (2 * 8 * 9 * 16)  # the first conv's MACs
