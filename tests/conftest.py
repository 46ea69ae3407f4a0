"""Shared fixtures: isolated cache/user folders and tiny real datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import write_idx
from skips import require_data

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """The test process runs as the app server does: one intra-op thread per process (the server's default
    AEVIZ_TORCH_THREADS, which the first AppTest run would set anyway, so every test runs alike whatever ran
    before it; on a loaded machine a second OpenMP thread spins for its partner and doubles the CPU time),
    and glibc's allocator set as aeviz's entry points set it (the trainer itself leaves it alone)."""
    import torch

    from aeviz.devices import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and user folder, so nothing leaks between tests or into $HOME."""
    base = tmp_path_factory.mktemp("aeviz-home")
    monkeypatch.setenv("AEVIZ_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("AEVIZ_HOME", str(base / "home"))
    monkeypatch.setenv("AEVIZ_WARM_UP", "0")  # no start-up thread per test: a test does what it needs itself
    yield base


@pytest.fixture(autouse=True)
def needs_data(request, isolated_dirs):
    """`@pytest.mark.needs_data("mnist", ...)`: skipped where those datasets do not load offline (looked for
    in this test's own folders, after isolated_dirs)."""
    for mark in request.node.iter_markers("needs_data"):
        require_data(*mark.args)


@pytest.fixture
def fake_mnist_root(tmp_path):
    """A torchvision-layout folder with small, real-format MNIST and Fashion-MNIST IDX files."""
    rng = np.random.default_rng(0)
    for folder, gz in (("MNIST", True), ("FashionMNIST", False)):
        raw = tmp_path / folder / "raw"
        for split, n in (("train", 120), ("t10k", 40)):
            write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
            write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8), gz)
    return tmp_path


@pytest.fixture
def browsers(monkeypatch):
    """Sessions of chosen browsers: `browsers.use("laptop")` makes every session opened next send the
    cookies of that browser (AppTest cannot send cookies, so the request's cookies are stood in for)."""
    import os

    from aeviz import workspaces
    from aeviz.ui import identity

    cookies: dict[str, str] = {}

    class Browsers:
        secrets = {name: os.urandom(16).hex() for name in ("laptop", "neighbour")}

        def use(self, name: str) -> None:
            cookies.clear()
            cookies["aeviz_browser"] = self.secrets[name]

        def workspace(self, name: str) -> str:
            return workspaces.token_for(self.secrets[name])

    monkeypatch.setattr(identity, "_cookies", lambda: dict(cookies))
    return Browsers()
