"""The helper process for GIL-bound fits: calls across the process boundary, errors, restarts."""

from __future__ import annotations

import os
import pickle

import pytest

from aeviz.jobs import HelperError, HelperProcess, in_cache_dir


@pytest.fixture(scope="module")
def worker():
    w = HelperProcess()
    yield w
    w.stop()


@pytest.mark.slow  # starts a Python process that imports torch
def test_worker_runs_functions_in_another_process(worker):
    assert worker.call(os.getpid) != os.getpid()
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
    with pytest.raises(HelperError):
        worker.call(os._exit, 3)
    assert not worker.alive
    assert worker.call(os.getpid) != pid


@pytest.mark.slow  # starts a Python process that imports torch
def test_in_cache_dir_points_the_helper_at_the_callers_cache(worker, tmp_path):
    assert worker.call(in_cache_dir, str(tmp_path), os.getenv, "AEVIZ_CACHE_DIR") == str(tmp_path)


@pytest.mark.slow  # starts a Python process that imports torch
def test_a_helper_dropped_without_stop_is_killed_and_reaped_with_its_pipes_closed():
    """A cleared cache drops its helper: the process must not outlive it as a zombie with open pipes."""
    import gc

    helper = HelperProcess()
    assert helper.call(os.getpid) != os.getpid()
    process = helper._process
    del helper
    gc.collect()
    assert process.returncode is not None and process.stdin.closed and process.stdout.closed
