"""The job interface's two back-ends: the local default never imports Ray; the shared store every replica reads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from aeviz.jobs import JobManager, JobSpec, State
from aeviz.jobs.store import JobStore
from aeviz.models import make_config
from aeviz.settings import SettingsError
from aeviz.train import TrainConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "AEVIZ_RAY_ADDRESS"} | {"PYTHONPATH": REPO} | env
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environ, timeout=120
    )


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_without_a_ray_address_the_local_manager_runs_jobs_and_ray_is_never_imported(tmp_path):
    found = _python(
        """
        import sys
        from aeviz.jobs import HelperProcess, JobManager, make_manager, make_runner
        manager = make_manager()
        assert type(manager) is JobManager, type(manager)
        assert type(make_runner(HelperProcess)) is HelperProcess  # map fits: this server's helper process
        print(sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
        """,
        AEVIZ_HOME=str(tmp_path),
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_ray_address_without_ray_installed_is_one_clear_line(tmp_path):
    found = _python(
        """
        import sys
        sys.modules["ray"] = None  # as if the cluster extra were not installed
        from aeviz.jobs import make_manager
        make_manager()
        """,
        AEVIZ_HOME=str(tmp_path),
        AEVIZ_RAY_ADDRESS="127.0.0.1:6379",
    )
    assert found.returncode != 0
    last = found.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{SettingsError.__module__}.SettingsError: AEVIZ_RAY_ADDRESS is set")
    assert 'pip install "aeviz[cluster]"' in last


def _record(job_id: str, state: State = State.QUEUED, **fields) -> dict:
    spec = JobSpec("dense", make_config("dense"), "digits", TrainConfig(epochs=1), "m")
    return dict(id=job_id, spec=spec, owner="s", browser="b", state=state, **fields)


def test_the_store_keeps_records_in_order_and_never_reopens_an_ended_job(tmp_path):
    store = JobStore(tmp_path)
    store.create(_record("a" * 12))
    store.create(_record("b" * 12))
    assert [r["id"] for r in store.records()] == ["a" * 12, "b" * 12]
    store.update("a" * 12, state=State.DONE, message="Saved as m.")
    after = store.update("a" * 12, unless_ended=True, state=State.FAILED, message="lost")
    assert after is not None and after["state"] == State.DONE and after["message"] == "Saved as m."
    assert store.read("b" * 12)["spec"].family == "dense"


@pytest.mark.parametrize("job_id", ["", "../../etc/passwd", "A" * 12, "a" * 13, None, "a" * 11 + "/"])
def test_a_job_id_from_a_link_names_no_file_unless_it_is_an_id(tmp_path, job_id):
    store = JobStore(tmp_path)
    assert store.read(job_id) is None
    assert store.update(job_id or "", state=State.DONE) is None


def test_a_damaged_record_is_no_job_and_pruning_keeps_the_latest_ended(tmp_path):
    store = JobStore(tmp_path)
    for n in range(5):
        store.create(_record(f"{n:012x}", State.DONE))
    store.create(_record("f" * 12, State.RUNNING))
    (tmp_path / f"{'e' * 12}.job").write_bytes(b"\x80\x05not a pickle")
    store.prune(keep=2)
    assert [r["id"] for r in store.records()] == [f"{3:012x}", f"{4:012x}", "f" * 12]


def test_both_back_ends_refuse_with_the_same_words(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_HOME", str(tmp_path))
    manager = JobManager(max_queued=0)
    with pytest.raises(Exception, match="The server is busy: 0 jobs are waiting"):
        manager._admit([], 0)
    with pytest.raises(Exception, match="already has 1 training job,") as refused:
        manager._admit([type("J", (), {"id": "x" * 12})()], 0)
    assert refused.value.job_id == "x" * 12
