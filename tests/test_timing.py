"""A run's time, phase by phase, from measured rates (aeviz.jobs.timing), and the job's time left in every phase."""

from __future__ import annotations

import math
import time

import pytest
import torch

from aeviz.jobs import JobSpec
from aeviz.jobs.timing import PHASES, Rates, measure, plan, plan_before, timeline_text
from aeviz.jobs.training import TrainingJob
from aeviz.models import build_model, make_config
from aeviz.train import Progress, TrainConfig

RATES = Rates(step_fixed_s=0.002, step_image_s=1e-4, infer_image_s=5e-5, knn_unit_s=2e-3, save_s=0.3, probe_s=1.2)
STARTUP = {"starting": 4.0, "loading data": 0.6, "warmup": 2.0, "train_images": 60000, "test_images": 10000}


def test_the_plan_before_a_run_covers_every_phase_the_user_waits_for():
    ahead = plan_before(RATES, STARTUP, 10_000, 10_000, epochs=10, batch=256, dims=16)
    assert list(ahead.seconds) == list(PHASES)
    assert ahead.seconds["starting"] == 4.0 and ahead.seconds["loading data"] == 0.6
    assert ahead.seconds["estimating"] == pytest.approx(2.0 + 1.2)  # a fresh process's first step, the probe
    assert all(s > 0 for s in ahead.seconds.values()) and ahead.total_s == pytest.approx(sum(ahead.seconds.values()))
    said = ahead.summary()
    assert "7.8 s to start" in said and "for 10 epochs of 40 steps" in said
    assert "to evaluate on 10,000 test images" in said and "0.3 s to save" in said


def test_the_plan_follows_the_chosen_epochs_images_and_batch():
    base = plan(RATES, 10_000, 10_000, 10, 256, 16)
    longer, more, smaller = (
        plan(RATES, 10_000, 10_000, 20, 256, 16),
        plan(RATES, 20_000, 10_000, 10, 256, 16),
        plan(RATES, 10_000, 10_000, 10, 64, 16),
    )
    epochs_s = base.seconds["training"]
    assert longer.seconds["training"] == pytest.approx(2 * epochs_s, rel=0.02)
    assert more.seconds["training"] > 1.7 * epochs_s and more.seconds["evaluating"] > base.seconds["evaluating"]
    assert smaller.seconds["training"] > epochs_s  # four times the steps, each with its fixed cost
    assert longer.seconds["evaluating"] == base.seconds["evaluating"]


def test_measure_times_the_trainers_own_step_inference_knn_and_the_save():
    model = build_model("dense", make_config("dense", bottleneck=4, input_shape=(1, 8, 8)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rates = measure(model, torch.rand(128, 1, 8, 8), 64, min_s=0.05)
    for value in (rates.step_s(64), rates.infer_image_s, rates.knn_unit_s, rates.save_s, rates.probe_s):
        assert math.isfinite(value) and value > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # a copy was timed


def job_with_plan() -> TrainingJob:
    config = make_config("dense", bottleneck=4, input_shape=(1, 8, 8))
    ahead = plan_before(RATES, STARTUP, 1000, 300, epochs=2, batch=100, dims=4)
    ahead.seconds["evaluating"] = 20.0  # a long evaluation, so that its time left shows
    return TrainingJob(JobSpec("dense", config, "digits", TrainConfig(epochs=2, batch_size=100), "x", plan=ahead), "me")


def test_while_evaluating_the_time_left_is_the_evaluations_and_the_saves_not_zero():
    """The page said 'evaluating · about 0.0 s left' for 13 s: the time left counted the epochs only."""
    job = job_with_plan()
    job.set(job.state, phase="starting", started=time.monotonic())
    job.receive("phase", "loading data")
    assert job.snapshot().eta > job.spec.plan.seconds["training"]  # all of it ahead, before the first step
    job.receive("phase", "training")
    for epoch in (1, 2):
        job.record(Progress("epoch", epoch, 2, 10, 10, {"recon": 0.5}, 0.1 * epoch))
    snap = job.snapshot()
    assert snap.phase == "evaluating" and snap.fraction == 1.0
    assert 19.0 < snap.eta <= 20.0 + job.spec.plan.seconds["saving"]
    assert snap.overdue == 0.0
    assert "● **evaluating**" in timeline_text(snap.timeline, job.spec.plan) and "✓ training" in timeline_text(
        snap.timeline, job.spec.plan
    )


def test_before_the_first_epoch_the_timeline_says_what_the_job_does_and_what_comes():
    job = job_with_plan()
    job.set(job.state, phase="starting", started=time.monotonic())
    job.receive("phase", "reading 120 of 400 images")  # a folder's progress counts as loading data
    text = timeline_text(job.snapshot().timeline, job.spec.plan)
    assert text.startswith("✓ starting") and "● **loading data**" in text
    assert "training about" in text and "evaluating about 20 s" in text and "saving about" in text


@pytest.mark.estimates
def test_a_finished_jobs_own_measurements_replace_the_servers_earlier_ones():
    """A page's probe taken under a burst of load said 4 min 13 s for a run that took 43 s; the job's own probe
    said 11.0 s for its last 11.4 s: the next estimate rests on the job's."""
    from aeviz.jobs.worker import Estimate
    from aeviz.ui.warm import learn_from, startup_time, throughput, training_rates

    throughput.clear()
    try:
        job = job_with_plan()
        throughput().learn(("startup", "digits", None), {**STARTUP, "starting": 50.0})  # measured in a burst
        job.set(job.state, phase="starting", started=time.monotonic())
        for phase in ("loading data", "estimating", "training"):
            job.receive("phase", phase)
        own = Rates(0.001, 2e-5, 1e-5, 1e-3, 0.1, probe_s=0.0)
        job.estimate = Estimate(100.0, 0.003, 5.0, 0.01, 90.0, None, own)
        learn_from(job)
        assert training_rates("dense", job.spec.config) == own
        measured = startup_time("digits")
        assert measured["starting"] < 5.0 and measured["train_images"] == STARTUP["train_images"]
    finally:
        throughput.clear()


def test_a_speed_probe_says_when_everything_asked_of_it_is_measured():
    """Throughput.idle: what a test of seeded training waits for (the probe's thread draws from torch's RNG)."""
    import threading

    from aeviz.jobs import setup

    release = threading.Event()
    probe = setup.Throughput(probe=lambda key: release.wait(30) and key[1])
    assert probe.idle(0.01)  # nothing asked yet
    assert probe.get(("rates", "dense", None)) is None
    assert not probe.idle(0.05) and not setup.all_idle(0.05)  # still measuring
    release.set()
    assert probe.idle(10) and probe.get(("rates", "dense", None)) == "dense"
