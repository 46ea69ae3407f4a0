"""Driving the Train page under AppTest: fill and submit its form, read its URL, wait for its jobs."""

from __future__ import annotations

import pytest
from test_jobs_training import wait_for

from aeviz import ui


@pytest.fixture(autouse=True)
def no_jobs_left():
    """The job manager is one per process (like a server's): each test ends every job it started."""
    yield
    manager = ui.job_manager()
    for job in manager.jobs():
        manager.cancel(job.id)
    wait_for(lambda: all(not j.state.active for j in manager.jobs()))


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def submit(at, **values):
    """Fill the form (epochs, q, batch, name, folder) and press Start training."""
    fields = {
        "epochs": (at.slider, "Epochs"),
        "q": (at.select_slider, "Bottleneck (code size)"),
        "batch": (at.select_slider, "Batch size"),
        "name": (at.text_input, "Model name (optional)"),
        "folder": (at.text_input, "Folder on this server"),
    }
    for key, value in values.items():
        widgets, label = fields[key]
        by_label(widgets, label).set_value(value)
    by_label(at.button, "Start training").click()
    return at.run()


def in_url(at, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def job_in_url(at) -> str:
    return in_url(at, "train_job")


def finished(job_id: str):
    snap = ui.job_manager().snapshot(job_id)
    return snap if snap is not None and not snap.active else None
