"""The Train page's estimate against the real run: the page's default job, phase by phase.

    PYTHONPATH=. python benchmarks/train_estimate.py [--family dense] [--dataset mnist] [--epochs N] ...

Measures what the page measures before a run (a training process started as a job starts one, the family's
rates), prints the page's plan, runs the job through the JobManager as the page does, and prints each phase's
predicted and real seconds and what the page's 'time left' said in each phase. On a shared machine the
figures move with its load: compare the predicted and the real column of one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from aeviz import settings
from aeviz.jobs import JobManager, JobSpec
from aeviz.jobs.setup import rates_of
from aeviz.jobs.timing import PHASES, measure_startup, plan_before
from aeviz.jobs.worker import job_threads
from aeviz.models import MODELS, make_config
from aeviz.params import BODIES
from aeviz.train import TrainConfig
from aeviz.ui.trainform import FIRST_BATCH, FIRST_SUBSET


def page_config(family: str, shape):
    """The model the Train page's form offers first for `family`."""
    cls = MODELS[family]
    fields = {"bottleneck": cls.suggested_bottleneck, "loss": cls.loss_choices[0], **BODIES[cls.default_body]}
    fields |= {p.field: p.default for p in cls.hyperparams if p.kind not in ("choice", "noise")}
    return make_config(family, input_shape=shape, **fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="dense", choices=sorted(MODELS))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, help="default: the family's suggested epochs")
    parser.add_argument("--batch", type=int, default=FIRST_BATCH)
    parser.add_argument("--subset", type=int, default=FIRST_SUBSET)
    args = parser.parse_args()
    args.epochs = args.epochs or MODELS[args.family].suggested_epochs
    torch.set_num_threads(settings.current().torch_threads)  # the app server's (ui.caches.configure_server)
    began = time.perf_counter()
    startup = measure_startup(args.dataset, None, job_threads())
    config = page_config(args.family, (1, 28, 28) if args.dataset != "digits" else (1, 8, 8))
    rates = rates_of(args.family, config)
    train_n = min(startup["train_images"], args.subset or startup["train_images"])
    ahead = plan_before(rates, startup, train_n, startup["test_images"], args.epochs, args.batch, config.bottleneck)
    print(f"measured in {time.perf_counter() - began:.1f} s; the page says: {ahead.summary()}")
    train = TrainConfig(args.epochs, args.batch, MODELS[args.family].suggested_lr, subset=args.subset or None)
    spec = JobSpec(args.family, config, args.dataset, train, "estimate-bench", tempfile.mkdtemp(), ahead)
    manager = JobManager(alive=lambda owner: True)
    job, said, start = manager.submit(spec, "bench"), {}, time.monotonic()
    while (snap := manager.snapshot(job.id)).active:
        said.setdefault(snap.phase_group, f"{snap.eta:.1f}")  # the time left the page showed on entering it
        time.sleep(0.1)
    total = time.monotonic() - start
    print(f"{'phase':14s} {'predicted s':>12s} {'real s':>8s}  time left shown on entering it")
    real = {phase: spent for phase, spent, _ in snap.timeline}
    for phase in PHASES:
        print(f"{phase:14s} {ahead.seconds.get(phase, 0):12.1f} {real.get(phase, 0):8.1f}  {said.get(phase, '-')}")
    print(f"{'total':14s} {ahead.total_s:12.1f} {total:8.1f}  ({snap.state.name}: {snap.message})")
    manager.shutdown()


if __name__ == "__main__":
    main()
