"""The one bridge to Streamlit: process-wide caches, URL-synced widgets, the shared sidebar and background jobs.

Nothing else in aeviz imports streamlit (tests/test_imports.py keeps it so). Pages use `from aeviz import ui`.
"""

from __future__ import annotations

from . import preload  # noqa: F401 - first: what the pages share, imported before any page runs (see there)
from .architecture import model_diagram
from .caches import (
    curse_table,
    device_label,
    first_test_images,
    get_codes,
    get_dataset,
    get_errors,
    get_map,
    get_model,
    get_pca,
    list_models,
    model_or_message,
    refresh_models,
)
from .decoder import code_sliders, hover_decoder, map_hover, playground
from .firstrun import chart, charts_live, finish_run, table
from .identity import browser_id
from .injection import injection_form
from .lecture import (
    current_screen,
    explain,
    fill_height,
    fit,
    grown,
    lecture_on,
    lecture_toggle,
    main_height,
    readable,
)
from .lessonparts import anomaly_lessons, choices_lesson
from .maps import (
    MAP_METHODS,
    background_jobs,
    find_map,
    knn_figure,
    knn_rows,
    map_backdrop,
    map_figure,
    map_images,
    map_labels,
    map_or_job,
    map_worker,
    show_job,
    submit_map,
)
from .memo import per_model
from .posterior import posterior_view
from .projector import (
    explorer_controls,
    export_buttons,
    focus_of,
    selected_points,
    send_sprites,
    show_map_3d,
    show_neighbours,
    sprite_index,
    with_found,
)
from .quicktrain import start_training, training_shown
from .quotas import start_upload_sweep
from .replays import code_space, training_replay
from .scrubs import scrub_chart
from .selection import show_selection
from .shell import DEFAULT_DATASETS, Context, Picked, context, image_picker, page_context, shown_captions, sidebar
from .theme import theme_type
from .training import (
    add_own_dataset,
    dataset_title,
    job_manager,
    own_datasets,
    session_id,
    train_datasets,
    upload_sizes,
    upload_training_set,
)
from .uploads import (
    add_user_images,
    draw_image,
    remove_user_images,
    send_image,
    upload_images,
    user_image_batch,
    user_images,
)
from .warm import startup_time, training_rates, wait_until_warm, warm_start
from .widgets import (
    literal,
    picture,
    set_url_ints,
    url_ints,
    url_multiselect,
    url_radio,
    url_selectbox,
    url_slider,
    url_toggle,
)
from .workspace import own_workspace, session_workspaces, your_models

__all__ = [
    "chart",
    "charts_live",
    "finish_run",
    "table",
    "posterior_view",
    "explorer_controls",
    "export_buttons",
    "focus_of",
    "selected_points",
    "send_sprites",
    "show_map_3d",
    "show_neighbours",
    "sprite_index",
    "with_found",
    "DEFAULT_DATASETS",
    "Context",
    "Picked",
    "add_own_dataset",
    "add_user_images",
    "browser_id",
    "own_datasets",
    "upload_training_set",
    "background_jobs",
    "code_sliders",
    "code_space",
    "context",
    "curse_table",
    "device_label",
    "first_test_images",
    "draw_image",
    "explain",
    "fit",
    "readable",
    "grown",
    "injection_form",
    "fill_height",
    "current_screen",
    "find_map",
    "get_codes",
    "get_dataset",
    "get_errors",
    "get_map",
    "get_model",
    "get_pca",
    "hover_decoder",
    "image_picker",
    "job_manager",
    "lecture_on",
    "lecture_toggle",
    "main_height",
    "knn_figure",
    "knn_rows",
    "list_models",
    "map_backdrop",
    "map_figure",
    "map_hover",
    "map_images",
    "map_labels",
    "map_or_job",
    "map_worker",
    "model_diagram",
    "model_or_message",
    "page_context",
    "picture",
    "playground",
    "refresh_models",
    "MAP_METHODS",
    "anomaly_lessons",
    "choices_lesson",
    "theme_type",
    "scrub_chart",
    "show_selection",
    "remove_user_images",
    "send_image",
    "session_id",
    "set_url_ints",
    "show_job",
    "shown_captions",
    "sidebar",
    "start_training",
    "start_upload_sweep",
    "submit_map",
    "train_datasets",
    "training_rates",
    "upload_sizes",
    "dataset_title",
    "startup_time",
    "training_replay",
    "training_shown",
    "upload_images",
    "url_ints",
    "url_multiselect",
    "url_radio",
    "url_selectbox",
    "url_slider",
    "url_toggle",
    "user_image_batch",
    "user_images",
    "wait_until_warm",
    "warm_start",
    "literal",
    "own_workspace",
    "per_model",
    "session_workspaces",
    "your_models",
]
