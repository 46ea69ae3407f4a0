"""Uploads one session may not grow without bound: files and bytes per session, Streamlit's own stored copies,
a closed session's files, and the Your images page past its 32-image collection."""

from __future__ import annotations

import numpy as np
import pytest
from apptest import run_page
from PIL import Image, ImageDraw
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec
from streamlit.testing.v1 import AppTest
from test_images import encode

from aeviz import images, settings
from aeviz.ui import quotas

MB = 2**20
PAGE = "pages/your_images.py"
STORE = "aeviz_user_images"


def stroke(k: int) -> bytes:
    """A PNG of a random thick stroke, different for each k: a hundred uploads that are all real images."""
    rng = np.random.default_rng(k)
    img = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(img).line([tuple(rng.integers(8, 56, 2)) for _ in range(3)], fill=0, width=7)
    return encode(img, "PNG")


def noise_png(k: int, side: int = 480) -> bytes:
    """A valid PNG of about side*side bytes (noise does not compress): for the bytes limit."""
    pixels = np.random.default_rng(k).integers(0, 256, (side, side), dtype=np.uint8)
    pixels[100:380, 220:260] = 0  # some ink, so it preprocesses like a digit
    return encode(Image.fromarray(pixels), "PNG")


def uploader_script():
    """A page with the upload helper alone, recording what Streamlit still stores for this session."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from aeviz import ui
    from aeviz.ui import quotas

    ctx = get_script_run_ctx()
    if st.session_state.get("stray"):  # a file PUT to this session's upload URL that no uploader lists
        ctx.uploaded_file_mgr.add_file(ctx.session_id, UploadedFileRec("stray", "x.png", "image/png", b"x" * 1000))
    ui.upload_images("up")
    st.session_state["stored"] = sorted(ctx.uploaded_file_mgr.file_storage.get(ctx.session_id, {}))
    st.session_state["limits"] = quotas.limits()


def uploader(files: dict[str, bytes]) -> AppTest:
    at = AppTest.from_function(uploader_script, default_timeout=60)
    at.run()
    at.file_uploader(key="w_up").set_value([(n, d, "image/png") for n, d in files.items()])
    return at.run()


def warnings(at) -> list[str]:
    return [w.value.replace("\\", "") for w in at.warning]


def test_the_limits_come_from_the_environment(monkeypatch):
    assert quotas.limits() == quotas.Limits(64, 100 * MB)
    monkeypatch.setenv("AEVIZ_UPLOAD_MAX_FILES", "5")
    assert quotas.limits() == quotas.Limits(5, 100 * MB)
    monkeypatch.setenv("AEVIZ_UPLOAD_MAX_MB", "oops")
    with pytest.raises(settings.SettingsError, match="AEVIZ_UPLOAD_MAX_MB must be a whole number"):
        quotas.limits()  # a typo is named (the app and the CLI say it in one line), never silently replaced


def test_admission_counts_files_and_bytes_over_the_session():
    admitted = {}
    refused = quotas.admit([(f"f{i}", 1000) for i in range(100)], admitted, quotas.Limits(64, 100 * MB))
    assert list(admitted) == [f"f{i}" for i in range(64)] and list(refused) == [f"f{i}" for i in range(64, 100)]
    assert all("holds 64 files" in why for why in refused.values())
    admitted = {"old": 60 * MB}  # admitted on an earlier run, still in the uploader
    refused = quotas.admit(
        [("old", 60 * MB), ("a", 30 * MB), ("b", 20 * MB), ("c", 10 * MB)], admitted, quotas.Limits(64, 100 * MB)
    )
    assert list(admitted) == ["old", "a", "c"] and list(refused) == ["b"] and "past 100 MB" in refused["b"]


def test_a_hundred_files_only_the_limit_is_decoded_and_the_rest_is_dropped_unread():
    files = {f"s{k}.png": stroke(k) for k in range(100)}
    at = uploader(files)
    assert not at.exception, [e.value for e in at.exception]
    state = at.session_state["aeviz_uploads"]
    assert len(state["admitted"]) == 64 and len(state["done"]) == 64  # decoded: the first 64 in the list
    assert len(state["refused"]) == 36 and len(at.session_state["stored"]) == 64  # the rest: bytes dropped
    (refusal,) = warnings(at)
    assert refusal.startswith("**s64.png**, **s65.png**, **s66.png** and 33 more: not read") and "64 files" in refusal
    own = at.session_state[STORE]
    assert len(own) == 32 and own[-1].name == "s63.png"  # the collection keeps the newest 32


def test_the_bytes_limit_refuses_with_a_message_and_the_warning_outlives_the_bytes(monkeypatch):
    monkeypatch.setenv("AEVIZ_UPLOAD_MAX_MB", "1")
    files = {f"n{k}.png": noise_png(k) for k in range(6)}
    assert all(0.2 * MB < len(d) < 0.25 * MB for d in files.values())
    at = uploader(files)
    admitted, refused = at.session_state["aeviz_uploads"]["admitted"], at.session_state["aeviz_uploads"]["refused"]
    assert sum(admitted.values()) <= MB < sum(admitted.values()) + min(len(d) for d in files.values())
    assert len(admitted) == 4 and len(refused) == 2
    assert any("past 1 MB" in w for w in warnings(at)) and len(at.session_state["stored"]) == len(admitted)
    stored = MemoryUploadedFileManager.get_files

    def still_stored(self, session_id, file_ids):  # as on a server; AppTest would register them again
        return stored(self, session_id, [i for i in file_ids if i not in refused])

    monkeypatch.setattr(MemoryUploadedFileManager, "get_files", still_stored)
    at.run()  # the refused files' bytes are gone, the uploader still lists them
    assert [type(f).__name__ for f in at.session_state["w_up"]].count("DeletedFile") == 2
    assert not at.exception and any("past 1 MB" in w for w in warnings(at))
    assert len(at.session_state["aeviz_uploads"]["refused"]) == 2 and len(at.session_state[STORE]) == 4


def test_a_file_no_uploader_lists_is_dropped_after_the_grace(monkeypatch):
    at = AppTest.from_function(uploader_script, default_timeout=60)
    at.session_state["stray"] = True
    at.run()
    assert at.session_state["stored"] == ["stray"]  # just arrived: may be an upload the browser reports next
    monkeypatch.setattr(quotas, "UNLISTED_GRACE_S", 0.0)
    at.run()
    assert at.session_state["stored"] == [] and not at.exception


class Runtime:
    """The two things the sweep asks of Streamlit's runtime."""

    def __init__(self, active: set[str]):
        self.uploaded_file_mgr, self.active = MemoryUploadedFileManager("/upload"), active

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active


