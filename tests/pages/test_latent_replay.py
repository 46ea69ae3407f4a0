"""The Latent space page offers the replay of how a model's code space organised, when one is stored with it."""

from __future__ import annotations

import json

import pytest
from apptest import run_page

from aeviz.checkpoints import save_checkpoint
from aeviz.models import make_config
from aeviz.replay import load_replay, replay_path
from aeviz.train import TrainConfig, train
from aeviz.views import codemap

PAGE = "pages/latent_map.py"


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def replay_toggle(at):
    return next((t for t in at.toggle if t.label.startswith("Replay training")), None)


@pytest.fixture
def trained():
    """A tiny digits model trained on this server (so its replay lies beside it), as `aeviz train` leaves it."""
    return train("dense", make_config("dense", bottleneck=4), "digits", TrainConfig(epochs=3), name="replayed")


@pytest.mark.slow
def test_a_model_with_a_stored_replay_offers_it_and_the_figure_scrubs_its_epochs(trained):
    query = {"dataset": "digits", "map_model": "server:replayed", "map_method": "pca"}
    at = ok(run_page(PAGE, query, 180))
    toggle = replay_toggle(at)
    assert toggle is not None and toggle.label == "Replay training (3 epochs)" and not toggle.value
    assert codemap.REPLAY not in [json.loads(c.proto.spec)["layout"].get("meta") for c in at.get("plotly_chart")]
    toggle.set_value(True)
    at = ok(at.run())
    spec = next(
        s for c in at.get("plotly_chart") if (s := json.loads(c.proto.spec))["layout"].get("meta") == codemap.REPLAY
    )
    assert [f["name"] for f in spec["frames"]] == ["0", "1", "2", "3"]
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == ["0", "1", "2", "3"]
    assert any("360 test images, epoch 0 (untrained) to 3; PCA of the 4-d codes" in c.value for c in at.caption)
    assert "map_replay" in at.query_params  # the toggle travels in a shared link


@pytest.mark.slow
def test_a_stale_replay_is_not_offered(trained):
    assert replay_path(trained.path).exists() and load_replay(trained.path, trained.metadata["hash"]) is not None
    other = train("dense", make_config("dense", bottleneck=4), "digits", TrainConfig(epochs=1), save=False)
    save_checkpoint(trained.path, other.model.cpu(), trained.metadata)  # retrained: the replay is now stale
    at = ok(run_page(PAGE, {"dataset": "digits", "map_model": "server:replayed", "map_method": "pca"}, 180))
    assert replay_toggle(at) is None
