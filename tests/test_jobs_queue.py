"""The in-process job queue (map fits, kNN runs): dedup, failure, progress, estimates."""

from __future__ import annotations

import threading
import time

import pytest

from aeviz.jobs import Jobs, State


def wait(job, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not job.ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.ended, f"{job.label} still {job.state} after {timeout} s"


def test_a_job_runs_once_per_key_and_keeps_its_result():
    jobs, calls = Jobs(), []
    first = jobs.submit("k", lambda job: calls.append(1) or 41 + len(calls), label="answer")
    again = jobs.submit("k", lambda job: calls.append(2), label="answer")
    assert again is first
    wait(first)
    assert first.state == State.DONE and first.result == 42 and calls == [1]
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
    assert bad.state == State.FAILED and bad.error == "ValueError: no such model" and bad.stage == "failed"
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
    assert waiting.state == State.QUEUED and jobs.ahead_of(waiting) == 1 and jobs.ahead_of(slow) == 0
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


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
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
