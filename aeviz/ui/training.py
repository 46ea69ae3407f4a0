"""Training jobs from the UI: one process-wide manager, the browser that owns a job, and the user's own sets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from .caches import offline_status, refresh_models
from .widgets import literal

_OWN_DATASETS = "aeviz_own_datasets"
_TRAIN_UPLOADS = "aeviz_train_uploads"


def session_id() -> str:
    """This browser session's id: jobs are owned by it."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def browser_id() -> str:
    """A stable, unguessable id of this browser ("" when unknown), from the XSRF cookie Streamlit sets once
    per browser: a reloaded page gets a new session but keeps it, so it can take its own job back."""
    try:
        cookie = st.context.cookies.get("_streamlit_xsrf", "")
    except Exception:  # no server (AppTest) or an older Streamlit
        cookie = ""
    if not isinstance(cookie, str):  # AppTest mocks the request
        return ""
    return hashlib.sha256(cookie.encode()).hexdigest()[:24] if cookie else ""


def _session_alive(owner: str) -> bool:
    """Whether a session still has a connected browser (thread-safe; False without a server, as in AppTest)."""
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(owner) is True  # AppTest mocks Runtime


def _job_finished(job) -> None:
    refresh_models()  # every page lists the new model on its next run, not after the scan's ttl


@st.cache_resource(show_spinner=False)
def job_manager():
    """The server's one training-job manager (aeviz.jobs.JobManager), shared by every session."""
    from ..jobs import JobManager

    return JobManager(alive=_session_alive, on_finish=_job_finished)


@st.cache_resource(show_spinner=False)
def sweep_leftovers() -> int:
    """Once per server, at its first page run: delete temp files that killed saves left in the user folder and
    the session workspaces."""
    from ..checkpoints import sessions_dir, user_dir
    from ..jobs import sweep_temp_files

    folders = [user_dir(), *(p for p in sessions_dir().glob("*") if p.is_dir() and not p.is_symlink())]
    return sum(len(sweep_temp_files(folder)) for folder in folders)


def train_datasets() -> list[str]:
    """Registered datasets that load on this server (offline), for the Train page."""
    return [name for name, why in offline_status().items() if why is None]


def own_datasets() -> list[str]:
    """Folder and uploaded datasets this session trained on or uploaded, while they still exist.

    They are this session's alone: no other session's dataset picker ever lists them (a folder's name and
    an upload's pictures are the user's own)."""
    from ..imagesets import ImageSetError, _upload_path

    alive = []
    for name in st.session_state.get(_OWN_DATASETS, ()):
        try:
            exists = Path(name.split(":", 1)[1]).is_dir() if name.startswith("folder:") else _upload_path(name).exists()
        except (ImageSetError, OSError, ValueError):  # a name too long or odd for the file system
            exists = False
        if exists:
            alive.append(name)
    return alive


def add_own_dataset(name: str) -> None:
    own = st.session_state.setdefault(_OWN_DATASETS, [])
    if name not in own:
        own.append(name)


def upload_training_set(key: str) -> str | None:
    """Images or zips uploaded to train on; returns this session's dataset ('upload:<id>') once there is one."""
    from .. import imagesets
    from . import quotas

    files = st.file_uploader(
        "Images to train on: PNG, JPEG, WebP, GIF, BMP, TIFF (up to "
        f"{quotas.limits().files} files), or a zip whose "
        f"folders name the classes (5 MB, at most {imagesets.MAX_UPLOAD_IMAGES:,} images)",
        accept_multiple_files=True,
        key=f"w_{key}",
    )
    if not files:
        st.info(
            "Upload at least ten images (or a zip of them) to train a model on your own pictures. They stay "
            "on this server for your session only.",
            icon=":material/upload:",
        )
        return None
    tag = tuple(f.file_id for f in files)
    built = st.session_state.get(_TRAIN_UPLOADS)
    if built is None or built[0] != tag:
        with st.spinner("Reading your images…"):
            images, labels, classes, skipped = imagesets.images_from_uploads([(f.name, f.getvalue()) for f in files])
        name = imagesets.save_upload_set(images, labels, classes) if len(images) >= 10 else None
        built = (tag, name, len(images), classes, skipped)
        st.session_state[_TRAIN_UPLOADS] = built
    _, name, count, classes, skipped = built
    for file_name, why in skipped[:5]:
        st.warning(f"**{literal(file_name)}**: {why}; skipped.", icon=":material/warning:")
    if len(skipped) > 5:
        st.warning(f"{len(skipped) - 5} more files were skipped.", icon=":material/warning:")
    if name is None:
        st.error(f"Only {count} readable images: a model needs at least ten to train on.", icon=":material/error:")
        return None
    add_own_dataset(name)
    shown = ", ".join(literal(c) for c in classes[:8]) + (" …" if len(classes) > 8 else "")
    st.caption(
        f"**{count:,}** images in {len(classes)} class{'es' if len(classes) > 1 else ''} ({shown}); 80 % "
        "train the model, 20 % test it."
    )
    return name
