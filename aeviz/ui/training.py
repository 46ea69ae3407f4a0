"""Training jobs from the UI: one process-wide manager, the browser that owns a job, and the user's own sets."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..ownformat import GREY28, Format, is_upload, with_format
from ..ownformat import parse as parse_own
from .caches import offline_status, refresh_models
from .widgets import literal

_OWN_DATASETS = "aeviz_own_datasets"
_TRAIN_UPLOADS = "aeviz_train_uploads"
_UPLOAD_SIZES = "aeviz_upload_sizes"  # upload:<id> -> (train, test) images, from the survey


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
    from .warm import learn_from

    refresh_models()  # every page lists the new model on its next run, not after the scan's ttl
    learn_from(job)  # the next estimate rests on what this job measured in its own process


@st.cache_resource(show_spinner=False)
def job_manager():
    """The server's one training-job manager (aeviz.jobs.JobManager, or its Ray twin where AEVIZ_RAY_ADDRESS is
    set), shared by every session."""
    from ..jobs import make_manager

    return make_manager(alive=_session_alive, on_finish=_job_finished)


@st.cache_resource(show_spinner=False)
def sweep_leftovers() -> int:
    """Once per server, at its first page run: delete temp files that killed saves left in the user folder and
    the session workspaces, and the uploaded sets earlier versions kept in the cache folder for ever."""
    from ..checkpoints import sessions_dir, user_dir
    from ..jobs import sweep_temp_files
    from ..uploadsets import remove_legacy

    folders = [user_dir(), *(p for p in sessions_dir().glob("*") if p.is_dir() and not p.is_symlink())]
    return sum(len(sweep_temp_files(folder)) for folder in folders) + remove_legacy()


def train_datasets() -> list[str]:
    """Registered datasets that load on this server (offline), for the Train page."""
    return [name for name, why in offline_status().items() if why is None]


def own_datasets() -> list[str]:
    """Folder and uploaded datasets this session trained on, while they still exist (an uploaded set once a job
    has read it: pages show its decoded pictures, never decode one themselves).

    They are this session's alone: no other session's dataset picker ever lists them (a folder's name and
    an upload's pictures are the user's own)."""
    from ..imagesets import ImageSetError

    alive = []
    for name in st.session_state.get(_OWN_DATASETS, ()):
        try:
            kind, _, rest = parse_own(name)
            exists = Path(rest).exists() if kind == "folder" else _decoded(name)
        except (ImageSetError, OSError, ValueError):  # a name too long or odd for the file system
            exists = False
        if exists:
            alive.append(name)
    return alive


def _decoded(name: str) -> bool:
    from ..imagesets import decoded_file, folder_of, upload_format

    folder = folder_of(name)
    return folder is not None and (folder / decoded_file(upload_format(name)[1])).is_file()


def add_own_dataset(name: str) -> None:
    own = st.session_state.setdefault(_OWN_DATASETS, [])
    if name not in own:
        own.append(name)


def upload_training_set(key: str, workspace: str, fmt: Format) -> str | None:
    """Images or archives uploaded to train on; returns this session's dataset ('upload:<id>', 'upload@rgb32:<id>'
    read at `fmt`) once there is one.

    Within the session's upload limits, the files are kept as sent in this session's workspace (they expire with
    its models: `workspace` is its token) and surveyed from their headers in the decoding helper; the training job
    decodes them."""
    from .. import uploadsets
    from .uploads import admitted_uploads

    st.file_uploader(
        "Images to train on: PNG, JPEG, WebP, GIF, BMP, TIFF, or archives (.zip, .tar, .tar.gz) whose folders "
        f"name the classes (5 MB a file, at most {uploadsets.MAX_IMAGES:,} images)",
        accept_multiple_files=True,
        key=f"w_{key}",
    )
    files, _ = admitted_uploads(key)
    if not files:
        st.info(
            "Upload at least ten images (or an archive of them) to train a model on your own pictures. They stay "
            "on this server for your session only.",
            icon=":material/upload:",
        )
        return None
    tag = tuple(f.file_id for f in files)
    built = st.session_state.get(_TRAIN_UPLOADS)
    if built is None or built[0] != tag:
        with st.spinner("Reading your images…"):
            built = (tag, *_survey([(f.name, f.getvalue()) for f in files], workspace))
        st.session_state[_TRAIN_UPLOADS] = built
    _, name, found, problem = built
    if problem:
        st.error(problem, icon=":material/error:")
        return None
    for file_name, why in found.skipped[:5]:
        st.warning(f"**{literal(file_name)}**: {why}; skipped.", icon=":material/warning:")
    if len(found.skipped) > 5:
        st.warning(f"{len(found.skipped) - 5} more files were skipped.", icon=":material/warning:")
    if name is None:
        st.error(f"Only {len(found)} readable images: a model needs at least ten to train on.", icon=":material/error:")
        return None
    name = with_format(name, fmt)
    add_own_dataset(name)
    from ..imagesets import split_sizes

    st.session_state.setdefault(_UPLOAD_SIZES, {})[with_format(name, GREY28)] = split_sizes(len(found), found.test)
    classes = found.classes
    shown = ", ".join(literal(c) for c in classes[:8]) + (" …" if len(classes) > 8 else "")
    split = (
        f"its test/ folder ({int(found.test.sum()):,}) tests it"
        if found.test is not None
        else "80 % train the model, 20 % test it"
    )
    from ..imagesets import upload_title

    st.caption(
        f"**{len(found):,}** images from {literal(upload_title(name))} in {len(classes)} "
        f"class{'es' if len(classes) > 1 else ''} ({shown}); {split}."
    )
    return name


def dataset_title(name: str) -> str:
    """How a dataset is named where people read it: the registry's title, an upload by its file's name
    ('shoes.zip (your upload)'), a server folder by its own name."""
    from ..data import DATASETS
    from ..imagesets import upload_title

    if name in DATASETS:
        return DATASETS[name].title
    try:
        kind, fmt, rest = parse_own(name)
    except ValueError:
        return name
    read_as = "" if fmt == GREY28 else f", {fmt.describe()}"
    if kind == "upload":
        return f"{upload_title(name)} (your upload{read_as})"
    return (Path(rest).name or name) + (f" ({fmt.describe()})" if read_as else "")


def upload_sizes(dataset: str) -> tuple[int, int] | None:
    """(train, test) images of an uploaded set this session surveyed; None for any other set."""
    if not is_upload(dataset):
        return None
    try:  # the same files at any format: the survey counted them once
        return st.session_state.get(_UPLOAD_SIZES, {}).get(with_format(dataset, GREY28))
    except ValueError:
        return None


def _survey(files: list[tuple[str, bytes]], workspace: str):
    """(set name or None, the survey, a refusal) of uploaded files: kept in this session's workspace, read from
    their headers in the decoding helper; a set refused or too small is deleted again."""
    import shutil

    from .. import decodehelper, uploadsets, workspaces
    from ..imagesets import FOLDER, PREFIX, ImageSetError

    uploads = workspaces.create(workspace) / FOLDER
    name = uploadsets.store(files, uploads)
    folder = uploads / name.removeprefix(PREFIX)
    try:
        found, problem = decodehelper.survey_upload(folder), ""
    except ImageSetError as exc:
        found, problem = None, str(exc)
    if found is None or len(found) < 10:
        shutil.rmtree(folder, ignore_errors=True)
        return None, found, problem
    return name, found, problem
