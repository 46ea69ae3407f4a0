"""Latent maps for the pages: fitted in the background (UMAP/t-SNE in a helper process or on Ray), 70k split, kNN."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from .. import checkpoints, diskcache, projection
from ..checkpoints import CheckpointError, CheckpointInfo
from ..jobs import HelperProcess, Jobs, State, in_cache_dir, make_runner, one_thread
from ..metrics import encode_all
from .caches import get_codes, get_dataset, get_map, get_model, readonly
from .contexts import Context
from .memo import per_model

# Slow work runs as background jobs (aeviz.jobs): a job makes no Streamlit calls; UMAP/t-SNE fits go on
# to a low-priority helper process, because numba holds the GIL for up to ~100 ms at a time. With
# AEVIZ_RAY_ADDRESS set, fits and kNN runs are Ray tasks instead (aeviz.jobs.backend.make_runner): the queue's
# job waits for the task's result, so pages see the same job either way.

MAP_SPLITS = ("test", "all")  # "all": the test images, then the train images (a test image keeps its index)


@st.cache_resource(show_spinner=False)
def background_jobs():
    """The process-wide queue for slow work (map fits, kNN runs), shared by all sessions: two threads, so a
    kNN run need not wait for a fit queued in the helper process (fits there run one at a time anyway)."""
    return Jobs(workers=2, keep=32)


@st.cache_resource(show_spinner=False)
def map_worker():
    """The helper process for UMAP/t-SNE fits, one per server, started by the first fit queued (HelperProcess.call
    is lazy). The zoo ships its maps, so most servers never fit one: a helper started ahead to compile numba's
    kernels held ~0.6 GB on every server for nothing. The first fit compiles only the path it takes. With
    AEVIZ_RAY_ADDRESS set, each fit is a one-CPU task on the cluster instead (the same `call`)."""
    return make_runner(HelperProcess, cpus=1)


@st.cache_resource(show_spinner=False)
def knn_worker():
    """Where kNN runs compute: None (the job's own thread, one BLAS thread), or one-CPU tasks on the Ray cluster."""
    return make_runner(lambda: None, cpus=1)


def _compute(fn, *args):
    """fn(*args) with one BLAS thread (brute force over 784-d pixels is BLAS-bound: the other cores belong to the
    students' reruns), in this job's thread or as a task on the Ray cluster."""
    runner = knn_worker()
    return one_thread(fn, *args) if runner is None else runner.call(one_thread, fn, *args)


def _codes_key(content_hash: str, dataset: str, split: str) -> str:
    return diskcache.cache_key(hash=content_hash, dataset=dataset, split=split)  # the key _codes stores under


def _map_key(info: CheckpointInfo, split: str) -> str:
    return f"{info.metadata['hash']}|{info.dataset}|{split}"  # the key _map fits under


_STORED_MAPS: set[tuple[str, str]] = set()  # maps known to be shipped or on disk: no need to look again


def _map_stored(info: CheckpointInfo, method: str) -> bool:
    tag = (_map_key(info, "test"), method)
    if tag not in _STORED_MAPS:
        codes = get_codes(info)
        shipped = projection.load_maps(checkpoints.maps_path(info.path), info.metadata["hash"], codes)
        if method in shipped or projection.find_cached_map(codes, method, key=_map_key(info, "test")):
            _STORED_MAPS.add(tag)
    return tag in _STORED_MAPS


def find_map(info: CheckpointInfo, method: str, split: str = "test") -> projection.LatentMap | None:
    """The map if it is ready without fitting anything now (PCA/raw of the test codes, shipped, cached on
    disk, or fitted by a finished background job), else None: then call submit_map."""
    if split == "test" and (method in ("pca", "raw") or _map_stored(info, method)):
        return get_map(info, method)
    job = background_jobs().get(f"map|{_map_key(info, split)}|{method}")
    return job.result if job is not None and job.state == State.DONE else None


def map_or_job(info: CheckpointInfo, method: str, split: str = "test"):
    """(the map, None) when it is ready; else (None, its background job), queued now unless it failed."""
    ready = find_map(info, method, split)
    if ready is not None:
        return ready, None
    job = background_jobs().get(f"map|{_map_key(info, split)}|{method}")
    if job is None or job.state != State.FAILED:  # a failed job waits for the user's "try again"
        job = submit_map(info, method, split)
    return None, job


# What the Latent space page calls each map; job labels and stages use the same words as its radio.
MAP_METHODS = {"raw": "code plane", "umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


def _map_words(method: str, n: int) -> tuple[str, str]:
    """A map job's label and its fitting stage, e.g. ('UMAP map of 360 codes', 'fitting UMAP on 360 codes')."""
    name = MAP_METHODS.get(method, method)
    if method == "raw":  # nothing is fitted: the 2-d codes are the positions
        return f"code plane of {n:,} codes", f"placing {n:,} codes on the code plane"
    return f"{name} map of {n:,} codes", f"fitting {name} on {n:,} codes"


def submit_map(info: CheckpointInfo, method: str, split: str = "test"):
    """Queue the fit of a map (an aeviz.jobs.QueueJob to poll); asking again returns the same job."""
    import functools

    test_codes = get_codes(info)
    train = get_dataset(info.dataset, "train").images if split == "all" else None
    n = len(test_codes) + (0 if train is None else len(train))
    work = functools.partial(
        _fit_map_job,
        model=get_model(info),
        test_codes=test_codes,
        train_images=train,
        content_hash=info.metadata["hash"],
        dataset=info.dataset,
        method=method,
        key=_map_key(info, split),
        cache_root=str(diskcache.cache_dir()),
    )
    # timed on this server: the first UMAP/t-SNE fit after a start promises nothing, later ones what it took
    return background_jobs().submit(
        f"map|{_map_key(info, split)}|{method}",
        work,
        label=f"{_map_words(method, n)[0]} of {info.name}",
        expected_s=None if method in ("umap", "tsne") else 1.0,
        kind=f"map|{method}|{split}",
        size=n,
    )


def _fit_map_job(job, *, model, test_codes, train_images, content_hash, dataset, method, key, cache_root):
    """Runs on the job thread (no Streamlit): encode the train split if needed, then fit (and cache) the map."""

    codes = test_codes
    if train_images is not None:
        job.set_stage(f"encoding {len(train_images):,} training images")
        train_codes = diskcache.cached_arrays(
            "codes", _codes_key(content_hash, dataset, "train"), lambda: {"codes": encode_all(model, train_images)}
        )["codes"]
        codes = np.concatenate([test_codes, train_codes])  # (N_test + N_train, q)
    stage = _map_words(method, len(codes))[1]
    if method not in ("umap", "tsne"):
        job.set_stage(stage)
        return projection.cached_map(codes, method, key=key, seed=0)
    job.begin(stage)
    return map_worker().call(in_cache_dir, cache_root, projection.cached_map, codes, method, key=key, seed=0)


@st.cache_resource(show_spinner=False, max_entries=8)
def map_labels(dataset: str, split: str) -> np.ndarray:
    """Class labels in map order: the test split, or test then train for split 'all'."""
    parts = [get_dataset(dataset, "test").labels.numpy()]
    if split == "all":
        parts.append(get_dataset(dataset, "train").labels.numpy())
    return readonly(np.concatenate(parts))


def map_images(dataset: str, indices: np.ndarray) -> np.ndarray:
    """Images (N,C,H,W) for global map indices (test first, then train)."""
    test = get_dataset(dataset, "test").images
    indices = np.asarray(indices, dtype=np.int64)
    if (indices < len(test)).all():
        return test[torch.as_tensor(indices)].numpy()
    train = get_dataset(dataset, "train").images
    return np.stack([(test[i] if i < len(test) else train[i - len(test)]).numpy() for i in indices])


@per_model(max_entries=16)
def _backdrop(model, method: str, split: str, n: int, *, _latent_map: projection.LatentMap) -> np.ndarray:
    from ..views import latent_map as view

    return view.backdrop(_latent_map, model, view.map_extent(_latent_map.points), n)


def map_backdrop(info: CheckpointInfo, latent_map: projection.LatentMap, split: str, n: int = 20) -> np.ndarray:
    """The decoded manifold under a map (n x n tiles), computed once per model, split and method."""
    return _backdrop(info, latent_map.method, split, n, _latent_map=latent_map)


@per_model(max_entries=32, models=False)
def _map_figure(
    info, method: str, split: str, under: bool, height: int, hidden: tuple = (), *, _latent_map: projection.LatentMap
):
    from ..views import latent_map as view

    backdrop = map_backdrop(info, _latent_map, split) if under else None
    classes = tuple(get_dataset(info.dataset).classes)
    fig = view.map_figure(
        _latent_map.points, map_labels(info.dataset, split), classes, backdrop=backdrop, height=height
    )
    for trace in fig.data:
        if trace.name in hidden:
            trace.visible = "legendonly"  # filtered out; a click on its legend entry brings it back
    return fig


def map_figure(
    info: CheckpointInfo,
    latent_map: projection.LatentMap,
    split: str,
    *,
    under: bool,
    height: int,
    hidden: tuple[str, ...] = (),
):
    """The map's figure, built once per model, split, method, look and class filter (`hidden` classes) and shared:
    building a 10k-point plotly figure costs ~100 ms of validation, and st.plotly_chart only reads it (to_dict
    copies)."""
    return _map_figure(info, latent_map.method, split, under, height, tuple(hidden), _latent_map=latent_map)


@st.cache_resource(show_spinner=False, max_entries=8)
def knn_figure(rows: tuple):
    """The kNN panel's bar chart (aeviz.views.knnchart.knn_figure), built once per set of rows."""
    from ..views import knnchart

    return knnchart.knn_figure(list(rows))


def show_job(job, *, every: float = 1.0) -> None:
    """A progress bar that follows a background job and reruns the app once the job has ended."""

    @st.fragment(run_every=every)
    def poll() -> None:
        if job.ended:
            st.rerun()
        ahead = background_jobs().ahead_of(job)
        queued = f" · queued behind {ahead} other job(s)" if ahead else ""
        st.progress(job.progress(), text=f"{job.label}: {job.stage} · {job.elapsed():.0f} s{_left(job)}{queued}")

    poll()


def _left(job) -> str:
    """What the measured estimate says is left, or nothing where no such job has been timed on this server."""
    left = job.left()
    if left is None:
        return " so far" if job.state == State.RUNNING else ""
    return f", about {left:.0f} s left" if left >= 1 else f", longer than the last one ({job.expected_s:.0f} s)"


def knn_rows(ctx: Context):
    """The kNN panel's rows (aeviz.knn.KnnRow), the background jobs still computing some of them, and the
    shipped run's figures (aeviz.knn.Shipped: its machine goes in the caption)."""
    import functools

    from .. import knn

    jobs, pending, computed = background_jobs(), [], {}
    ship, pixels = knn.shipped(ctx.dataset), int(np.prod(ctx.test.shape))
    raw = (
        None
        if ship.raw is not None
        else jobs.submit(
            f"knn|pixels|{ctx.dataset}",
            functools.partial(_raw_knn_job, ctx.dataset),
            label=f"kNN-7 on the raw pixels of {ctx.dataset}",
            expected_s=None,
            kind="knn|pixels",
        )
    )
    missing = tuple(q for q in knn.pca_sizes(ctx.models, pixels) if q not in ship.pca)
    pca = (
        None
        if not missing
        else jobs.submit(
            f"knn|pca|{ctx.dataset}|{missing}",
            functools.partial(_pca_knn_job, ctx.dataset, missing),
            label=f"kNN-7 on the PCA codes of {ctx.dataset}",
            expected_s=None,
            kind="knn|pca",
        )
    )
    for info in ctx.models:
        if info.metadata.get("hash") not in ship.models and knn.from_metadata(info.metrics) is None:
            try:
                model = get_model(info)
            except (CheckpointError, OSError):  # a damaged file: its row stays pending, the page goes on
                continue
            job = jobs.submit(
                f"knn|codes|{info.metadata['hash']}",
                functools.partial(
                    _codes_knn_job, model, info.metadata["hash"], get_dataset(ctx.dataset, "train"), ctx.test
                ),
                label=f"kNN-7 on the codes of {info.name}",
                expected_s=None,
                kind="knn|codes",
            )
            if job.state == State.DONE:
                computed[info.key] = job.result
            pending.append(job)
    pending = [j for j in [raw, pca, *pending] if j is not None and not j.ended]
    done = lambda job: job.result if job is not None and job.state == State.DONE else None
    rows = knn.build_rows(ctx.dataset, pixels, ctx.models, done(raw), computed, done(pca), ship)
    return rows, pending, ship


def _raw_knn_job(dataset: str, job):
    from .. import knn

    job.set_stage("classifying the test images by their nearest training images")
    return _compute(knn.raw_pixels_knn, dataset)


def _pca_knn_job(dataset: str, sizes: tuple[int, ...], job):
    from .. import knn

    job.set_stage("projecting both splits on the PCA components and classifying the test codes")
    return _compute(knn.pca_knn_sizes, dataset, sizes)  # one core, times comparable with the shipped run's


def _codes_knn_job(model, content_hash: str, train, test, job):
    from .. import knn

    job.set_stage("encoding both splits and classifying the test codes")
    return _compute(knn.codes_knn, model, content_hash, train, test)
