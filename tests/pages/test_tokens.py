"""The VQ-VAE page in AppTest: the token grid, an edited grid decoded, a token's images, codebook usage."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from apptest import run_page

from aeviz.checkpoints import load_checkpoint, user_dir
from aeviz.data import load_dataset
from aeviz.models import make_config
from aeviz.train import TrainConfig, train
from aeviz.views import tokens as view

PAGE = "pages/tokens.py"


@pytest.fixture
def vq_model():
    """A VQ-VAE for 8x8 digits (one stride-2 layer: 4x4 tokens, 32 codes) trained briefly into the server's folder."""
    config = make_config("vq", input_shape=(1, 8, 8), channels=(16,), codebook_size=32)
    return train("vq", config, "digits", TrainConfig(epochs=3, batch_size=64), out_dir=user_dir())


def texts(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_grid_an_edit_decoded_and_the_codebook_usage(vq_model):
    name = vq_model.metadata["name"]
    at = run_page(PAGE, {"dataset": "digits", "tk_model": f"server:{name}", "tk_image_mode": "by index"})
    assert not at.exception, [e.value for e in at.exception]
    model = load_checkpoint(vq_model.path)
    test = load_dataset("digits", "test")
    grid = view.tokens_of(model, test.images[:1])[0]  # image #0's tokens
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [int(t) for t in spec["data"][0]["text"]] == grid.reshape(-1).tolist()  # the grid shows them
    assert "into 4×4 = 16 tokens, each one of 32 codebook vectors: at most 80 bits. 0 cells edited." in texts(at)

    # put another token in cell 5: the URL keeps the edit, the grid and the decoding show it
    other = (int(grid.reshape(-1)[5]) + 1) % 32
    at.selectbox(key="w_tk_cell").set_value(5).run()
    at.number_input(key="tk_token_5_0").set_value(other).run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["tk_edits"] in (f"5,{other}", [f"5,{other}"])
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert int(spec["data"][0]["text"][5]) == other and "1 cell edited" in texts(at)
    edited = view.apply_edits(grid, [5, other], 32)
    assert not np.array_equal(view.decode_grid(model, edited), view.decode_grid(model, grid))

    # codebook usage: the test set's perplexity and dead codes, and the training history's
    usage = view.codebook_usage(view.tokens_of(model, test.images), 32)
    assert f"perplexity **{usage['perplexity']:.1f}** of 32" in texts(at)
    assert f"**{usage['dead_codes']:.0f}** codes are picked by no cell" in texts(at)
    assert re.search(r"In training .* after epoch 1 to [0-9.]+ after epoch 3", texts(at))
    assert len(at.get("plotly_chart")) == 2  # the grid and the usage over training


def test_apply_edits_skips_what_a_url_may_hold():
    grid = np.zeros((2, 2), np.int64)
    edited = view.apply_edits(grid, [1, 3, 9, 1, 2, 99, -1, 1, 3], 4)  # a dangling cell at the end
    assert edited.tolist() == [[0, 3], [0, 0]] and grid.sum() == 0


def test_token_images_rank_by_cells_and_leave_unused_out():
    tokens = np.array([[[1, 1], [0, 0]], [[1, 1], [1, 0]], [[0, 0], [0, 0]]])
    order, counts = view.token_images(tokens, None, 1)
    assert order.tolist() == [1, 0] and counts.tolist() == [3, 2]
