"""Training jobs on a real Ray cluster (`ray start` head and a worker node as processes of their own): the same job
interface as the local manager, a second replica's view, Cancel, and a job whose worker process dies."""

from __future__ import annotations

import functools
import os
import signal
import time
import types

import numpy as np
import pytest
from raycluster import RayCluster, ray_available

from aeviz.jobs import JobRejected, JobSpec, State
from aeviz.models import make_config
from aeviz.train import TrainConfig

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(ray_available()), reason=ray_available() or "Ray present")]


@pytest.fixture(scope="module")
def cluster():
    ray_cluster = RayCluster(workers=1, cpus=2).start()
    yield ray_cluster
    import ray

    ray.shutdown()
    ray_cluster.stop()


@pytest.fixture
def managers(cluster, tmp_path, monkeypatch):
    """Two replicas' managers over one cluster and one AEVIZ_HOME (one process: Ray's driver is per process)."""
    from aeviz.jobs.cluster import RayJobManager

    for name, value in dict(
        AEVIZ_HOME=tmp_path, AEVIZ_JOB_THREADS=1, AEVIZ_JOB_MEMORY_MB=2000, AEVIZ_RAY_ADDRESS=cluster.address
    ).items():
        monkeypatch.setenv(name, str(value))
    first, second = RayJobManager(cluster.address), RayJobManager(cluster.address)
    assert not first._problem, first._problem
    yield first, second
    first.shutdown()
    second.shutdown()


def spec(name: str, epochs: int, batch: int = 64, family: str = "dense") -> JobSpec:
    return JobSpec(family, make_config(family), "digits", TrainConfig(epochs=epochs, batch_size=batch), name, "")


