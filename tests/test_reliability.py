"""Issue 9 faults and concurrency: damaged or deleted checkpoints while the app runs, kill -9 in the middle of
a save, no datasets on disk and no network, and several sessions at once sharing the same model objects."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import streamlit as st
import torch
from apptest import run_page

from aeviz import data
from aeviz.checkpoints import content_hash, load_checkpoint, read_metadata, scan_checkpoints

REPO = Path(__file__).resolve().parent.parent
ZOO = REPO / "checkpoints"
TARGET = "digits-dense-q16-bce"  # the model we damage; shown on Home, Reconstructions and the Error gallery
BYSTANDER = "digits-conv-q8-bce"  # must keep working meanwhile


@pytest.fixture
def fresh_caches(monkeypatch):
    """Empty process-wide Streamlit caches (they outlive one AppTest) and no start-up thread."""
    monkeypatch.setenv("AEVIZ_WARM_UP", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str, query: dict[str, str], timeout: float = 300):
    return run_page(f"pages/{page}.py", query, timeout)


def texts(elements) -> list[str]:
    """The elements' text as a reader sees it (file names in warnings are shown with markdown escaped)."""
    return [e.value.replace("\\", "") for e in elements]


# --- a checkpoint damaged or deleted while the app runs -----------------------------------------------------


@pytest.fixture
def zoo_copy(tmp_path, monkeypatch, fresh_caches):
    """The digits part of the real zoo, copied to a folder the test may damage."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    for path in ZOO.glob("digits-*"):
        shutil.copy2(path, zoo / path.name)
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(zoo))
    return zoo


def damage(path: Path, how: str) -> None:
    blob = path.read_bytes()
    if how == "flip":  # bytes of the weights change, the header and the size stay: only the hash can tell
        path.write_bytes(blob[:-64] + bytes(64))
    elif how == "truncate":  # a copy cut off half way
        path.write_bytes(blob[: len(blob) // 2])
    else:
        path.unlink()


def reported(at, how: str) -> bool:
    """The damaged model is named on the page or in the sidebar, or (deleted) no longer offered."""
    shown = " ".join(texts(at.warning) + texts(at.sidebar.warning))
    if TARGET in shown:
        return True
    return how == "delete" and all(TARGET not in map(str, box.options) for box in at.selectbox)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
def test_a_damaged_checkpoint_is_reported_and_the_other_models_keep_working(zoo_copy, how):
    from aeviz import ui

    sessions = {
        "home": open_page("home", {"dataset": "digits", "home_model": TARGET}),
        "bystander": open_page("home", {"dataset": "digits", "home_model": BYSTANDER}),
        "reconstructions": open_page("reconstructions", {"dataset": "digits", "rec_family": "dense"}),
        "anomalies": open_page("anomalies", {"dataset": "digits", "err_models": TARGET, "err_src": "none"}),
    }
    for name, at in sessions.items():
        assert not at.exception and not at.warning and not at.sidebar.warning, (name, texts(at.warning))
    bystander_image = sessions["bystander"].get("image")[0].proto.imgs[0].url

    damage(zoo_copy / f"{TARGET}.safetensors", how)
    for name, at in sessions.items():  # at once: the listing may still be the one from before (a 5 s cache)
        at.run()
        assert not at.exception, (name, texts(at.exception))
        assert name == "bystander" or reported(at, how), (name, texts(at.warning), texts(at.sidebar.warning))
    assert not sessions["bystander"].warning
    assert sessions["bystander"].get("image")[0].proto.imgs[0].url == bystander_image  # the same picture

    ui.refresh_models()  # the listing read afresh: what every session sees from now on
    for name, at in sessions.items():
        at.run()
        assert not at.exception, (name, texts(at.exception))
        assert name == "bystander" or reported(at, how), (name, texts(at.warning), texts(at.sidebar.warning))
    if how == "flip":  # header intact: still listed, refused on loading with the reason
        assert any("do not match their recorded hash" in w for w in texts(sessions["home"].warning))
    if how == "truncate":  # unreadable header: not listed, and the sidebar says which file and why
        assert any(f"{TARGET}.safetensors" in w for w in texts(sessions["home"].sidebar.warning))
    assert sessions["reconstructions"].get("image")  # the grid still shows, without the damaged row
    assert sessions["bystander"].get("image")[0].proto.imgs[0].url == bystander_image

    shutil.copy2(ZOO / f"{TARGET}.safetensors", zoo_copy / f"{TARGET}.safetensors")  # put back: no restart needed
    ui.refresh_models()
    fixed = open_page("home", {"dataset": "digits", "home_model": TARGET})
    assert not fixed.exception and not fixed.warning and not fixed.sidebar.warning
    assert fixed.query_params["home_model"] in (TARGET, [TARGET]) and fixed.get("image")


# --- kill -9 in the middle of a save -------------------------------------------------------------------------

SAVER = r"""
import os, sys, time
import torch
torch.set_num_threads(1)  # no OpenMP pool: the children are forked
from aeviz.checkpoints import save_checkpoint
from aeviz.models import build_model

