"""Every page on models trained elsewhere (torch.export folders imported into the user folder), in AppTest."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from apptest import run_page
from foreign import Decoy, conv, dense, export_folder, from_file

from aeviz import checkpoints, images
from aeviz.foreign import importer as importing


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def shown(at) -> str:
    kinds = ("markdown", "caption", "info", "warning", "selectbox", "multiselect", "radio")
    return "\n".join(str(getattr(e, "value", "")) + str(getattr(e, "options", "")) for k in kinds for e in at.get(k))


@pytest.fixture(scope="module")
def imported_once(tmp_path_factory):
    """A dense, a conv, a VAE and a denoising model, imported once for the module as `aeviz import` would."""
    base = tmp_path_factory.mktemp("imported")
    made = {
        "imp-dense": (dense(q=4), {}),
        "imp-conv": (conv(q=4), {"family": "conv"}),
        "imp-vae": (dense(q=2, vae=True), {"family": "vae", "log_variance_output": 1}),
        "imp-denoise": (dense(q=8), {"family": "denoising", "noise": "gaussian:0.5"}),
    }
    with pytest.MonkeyPatch.context() as mp:  # the module's fixtures run before the per-test isolated_dirs
        mp.setenv("AEVIZ_CACHE_DIR", str(base / "cache"))
        for name, ((encoder, decoder), manifest) in made.items():
            importing.import_path(export_folder(base / name, encoder, decoder, name=name, **manifest), base / "out")
    return sorted((base / "out").glob(f"*{checkpoints.SUFFIX}"))


@pytest.fixture
def foreign_models(imported_once):
    """The four imported checkpoints, copied into this test's user folder (AEVIZ_HOME): a test may damage one."""
    folder = checkpoints.user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for path in imported_once:
        shutil.copy(path, folder / path.name)
    return {c.name: c for c in checkpoints.list_checkpoints(dataset="digits") if c.imported}


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_sidebar_counts_imported_models_and_pickers_say_where_they_come_from(foreign_models):
    query = {"dataset": "digits", "map_model": "server:imp-dense", "map_method": "pca"}  # PCA: no fit (see below)
    at = ok(run_page("pages/latent_map.py", query))
    assert any("4 imported: torch.export" in c.value for c in at.sidebar.caption)
    model = next(s for s in at.selectbox if s.label == "Model")
    assert model.value.name == "imp-dense" and "imp-dense · imported (torch.export)" in model.options


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("pages/home.py", {"home_model": "server:imp-dense"}),
        ("pages/latent_map.py", {"map_model": "server:imp-conv", "map_method": "pca"}),
        # PCA: a UMAP map would queue a fit in the helper process that no test waits for (~20 s of CPU)
        ("pages/latent_map.py", {"map_model": "server:imp-vae", "map_other": "server:imp-dense", "map_method": "pca"}),
        ("pages/reconstructions.py", {"rec_family": "imp-dense"}),
        ("pages/denoising.py", {"dn_dense": "server:imp-denoise"}),
        ("pages/anomalies.py", {"err_models": "server:imp-dense,server:imp-conv"}),
        ("pages/vae.py", {"vae_model": "server:imp-vae"}),
        ("pages/reproduce.py", {}),
    ],
)
def test_every_page_opens_on_an_imported_model(foreign_models, page, query):
    at = ok(run_page(page, {"dataset": "digits", **query}))
    for key, value in query.items():
        if value.startswith("server:") or key == "rec_family":
            assert at.query_params[key] in (value, [value]), f"{page} dropped {key}={value}"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_your_images_rebuilds_with_the_imported_models_too(foreign_models):
    sent = [images.Preprocessed(np.eye(28, dtype=np.float32), (), False, "sent")]
    at = ok(run_page("pages/your_images.py", {"dataset": "digits"}, own_images=sent))
    assert "imported (torch.export)" in shown(at)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_reconstruction_grid_puts_an_imported_model_in_the_row_of_its_size(foreign_models):
    at = ok(run_page("pages/reconstructions.py", {"dataset": "digits", "rec_family": "imp-dense"}))
    assert any("q=4 `imp-dense · imported (torch.export)`" in c.value for c in at.caption)


def test_a_model_that_fails_here_is_named_on_the_page_and_the_others_still_work(foreign_models, tmp_path):
    info = foreign_models["imp-conv"]
    meta = checkpoints.read_metadata(info.path)
    dense_program = _program(foreign_models["imp-dense"].path, "decoder.pt2")  # takes (N,4), not (N,4,1,1)
    programs = {"encoder.pt2": _program(info.path, "encoder.pt2"), "decoder.pt2": dense_program}
    checkpoints.save_imported(info.path, programs, {k: v for k, v in meta.items() if k != "hash"})
    at = run_page("pages/anomalies.py", {"dataset": "digits", "err_models": "server:imp-conv,server:imp-dense"})
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value.replace("\\", "") for w in at.warning]  # markdown-escaped: a name is anyone's text
    assert any("imp-conv" in w and "its decoder failed on this server" in w for w in warnings), warnings
    assert any("imp-dense" in str(m.value) for m in at.multiselect)


def test_a_tampered_checkpoint_reading_a_server_file_is_shown_as_unusable(foreign_models, tmp_path):
    """A checkpoint whose decoder was edited to call aten.from_file: the Home page names the model and the
    operator, shows no traceback and no byte of the file."""
    import torch

    from aeviz.foreign import programs

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"S" * 64)
    decoy = programs.save_bytes(
        torch.export.export(Decoy(), (torch.rand(4, 4),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    )
    info = foreign_models["imp-dense"]
    meta = checkpoints.read_metadata(info.path)
    crafted = {"encoder.pt2": _program(info.path, "encoder.pt2"), "decoder.pt2": from_file(decoy, secret, False)}
    checkpoints.save_imported(info.path, crafted, {k: v for k, v in meta.items() if k != "hash"})
    at = run_page("pages/home.py", {"dataset": "digits", "home_model": "server:imp-dense"})
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert any("imp-dense" in w and "cannot be used" in w and "aten.from_file.default" in w for w in warnings), warnings


def _program(path, key) -> bytes:
    from safetensors.torch import load_file

    return load_file(str(path))[key].numpy().tobytes()
