"""The shared sidebar that builds each run's Context, and the image picker the pages share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from .. import data, settings
from ..checkpoints import SESSION
from .caches import configure_server, device_label, get_dataset, list_models, offline_status, scan_models
from .contexts import Context
from .identity import remember_browser
from .lecture import lecture_toggle
from .playlist import follow_request, playlist_sidebar
from .quotas import start_upload_sweep
from .screen import watch_screen
from .theme import chart_text_style
from .training import dataset_title, own_datasets, sweep_leftovers
from .uploads import user_image_batch, user_images
from .warm import warm_start
from .widgets import literal, set_url_ints, url_ints, url_radio, url_selectbox, url_slider
from .workspace import expire_old_workspaces, own_workspace, session_workspaces

DEFAULT_DATASETS = ("mnist", "fashion-mnist", "cifar10", "digits")


def _dataset_choices() -> list[str]:
    """What loads offline, and the folders and uploads this session trained on (no other session's)."""
    status = offline_status()
    return [d for d in DEFAULT_DATASETS if status.get(d) is None] + own_datasets()


def sidebar() -> Context | None:
    """Dataset picker, what is loaded, available models and device; stores the Context for the pages."""
    try:
        settings.current()
    except settings.SettingsError as exc:  # the operator's environment: say which variable, serve nothing
        st.error(f"This server cannot start: {exc}. Set it right and restart `streamlit run app.py`.")
        st.stop()
    configure_server()
    _mark_app_run()
    warm_start()  # once per server: baselines, parsed sets and training speed, off the pages' runs
    sweep_leftovers()
    start_upload_sweep()  # any session can be sent files, whatever page it shows
    expire_old_workspaces()
    chart_text_style()
    remember_browser()  # its next visit (a reload, another tab, tomorrow) finds this browser's models and jobs
    follow_request()  # a saved view a click or a presenter key asked for: opened before anything is drawn
    with st.sidebar:
        playlist_sidebar(lecture_toggle())
        watch_screen()
        choices = _dataset_choices()
        default = "mnist" if "mnist" in choices else choices[0]
        name = url_selectbox("Dataset", choices, "dataset", default, format_func=dataset_title)
        try:
            test = get_dataset(name, "test")
        except data.DatasetUnavailable as exc:
            st.error(str(exc))
            st.session_state["aeviz_context"] = None  # no page may draw on the last dataset's context
            return None
        models = tuple(list_models(name, session_workspaces(), own_workspace()))
        st.caption(
            f"**{len(test):,}** test images from `{test.source}` · **{len(models)}** models{_model_origins(models)}"
            f" · device: {device_label()}"
        )
        broken = scan_models()[1]  # damaged or foreign checkpoint files are named, not silently hidden
        if broken:  # escaped: a file's name is anyone's text, and must not turn into a link or formatting
            st.warning(
                "Cannot use "
                + "; ".join(literal(b, 300) for b in broken[:3])
                + (f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""),
                icon=":material/warning:",
            )
        missing = [d for d, why in offline_status().items() if why]
        if missing:
            st.caption(
                "Not available offline: " + ", ".join(missing) + ". Point `AEVIZ_DATA_DIR` at a copy, or "
                f"download once from a shell: `python -c \"import aeviz; aeviz.load_dataset('{missing[0]}')\"`."
            )
    ctx = Context(name, test, models)
    st.session_state["aeviz_context"] = ctx
    return ctx


def _through_app_py() -> None:
    """Rerun via app.py when Streamlit ran a page file on its own.

    With a `pages/` folder beside app.py, Streamlit 1.67 starts in its old multipage mode until some run
    calls st.navigation: a server's first visitor following a deep link (/latent_map?...) gets the page
    file alone, without app.py's sidebar. Leaving that mode and rerunning lets app.py route the same URL.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory or not _ran_through_app_py():
        PagesManager.uses_pages_directory = False
        from streamlit import config  # AppTest patches config.get_option itself, not st.get_option

        if config.get_option("global.appTest"):
            # AppTest puts every run back into that mode; a rerun would drop the click being tested
            sidebar()
        else:
            st.rerun()


# Issue 9: the flag above is process-wide. When several first visitors arrive at once on a fresh server, one
# run switches it off while the others, started in the old mode, still run their page file alone: they must
# reroute too. So the sidebar marks each run it draws, and a page checks the mark of its own run.
_APP_RUN = "aeviz_app_run"


def _run_token():
    """An object unique to the current script run (Streamlit gives every run a new cursors dict)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else getattr(ctx, "cursors", None)


def _mark_app_run() -> None:
    st.session_state[_APP_RUN] = _run_token()


def _ran_through_app_py() -> bool:
    """Whether app.py's sidebar ran in this very run (True where there is nothing to reroute)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or Path(ctx.main_script_path).name != "app.py" or ctx.fragment_ids_this_run:
        return True  # no server, a page run on its own on purpose, or a fragment's rerun
    return st.session_state.get(_APP_RUN) is _run_token()


def context() -> Context | None:
    """The Context the sidebar stored in this run (None when no dataset could be loaded)."""
    _through_app_py()
    ctx = st.session_state.get("aeviz_context")
    if ctx is None:
        st.info("No dataset is available. Pick another one in the sidebar.")
    return ctx


def _model_origins(models) -> str:
    """' (2 yours, 1 shared, 1 imported: torch.export)': how many models are not the zoo's (a share link's are
    someone else's, never "yours"), and how the imported came in."""
    yours = sum(m.origin == SESSION and not m.shared and not m.imported for m in models)
    shared = sum(m.origin == SESSION and m.shared and not m.imported for m in models)
    sources = sorted({m.imported for m in models if m.imported})
    imported = sum(bool(m.imported) for m in models)
    parts = [f"{yours} yours"] if yours else []
    parts += [f"{shared} shared"] if shared else []
    parts += [f"{imported} imported: {', '.join(sources)}"] if imported else []
    return f" ({'; '.join(parts)})" if parts else ""


def page_context(*, need_models: bool = True) -> Context:
    """This run's Context; stops the page with a clear message when there is no dataset (or no model)."""
    ctx = context()
    if ctx is None:
        st.stop()
    if need_models and not ctx.models:
        st.info("No trained models for this dataset yet. Open **Train** to train one in under a minute.")
        st.stop()
    return ctx


@dataclass(frozen=True)
class Picked:
    """Images chosen on a page: (N,C,H,W) floats in [0,1], a caption each, test-set indices when from it."""

    images: np.ndarray
    captions: tuple[str, ...]
    indices: np.ndarray | None


def image_picker(ctx: Context, key: str = "img", count: int = 8) -> Picked:
    """Choose test images at random, by class, by index or from the user's own; the choice is in the URL."""
    modes = ["random", "by class", "by index"] + (["your images"] if user_images() else [])
    mode = url_radio("Images", modes, f"{key}_mode", horizontal=True)
    if mode == "your images":
        own = user_images()[:count]
        return Picked(user_image_batch(ctx.test.shape, own), tuple(p.name or "yours" for p in own), None)
    indices = _pick_indices(ctx, mode, key, count)
    labels = ctx.test.labels.numpy()[indices]
    captions = tuple(f"#{i} · {ctx.test.classes[c]}" for i, c in zip(indices, labels, strict=True))
    return Picked(ctx.test.images[torch.as_tensor(indices)].numpy(), captions, indices)


def _pick_indices(ctx: Context, mode: str, key: str, count: int) -> np.ndarray:
    n = len(ctx.test)
    if mode == "by class":
        cls = url_selectbox(
            "Class", list(range(len(ctx.test.classes))), f"{key}_class", format_func=lambda i: ctx.test.classes[i]
        )
        seed = url_slider("Draw", 0, 99, 0, f"{key}_seed")
        pool = np.flatnonzero(ctx.test.labels.numpy() == cls)
        return np.sort(np.random.default_rng(seed).choice(pool, size=min(count, len(pool)), replace=False))
    if mode == "by index":
        current = ",".join(map(str, url_ints(f"{key}_idx", list(range(count)))))
        text = st.text_input("Indices (comma separated)", current, key=f"w_{key}_idx")
        try:
            picked = [int(v) for v in text.replace(" ", "").split(",") if v]
        except ValueError:
            st.warning("Indices must be whole numbers separated by commas.")
            picked = list(range(count))
        picked = [i for i in picked if 0 <= i < n][:32] or [0]
        set_url_ints(f"{key}_idx", picked)
        return np.array(picked)
    seed = url_slider("Random draw", 0, 99, 0, f"{key}_seed")
    return np.random.default_rng(seed).choice(n, size=min(count, n), replace=False)


def shown_captions(picked: Picked) -> list[str]:
    """The picked images' captions, safe to put in markdown (the user's own images carry their file names)."""
    return [literal(c) for c in picked.captions]
