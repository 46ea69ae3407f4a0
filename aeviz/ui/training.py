"""Training jobs from the UI: one process-wide manager whose jobs make no Streamlit calls."""

from __future__ import annotations

import streamlit as st

from .caches import _offline_status, refresh_models


def session_id() -> str:
    """This browser session's id: jobs are owned by it."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def _session_alive(owner: str) -> bool:
    """Whether a session still has a connected browser (thread-safe; False without a server, as in AppTest)."""
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(owner) is True  # AppTest mocks Runtime


def _job_finished(job) -> None:
    refresh_models()  # every page lists the new model on its next run, not after the scan's ttl


@st.cache_resource(show_spinner=False)
def job_manager():
    """The server's one training-job manager (aeviz.trainjobs.JobManager), shared by every session."""
    from .. import trainjobs

    return trainjobs.JobManager(alive=_session_alive, on_finish=_job_finished)


def train_datasets() -> list[str]:
    """Registered datasets that load on this server (offline), for the Train page."""
    return [name for name, why in _offline_status().items() if why is None]
