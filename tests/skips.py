"""The one "needs MNIST" skip: a test (marker `needs_data`) or a fixture (`require_data`) that needs a dataset
this machine does not have is skipped, saying which and how to get it; the fast loop runs without the data."""

from __future__ import annotations

import pytest

LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def missing_data(*names: str) -> list[str]:
    """Those of `names` that do not load offline here (AEVIZ_DATA_DIR unset or without them)."""
    from aeviz import data

    status = data.available_datasets()
    return [name for name in names if status[name] is not None]


def require_data(*names: str) -> None:
    """Skip the calling test or fixture unless every dataset in `names` loads offline here."""
    missing = missing_data(*names)
    if missing:
        pytest.skip(f"needs {' and '.join(LABELS.get(n, n) for n in missing)} (set AEVIZ_DATA_DIR)")
