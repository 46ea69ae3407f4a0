"""Training jobs: start, progress, cancel, finish, failure, queueing, abandoned jobs and kill -9 mid-save."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fakes import full_disk_for

from aeviz.checkpoints import load_checkpoint, scan_checkpoints, user_dir
from aeviz.jobs import ACTIVE, JobManager, JobRejected, JobSpec, State, TrainingJob, sweep_temp_files
from aeviz.models import make_config
from aeviz.replay import load_replay
from aeviz.train import TrainConfig

REPO = Path(__file__).resolve().parent.parent


def digits_spec(name: str = "job-test", epochs: int = 3, batch_size: int = 64, **fields) -> JobSpec:
    family = fields.pop("family", "dense")
    config = make_config(family, **{"bottleneck": 8, **fields})
    return JobSpec(family, config, "digits", TrainConfig(epochs=epochs, batch_size=batch_size), name)


def long_spec(name: str = "long") -> JobSpec:
    """A job far longer than any test waits (minutes), yet inside the default time limit: it ends by being stopped."""
    return digits_spec(name, epochs=1000, batch_size=16)


def wait_for(predicate, timeout: float = 120.0, every: float = 0.02):
    """Poll until `predicate()` is truthy; fails the test after `timeout` (a hang, never a timing check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def files_in_user_dir() -> list[str]:
    folder = user_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def manager():
    finished = []
    jm = JobManager(workers=1, max_queued=2, on_finish=finished.append)
    jm.finished = finished
    yield jm
    jm.shutdown()


@pytest.mark.slow
def test_job_reports_progress_and_saves_a_loadable_checkpoint(manager):
    job = manager.submit(digits_spec("digits-tiny", epochs=4), owner="a")
    assert manager.snapshot(job.id).state in ACTIVE
    snap = wait_for(lambda: (s := manager.snapshot(job.id)).state == State.DONE and s)
    assert snap.fraction == 1.0 and snap.epoch == 4 and snap.message == "Saved as digits-tiny."
    assert [e for e, _ in snap.tests] == [1, 2, 3, 4] and all(t["recon"] > 0 for _, t in snap.tests)
    assert snap.steps[-1][0] == 4.0 and "recon" in snap.steps[-1][1]
    assert [e for e, _ in snap.previews] == [1, 2, 3, 4]
    assert snap.previews[-1][1].shape == (8, 1, 8, 8) and snap.previews[-1][1].dtype == np.uint8
    assert snap.path == user_dir() / "digits-tiny.safetensors"
    assert files_in_user_dir() == ["digits-tiny.replay.npz", snap.path.name]  # the checkpoint and its replay
    model = load_checkpoint(snap.path)
    replay = load_replay(snap.path, model.metadata["hash"])  # what the page showed live, saved by the manager
    assert [e for e, _ in snap.maps] == [0, 1, 2, 3, 4] == list(replay.epochs) and snap.maps[-1][1].shape == (360, 2)
    assert all(np.array_equal(m, p) for (_, m), p in zip(snap.maps, replay.points, strict=True))
    assert np.array_equal(snap.map_labels, replay.labels)
    assert model.metadata["name"] == "digits-tiny" and model.metadata["dataset"] == "digits"
    assert model.metadata["metrics"] == snap.metrics and 0.3 < snap.metrics["knn7"] <= 1
    wait_for(lambda: manager.finished == [job])
    # the same name again: the second model gets its own file instead of replacing the first
    again = manager.submit(digits_spec("digits-tiny", epochs=1), owner="a")
    assert wait_for(lambda: manager.snapshot(again.id).state == State.DONE)
    assert files_in_user_dir() == [  # each with its replay beside it
        "digits-tiny-2.replay.npz",
        "digits-tiny-2.safetensors",
        "digits-tiny.replay.npz",
        "digits-tiny.safetensors",
    ]


@pytest.mark.slow
def test_a_full_disk_when_the_replay_is_saved_leaves_no_model_and_one_message(manager, monkeypatch):
    """Issue 26: the checkpoint was written, the replay's save failed, the job said "failed" and the sidebar
    listed a model that loaded fine. One outcome now: no file at all, and a message saying what happened."""
    failed = full_disk_for(monkeypatch, ".replay.npz")
    job = manager.submit(digits_spec("full-disk", epochs=1), owner="a")
    snap = wait_for(lambda: (s := manager.snapshot(job.id)).state == State.FAILED and s)
    assert failed and snap.phase == "saving" and snap.path is None
    assert snap.message == (
        "the model was trained, but could not be saved (the server's disk is full), so nothing was kept. "
        "Try again later."
    )
    assert files_in_user_dir() == [] and scan_checkpoints([user_dir()]) == ([], [])


@pytest.mark.slow
def test_cancel_stops_the_job_and_leaves_no_file(manager):
    job = manager.submit(long_spec(), owner="a")
    wait_for(lambda: len(manager.snapshot(job.id).steps) >= 3)  # well inside training
    asked = time.monotonic()
    assert manager.cancel(job.id)
    snap = wait_for(lambda: (s := manager.snapshot(job.id)).state == State.CANCELLED and s)
    print(f"cancel took {time.monotonic() - asked:.3f} s")  # reported, not asserted (see benchmarks)
    assert snap.message.startswith("Cancelled") and 0 < snap.fraction < 1
    assert files_in_user_dir() == []  # neither a checkpoint nor a temp file
    assert not manager.cancel(job.id)  # finished jobs cannot be cancelled again
    wait_for(lambda: manager.finished == [job])


@pytest.mark.slow
def test_failures_end_the_job_with_a_clear_message(manager, tmp_path):
    empty = tmp_path / "no-images"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a picture")
    folder = JobSpec("dense", make_config("dense", bottleneck=4), f"folder:{empty}", TrainConfig(epochs=1), "x")
    job = manager.submit(folder, owner="a")
    snap = wait_for(lambda: (s := manager.snapshot(job.id)).state == State.FAILED and s)
    assert snap.message.startswith("No images found in") and str(empty) in snap.message
    conv = JobSpec("conv", make_config("conv", bottleneck=4, channels=(8, 8, 8, 8)), "digits", TrainConfig(), "y")
    job = manager.submit(conv, owner="a")
    snap = wait_for(lambda: (s := manager.snapshot(job.id)).state == State.FAILED and s)
    assert "need sides divisible by 16, got 8x8" in snap.message
    assert files_in_user_dir() == [] and wait_for(lambda: len(manager.finished) == 2)


@pytest.mark.slow
def test_one_job_at_a_time_the_rest_queue_in_order_within_bounds(manager):
    first = manager.submit(long_spec("first"), owner="a")
    wait_for(lambda: manager.snapshot(first.id).state == State.RUNNING)
    second = manager.submit(digits_spec("second", epochs=1), owner="b")
    third = manager.submit(digits_spec("third", epochs=1), owner="c")
    assert [manager.snapshot(j.id).queue_position for j in (first, second, third)] == [0, 1, 2]
    with pytest.raises(JobRejected, match="already has 1 training job"):
        manager.submit(digits_spec(), owner="a")
    with pytest.raises(JobRejected, match="server is busy"):
        manager.submit(digits_spec(), owner="d")  # max_queued=2 are waiting already
    assert manager.cancel(third.id)  # a waiting job is cancelled at once and never starts
    assert manager.snapshot(third.id).state == State.CANCELLED and manager.snapshot(second.id).queue_position == 1
    manager.cancel(first.id)
    assert wait_for(lambda: manager.snapshot(second.id).state == State.DONE)
    assert manager.snapshot(third.id).state == State.CANCELLED and manager.snapshot(third.id).steps == ()
    assert files_in_user_dir() == ["second.replay.npz", "second.safetensors"]


@pytest.mark.slow
def test_a_job_whose_browser_is_gone_is_cancelled_after_the_idle_time():
    connected = {"a": True, "b": False}
    jm = JobManager(workers=2, idle_s=0.5, alive=lambda owner: connected[owner])
    try:
        kept, dropped = jm.submit(long_spec("kept"), owner="a"), jm.submit(long_spec("dropped"), owner="b")
        snap = wait_for(lambda: (s := jm.snapshot(dropped.id)).state == State.CANCELLED and s)
        assert "browser is gone" in snap.message
        assert jm.snapshot(kept.id).state == State.RUNNING  # its owner is still connected, though no page polls
        connected["a"] = False  # the tab closes
        assert "browser is gone" in wait_for(lambda: (s := jm.snapshot(kept.id)).state == State.CANCELLED and s).message
        assert files_in_user_dir() == []
    finally:
        jm.shutdown()


@pytest.mark.slow
def test_a_job_a_page_polls_lives_on_while_its_browser_looks_gone():
    """A page touching the job keeps it alive though alive() says the browser is gone; once the touches stop,
    the job is cancelled after idle_s. The page touches it just before each of the manager's checks, so no
    scheduling delay of a loaded machine can put more than idle_s between a touch and a check."""
    polling, checks = threading.Event(), []
    polling.set()

    def alive(owner: str) -> bool:  # the manager asks this right before each idle check
        checks.append(time.monotonic())
        for polled in jm.jobs() if polling.is_set() else ():
            polled.touch()  # the page's fragment polled it since the last check
        return False  # as for a closed tab

    jm = JobManager(idle_s=0.3, alive=alive)
    try:
        job = jm.submit(long_spec(), owner="a")
        # many checks over more than five idle times: none of them cancelled the polled job
        wait_for(lambda: len(checks) > 10 and checks[-1] - checks[0] > 1.5)
        assert jm.snapshot(job.id).state in ACTIVE
        polling.clear()  # the page stops polling
        assert "browser is gone" in wait_for(lambda: (s := jm.snapshot(job.id)).state == State.CANCELLED and s).message
    finally:
        jm.shutdown()


@pytest.mark.slow
def test_every_job_has_a_time_limit():
    jm = JobManager(max_s=0.5, alive=lambda owner: True)
    try:
        job = jm.submit(long_spec(), owner="a")
        snap = wait_for(lambda: (s := jm.snapshot(job.id)).state == State.CANCELLED and s)
        assert snap.message.startswith("Cancelled at the limit of 0.5 s per job") and files_in_user_dir() == []
    finally:
        jm.shutdown()


def test_claim_hands_a_job_back_only_to_its_own_browser_once_its_session_is_gone():
    connected = {"a": True}
    jm = JobManager(alive=lambda owner: connected.get(owner, False))
    job = jm.submit(long_spec(), owner="a", browser="browser-1")
    try:
        assert jm.controls(job.id, "c", "browser-1")  # another tab of that browser may cancel it ...
        assert not jm.controls(job.id, "x", "someone-else")  # ... whoever else opens its link only watches
        assert not jm.claim(job.id, "b", "browser-1") and job.owner == "a"  # its session is still connected
        connected["a"] = False  # the page was reloaded: a new session asks for the job in its URL
        assert not jm.claim(job.id, "x", "someone-else") and job.owner == "a"  # a shared link only watches
        assert jm.claim(job.id, "b", "browser-1") and job.owner == "b"
        assert not jm.claim("no-such-job", "b", "browser-1")
    finally:
        jm.shutdown()


@pytest.fixture
def admissions(monkeypatch):
    """A manager whose jobs hold their place (running or waiting) until cancelled, without training."""

    def hold(self, job):
        if not job.ended:
            job.set(State.RUNNING)
            job.stop.wait(60)
            job.set(State.CANCELLED)

    monkeypatch.setattr(JobManager, "_run", hold)
    jm = JobManager(workers=1, max_queued=8)
    yield jm
    jm.shutdown()


def test_six_tabs_of_one_browser_hold_one_job_and_the_next_student_is_next(admissions):
    """Issue 26: the limit was per session, so 6 tabs of one browser had 6 jobs accepted and another student
    waited at place 4; 9 tabs took the whole trainer and queue. Now one job per browser, all tabs together."""
    first = admissions.submit(long_spec("tab-1"), owner="tab-1", browser="laptop")
    wait_for(lambda: admissions.snapshot(first.id).state == State.RUNNING)
    for tab in range(2, 7):
        with pytest.raises(JobRejected, match="already has 1 training job, in this tab or another") as refused:
            admissions.submit(long_spec(f"tab-{tab}"), owner=f"tab-{tab}", browser="laptop")
        assert refused.value.job_id == first.id  # the page offers to show that job instead
    other = admissions.submit(long_spec("other"), owner="student-b", browser="other-laptop")
    assert admissions.snapshot(other.id).queue_position == 1
    admissions.cancel(first.id)
    wait_for(lambda: not admissions.snapshot(first.id).active)
    admissions.submit(long_spec("tab-2"), owner="tab-2", browser="laptop")  # its job ended: room again


def test_the_per_browser_limit_is_a_setting_and_an_unknown_browser_counts_per_session(admissions, monkeypatch):
    monkeypatch.setenv("AEVIZ_BROWSER_MAX_JOBS", "2")
    jm = JobManager(workers=1, max_queued=8)
    try:
        jm.submit(long_spec("a"), owner="tab-1", browser="laptop")
        jm.submit(long_spec("b"), owner="tab-2", browser="laptop")
        with pytest.raises(JobRejected, match="already has 2 training jobs"):
            jm.submit(long_spec("c"), owner="tab-3", browser="laptop")
    finally:
        jm.shutdown()
    admissions.submit(long_spec("x"), owner="session-1")  # no browser id: each session is its own
    admissions.submit(long_spec("y"), owner="session-2")
    with pytest.raises(JobRejected):
        admissions.submit(long_spec("z"), owner="session-1")


def test_sweep_removes_only_old_temp_files(tmp_path):
    old, fresh = tmp_path / ".a.safetensors.x1.tmp", tmp_path / ".b.safetensors.x2.tmp"
    model = tmp_path / "a.safetensors"
    for path in (old, fresh, model):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert sweep_temp_files(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, model.name])


