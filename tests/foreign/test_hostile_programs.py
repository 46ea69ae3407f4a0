"""Hostile .pt2 files, crafted here: nothing in them runs, reads or writes, at import or on any later load.

Each attack is built from a real exported program by editing its archive or its graph JSON, as an attacker
would; each test checks the refusal at `aeviz import` (one line, nothing written) and, where a tampered
checkpoint could carry it, at `load_checkpoint` (what every page does).
"""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import struct
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from foreign import Decoy, dense, entries, export_folder, from_file, nodes, with_graph, zipped
from torch import nn

from aeviz import checkpoints
from aeviz.cli.main import main
from aeviz.foreign import importer as importing
from aeviz.foreign import programs

CONFIG = "data/constants/model_constants_config.json"
Dim = torch.export.Dim


class Payload:
    """What an attacker's pickle would run: here it only creates `marker`, so a test can see whether it ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def exported(module: nn.Module, example: torch.Tensor, **batch) -> bytes:
    program = torch.export.export(module.eval(), (example,), dynamic_shapes=({0: Dim("batch", **batch)},))
    return programs.save_bytes(program)


@pytest.fixture(scope="module")
def decoder_bytes() -> bytes:
    _, decoder = dense()
    return exported(decoder, torch.rand(4, 4))


@pytest.fixture(scope="module")
def imported_model(tmp_path_factory):
    """One honest import: its checkpoint's metadata is what a tampered checkpoint keeps."""
    tmp = tmp_path_factory.mktemp("honest")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEVIZ_CACHE_DIR", str(tmp / "cache"))
        result = importing.import_path(export_folder(tmp / "export", *dense(), name="honest"), tmp / "models")
    return result.path


def tampered(imported_model: Path, tmp_path: Path, decoder: bytes) -> Path:
    """The honest checkpoint with its decoder's bytes replaced (and its hash recomputed, as anyone with write
    access to the file can)."""
    from safetensors.torch import load_file

    meta = checkpoints.read_metadata(imported_model)
    encoder = load_file(str(imported_model))["encoder.pt2"].numpy().tobytes()
    target = tmp_path / "tampered" / imported_model.name
    programs_ = {"encoder.pt2": encoder, "decoder.pt2": decoder}
    return checkpoints.save_imported(target, programs_, {k: v for k, v in meta.items() if k != "hash"})


def refused_everywhere(tmp_path, imported_model, decoder: bytes, needle: str, capsys) -> None:
    """Refused by load_program, by `aeviz import` (exit 1, one line, nothing written) and by load_checkpoint."""
    with pytest.raises(programs.ExportError, match=re.escape(needle)):
        programs.load_program(decoder, "decoder.pt2")
    folder = export_folder(tmp_path / "crafted", *dense())
    (folder / "decoder.pt2").write_bytes(decoder)
    capsys.readouterr()  # torch's own warnings while exporting
    assert main(["import", str(folder), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("aeviz import: error: decoder.pt2") and err.count("\n") == 1 and needle in err.replace("\\", "")
    )
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(needle)):
        checkpoints.load_checkpoint(tampered(imported_model, tmp_path, decoder))


# 1. Code execution through duplicate zip members


def duplicate_config(data: bytes, marker: Path) -> bytes:
    """Two constants configs: the first declares an 'opaque' pickled constant, the last is the honest one."""
    items = entries(data)
    root = items[0][0].split("/")[0]
    evil = {"obj": {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True, "tensor_meta": None}}
    evil_config = json.dumps({"config": evil}).encode()
    items.insert(0, (f"{root}/{CONFIG}", evil_config))
    items.append((f"{root}/data/constants/opaque_obj_0", pickle.dumps(Payload(marker))))
    crafted = zipped(items)
    # the attack as found: torch's own zip reader takes the first copy, Python's zipfile (the old check) the last
    assert torch._C.PyTorchFileReader(io.BytesIO(crafted)).get_record(CONFIG) == evil_config
    assert zipfile.ZipFile(io.BytesIO(crafted)).read(f"{root}/{CONFIG}") != evil_config
    return crafted


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_duplicate_member_is_refused_and_its_pickle_never_runs(tmp_path, imported_model, decoder_bytes, capsys):
    marker = tmp_path / "payload-ran"
    crafted = duplicate_config(decoder_bytes, marker)
    refused_everywhere(tmp_path, imported_model, crafted, "two members named data/constants/", capsys)
    assert not marker.exists()


