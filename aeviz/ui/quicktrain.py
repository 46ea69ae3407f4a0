"""A small model trained for a page that has none, through the Train page's job manager, its progress polled."""

from __future__ import annotations

import streamlit as st

from ..jobs import State
from .caches import refresh_models
from .identity import browser_id
from .training import job_manager, session_id


def _key(slot: str) -> str:
    return f"aeviz_{slot}_quick_job"  # session state, not the URL: a link never restarts someone's training


def start_training(slot: str, spec) -> None:
    """Queue the job (an aeviz.jobs.JobSpec, trained into this browser's workspace) and rerun to show its
    progress; the browser's caps apply as on the Train page."""
    from .. import workspaces
    from ..jobs import JobRejected
    from .workspace import own_workspace

    manager, browser = job_manager(), browser_id()
    try:
        workspaces.check_room(own_workspace(), pending=len(manager.active(session_id(), browser)))
        job = manager.submit(spec, session_id(), browser)
    except (ValueError, JobRejected) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state[_key(slot)] = job.id
    st.rerun()


def training_shown(slot: str) -> bool:
    """Whether this session's job for `slot` is still queued or training: its progress bar shows, refreshed twice
    a second without blocking the page, and the whole page reruns once it ends. A failure is reported once."""
    job_id = st.session_state.get(_key(slot))
    snap = job_manager().snapshot(job_id) if job_id else None
    if job_id and snap is not None and snap.active:
        st.fragment(run_every=0.5)(_progress)(job_id)
        return True
    st.session_state.pop(_key(slot), None)
    if snap is not None and snap.state != State.DONE:
        st.error(f"Training failed: {snap.message}")
    return False


def _progress(job_id: str) -> None:
    manager = job_manager()
    snap = manager.snapshot(job_id)
    if snap is None or not snap.active:
        refresh_models()
        if snap is not None and snap.state == State.DONE and snap.metrics:
            st.toast(
                f"Trained **{snap.spec.name}** in {snap.elapsed:.0f} s: test MSE {snap.metrics['mse']:.4f}.",
                icon=":material/check_circle:",
            )
        st.rerun()  # the whole page: it lists the new model now
    manager.get(job_id).touch()  # a page is watching: not abandoned
    loss = snap.steps[-1][1].get("recon") if snap.steps else None
    text = (
        "Starting…"
        if snap.state == State.QUEUED or not snap.epoch
        else (f"Epoch {snap.epoch}/{snap.epochs}" + (f" · loss {loss:.4f}" if loss else ""))
    )
    st.progress(snap.fraction, text=text)
