"""Reading torch.export files safely: device fields moved to the CPU, object constants and compiled code refused
(the crafted attacks are in test_hostile_programs.py)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch
from foreign import dense, export

from aeviz.foreign import programs as exported


@pytest.fixture
def program_bytes(tmp_path) -> bytes:
    encoder, _ = dense()
    return export(encoder, torch.rand(3, 1, 8, 8), tmp_path / "encoder.pt2").read_bytes()


def rewritten(data: bytes, edit) -> bytes:
    """The archive with edit(path, bytes) -> bytes applied to each member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, edit(info.filename, source.read(info)))
    return out.getvalue()


def test_a_program_exported_on_a_gpu_machine_loads_on_the_cpu(program_bytes):
    """The archive as a CUDA machine writes it (every device field 'cuda'): torch alone cannot load it here."""
    on_gpu = rewritten(program_bytes, lambda p, b: b.replace(b'"type": "cpu"', b'"type": "cuda"'))
    with zipfile.ZipFile(io.BytesIO(on_gpu)) as archive:
        assert any(b'"cuda"' in archive.read(n) for n in archive.namelist() if n.endswith(".json"))
    program = exported.load_program(on_gpu, "encoder.pt2")
    assert all(t.device.type == "cpu" for t in program.state_dict.values())
    x = torch.rand(5, 1, 8, 8)
    assert torch.allclose(program.module()(x), exported.load_program(program_bytes, "e").module()(x))


def test_object_constants_are_refused_before_anything_is_unpickled(program_bytes):
    def with_object(path: str, blob: bytes) -> bytes:
        if path.endswith("_constants_config.json"):
            return json.dumps({"config": {"evil": {"path_name": "opaque_obj_0"}}}).encode()
        return blob

    with pytest.raises(exported.ExportError, match="Python objects as constants"):
        exported.load_program(rewritten(program_bytes, with_object), "encoder.pt2")


def test_compiled_code_is_refused(program_bytes):
    archive = io.BytesIO(program_bytes)
    with zipfile.ZipFile(archive, "a") as z:
        root = z.namelist()[0].split("/")[0]
        z.writestr(f"{root}/data/aotinductor/model/model.so", b"\x7fELF")
    with pytest.raises(exported.ExportError, match="compiled code"):
        exported.check_archive(archive.getvalue(), "encoder.pt2")


def test_input_shape_reads_the_dynamic_batch(program_bytes):
    assert exported.input_shape(exported.load_program(program_bytes, "e")) == (None, 1, 8, 8)
