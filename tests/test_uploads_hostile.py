"""Uploads one session may not grow without bound: files and bytes per session (both uploaders together),
Streamlit's own stored copies, a closed session's files, the Your images page past its 32-image collection; the
Train page's archives never unpacked and no picture decoded in the server process; upload sets on disk expire."""

from __future__ import annotations

import io
import zipfile

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


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_hundred_files_only_the_limit_is_decoded_and_the_rest_is_dropped_unread():
    files = {f"s{k}.png": stroke(k) for k in range(100)}
    at = uploader(files)
    assert not at.exception, [e.value for e in at.exception]
    state = at.session_state["aeviz_uploads_up"]
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
    admitted, refused = (
        at.session_state["aeviz_uploads_up"]["admitted"],
        at.session_state["aeviz_uploads_up"]["refused"],
    )
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
    assert len(at.session_state["aeviz_uploads_up"]["refused"]) == 2 and len(at.session_state[STORE]) == 4


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


def stored(rt: Runtime) -> quotas.Stored:
    return quotas.Stored(rt.uploaded_file_mgr, rt.uploaded_file_mgr.file_storage, None, rt.is_active_session)


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
    released = quotas.sweep(stored(rt), quotas.Limits(64, 2 * MB))
    storage = rt.uploaded_file_mgr.file_storage
    assert "closed" not in storage and len(storage["calm"]) == 3
    assert list(storage["flood"]) == [f"flood-{i}" for i in range(88, 120)]  # the newest 2 MB
    assert released == 88 * 64 * 1024 + 10 * 100_000
    total = rt.uploaded_file_mgr.get_stats()["cache_memory_bytes"][0].byte_length
    assert total == 32 * 64 * 1024 + 3000  # Streamlit's own accounting agrees
    rt.active.clear()
    quotas.sweep(stored(rt), quotas.Limits(64, 2 * MB))
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


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
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


# --- the Train page's uploads and decode bombs: nothing unpacked or decoded in the server process ------------------

TRAIN = "pages/train.py"


def train_upload(files: list[tuple[str, bytes]]) -> AppTest:
    at = run_page(TRAIN, {"dataset": "digits", "train_data": "images you upload"})
    at.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return at


def zeros_zip(members: int = 40, mb: int = 5) -> bytes:
    """`members` pictures of `mb` MB of zeros each: 200 MB unpacked in 0.2 MB, the finding's zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"c/{i}.png", bytes(mb * MB - 1))
    return buffer.getvalue()


def peak_growth_mb(fn) -> float:
    """How far this process's peak resident memory rose above its memory before `fn` (Linux's VmHWM)."""
    from aeviz.jobs.worker import _reset_peak, _status_mb

    before = _status_mb("self", "VmRSS")
    if before is None or not _reset_peak():
        pytest.skip("needs Linux's /proc peak-memory counter")
    fn()
    return _status_mb("self", "VmHWM") - before


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_zip_bombs_on_the_train_page_are_never_unpacked_in_the_server():
    """The finding: 8 zips of 0.2 MB took the server from 607 to 2,438 MB, each unpacked whole in memory."""
    bomb = zeros_zip()
    assert len(bomb) < 300_000
    at = train_upload([(f"bomb{i}.zip", bomb) for i in range(3)])  # 600 MB unpacked, all together
    growth = peak_growth_mb(at.run)
    assert not at.exception and growth < 100, growth
    (error,) = [e.value for e in at.error]
    assert "take more than 200 MB unpacked" in error  # counted over the whole upload, from the zips' directories


def test_a_decode_bomb_on_the_train_page_is_refused_from_its_headers_and_never_decoded_here(decodes):
    """The finding: 20-megapixel black PNGs zip to 300 bytes each, and 400 of them took 180 s of a page thread."""
    picture = io.BytesIO()
    Image.new("L", (5000, 4000), 0).save(picture, format="PNG")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(20):
            archive.writestr(f"black/{i}.png", picture.getvalue())
    at = train_upload([("bomb.zip", buffer.getvalue())]).run()
    assert not at.exception and decodes == []  # not in this process: the survey ran in the decoding helper
    (error,) = [e.value for e in at.error]
    assert "more than 200 megapixels" in error and "AEVIZ_UPLOAD_MAX_MEGAPIXELS" in error


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    """Pictures Pillow decoded in this (the server's) process."""
    from PIL import ImageFile

    count: list[int] = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (self.tile and count.append(1)) or real(self))
    return count


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_your_images_decodes_in_the_helper_within_one_uploads_pixel_budget(decodes):
    picture = io.BytesIO()
    Image.new("L", (5000, 4000), 0).save(picture, format="PNG")  # 20 megapixels, 20 kB
    at = uploader({f"black{i}.png": picture.getvalue() for i in range(12)})
    assert not at.exception and decodes == []  # decoded in the helper process, never in this one
    shown = warnings(at)
    assert sum("AEVIZ_UPLOAD_MAX_MEGAPIXELS" in w for w in shown) == 2  # 10 x 20 fit 200 megapixels
    assert sum("No ink found" in w for w in shown) == 10  # decoded (there), and black
    assert at.session_state[STORE] == []


def test_the_train_uploader_counts_against_the_sessions_upload_limits(monkeypatch):
    monkeypatch.setenv("AEVIZ_UPLOAD_MAX_FILES", "12")
    at = train_upload([(f"s{k}.png", stroke(k)) for k in range(15)]).run()
    assert not at.exception and any("not read" in w and "12 files" in w for w in warnings(at))
    assert "**12** images from s0\\.png and 11 more files in 1 class" in at.caption[0].value


def test_an_uploaded_set_is_kept_with_the_sessions_models_and_expires_with_them():
    import time

    from aeviz import uploadsets, workspaces
    from aeviz.diskcache import cache_dir

    at = train_upload([(f"s{k}.png", stroke(k)) for k in range(12)]).run()
    assert not at.exception and "**12** images" in at.caption[0].value
    assert not list((cache_dir() / "uploads").glob("*"))  # nothing in the cache, which nothing ever cleaned
    (folder,) = workspaces.root().glob(f"*/{uploadsets.FOLDER}/*")
    assert sorted(p.name for p in folder.iterdir()) == [*(f"{k:03d}.image" for k in range(12)), "files.json"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1.2 * sum(len(stroke(k)) for k in range(12)) + 1000
    assert workspaces.expire(now=time.time() + workspaces.retention_s() + 60) == [folder.parent.parent.name]
    assert not folder.exists()
