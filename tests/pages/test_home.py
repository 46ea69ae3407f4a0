"""Home under AppTest: the line under the example says what is true of the model shown, whatever its kind."""

from __future__ import annotations

import pytest
from apptest import run_page
from foreign import dense, export_folder

from aeviz.foreign import importer


def caption(at) -> str:
    return next(c.value for c in at.main.caption if c.value.startswith("Model `"))


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_an_imported_models_caption_says_where_it_came_from_not_none(tmp_path):
    """Issue 26: it read "trained ? epochs on None." for a model trained elsewhere."""
    importer.import_path(export_folder(tmp_path / "from-my-lab", *dense(q=4), name="imp-dense"))
    at = run_page("pages/home.py", {"dataset": "digits", "home_model": "server:imp-dense"})
    assert not at.exception
    text = caption(at)
    assert text.startswith("Model `imp-dense`: imported (torch.export, from `from-my-lab`), trained elsewhere; test ")
    assert text.endswith(", measured here on the digits test set.")
    assert "None" not in text and "?" not in text and str(tmp_path) not in text  # no server path either


def test_a_zoo_models_caption_says_how_long_it_trained_and_on_what():
    at = run_page("pages/home.py", {"dataset": "digits", "home_model": "digits-dense-q8-bce"})
    text = caption(at)
    assert text.startswith("Model `digits-dense-q8-bce`: test MSE 0.0") and " epochs on " in text