def test_loading_never_unpickles_anything(decoder_bytes, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling while loading a program")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(torch._C, "PyTorchFileReader", forbidden)
    program = programs.load_program(decoder_bytes, "decoder.pt2")
    assert program.module()(torch.rand(3, 4)).shape == (3, 1, 8, 8)


@pytest.mark.parametrize(
    ("member", "needle"),
    [
        ("data/constants/opaque_obj_0", "Python object as a constant"),
        ("data/aotinductor/model/model.so", "compiled code"),
        ("extra/notes.txt", "which torch.export.save does not write"),
    ],
)
def test_a_member_torch_export_does_not_write_is_refused(decoder_bytes, member, needle):
    items = entries(decoder_bytes)
    items.append((f"{items[0][0].split('/')[0]}/{member}", b"\x80\x04."))
    with pytest.raises(programs.ExportError, match=needle):
        programs.load_program(zipped(items), "decoder.pt2")


# 2. File read and write with no pickle: operators outside the allow-list


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("shared", [False, True], ids=["read", "write"])
def test_a_program_calling_from_file_is_refused_naming_the_operator(tmp_path, imported_model, shared, capsys):
    secret = tmp_path / ("written.bin" if shared else "secret.bin")
    if not shared:
        secret.write_bytes(bytes(range(64)))
    crafted = from_file(exported(Decoy(), torch.rand(4, 4)), secret, shared)
    refused_everywhere(tmp_path, imported_model, crafted, "calls aten.from_file.default", capsys)
    assert shared is False or not secret.exists()


def test_an_in_place_write_into_the_weights_or_the_input_is_refused(decoder_bytes):
    """relu_ and friends are allowed on the program's own values; pointed at a weight or the input, refused."""
    honest = exported(nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 64)), torch.rand(4, 4))
    program = programs.load_program(honest, "decoder.pt2")
    assert any(str(n.target) == "aten.relu_.default" for n in program.graph.nodes)
    for victim, needle in (("p_0_weight", "writes into its weights"), ("input", "writes into its input")):

        def edit(program, victim=victim):
            relu = next(n for n in nodes(program) if n["target"] == "torch.ops.aten.relu_.default")
            relu["inputs"][0]["arg"] = {"as_tensor": {"name": victim}}

        with pytest.raises(programs.ExportError, match=needle):
            programs.load_program(with_graph(honest, edit), "decoder.pt2")


# 3. Control flow, and what a program may cost


class Branchy(nn.Module):
    """Decodes a batch cheaply, and one image (what a page's slider decodes) with a big allocation."""

    def forward(self, z):
        def one(z):
            return torch.ones(z.shape[0], 1, 8, 8) + torch.ones(2048, 2048).sum() * 0

        def many(z):
            return torch.sigmoid(z.sum(1).reshape(-1, 1, 1, 1).expand(-1, 1, 8, 8))

        return torch.cond(z.shape[0] == 1, one, many, (z,))


class Spinning(nn.Module):
    def forward(self, z):
        def more(i, z):
            return i < 10**12

        def step(i, z):
            return i + 1, z.clone()

        return torch._higher_order_ops.while_loop(more, step, (torch.zeros((), dtype=torch.int64), z))[1]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize(
    ("module", "needle"), [(Branchy(), "higher_order.cond"), (Spinning(), "higher_order.while_loop")]
)
def test_control_flow_is_refused_naming_it(tmp_path, imported_model, module, needle, capsys):
    crafted = exported(module, torch.rand(4, 4))
    refused_everywhere(tmp_path, imported_model, crafted, f"calls {needle} (control flow)", capsys)


class Greedy(nn.Module):
    """A decoder whose scratch tensor grows with the batch: 64 MB per image."""

    def forward(self, z):
        scratch = torch.ones(z.shape[0], 4096, 4096)
        return torch.sigmoid(z.sum(1).reshape(-1, 1, 1, 1) + scratch.mean()).expand(-1, 1, 8, 8)


