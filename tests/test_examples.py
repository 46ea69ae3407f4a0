"""The README's export recipe runs as shipped, and what it writes imports and rebuilds digits."""

from __future__ import annotations

import subprocess
import sys

from apptest import REPO

from aeviz import checkpoints, cli


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