def test_sweep_removes_the_leftovers_of_dead_writers_at_once(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".m.safetensors.{int(dead.stdout)}-abc123.tmp"  # a writer that no longer runs
    writing = tmp_path / f".n.safetensors.{os.getpid()}-def456.tmp"  # a save under way in this process
    for path in (leftover, writing):
        path.write_bytes(b"x")
    assert sweep_temp_files(tmp_path) == [leftover] and writing.exists()


KILLED_SERVER = """
import sys, time
from aeviz.models import make_config
from aeviz.train import TrainConfig
from aeviz.jobs import ACTIVE, JobManager, JobSpec
jm = JobManager()
config = make_config("dense", bottleneck=8, hidden=(2048, 2048))  # ~35 MB: a save takes a while
for i in range(1000):
    spec = JobSpec("dense", config, "digits", TrainConfig(epochs=1, batch_size=512), f"big-{i}")
    job = jm.submit(spec, owner="a")
    while job.state in ACTIVE:
        time.sleep(0.01)
    print(job.state, job.message, flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_a_save_loses_nothing(tmp_path):
    """A server killed mid-save: earlier models intact, the new one whole or absent, no half file listed."""
    folder = user_dir()
    folder.mkdir(parents=True)
    jm = JobManager()
    job = jm.submit(digits_spec("before", epochs=1), owner="a")
    wait_for(lambda: job.state == State.DONE)
    jm.shutdown()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SERVER],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        temp = wait_for(lambda: next(iter(folder.glob(".big-*.tmp")), None), timeout=300, every=0.0005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()  # the killed server's output pipe: left open, its ResourceWarning fails the test
    infos, errors = scan_checkpoints([folder])
    assert errors == [] and "before" in [c.name for c in infos]
    for info in infos:
        load_checkpoint(info.path)  # every listed file is whole: its weights match the recorded hash
    name = temp.name[1:].split(".safetensors")[0]
    assert temp.exists() or (folder / f"{name}.safetensors").exists()  # the kill left a temp, or the rename won
    sweep_temp_files(folder, older_than_s=0)
    assert not list(folder.glob(".*.tmp")) and scan_checkpoints([folder]) == (infos, [])


def test_time_left_follows_the_speed_of_the_last_seconds(monkeypatch):
    """A job that slows down (a second job, a class on the server) says so, not the whole run's average."""
    from aeviz.jobs import training
    from aeviz.train import Progress

    clock = {"now": 1000.0}
    monkeypatch.setattr(training.time, "monotonic", lambda: clock["now"])
    job = TrainingJob(digits_spec(epochs=10), owner="me")
    job.started = clock["now"]
    steps = 100  # per epoch: 1000 steps in all

    def report(step: int, elapsed: float) -> None:
        clock["now"] = 1000.0 + elapsed
        epoch, within = divmod(step, steps)
        job.record(Progress("step", epoch + 1, 10, within, steps, {"recon": 0.1}, elapsed))

    assert np.isnan(job.snapshot().eta)  # nothing measured yet
    for second in range(1, 41):  # 40 s at 10 steps/s: 400 steps
        report(10 * second, float(second))
    assert job.snapshot().eta == pytest.approx(60.0, rel=0.02)  # 600 steps left at 10/s
    for second in range(41, 71):  # then 30 s at 2 steps/s: 460 steps done, 540 left
        report(400 + 2 * (second - 40), float(second))
    snap = job.snapshot()
    assert snap.eta == pytest.approx(270.0, rel=0.02)  # at 2/s: not the run's average (~82 s)
    assert snap.fraction == pytest.approx(0.46)


@pytest.mark.slow  # a Python process importing torch
def test_a_training_process_whose_server_closes_the_pipe_at_once_exits_quietly():
    """A server shutting down closes its spare job process's stdin before any request: it ends with code 0 and
    prints nothing (it printed pickle's 'Ran out of input' traceback at every test session's exit)."""
    code = "from aeviz.jobs.worker import _serve; _serve()"
    done = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stderr == b"" and done.stdout == b""
