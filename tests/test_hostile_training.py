"""Hostile training: jobs too big for the machine, a killed training process, cancels mid-step and mid-scan."""

from __future__ import annotations

import os
import signal
import time

import pytest
from test_jobs_training import digits_spec, files_in_user_dir, wait_for

from aeviz.jobs import FINISHED, JobManager, JobSpec, State
from aeviz.jobs.worker import Estimate, JobTooBig, check_estimate
from aeviz.models import make_config
from aeviz.train import TrainConfig


@pytest.fixture
def make_manager():
    made = []

    def make(**kwargs):
        made.append(JobManager(alive=lambda owner: True, **kwargs))
        return made[-1]

    yield make
    for jm in made:
        jm.shutdown()


def ended(jm: JobManager, job_id: str):
    return wait_for(lambda: (s := jm.snapshot(job_id)).state in FINISHED and s, timeout=300)


def test_an_estimate_over_the_budget_is_refused_with_what_would_fit():
    estimate = Estimate(peak_mb=16_000, step_s=70, total_s=1e6, mb_per_image=15.0, base_mb=700)
    with pytest.raises(
        JobTooBig,
        match=r"about 15\.6 GB of memory at batch size 1024.*allows 4\.0 GB.*batch size of "
        r"128 or less would fit",
    ):
        check_estimate(estimate, 1024, budget_mb=4096, max_s=3600)
    assert estimate.largest_batch(500) is None  # not even the smallest batch: a smaller model is the advice
    with pytest.raises(JobTooBig, match=r"would take about 277\.8 h.*limit of 60 min"):
        check_estimate(estimate, 1024, budget_mb=1e9, max_s=3600)
    check_estimate(estimate, 1024, budget_mb=1e9, max_s=1e7)  # fits both: no error


@pytest.mark.slow
@pytest.mark.needs_data("mnist")
def test_the_worst_job_the_train_form_offers_is_refused_before_it_trains(make_manager):
    """Contractive, conv body, q=256, batch 1024 on MNIST: the conv Jacobian needs ~16 MB per image per step."""
    jm = make_manager(memory_mb=6144)
    config = make_config("contractive", bottleneck=256, arch="conv")
    spec = JobSpec("contractive", config, "mnist", TrainConfig(epochs=30, batch_size=1024, subset=4096), "worst")
    snap = ended(jm, jm.submit(spec, owner="a").id)
    print(f"probe estimate: {snap.estimate}")
    assert snap.state == State.FAILED and "Nothing was trained" in snap.message, snap.message
    assert snap.estimate is not None and files_in_user_dir() == []


@pytest.mark.slow
def test_a_training_process_that_dies_fails_its_job_and_the_server_trains_on(make_manager):
    jm = make_manager()
    job = jm.submit(digits_spec("long", epochs=1000, batch_size=16), owner="a")
    wait_for(lambda: jm.snapshot(job.id).steps)
    os.kill(job.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    snap = ended(jm, job.id)
    assert snap.state == State.FAILED and "ended unexpectedly (exit code -9, probably out of memory)" in snap.message
    after = jm.submit(digits_spec("after", epochs=1), owner="a")
    assert ended(jm, after.id).state == State.DONE and files_in_user_dir() == ["after.replay.npz", "after.safetensors"]


@pytest.mark.slow
def test_a_job_whose_probe_needs_too_much_memory_is_refused_with_what_fits(make_manager):
    jm = make_manager(memory_mb=3000, max_s=1e9)
    config = make_config("contractive", bottleneck=256, arch="conv", channels=(256, 256), input_shape=(1, 8, 8))
    spec = JobSpec("contractive", config, "digits", TrainConfig(epochs=30, batch_size=1024), "wide")
    snap = ended(jm, jm.submit(spec, owner="a").id)
    print(f"probe estimate: {snap.estimate}")
    assert snap.state == State.FAILED and snap.epoch == 0 and files_in_user_dir() == []
    # 1,437 digits make two steps an epoch at 1024: the trainer asks for 128 (fitplan), which is what is probed
    assert "at batch size 128; this server allows 2.9 GB per job" in snap.message
    fits = snap.estimate.largest_batch(3000)
    assert f"a batch size of {fits} or less would fit" in snap.message and fits < 128


@pytest.mark.slow
def test_a_process_over_the_memory_budget_is_stopped_by_the_server(make_manager):
    jm = make_manager(memory_mb=1)  # below any process: the server's watch ends it as soon as it starts
    snap = ended(jm, jm.submit(digits_spec("small"), owner="a").id)
    assert snap.state == State.FAILED and snap.message.startswith("Stopped: the job used") and snap.epoch == 0
    assert "more than this server's budget of 1 MB per job" in snap.message and files_in_user_dir() == []


@pytest.mark.slow
def test_cancel_acts_within_seconds_during_a_long_step(make_manager):
    jm = make_manager(memory_mb=1e6, max_s=1e9)
    config = make_config("contractive", bottleneck=64, arch="conv", input_shape=(1, 8, 8), channels=(64, 64))
    spec = JobSpec("contractive", config, "digits", TrainConfig(epochs=5, batch_size=1024), "slow-steps")
    job = jm.submit(spec, owner="a")
    wait_for(lambda: jm.snapshot(job.id).phase == "training", timeout=300)
    asked = time.monotonic()
    jm.cancel(job.id)
    snap = ended(jm, job.id)
    print(f"cancel during a long step took {time.monotonic() - asked:.2f} s")  # reported, not asserted
    assert snap.state == State.CANCELLED and files_in_user_dir() == []


@pytest.fixture
def slow_folder(tmp_path):
    """Hundreds of 2000x2000 pictures (hard links to one file): reading them all takes far longer than a test."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    ramp = np.tile(np.arange(2000, dtype=np.uint16) % 256, (2000, 1)).astype(np.uint8)
    Image.fromarray(ramp).save(folder / "0.png")
    for i in range(1, 3000):
        os.link(folder / "0.png", folder / f"{i}.png")
    return folder


@pytest.mark.slow
def test_cancel_and_the_time_limit_act_while_a_folder_loads(make_manager, slow_folder):
    jm = make_manager()
    spec = JobSpec("dense", make_config("dense", bottleneck=4), f"folder:{slow_folder}", TrainConfig(epochs=1), "f")
    job = jm.submit(spec, owner="a")
    wait_for(lambda: jm.snapshot(job.id).phase.startswith("reading images"), timeout=120)
    asked = time.monotonic()
    jm.cancel(job.id)
    assert ended(jm, job.id).state == State.CANCELLED
    print(f"cancel during a folder scan took {time.monotonic() - asked:.2f} s")
    limited = make_manager(max_s=6)
    snap = ended(limited, limited.submit(spec, owner="b").id)
    assert snap.state == State.CANCELLED and snap.message.startswith("Cancelled at the limit of 6 s per job")
