"""AppTest smoke over app.py and every page it routes to, on the real zoo: each renders without an exception."""

from __future__ import annotations

import numpy as np
import pytest
from apptest import REPO, routed_pages, run_page

from aeviz import images


def test_app_lists_every_page_file():
    on_disk = {f"pages/{p.name}" for p in (REPO / "pages").glob("*.py")}
    assert on_disk <= set(routed_pages())


@pytest.mark.parametrize("dataset", [pytest.param("mnist", marks=pytest.mark.needs_data("mnist")), "digits"])
@pytest.mark.parametrize("page", routed_pages())
def test_page_renders_without_exception(page, dataset):
    at = run_page(page, {"dataset": dataset})
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"
    assert at.query_params["dataset"] in (dataset, [dataset])  # the sidebar kept the choice


@pytest.mark.slow
def test_the_new_families_work_on_the_pages_that_take_any_model():
    """A VQ-VAE, a TopK dictionary and a beta-VAE trained here: chosen on the latent map, the error gallery and
    your images, and listed on every page, each page renders."""
    from aeviz.checkpoints import user_dir
    from aeviz.models import make_config
    from aeviz.train import TrainConfig, train

    recipes = {
        "vq": make_config("vq", input_shape=(1, 8, 8), channels=(16,), codebook_size=32),
        "sparse": make_config("sparse", bottleneck=128, input_shape=(1, 8, 8), sparsity="topk", topk=8),
        "vae": make_config("vae", bottleneck=4, input_shape=(1, 8, 8), hidden=(32,), beta=4.0),
    }
    names = [
        train(f, c, "digits", TrainConfig(epochs=2, batch_size=64), out_dir=user_dir()).metadata["name"]
        for f, c in recipes.items()
    ]
    sent = [images.Preprocessed(np.eye(28, dtype=np.float32), (), False, "sent")]  # every model rebuilds it
    for name in names:
        key = f"server:{name}"
        for page, query, chosen in (
            ("pages/latent_map.py", {"map_model": key}, lambda at: at.selectbox(key="w_map_model").value),
            ("pages/anomalies.py", {"err_models": key}, lambda at: at.multiselect(key="w_err_models").value[0]),
            ("pages/your_images.py", {"you_map_model": key}, lambda at: at.selectbox(key="w_you_map_model").value),
        ):
            at = run_page(page, {"dataset": "digits", **query}, own_images=sent)
            assert not at.exception, (page, name, [e.value for e in at.exception])
            assert chosen(at).name == name
    at = run_page("pages/vae.py", {"dataset": "digits", "vae_model": f"server:{names[2]}"})
    assert not at.exception and at.selectbox(key="w_vae_model").value.name == names[2]
    for page in routed_pages():
        at = run_page(page, {"dataset": "digits"})
        assert not at.exception, (page, [e.value for e in at.exception])
