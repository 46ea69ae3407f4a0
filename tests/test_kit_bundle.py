"""The committed browser bundle is the one its sources build (checked where the build tool is installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parent.parent / "aeviz" / "ui" / "components" / "frontend"
ESBUILD = FRONTEND / "node_modules" / ".bin" / "esbuild"


@pytest.mark.skipif(not ESBUILD.exists() or not shutil.which("node"), reason="no esbuild: `npm ci` in the frontend")
def test_the_committed_bundle_is_built_from_the_sources(tmp_path):
    out = tmp_path / "kit.js"
    tool, *args = json.loads((FRONTEND / "package.json").read_text())["scripts"]["build"].split()  # package.json's
    assert tool == "esbuild"
    args = [a if not a.startswith("--outfile=") else f"--outfile={out}" for a in args]
    subprocess.run([str(ESBUILD), *args], cwd=FRONTEND, check=True, capture_output=True)
    assert out.read_bytes() == (FRONTEND / "bundle" / "kit.js").read_bytes(), (
        "run: npm --prefix " + str(FRONTEND.relative_to(FRONTEND.parents[3])) + " run build"
    )


def test_the_bundle_ships_and_is_small():
    bundle = FRONTEND / "bundle" / "kit.js"
    assert bundle.exists() and bundle.stat().st_size < 60_000
    assert "export{" in bundle.read_text() and "aeviz.decoder" in bundle.read_text()
