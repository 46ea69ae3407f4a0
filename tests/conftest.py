"""Shared fixtures: isolated cache/user folders and tiny real datasets."""

from __future__ import annotations

import os
from pathlib import Path

# One thread per pool (torch, OpenMP, BLAS), as the app server runs torch (AEVIZ_TORCH_THREADS=1), set before
# numpy, torch or scikit-learn start theirs: on a machine whose cores are busy a pool's second thread spins
# waiting for its partner, and the tests' CPU time (the fast loop's budget) doubled or worse with no test
# running faster; and every test runs alike, whatever ran before it. Child processes inherit it.
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

import numpy as np  # noqa: E402 - after the thread pools are set
import pytest  # noqa: E402
from fakes import write_idx  # noqa: E402
from skips import require_data  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """The test process trains models: it sets glibc's allocator as aeviz's entry points do (the trainer itself
    leaves it alone), or every training step here faults its memory in afresh."""
    from aeviz.devices import keep_freed_memory

    keep_freed_memory()


@pytest.fixture(autouse=True)
def isolated_dirs(request, tmp_path_factory, monkeypatch):
    """Every test gets its own cache and user folder, so nothing leaks between tests or into $HOME."""
    base = tmp_path_factory.mktemp("aeviz-home")
    monkeypatch.setenv("AEVIZ_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("AEVIZ_HOME", str(base / "home"))
    monkeypatch.setenv("AEVIZ_WARM_UP", "0")  # no start-up thread per test: a test does what it needs itself
    # no Train page times a training process and steps in the background (~5 s of CPU each, 60 s of the fast
    # loop): the tests of the estimate turn it on (@pytest.mark.estimates)
    monkeypatch.setenv("AEVIZ_ESTIMATES", "1" if request.node.get_closest_marker("estimates") else "0")
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
