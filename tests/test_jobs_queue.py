"""Background jobs and the helper process: dedup, failure, progress, calls across the process boundary."""

from __future__ import annotations

import functools
import os
import pickle
import threading
import time

import pytest

from aeviz import background
from aeviz.background import DONE, FAILED, QUEUED, Jobs, Worker, WorkerError


def wait(job, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.done, f"{job.label} still {job.state} after {timeout} s"


def test_a_job_runs_once_per_key_and_keeps_its_result():
    jobs, calls = Jobs(), []
    first = jobs.submit("k", lambda job: calls.append(1) or 41 + len(calls), label="answer")
    again = jobs.submit("k", lambda job: calls.append(2), label="answer")
    assert again is first
    wait(first)
    assert first.state == DONE and first.result == 42 and calls == [1]
    assert first.progress() == 1.0 and first.elapsed() >= 0
    assert jobs.submit("k", lambda job: 0, label="answer") is first  # done jobs are not redone


def test_a_failed_job_reports_and_the_worker_goes_on():
    jobs = Jobs()

    def broken(job):
        job.set_stage("about to fail")
        raise ValueError("no such model")

    with pytest.warns(RuntimeWarning, match="no such model"):
        bad = jobs.submit("bad", broken, label="broken")
        wait(bad)
    assert bad.state == FAILED and bad.error == "ValueError: no such model" and bad.stage == "failed"
    good = jobs.submit("good", lambda job: "ok", label="fine")
    wait(good)
    assert good.result == "ok"
    retry = jobs.submit("bad", lambda job: "fixed", label="broken")  # a failed job is replaced on resubmit
    assert retry is not bad
    wait(retry)
    assert retry.result == "fixed"


def test_jobs_queue_behind_a_busy_worker_and_progress_stays_below_one():
    jobs, gate = Jobs(workers=1), threading.Event()
    slow = jobs.submit("slow", lambda job: gate.wait(30), label="slow", expected_s=0.05)
    waiting = jobs.submit("next", lambda job: "second", label="next")
    deadline = time.monotonic() + 10
    while slow.started is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # four times its expected duration
    assert waiting.state == QUEUED and jobs.ahead_of(waiting) == 1 and jobs.ahead_of(slow) == 0
    assert 0.9 <= slow.progress() < 1.0 and waiting.progress() == 0.0
    gate.set()
    wait(waiting)
    assert waiting.result == "second"


def test_finished_jobs_are_pruned_beyond_keep():
    jobs = Jobs(keep=3)
    done = [jobs.submit(f"j{i}", lambda job, i=i: i, label=str(i)) for i in range(3)]
    for job in done:
        wait(job)
    wait(jobs.submit("j3", lambda job: 3, label="3"))
    assert jobs.get("j0") is None and jobs.get("j3") is not None


@pytest.fixture(scope="module")
def start_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("worker-cwd").resolve())


@pytest.fixture(scope="module")
def worker(start_dir):
    w = Worker(initializer=functools.partial(os.chdir, start_dir))
    yield w
    w.stop()


@pytest.mark.slow  # starts a Python process that imports torch
def test_worker_runs_functions_in_another_process_after_its_initializer(worker, start_dir):
    assert worker.call(os.getpid) != os.getpid()
    assert worker.call(os.getcwd) == start_dir != os.getcwd()
    assert not worker.warming
    assert worker.call(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]


@pytest.mark.slow  # starts a Python process that imports torch
def test_worker_sends_exceptions_back_as_text(worker):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        worker.call(divmod, 1, 0)
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        worker.call(lambda: 1)  # not importable by the helper: refused before anything is sent
    assert worker.call(divmod, 7, 2) == (3, 1)  # still serving


@pytest.mark.slow  # starts a Python process that imports torch
def test_worker_restarts_after_its_process_dies(worker):
    pid = worker.call(os.getpid)
    with pytest.raises(WorkerError):
        worker.call(os._exit, 3)
    assert not worker.alive
    assert worker.call(os.getpid) != pid


@pytest.mark.slow  # starts a Python process that imports torch
def test_in_cache_dir_points_the_helper_at_the_callers_cache(worker, tmp_path):
    assert worker.call(background.in_cache_dir, str(tmp_path), os.getenv, "AEVIZ_CACHE_DIR") == str(tmp_path)


def test_a_kind_of_job_is_estimated_from_the_last_one_measured_here():
    jobs = Jobs(workers=1)
    first = jobs.submit("fit-a", lambda job: time.sleep(0.3), label="a", expected_s=None, kind="fit", size=100)
    deadline = time.monotonic() + 10
    while first.started is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.expected_s is None and first.left() is None  # nothing measured yet: no promise
    assert 0 < first.progress() < 0.9
    wait(first)
    gate = threading.Event()
    second = jobs.submit("fit-b", lambda job: gate.wait(30), label="b", expected_s=None, kind="fit", size=300)
    while second.started is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert second.expected_s == pytest.approx(3 * (first.finished - first.clock), rel=0.05)  # 3x the size
    assert 0 < second.left() <= second.expected_s
    other = jobs.submit("other", lambda job: 1, label="c", expected_s=None, kind="knn")
    gate.set()
    wait(other)
    assert other.expected_s is None  # another kind: not estimated from the fits


def test_time_before_begin_is_not_part_of_the_measurement():
    jobs = Jobs(workers=1)

    def compile_then_fit(job):
        time.sleep(0.4)  # e.g. waiting for the helper's compile
        job.begin("fitting")
        time.sleep(0.1)

    wait(jobs.submit("a", compile_then_fit, label="a", expected_s=None, kind="fit", size=1))
    gate = threading.Event()
    nxt = jobs.submit("b", lambda job: gate.wait(30), label="b", expected_s=None, kind="fit", size=1)
    deadline = time.monotonic() + 10
    while nxt.started is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 0.09 <= nxt.expected_s < 0.3
    gate.set()
    wait(nxt)


def test_a_failed_job_is_not_measured():
    jobs = Jobs(workers=1)

    def broken(job):
        raise ValueError("no")

    with pytest.warns(RuntimeWarning):
        wait(jobs.submit("a", broken, label="a", expected_s=None, kind="fit"))
    assert jobs.timings.estimate("fit", 1) is None
