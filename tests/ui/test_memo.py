"""aeviz.ui.memo.per_model: one process-wide cache keyed by checkpoint hashes and plain values."""

from __future__ import annotations

import numpy as np
import pytest

from aeviz.ui.memo import key_of, per_model


def test_an_underscore_keyword_is_passed_but_not_keyed():
    calls = []

    @per_model(models=False)
    def scaled(factor: int, *, _points: np.ndarray) -> np.ndarray:
        calls.append(factor)
        return _points * factor

    first = scaled(2, _points=np.ones(3))
    again = scaled(2, _points=np.zeros(3))  # the same key: the first result, not recomputed
    other = scaled(3, _points=np.ones(3))
    assert calls == [2, 3] and again is first and np.array_equal(other, [3, 3, 3])
    with pytest.raises(ValueError):
        first[0] = 5  # shared by every session: read-only


def test_an_unkeyable_argument_is_refused_rather_than_keyed_by_identity():
    with pytest.raises(TypeError, match="cannot key"):
        key_of(object())