def wait_for(manager, job_id: str, test, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        snap = manager.snapshot(job_id)
        if test(snap):
            return snap
        time.sleep(0.2)
    import ray

    raise AssertionError(f"timed out: {manager.snapshot(job_id)}; free on the cluster: {ray.available_resources()}")


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_job_trains_on_the_cluster_and_another_replica_shows_it_live_and_saved(managers, tmp_path):
    first, second = managers
    # long enough (batches of 16, 20 epochs) that the second replica's polling sees it running on a fast machine
    job = first.submit(spec("on-ray", epochs=20, batch=16), "session-a", "browser-a")
    with pytest.raises(JobRejected, match="already has 1 training job") as refused:  # the cap spans replicas
        second.submit(spec("again", epochs=1), "session-b", "browser-a")
    assert refused.value.job_id == job.id
    live = wait_for(second, job.id, lambda s: not s.active or (s.epoch >= 1 and s.previews))
    assert live.state == State.RUNNING and live.steps and live.maps  # the same Snapshot a local job gives
    done = wait_for(first, job.id, lambda s: not s.active)
    assert done.state == State.DONE, done.message
    assert done.path == tmp_path / "checkpoints" / "on-ray.safetensors" and done.path.is_file()
    assert done.path.with_name("on-ray.replay.npz").is_file()  # the one save path: both files
    seen = wait_for(second, job.id, lambda s: not s.active)
    assert (seen.path, seen.metrics, len(seen.previews)) == (done.path, done.metrics, 20)


def test_cancel_ends_the_jobs_process_at_once_and_saves_nothing(managers, tmp_path):
    first, second = managers
    job = first.submit(spec("cancelled", epochs=100, batch=16, family="conv"), "session-c", "browser-c")
    running = wait_for(second, job.id, lambda s: s.state == State.RUNNING and s.epoch >= 1)
    pid = first.get(job.id).pid
    assert pid and not pid_gone(pid)
    asked = time.monotonic()
    assert second.cancel(job.id)  # from another replica than the one that started it
    while not pid_gone(pid) and time.monotonic() - asked < 30:
        time.sleep(0.05)
    stopped_s = time.monotonic() - asked
    print(f"Ray job's process ended {stopped_s:.2f} s after Cancel")
    assert pid_gone(pid), "the job's process still runs 30 s after Cancel"
    snap = wait_for(first, job.id, lambda s: not s.active)
    assert (snap.state, snap.message) == (State.CANCELLED, "Cancelled: nothing was saved.")
    assert running.epoch >= 1 and not list((tmp_path / "checkpoints").glob("cancelled*"))


def test_a_worker_that_dies_fails_its_job_with_a_message_while_the_other_job_finishes(managers, tmp_path):
    """The job's process is killed as the kernel's OOM killer or a crashing node would; Ray reports the actor dead."""
    first, _ = managers
    doomed = first.submit(spec("doomed", epochs=100, batch=16, family="conv"), "session-d", "browser-d")
    other = first.submit(spec("survivor", epochs=60), "session-e", "browser-e")
    wait_for(first, doomed.id, lambda s: s.state == State.RUNNING and s.epoch >= 1)
    wait_for(first, other.id, lambda s: s.state != State.QUEUED)  # started (on a loaded machine it may be done)
    killed = time.monotonic()
    os.kill(first.get(doomed.id).pid, signal.SIGKILL)
    failed = wait_for(first, doomed.id, lambda s: not s.active, timeout_s=90)
    print(f"a dead worker's job failed {time.monotonic() - killed:.1f} s after its process was killed")
    assert failed.state == State.FAILED
    assert failed.message.startswith("The cluster worker running this job stopped before it finished")
    assert wait_for(first, other.id, lambda s: not s.active).state == State.DONE
    assert not list((tmp_path / "checkpoints").glob("doomed*"))


@pytest.fixture
def on_the_cluster(cluster, tmp_path, monkeypatch):
    """The pages' map and kNN workers with AEVIZ_RAY_ADDRESS set (their caches cleared before and after)."""
    from aeviz import ui

    for name, value in dict(
        AEVIZ_HOME=tmp_path, AEVIZ_CACHE_DIR=tmp_path / "cache", AEVIZ_RAY_ADDRESS=cluster.address
    ).items():
        monkeypatch.setenv(name, str(value))
    ui.map_worker.clear()
    ui.maps.knn_worker.clear()
    yield ui
    ui.map_worker.clear()
    ui.maps.knn_worker.clear()


def test_a_map_fit_runs_as_a_ray_task_and_equals_the_local_fit_for_the_same_seed(on_the_cluster, tmp_path):
    import ray
    from sklearn.datasets import load_digits

    from aeviz import projection
    from aeviz.jobs import Jobs
    from aeviz.jobs.raytasks import RayTasks

    ui = on_the_cluster
    worker = ui.map_worker()
    assert isinstance(worker, RayTasks), worker
    pid, node = worker.call(lambda: (os.getpid(), ray.get_runtime_context().get_node_id()))
    assert pid != os.getpid() and node != ray.get_runtime_context().get_node_id()  # the worker node, not the head
    with pytest.raises(RuntimeError, match="invalid literal for int"):  # a failing fit: its error's text, as locally
        worker.call(int, "x")
    codes = load_digits().data[:400].astype(np.float32) / 16  # (400, 64)
    fit = functools.partial(
        ui.maps._fit_map_job,  # the page's own job function, as submit_map queues it
        model=None,
        test_codes=codes,
        train_images=None,
        content_hash="h",
        dataset="digits",
        method="umap",
        key="h|digits|test",
        cache_root=str(tmp_path / "cache"),
    )
    job = Jobs().submit("map|h|digits|test|umap", fit, label="UMAP map of 400 codes", expected_s=None, kind="umap")
    deadline = time.monotonic() + 300
    while not job.ended and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state == State.DONE, (job.state, job.error)
    assert list((tmp_path / "cache" / "maps").glob("*.npz"))  # cached by the task, in the shared cache folder
    local = projection.fit_map(codes, "umap", seed=0)  # in this process, nothing cached
    assert job.result.method == "umap" and job.result.points.shape == (400, 2)
    np.testing.assert_array_equal(job.result.points, local.points)


def test_a_knn_run_runs_as_a_ray_task_with_the_local_result(on_the_cluster, monkeypatch, tmp_path):
    from aeviz import knn
    from aeviz.jobs.raytasks import RayTasks

    ui = on_the_cluster
    assert isinstance(ui.maps.knn_worker(), RayTasks)
    accuracy, _ = ui.maps._raw_knn_job("digits", types.SimpleNamespace(set_stage=lambda text: None))
    assert list((tmp_path / "cache").rglob("*.npz"))  # the task's cached result, in the shared cache folder
    monkeypatch.setenv("AEVIZ_CACHE_DIR", str(tmp_path / "local"))
    assert knn.raw_pixels_knn("digits")[0] == accuracy  # this process, a cold cache
