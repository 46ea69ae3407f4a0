"""Train: a model learns in a background job while the page shows its losses and reconstructions live."""

import numpy as np
import streamlit as st

from aeviz import names, ui, workspaces
from aeviz.jobs import JobRejected, JobSpec, Snapshot, State
from aeviz.jobs import setup as job_setup
from aeviz.jobs.timing import timeline_text
from aeviz.models import make_config, model_slug
from aeviz.train import TrainConfig
from aeviz.ui import trainform
from aeviz.ui.trainform import duration
from aeviz.views import figures

FOLDER, UPLOAD = "a folder on this server", "images you upload"

st.title("Train an autoencoder")
ui.explain(
    "Choose a model and press **Start training**; the curves and pictures show it learning, live.",
    "It learns in the background: the curves show the "
    "reconstruction loss on training batches and on held-out test images, and the rows of pictures show the "
    "same test images redrawn after each epoch: blurry at first, sharper as the code learns what matters; the "
    "map shows where the encoder puts test images, the classes drifting apart as it learns. "
    "The finished model is saved for this browser session: it appears in your model lists on every page, "
    "marked *yours*, and in nobody else's (unless you send them a link).",
)
ctx, manager, me, browser = ui.context(), ui.job_manager(), ui.session_id(), ui.browser_id()


def draw(snap: Snapshot) -> None:
    curves, pictures, space = st.columns(3)
    # a running job's charts: live at once (they come after the visitor acted, and redraw at every poll)
    curves.plotly_chart(figures.loss_curves(snap.steps, snap.tests, snap.epochs), width="stretch", key="train_curves")
    if snap.previews:
        chosen = sorted({int(i) for i in np.linspace(0, len(snap.previews) - 1, min(5, len(snap.previews)))})
        rows = [ui.first_test_images(snap.spec.dataset)] + [snap.previews[i][1] / 255 for i in chosen]
        labels = ["test images"] + [f"epoch {snap.previews[i][0]}" for i in chosen]
        grid = figures.compose_grid(
            rows, row_labels=labels, scale=max(2, 84 // rows[0].shape[-1]), theme=ui.theme_type()
        )
        ui.picture(grid, where=pictures, caption="The same test images, reconstructed as training goes on")
    ui.code_space(snap, space)  # where the encoder puts 2,000 test images, epoch by epoch


def live(job_id: str) -> None:
    snap = manager.snapshot(job_id)
    if snap is None or not snap.active:
        ui.refresh_models()
        st.rerun()  # finished: redraw the whole page, sidebar model count included
    manager.get(job_id).touch()  # a page is watching: not abandoned
    # One container for whatever the status shows this tick (queued or running, an estimate, notes), so the Cancel
    # button below keeps its place: a button that moves is a new button, and a click that lands mid-move is lost.
    with st.container():
        status(snap)
    if manager.controls(job_id, me, browser):  # a callback: the click counts whichever run picks it up
        st.button("Cancel", key="train_cancel", icon=":material/stop:", on_click=manager.cancel, args=(job_id,))
    if snap.steps:
        draw(snap)


def status(snap: Snapshot) -> None:
    if snap.state == State.QUEUED:
        st.info(
            f"Waiting for a free trainer: number {snap.queue_position} in the queue.", icon=":material/hourglass_top:"
        )
    else:
        phase = "stopping" if snap.message else snap.phase  # a cancel was asked for: stops within 0.1 s
        left = (
            f"{duration(snap.overdue)} longer than measured, nearly done"
            if snap.overdue > 0.5
            else f"about {duration(snap.eta)} left"
        )
        st.progress(
            snap.fraction, text=f"**{phase}** · epoch {snap.epoch}/{snap.epochs} · {duration(snap.elapsed)} · {left}"
        )
        plan = snap.estimate.plan if snap.estimate is not None and snap.estimate.plan else snap.spec.plan
        st.caption(timeline_text(snap.timeline, plan))  # what it is doing now, before the first curve too
        if snap.estimate is not None:
            st.caption(
                f"Its probe predicted about {snap.estimate.peak_mb:,.0f} MB of memory "
                f"(this server allows {manager.memory_mb:,.0f} MB per job)."
            )
    for note in snap.notes:
        st.warning(note, icon=":material/warning:")


def result(snap: Snapshot) -> None:
    if snap.state == State.DONE:
        m = snap.metrics or {}
        st.success(
            f"Saved **{snap.path.stem}** after {duration(snap.elapsed)}: test MSE {m.get('mse', 0):.4f}, "
            f"PSNR {m.get('psnr', 0):.1f} dB, kNN-7 accuracy of the codes {100 * m.get('knn7', 0):.1f} %. "
            "Pick it on any page, marked *yours* (sidebar dataset: "
            f"{ui.literal(ui.dataset_title(snap.spec.dataset))}).",
            icon=":material/check_circle:",
        )
    elif snap.state == State.FAILED and snap.phase == "diverged":  # the trainer's words: when, why, what to try
        st.error(snap.message, icon=":material/trending_up:")
    elif snap.state == State.FAILED:
        what = "Saving" if snap.phase == "saving" else "Training"  # trained, but the model could not be kept
        st.error(f"{what} failed: {snap.message}", icon=":material/error:")
    else:
        st.warning(snap.message, icon=":material/cancel:")
    for note in snap.notes:
        st.warning(note, icon=":material/warning:")
    if snap.timeline:
        st.caption(timeline_text(snap.timeline, None, active=False))  # where the time went
    if snap.steps:
        draw(snap)


@st.fragment  # a change of epochs or batch redraws the form and its estimate, not the page
def form(dataset: str, family, picked: dict, fmt) -> None:
    # The page shows no form while a job runs, so Streamlit forgets the widgets: their defaults are this
    # session's last submitted choices, and the form comes back as the user left it.
    last = st.session_state.setdefault("train_form_last", {})
    if refused := st.session_state.pop("train_refused", ""):
        st.error(refused, icon=":material/error:")
    first = trainform.first_choices(dataset, family, ui.device_label().startswith("CPU"))
    shape = fmt.shape if dataset == FOLDER else trainform.shape_of(dataset)
    with st.container(border=True):
        a, b, c = st.columns(3)
        fields, model_choices = trainform.model_fields(family, picked, last, a, c, colour=shape[0] == 3)
        epochs = b.slider("Epochs", 1, 100, last.get("epochs", first["epochs"]))
        batch = b.select_slider("Batch size", trainform.BATCHES, last.get("batch", first["batch"]))
        lr = b.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], last.get("lr", first["lr"]))
        subset = c.number_input(
            "Training images (0 = all)",
            0,
            60000,
            last.get("subset", first["subset"]),
            1000,
            help="Fewer images train faster: on a CPU, 5 000 is a good demo.",
        )
        folder = (
            c.text_input(
                "Folder on this server",
                placeholder="a folder or archive (.zip, .tar.gz) under: "
                + ", ".join(map(str, job_setup.folder_roots()))
                + " (sub-folders name the classes)",
                value=last.get("folder", ""),
            )
            if dataset == FOLDER
            else ""
        )
        name = c.text_input("Model name (optional)", placeholder="automatic: dataset-model-date-time")
        config = TrainConfig(epochs, batch, lr, subset=subset or None)
        model_config = make_config(family.family, input_shape=shape, **fields)
        sizes = ui.upload_sizes(dataset)
        adapted, notes = trainform.fit_notes(dataset, sizes, config)  # a batch larger than the set, too few steps
        for note in notes:
            st.warning(note, icon=":material/warning:")
        plan = trainform.estimate(family.family, model_config, dataset, sizes, adapted)
        if st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start"):
            last.update(fields, **model_choices, epochs=epochs, batch=batch, lr=lr, subset=subset, folder=folder)
            start(dataset, (folder, fmt), family.family, fields, config, name, plan)