class Shrinking(nn.Module):
    """A decoder whose scratch tensor is largest for one image: 2**26 floats (256 MB) divided by the batch."""

    def forward(self, z):
        scratch = torch.ones(2**26 // z.shape[0])
        return torch.sigmoid(z.sum(1).reshape(-1, 1, 1, 1) + scratch.mean()).expand(-1, 1, 8, 8)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_program_over_the_memory_budget_is_refused_before_it_runs(tmp_path, imported_model, capsys):
    crafted = exported(Greedy(), torch.rand(4, 4))
    refused_everywhere(tmp_path, imported_model, crafted, "AEVIZ_IMPORTED_MEMORY_MB", capsys)


def test_every_batch_size_a_page_uses_is_checked_not_only_the_largest(monkeypatch):
    monkeypatch.setenv("AEVIZ_IMPORTED_MEMORY_MB", "64")
    crafted = exported(Shrinking(), torch.rand(4, 4), max=2**25)  # torch asks for a bound: 2**26 // batch >= 2
    with pytest.raises(programs.ExportError, match=r"needs 256 MB of tensors for 1 input\(s\)"):
        programs.load_program(crafted, "decoder.pt2")
    monkeypatch.setenv("AEVIZ_IMPORTED_MEMORY_MB", "512")
    programs.load_program(crafted, "decoder.pt2")  # within a budget that covers it


def test_a_program_over_the_operations_budget_is_refused(decoder_bytes, monkeypatch):
    monkeypatch.setenv("AEVIZ_IMPORTED_GOPS", "0.001")  # the tiny decoder takes about 0.002 billion at 256
    with pytest.raises(programs.ExportError, match="billion operations for 256 input.*AEVIZ_IMPORTED_GOPS"):
        programs.load_program(decoder_bytes, "decoder.pt2")


def test_an_imported_model_calls_its_programs_only_at_the_checked_batch_sizes(imported_model):
    from aeviz.foreign.costs import BATCH_SIZES

    model = checkpoints.load_checkpoint(imported_model)
    seen: list[int] = []

    class Spy(nn.Module):
        def __init__(self, decoder):
            super().__init__()
            self.decoder = decoder

        def forward(self, z):
            seen.append(len(z))
            return self.decoder(z)

    model.decoder = Spy(model.decoder)
    for rows in (1, 3, 17, 300):
        assert model.decode(torch.zeros(rows, 4)).shape == (rows, 1, 8, 8)
    assert seen == [1, 4, 64, 256, 64] and set(seen) <= set(BATCH_SIZES)


def test_the_batch_sizes_come_from_the_program_not_the_editable_metadata(imported_model, tmp_path):
    from safetensors.torch import load_file

    meta = checkpoints.read_metadata(imported_model)
    meta["interface"] = {**meta["interface"], "decoder_batch": 100_000, "source": "torch.export"}
    state = {k: v.numpy().tobytes() for k, v in load_file(str(imported_model)).items()}
    path = checkpoints.save_imported(tmp_path / "edited" / imported_model.name, state, meta)
    assert checkpoints.load_checkpoint(path).interface.decoder_batch is None
    meta["interface"]["source"] = "adapter"  # an adapter's calls are not chunked: never from a file
    path = checkpoints.save_imported(tmp_path / "edited" / imported_model.name, state, meta)
    with pytest.raises(checkpoints.CheckpointError, match="adapter"):
        checkpoints.load_checkpoint(path)


class OneHot(nn.Module):
    def forward(self, z):
        return F.one_hot(z.argmax(1), 8).float().reshape(-1, 1, 1, 8).expand(-1, 1, 8, 8)


def test_a_shape_read_from_tensor_values_is_refused(decoder_bytes):
    """one_hot with num_classes=-1 sizes its output by the largest index it is given: unknown before it runs."""
    honest = exported(OneHot(), torch.rand(4, 4))
    programs.load_program(honest, "decoder.pt2")

    def edit(program):
        one_hot = next(n for n in nodes(program) if "one_hot" in n["target"])
        next(i for i in one_hot["inputs"] if i["name"] == "num_classes")["arg"] = {"as_int": -1}

    with pytest.raises(
        programs.ExportError, match="aten.one_hot.default: its output.s shape would depend on tensor values"
    ):
        programs.load_program(with_graph(honest, edit), "decoder.pt2")


# Graph fields torch would run as code


def test_guard_code_in_the_file_is_never_run(decoder_bytes, tmp_path):
    marker = tmp_path / "guard-ran"
    crafted = with_graph(
        decoder_bytes, lambda p: p.update(guards_code=[f"__import__('pathlib').Path({str(marker)!r}).touch() is None"])
    )
    programs.load_program(crafted, "decoder.pt2").module()(torch.rand(2, 4))
    assert not marker.exists()


def test_a_shape_expression_that_is_not_arithmetic_is_refused_before_sympy_reads_it(decoder_bytes, tmp_path):
    marker = tmp_path / "sympy-ran"

    def edit(program):
        sizes = program["graph_module"]["graph"]["tensor_values"]["input"]["sizes"]
        sizes[0] = {"as_expr": {"expr_str": f"__import__('pathlib').Path({str(marker)!r}).touch()", "hint": None}}

    with pytest.raises(programs.ExportError, match="not a size expression"):
        programs.load_program(with_graph(decoder_bytes, edit), "decoder.pt2")
    assert not marker.exists()


def test_a_name_that_is_not_an_identifier_is_refused(decoder_bytes):
    text = "linear; import os; linear"
    crafted = with_graph(decoder_bytes, lambda p: nodes(p)[0]["outputs"][0]["as_tensor"].update(name=text))
    with pytest.raises(programs.ExportError, match="not a Python identifier"):
        programs.load_program(crafted, "decoder.pt2")


# 4. Malformed inputs: one line each, nothing written


def test_a_deeply_nested_aeviz_json_is_one_line(tmp_path, capsys):
    folder = export_folder(tmp_path / "export", *dense())
    (folder / "aeviz.json").write_text("[" * 30000 + "]" * 30000)
    assert main(["import", str(folder), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == "aeviz import: error: aeviz.json is nested too deeply to be a few lines of settings\n"
    assert not (tmp_path / "out").exists()


def bad_crc(data: bytes) -> bytes:
    """One byte of the graph JSON flipped, its CRC left as it was."""
    damaged = bytearray(data)
    info = next(i for i in zipfile.ZipFile(io.BytesIO(data)).infolist() if i.filename.endswith("model.json"))
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    damaged[info.header_offset + 30 + name_length + extra_length + 100] ^= 0x01
    return bytes(damaged)


def nested_graph(data: bytes) -> bytes:
    items = [
        (p, b[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}" if p.endswith("model.json") else b)
        for p, b in entries(data)
    ]
    return zipped(items)


@pytest.mark.parametrize(
    ("damage", "needle"), [(bad_crc, "is damaged (Bad CRC-32"), (nested_graph, "nested too deeply")]
)
def test_a_damaged_program_is_one_line(tmp_path, imported_model, decoder_bytes, damage, needle, capsys):
    refused_everywhere(tmp_path, imported_model, damage(decoder_bytes), needle, capsys)


def leaf_paths(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))
    if path:
        yield path


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_any_edit_of_the_json_is_refused_in_one_line_or_loads(decoder_bytes):
    """48 random edits of the graph and payload configs (a value replaced or a key removed): load_program
    raises nothing but ExportError, whatever the edit."""
    rng = random.Random(0)
    items = entries(decoder_bytes)
    documents = [i for i, (path, _) in enumerate(items) if path.endswith(".json")]
    junk = [
        None,
        -1,
        0,
        10**20,
        1.5,
        "x",
        "self",
        "Infinity",
        [],
        {},
        True,
        {"as_int": 3},
        "torch.ops.aten.relu.default",
    ]
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(48):
        index = rng.choice(documents)
        document = json.loads(items[index][1])
        *parents, last = rng.choice(list(leaf_paths(document)))
        parent = document
        for key in parents:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[last]
        else:
            parent[last] = rng.choice(junk)
        edited = [(p, json.dumps(document).encode() if i == index else b) for i, (p, b) in enumerate(items)]
        try:
            programs.load_program(zipped(edited), "decoder.pt2")
            outcomes["loaded"] += 1
        except programs.ExportError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 20 and outcomes["loaded"] > 2, outcomes  # the edits reached both outcomes