target = sys.argv[1]
models = []
for seed in (0, 1):
    torch.manual_seed(seed)
    models.append(build_model("dense", bottleneck=8, hidden=(1024, 1024)))  # ~3.3 M weights, ~13 MB
start = time.perf_counter()
save_checkpoint(target, models[0], {"round": 0})
print(time.perf_counter() - start, flush=True)
for line in sys.stdin:
    if line.strip() == "go":  # a child saves the two models in turn over the same file until it is killed
        pid = os.fork()
        if pid == 0:
            for k in range(1, 10**9):
                save_checkpoint(target, models[k % 2], {"round": k})
        print(pid, flush=True)
    else:  # "reap": wait for the killed child, so the file is checked only after it is surely gone
        os.waitpid(int(line), 0)
        print("reaped", flush=True)
"""


@pytest.mark.slow
def test_kill_9_at_random_moments_of_repeated_saves_never_leaves_a_partial_checkpoint(tmp_path):
    target = tmp_path / "model.safetensors"
    saver = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(target)], cwd=REPO, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    rng = random.Random(0)
    seen_hashes, kills_mid_write = set(), 0
    with saver:  # closes both pipes at the end: left to the garbage collector, their ResourceWarnings fail a test
        try:
            save_s = float(saver.stdout.readline())
            for _ in range(40):
                temps_before = set(tmp_path.glob(".*.tmp"))
                saver.stdin.write("go\n")
                saver.stdin.flush()
                pid = int(saver.stdout.readline())
                time.sleep(rng.uniform(0, 3 * save_s))
                os.kill(pid, signal.SIGKILL)
                saver.stdin.write(f"{pid}\n")
                saver.stdin.flush()
                assert saver.stdout.readline().strip() == "reaped"
                kills_mid_write += bool(set(tmp_path.glob(".*.tmp")) - temps_before)
                model = load_checkpoint(target)  # whole: the weights match the hash in the header
                seen_hashes.add(model.metadata["hash"])
                infos, errors = scan_checkpoints([tmp_path])
                assert [i.path for i in infos] == [target] and errors == []  # a left-over temp file is never listed
        finally:
            saver.kill()
            saver.wait(30)
    assert len(seen_hashes) == 2  # saves did complete between kills: the file went from one model to the other
    assert kills_mid_write > 0  # and some kills did land while a temp file was being written


# --- no datasets on disk and no network -----------------------------------------------------------------------


@pytest.mark.slow
def test_without_mnist_or_fashion_the_app_runs_on_digits_and_says_what_is_missing(tmp_path, monkeypatch, fresh_caches):
    from apptest import routed_pages

    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")
    downloads = []

    def no_network(name):  # the machine may have none: a download must not even be tried by the app
        downloads.append(name)
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_torchvision_download", no_network)
    at = open_page("home", {"dataset": "mnist"})  # a lecturer's link made on a machine that had MNIST
    assert not at.exception and not at.error and not at.sidebar.error
    assert at.query_params["dataset"] in ("digits", ["digits"])
    missing = next(c for c in texts(at.sidebar.caption) if c.startswith("Not available offline"))
    assert "mnist" in missing and "fashion-mnist" in missing
    assert at.title and at.get("image")
    for page in routed_pages()[1:]:  # every page works on what is there
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, texts(at.exception))
        assert not at.error, (page, texts(at.error))
    assert downloads == []


def test_the_app_never_downloads_but_a_script_still_can(tmp_path, monkeypatch):
    from aeviz.ui import caches

    monkeypatch.setenv("AEVIZ_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "_DOWNLOADS", {"allowed": True})  # whatever earlier tests left
    monkeypatch.setattr(caches.torch, "set_num_threads", lambda n: None)  # only the download switch is tested here
    monkeypatch.setattr(caches, "keep_freed_memory", lambda: None)
    caches.configure_server.clear()
    caches.configure_server()  # what the sidebar calls first on every page
    tried = []
    monkeypatch.setattr(data, "_torchvision_download", lambda name: tried.append(name) or tmp_path / "nowhere")
    with pytest.raises(data.DatasetUnavailable, match="does not download it.*load_dataset"):
        data.load_dataset("mnist", "test")
    assert tried == []
    monkeypatch.setattr(data, "_DOWNLOADS", {"allowed": True})  # as in a plain `import aeviz` script
    with pytest.raises(data.DatasetUnavailable, match="could not be downloaded"):
        data.load_dataset("mnist", "test")  # the download was tried, and found nothing
    assert tried == ["MNIST"]


# --- several sessions at once: identical results, shared models untouched ---------------------------------


@contextlib.contextmanager
def concurrent_apptests():
    """Let several AppTests run at once in threads, like a server's sessions.

    AppTest swaps a fresh mock Runtime into `Runtime._instance`, patches the config and resets the multipage
    mode flag for each run, then puts them back: two runs at once would pull these from under each other. Here
    one runtime, one patch and the flag of a server past its first run hold for the whole block, and AppTest's
    own swaps land on subclasses nobody reads."""
    from unittest import mock

    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test
    from streamlit.testing.v1.util import patch_config_options

    from_app_test = vars(app_test)
    BidiComponentManager, DataframeSourceManager = (
        from_app_test["BidiComponentManager"],
        from_app_test["DataframeSourceManager"],
    )

    class Swapped(Runtime):
        """Receives AppTest's per-run `_instance` assignments."""

    class Pages(PagesManager):
        """Receives AppTest's per-run reset of `uses_pages_directory`."""

    runtime = mock.MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    runtime.is_active_session.return_value = True
    runtime.dataframe_source_mgr = DataframeSourceManager()
    components = BidiComponentManager()  # what AppTest's own mock runtime carries: pages mount v2 components
    components.discover_and_register_components(start_file_watching=False)
    runtime.bidi_component_registry = components
    with (
        mock.patch.object(app_test, "Runtime", Swapped),
        mock.patch.object(app_test, "PagesManager", Pages),
        mock.patch.object(PagesManager, "uses_pages_directory", False),
        mock.patch.object(app_test, "patch_config_options", lambda overrides: contextlib.nullcontext()),
        mock.patch.object(Runtime, "_instance", runtime),
        patch_config_options({"global.appTest": True}),
    ):
        yield