def start(dataset: str, folder: tuple, family: str, fields: dict, config: TrainConfig, name: str, plan) -> None:
    token = ui.own_workspace()
    try:
        workspaces.check_room(token, pending=len(manager.active(me, browser)))
        dataset = job_setup.folder_dataset(*folder) if dataset == FOLDER else dataset
        model_config = make_config(family, input_shape=trainform.shape_of(dataset), **fields)  # as it was timed
        name = (
            names.check_name(name, {p.stem for p in workspaces.models(token)})
            if name.strip()
            else names.default_name(dataset, model_slug(family, model_config), stamped=True)
        )
        spec = JobSpec(family, model_config, dataset, config, name, str(workspaces.create(token)), plan)
        job = manager.submit(spec, me, browser)
    except (ValueError, JobRejected) as exc:
        st.error(str(exc), icon=":material/error:")
        if getattr(exc, "job_id", ""):
            st.session_state["train_other_job"] = exc.job_id  # offered below the form: watch or cancel it here
            st.session_state["train_refused"] = str(exc)  # said again by the page's next run
            st.rerun(scope="app")
        return
    if dataset not in ui.train_datasets():
        ui.add_own_dataset(dataset)  # its pages list the model; no other session sees the folder or the images
    st.query_params["train_job"] = job.id
    st.rerun(scope="app")


job_id = st.query_params.get("train_job")
snap = manager.snapshot(job_id) if job_id else None
if job_id and snap is None:
    st.info(
        "The training job in this link is no longer on this server: the server was restarted, or the job "
        "ended long ago. A model it saved is in the model lists; otherwise start it again below.",
        icon=":material/history:",
    )
    del st.query_params["train_job"]
if snap is not None and snap.active:
    owner = manager.claim(job_id, me, browser)
    st.fragment(run_every=0.5 if owner else 1.0)(live)(job_id)  # viewers of a shared link poll less often
    st.stop()
if snap is not None:
    result(snap)
choices = ui.train_datasets() + [UPLOAD] + ([FOLDER] if job_setup.folder_roots() else [])
left, middle, right = st.columns(3)
with left:
    dataset = ui.url_selectbox(
        "Train on", choices, "train_data", ctx.dataset if ctx else None, format_func=ui.dataset_title
    )
with middle:
    family = trainform.pick_family()
with right:
    picked = trainform.pick_modes(family)
with left:
    fmt = trainform.pick_format(dataset in (UPLOAD, FOLDER))
if dataset == UPLOAD:
    dataset = ui.upload_training_set("train_upload", ui.own_workspace(), fmt)
    if dataset is None:
        st.stop()
form(dataset, family, picked, fmt)
other = manager.snapshot(st.session_state.get("train_other_job"))
shown = other is not None and other.active
if shown and st.button("Show this browser's job here", key="train_show_other", icon=":material/visibility:"):
    st.query_params["train_job"] = st.session_state.pop("train_other_job")
    st.rerun()
ui.your_models(ui.refresh_models)
states = [j.state for j in manager.jobs()]
st.caption(
    f"This server trains {manager.workers} model(s) at a time: {states.count(State.RUNNING)} training now, "
    f"{states.count(State.QUEUED)} waiting. Each browser (all its tabs together) may have "
    f"{manager.per_browser} job(s) running or waiting and keep {workspaces.max_models()} models."
)
