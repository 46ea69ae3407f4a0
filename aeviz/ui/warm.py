"""A server's start-up work, off every page's run: the datasets parsed, baselines loaded, training speed timed."""

from __future__ import annotations

import threading
import warnings

import streamlit as st

from .. import data, settings
from ..errors import one_line


@st.cache_resource(show_spinner=False)
def throughput():
    """The server's training-speed probe (aeviz.jobs.setup.Throughput), shared by every session."""
    from ..jobs.setup import Throughput

    return Throughput()


OFF = "off"  # AEVIZ_ESTIMATES=0: nothing is timed


def training_rates(family: str, config):
    """How fast `family` at `config` trains here (aeviz.jobs.timing.Rates), None while it is being timed,
    setup.FAILED if it could not be, OFF if this server times nothing."""
    if not settings.current().estimates:
        return OFF
    return throughput().get(("rates", family, config))


def startup_time(dataset: str):
    """What a training process on `dataset` takes here before its first step (timing.measure_startup: seconds
    and the set's sizes), None while it is being measured, setup.FAILED if it could not be. An uploaded or
    folder set is read by the job itself: the digits' start stands for the process, without the reading."""
    if not settings.current().estimates:
        return OFF
    return throughput().get(("startup", dataset if dataset in data.DATASETS else "digits", None))


def learn_from(job) -> None:
    """A job that trained replaces the server's earlier measurements with its own: its probe's rates for its
    model, and (a registered set's) its process's measured start, data and first step. One measurement made
    during a burst of load then misleads one estimate, not every estimate of the server's life (a page's
    probe taken under load said 4 min 13 s for a run that took 43 s; the job's own probe said 11.0 s for the
    11.4 s it had left)."""
    estimate = job.estimate
    if estimate is None or estimate.rates is None:
        return
    spec = job.spec
    throughput().learn(("rates", spec.family, spec.config), estimate.rates)
    startup = startup_time(spec.dataset) if spec.dataset in data.DATASETS else None
    spent = {phase: seconds for phase, seconds, _ in job.snapshot().timeline}
    if isinstance(startup, dict) and {"starting", "loading data", "estimating"} <= spent.keys():
        first_step = max(0.0, spent["estimating"] - estimate.rates.probe_s)
        measured = {"starting": spent["starting"], "loading data": spent["loading data"], "warmup": first_step}
        throughput().learn(("startup", spec.dataset, None), {**startup, **measured})


def _enabled() -> bool:
    return settings.current().warm_up  # tests turn the start-up work off, as the map helper's


@st.cache_resource(show_spinner=False)
def warm_start() -> threading.Event:
    """Once per server, at its first page run: a daemon thread does what the first visit of each page would
    otherwise wait for. Returns the event set when it is done (at once with AEVIZ_WARM_UP=0)."""
    done = threading.Event()
    if not _enabled():
        done.set()
        return done
    probe = throughput()
    thread = threading.Thread(target=_warm, args=(probe, done), name="aeviz-warm-start", daemon=True)
    thread.start()
    return done


def wait_until_warm(timeout: float) -> bool:
    """Whether the start-up work finished within `timeout` seconds (for benchmarks and tests)."""
    return warm_start().wait(timeout)


def _warm(probe, done: threading.Event) -> None:
    from .. import pca
    from ..models import MODELS, make_config

    try:
        names = [name for name, why in data.available_datasets().items() if why is None]
        names.sort(key=lambda name: name != "mnist")  # the app opens on MNIST: its pages first
        for name in names:
            data.fingerprint(name)  # parses both splits into the cache: what the shipped baseline is checked by
            pca.pca_baseline(name)  # shipped (checked) or fitted and cached on disk
        if not settings.current().estimates:
            return
        probe.wait(("startup", names[0], None), timeout=120)  # the page's default dataset
        for shape in dict.fromkeys(data.DATASETS[name].shape for name in names):
            for family in MODELS:  # each family's first choice: what its form offers first
                probe.wait(("rates", family, make_config(family, input_shape=shape)), timeout=60)
    except Exception as exc:  # start-up work only saves time: a failure leaves the pages to do it themselves
        warnings.warn(f"aeviz start-up work stopped: {one_line(exc)}", RuntimeWarning, stacklevel=1)
    finally:
        done.set()