SESSIONS = [  # (page, URL state): different images per session, so any cross-talk would show
    ("home", {"dataset": "mnist", "home_idx": "3"}),
    ("home", {"dataset": "mnist", "home_idx": "42", "home_model": "mnist-conv-q8-bce"}),
    ("reconstructions", {"dataset": "mnist", "rec_seed": "5"}),
    ("reconstructions", {"dataset": "mnist", "rec_seed": "9", "rec_family": "conv"}),
    ("denoising", {"dataset": "mnist", "dn_seed": "7", "dn_img_seed": "3"}),
    ("denoising", {"dataset": "mnist", "dn_seed": "8", "dn_kind": "masking"}),
]


def fingerprint(at) -> tuple:
    """What a session shows: text, image bytes and plotly figures, in page order."""
    assert not at.exception, texts(at.exception)
    images = [i.url.rsplit("/", 1)[1] for element in at.get("image") for i in element.proto.imgs]  # id: hash of bytes
    figures = [hashlib.sha256(chart.proto.spec.encode()).hexdigest() for chart in at.get("plotly_chart")]
    words = texts(at.markdown) + texts(at.caption) + texts(at.warning) + texts(at.error) + texts(at.info)
    return tuple(words), tuple(images), tuple(figures)


def parameters_hash(model: torch.nn.Module) -> str:
    return content_hash(model.state_dict())


@pytest.mark.slow
@pytest.mark.needs_data("mnist")
def test_concurrent_sessions_match_single_sessions_and_leave_shared_models_untouched(
    tmp_path, monkeypatch, fresh_caches
):
    from aeviz import ui

    runs = SESSIONS * 2  # two sessions on each URL, all at once, on empty caches
    with concurrent_apptests():
        with ThreadPoolExecutor(len(runs)) as pool:
            together = list(pool.map(lambda s: fingerprint(open_page(*s)), runs))
        shared = {i.name: ui.get_model(i) for i in ui.list_models("mnist")}  # the cached objects the runs used
        st.cache_data.clear()
        st.cache_resource.clear()
        monkeypatch.setenv("AEVIZ_CACHE_DIR", str(tmp_path / "second-cache"))  # computed again, not read back
        alone = [fingerprint(open_page(*s)) for s in SESSIONS]
    for i, (got, want) in enumerate(zip(together, alone * 2)):
        for part, (g, w) in enumerate(zip(got, want)):
            assert g == w, (i, part, [(a, b) for a, b in zip(g, w) if a != b], len(g), len(w))
    for name, model in shared.items():  # the shared models: same weights as on disk, eval mode, no gradients
        assert parameters_hash(model) == model.metadata["hash"], name
        assert model.metadata == {**read_metadata(model.metadata["path"]), "path": model.metadata["path"]}, name
        assert not model.training and not any(p.requires_grad for p in model.parameters()), name
    fresh = {}
    thread = threading.Thread(
        target=lambda: fresh.update(grad=torch.is_grad_enabled(), threads=torch.get_num_threads())
    )
    thread.start()
    thread.join()
    assert fresh == {"grad": True, "threads": int(os.environ.get("AEVIZ_TORCH_THREADS", "1"))}
    assert torch.is_grad_enabled()