def put(rt: Runtime, session_id: str, count: int, size: int) -> None:
    for i in range(count):
        rt.uploaded_file_mgr.add_file(
            session_id, UploadedFileRec(f"{session_id}-{i}", "f.png", "image/png", bytes(size))
        )


def test_the_sweep_releases_closed_sessions_and_trims_a_flooded_one():
    rt = Runtime({"flood", "calm"})
    put(rt, "flood", 120, 64 * 1024)  # 120 PUTs to one session's upload URL: 7.5 MB
    put(rt, "calm", 3, 1000)
    put(rt, "closed", 10, 100_000)  # its browser is gone
    released = quotas.sweep(rt.uploaded_file_mgr, rt.is_active_session, quotas.Limits(64, 2 * MB))
    storage = rt.uploaded_file_mgr.file_storage
    assert "closed" not in storage and len(storage["calm"]) == 3
    assert list(storage["flood"]) == [f"flood-{i}" for i in range(88, 120)]  # the newest 2 MB
    assert released == 88 * 64 * 1024 + 10 * 100_000
    total = rt.uploaded_file_mgr.get_stats()["cache_memory_bytes"][0].byte_length
    assert total == 32 * 64 * 1024 + 3000  # Streamlit's own accounting agrees
    rt.active.clear()
    quotas.sweep(rt.uploaded_file_mgr, rt.is_active_session, quotas.Limits(64, 2 * MB))
    assert not storage and rt.uploaded_file_mgr.get_stats() == {}


def test_the_sweep_is_not_started_outside_a_real_server():
    quotas.start_upload_sweep()
    assert quotas._sweeper is None


@pytest.fixture
def stale_label(monkeypatch):
    """Make AppTest send back, for the image picker, the label the browser still shows after the list shifted."""
    from streamlit.testing.v1.element_tree import Selectbox

    original = Selectbox._widget_state

    def sent(self):
        state = original.fget(self)
        if self.key == "w_you_pick" and getattr(self.root, "stale", None):
            state.string_value = self.root.stale
        return state

    monkeypatch.setattr(Selectbox, "_widget_state", property(sent))


def test_the_34th_image_does_not_crash_your_images(stale_label):
    own = [images.Preprocessed(np.full((28, 28), k / 40, np.float32), (), False, f"img{k}") for k in range(32)]
    at = run_page(PAGE, {"dataset": "mnist"}, own_images=own)
    at.file_uploader(key="w_you_upload").set_value([("s33.png", stroke(33), "image/png")])
    at.run()
    assert at.selectbox(key="w_you_pick").options[-2:] == ["31. img31", "32. s33.png"]
    at._tree.stale = "32. img31"  # what the browser picked before img0 dropped out: no option is called that now
    at.file_uploader(key="w_you_upload").set_value(
        [("s33.png", stroke(33), "image/png"), ("s34.png", stroke(34), "image/png")]
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.session_state[STORE]) == 32 and at.session_state[STORE][-1].name == "s34.png"
    assert at.selectbox(key="w_you_pick").value == 31  # the newest is studied
