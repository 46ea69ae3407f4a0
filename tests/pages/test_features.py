"""The feature dashboard in AppTest: a unit's atom, top images and density; dead units; the sparse frontier."""

from __future__ import annotations

import json
import re

import pytest
from apptest import run_page

from aeviz.checkpoints import user_dir
from aeviz.models import make_config
from aeviz.train import TrainConfig, train

PAGE = "pages/features.py"


@pytest.fixture
def topk_model():
    """A TopK model (128 units, k=4: overcomplete for 8x8 digits) trained briefly into the server's folder."""
    config = make_config("sparse", bottleneck=128, input_shape=(1, 8, 8), sparsity="topk", topk=4)
    return train("sparse", config, "digits", TrainConfig(epochs=3, batch_size=64), out_dir=user_dir())


def charts(at) -> dict[str, dict]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def texts(at) -> str:
    return " ".join(m.value for m in at.markdown)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_unit_its_pictures_and_the_frontier_of_l1_kl_and_topk(topk_model):
    name = topk_model.metadata["name"]
    at = run_page(PAGE, {"dataset": "digits", "ft_model": f"server:{name}"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="w_ft_model").value.name == name
    assert "This code has 128 units (overcomplete: more units than the 64 pixels)" in texts(at)
    l0 = float(re.search(r"An image turns on \*\*([0-9.]+) units\*\* on average", texts(at)).group(1))
    assert 0 < l0 <= 4  # TopK k=4: at most four units an image
    assert "more often than any other unit" in texts(at)
    captions = [i.proto.imgs[0].caption for i in at.get("image")]
    assert captions[:2] == ["its decoder atom", "the test images that turn it on most, with its activation"]
    front = charts(at)["Sparsity against error"]
    assert {t["name"] for t in front["data"]} >= {"frontier", "L1", "KL", "TopK"}
    assert "On the frontier:" in texts(at) and "TopK k=4" in json.dumps(front["data"])

    last = int(at.slider(key="w_ft_rank").max)
    at.slider(key="w_ft_rank").set_value(last).run()  # the least often firing unit: dead, if any is
    assert not at.exception, [e.value for e in at.exception]
    dead = re.search(r"\*\*([0-9,]+) are dead\*\*", texts(at))
    if dead:  # the dead units come last
        assert "a **dead unit**" in texts(at)
        assert any(c.value == "No test image turns this unit on." for c in at.caption)
    else:
        assert "none is dead" in texts(at) and "a **dead unit**" not in texts(at)
    assert at.query_params["ft_rank"] in (str(last), [str(last)])


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_unit_slider_moves_the_sentence_and_the_histogram():
    at = run_page(PAGE, {"dataset": "digits"})
    assert not at.exception, [e.value for e in at.exception]
    first = texts(at)
    title = next(t for t in charts(at) if t.startswith("Unit "))
    at.slider(key="w_ft_rank").set_value(1).run()
    assert texts(at) != first and "the 2nd most often of 64 units" in texts(at)
    assert next(t for t in charts(at) if t.startswith("Unit ")) != title


def test_without_a_sparse_model_it_says_how_to_get_one(monkeypatch):
    from aeviz.zoo import catalog

    monkeypatch.setattr(catalog, "feature_models", lambda infos: [])
    at = run_page(PAGE, {"dataset": "digits"})
    assert not at.exception and "pick the *sparse* family" in at.info[0].value
