"""The decoding helper: a light process (no torch) that decodes uploads, bounded in time and memory."""

from __future__ import annotations

import functools
import io
import os
import sys
import time

import pytest
from PIL import Image

from aeviz import decodehelper as decoding
from aeviz.jobs.helper import HelperProcess, HelperTimeout


def png(size: tuple[int, int], mode: str = "L", value=0) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value).save(buffer, format="PNG")
    return buffer.getvalue()


def loaded_modules() -> list[str]:
    return sorted(sys.modules)


def test_the_helper_starts_without_torch_and_decodes_there():
    helper = decoding.helper()
    assert helper.call(os.getpid) != os.getpid()
    modules = helper.call(loaded_modules)
    assert "torch" not in modules and "PIL.Image" in modules  # 60 MB and 1 s to start, not 650 MB and 5 s
    digit = Image.new("L", (64, 64), 255)
    digit.paste(0, (28, 10, 36, 54))  # a "1"
    buffer = io.BytesIO()
    digit.save(buffer, format="PNG")
    good, bad, used = decoding.load_uploads([("one.png", buffer.getvalue()), ("x.png", b"text")])
    assert [p.name for p in good] == ["one.png"] and used == 64 * 64 and good[0].image.shape == (28, 28)
    assert bad[0][0] == "x.png" and "text" in bad[0][1]


def test_the_pixel_budget_is_one_uploads_and_is_checked_before_decoding(monkeypatch):
    monkeypatch.setenv("AEVIZ_UPLOAD_MAX_MEGAPIXELS", "1")
    files = [(f"{i}.png", png((800, 600))) for i in range(3)]  # 0.48 megapixels each
    _, bad, used = decoding.load_uploads(files)
    assert used == 2 * 800 * 600 and [name for name, _ in bad][-1] == "2.png"
    assert "AEVIZ_UPLOAD_MAX_MEGAPIXELS" in bad[-1][1]


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_picture_over_the_helpers_memory_is_refused_and_the_helper_serves_on(monkeypatch):
    monkeypatch.setattr(decoding, "MEMORY_MB", 40)
    monkeypatch.setattr(decoding, "_helper", None)  # a helper of its own, with 40 MB to spare
    try:
        big = png((4000, 4000), "RGBA", (0, 0, 0, 255))  # 64 MB as RGBA: past 40 MB
        _, bad, _ = decoding.load_uploads([("big.png", big)])
        assert bad[0][0] == "big.png" and "more memory than" in bad[0][1]
        _, bad, _ = decoding.load_uploads([("small.png", png((64, 64), "L", 128))])
        assert "No ink found" in bad[0][1]  # decoded (and blank): the same helper serves on
    finally:
        decoding.helper().stop()
        monkeypatch.setattr(decoding, "_helper", None)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_call_past_its_timeout_ends_the_helper_and_the_next_call_starts_another():
    helper = HelperProcess(nice=10, light=True)
    try:
        first = helper.call(os.getpid)
        asked = time.monotonic()
        with pytest.raises(HelperTimeout):
            helper.call(time.sleep, 30, timeout=1)
        assert time.monotonic() - asked < 10 and not helper.alive
        assert helper.call(os.getpid) != first
    finally:
        helper.stop()


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_slow_start_up_does_not_count_against_the_first_calls_timeout():
    """A loaded server took 20-40 s to start the helper; the first upload was refused as 'took longer than 20 s'
    for a 5 kB photo. The start-up has its own allowance; the call's timeout bounds the call's own work."""
    helper = HelperProcess(initializer=functools.partial(time.sleep, 8), nice=10, light=True)
    try:
        assert helper.call(os.getpid, timeout=5) > 0  # the 8 s start-up is not the call's
        with pytest.raises(HelperTimeout):  # and the call's own work is still bounded
            helper.call(time.sleep, 30, timeout=1)
    finally:
        helper.stop()
