"""Architecture rules: aeviz/ imports streamlit only in its one bridge module; the core needs no UI libs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aeviz"
BRIDGE = PACKAGE / "ui"  # the one bridge: a small package of Streamlit-facing modules
PAGES = Path(__file__).resolve().parent.parent / "pages"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_bridge_imports_streamlit():
    modules = list(PACKAGE.rglob("*.py"))
    offenders = [p.name for p in modules if BRIDGE not in p.parents and "streamlit" in imported_modules(p)]
    assert offenders == []
    assert any(BRIDGE in p.parents for p in modules) and len(modules) > 20  # the walk really saw the package


def test_pages_import_no_torch():
    offenders = [p.name for p in PAGES.glob("*.py") if "torch" in imported_modules(p)]
    assert offenders == []


def test_core_imports_without_ui_libraries():
    """`import aeviz` must not pull in streamlit, plotly or umap (the GPU machine has none of them)."""
    code = ("import sys, aeviz, aeviz.cli, aeviz.metrics; "
            "bad = [m for m in ('streamlit', 'plotly', 'umap') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
