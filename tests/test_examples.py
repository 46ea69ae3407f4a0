"""The README's export recipe runs as shipped, and what it writes imports and rebuilds digits."""

from __future__ import annotations

import subprocess
import sys

import pytest
from apptest import REPO

from aeviz import checkpoints
from aeviz.cli import main as cli

pytestmark = pytest.mark.slow  # each trains a real model in a process of its own (minutes on 2 cores)


def test_the_export_example_trains_exports_and_imports(tmp_path, capsys):
    folder = tmp_path / "my-digits-ae"
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "export_my_model.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["aeviz.json", "decoder.pt2", "encoder.pt2"]
    assert cli.main(["import", str(folder), "--out", str(tmp_path / "models")]) == 0
    info = checkpoints.list_checkpoints([tmp_path / "models"])[0]
    assert (info.name, info.bottleneck, info.imported) == ("my-digits-ae", 8, "torch.export")
    assert info.metrics["mse"] < 0.03  # trained, not random: an untrained one scores about 0.18
    assert "imported" in capsys.readouterr().out


def test_the_adapter_example_trains_and_its_models_are_measured(tmp_path, monkeypatch, capsys):
    import os
    import shutil

    script = shutil.copy(REPO / "examples" / "my_models.py", tmp_path / "my_models.py")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "my_models.pt").is_file()
    progress = [line for line in done.stdout.splitlines() if "step" in line]  # it said nothing for 50 s
    assert len(progress) >= 12 and "dense8: step 50/300, loss" in done.stdout and "wrote " in done.stdout
    monkeypatch.setenv("AEVIZ_ADAPTERS", str(script))
    assert cli.main(["adapters"]) == 0
    out = capsys.readouterr().out
    assert "my_models.dense8  dense q=8 on digits" in out and "my_models.vae2  vae q=2 on digits" in out
    dense_mse = float(out.split("test mse ")[1].split()[0])
    assert dense_mse < 0.03  # the trained weights were loaded: an untrained model scores about 0.18
