"""The Train page tells the truth (issue 28 section 3): its estimate is the chosen run's, every phase of it; a
set too small for its batch is said; an upload carries its file's name; a diverged run says so."""

from __future__ import annotations

import io
import zipfile

import pytest
from apptest import run_page
from test_jobs_training import wait_for
from trainpage import by_label, finished, job_in_url, no_jobs_left, submit  # noqa: F401 - a fixture

from aeviz import ui, workspaces
from aeviz.jobs import JobSpec, State
from aeviz.jobs.timing import Rates
from aeviz.models import make_config
from aeviz.names import default_name
from aeviz.train import TrainConfig
from aeviz.ui.warm import throughput

PAGE = "pages/train.py"
RATES = Rates(step_fixed_s=0.002, step_image_s=1e-4, infer_image_s=5e-5, knn_unit_s=2e-3, save_s=0.3, probe_s=1.2)
STARTUP = {"starting": 4.0, "loading data": 0.6, "warmup": 2.0, "train_images": 1437, "test_images": 360}


@pytest.fixture
def measured(monkeypatch):
    """Rates that are known at once (a real probe still timing when the tests end aborts Python)."""
    from aeviz.jobs import setup

    monkeypatch.setenv("AEVIZ_ESTIMATES", "1")
    monkeypatch.setattr(setup, "rates_of", lambda family, config: RATES)
    monkeypatch.setattr(setup, "measure_startup", lambda dataset, subset, threads=1: STARTUP)
    throughput.clear()
    yield
    throughput.clear()


def estimate(at) -> str:
    wait_for(lambda: any(c.value.startswith("Measured on this server") for c in at.run().caption), timeout=30)
    return next(c.value for c in at.caption if c.value.startswith("Measured on this server"))


def test_the_estimate_is_the_chosen_runs_from_start_to_save(measured):
    """It said '30 epochs of 10 000 images take about 16 s, plus a few seconds' whatever was chosen; the run
    took 68 s (15 s before the first epoch, 13 s evaluating)."""
    at = run_page(PAGE, {"dataset": "digits"})
    said = estimate(at)
    assert "7.8 s to start" in said and "for 30 epochs of 45 steps" in said  # digits: 1,437 images at 32
    assert "to evaluate on 360 test images" in said and "0.3 s to save" in said
    assert not at.warning  # the first choices give enough steps to learn
    by_label(at.slider, "Epochs").set_value(40)
    by_label(at.select_slider, "Batch size").set_value(128)
    said = estimate(at)
    assert "for 40 epochs of 12 steps" in said and "(1,437 training images)" in said


def upload_zip(count: int) -> bytes:
    from PIL import Image

    from aeviz.data import load_dataset

    digits, buffer = load_dataset("digits", "test"), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            picture = io.BytesIO()
            Image.fromarray((digits.images[i, 0].numpy() * 255).astype("uint8")).save(picture, format="PNG")
            archive.writestr(f"digit{int(digits.labels[i]) % 2}/{i}.png", picture.getvalue())
    return buffer.getvalue()


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_an_80_image_upload_at_batch_256_is_told_its_batch_shrinks_before_it_starts(measured):
    """80 images at batch 256 trained one step an epoch and redrew flat grey, with no hint."""
    at = run_page(PAGE, {"dataset": "digits", "train_data": "images you upload"})
    at.file_uploader[0].set_value([("shoes.zip", upload_zip(80), "application/zip")])
    at.run()
    by_label(at.select_slider, "Batch size").set_value(256)
    at.run()
    warned = " ".join(w.value for w in at.warning)
    assert "Batch size 256 is larger than the 64 training images (1 step an epoch)" in warned
    assert "batch size 8 instead" in warned
    assert "shoes.zip" in at.caption[0].value.replace("\\", "")  # named after its file (markdown-escaped)


def test_an_uploaded_sets_models_are_named_after_its_file():
    from aeviz import uploadsets
    from aeviz.imagesets import FOLDER, upload_title

    uploads = workspaces.create(workspaces.new_token()) / FOLDER
    name = uploadsets.store([("My shoes.zip", upload_zip(12))], uploads)
    assert name.startswith("upload:") and upload_title(name) == "My shoes.zip"
    assert default_name(name, "dense-q16-bce", stamped=True).startswith("My_shoes-dense-q16-bce-2")
    several = uploadsets.store([("a.png", b"1"), ("b.png", b"2"), ("c.png", b"3")], uploads)
    assert upload_title(several) == "a.png and 2 more files"


@pytest.mark.slow
def test_a_diverged_job_says_so_on_its_page_and_saves_nothing(tmp_path):
    config = make_config("dense", bottleneck=4, input_shape=(1, 8, 8))
    spec = JobSpec("dense", config, "digits", TrainConfig(epochs=2, batch_size=64, lr=10), "boom", str(tmp_path))
    job = ui.job_manager().submit(spec, "someone")
    snap = wait_for(lambda: finished(job.id), timeout=300)
    assert snap.state == State.FAILED and snap.phase == "diverged" and list(tmp_path.iterdir()) == []
    at = run_page(PAGE, {"dataset": "digits", "train_job": job.id})
    assert not at.exception and "Training diverged in epoch 1" in at.error[0].value
    assert "learning rate 10" in at.error[0].value and not at.success
