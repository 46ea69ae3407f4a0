"""Uploaded pictures are decoded off the server's threads: in one small, niced helper process, bounded in time
and memory, so that a decode bomb costs its sender a refusal and other students nothing.

Decoding runs in C and mostly releases the GIL, but on a 2-core lecture server a page thread decoding
megapixels takes a core from every other session's reruns (measured: benchmarks/upload_flood.py). Here the
helper runs at a lower priority, under an address-space limit, and is ended past a timeout (the next call starts
another). Every picture's pixels are counted from its header, against one upload's budget, before it is decoded.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path

from . import settings
from .jobs.helper import HelperBusy, HelperError, HelperProcess, HelperTimeout

DECODE_TIMEOUT_S = 20.0  # one picture (20 megapixels decode in about 1 s), or one upload's survey
SURVEY_TIMEOUT_S = 60.0  # headers of up to 5,000 pictures
MEMORY_MB = 1024  # what the helper may allocate beyond its start-up: a 20-megapixel RGBA picture is 80 MB
_helper: HelperProcess | None = None
_guard = threading.Lock()


def helper() -> HelperProcess:
    """The process-wide decoding helper (started on first use; it imports numpy and Pillow, never torch)."""
    global _helper
    with _guard:
        if _helper is None:
            _helper = HelperProcess(initializer=functools.partial(_bound_memory, MEMORY_MB), nice=10, light=True)
        return _helper


def _bound_memory(extra_mb: float) -> None:
    """In the helper: import what decoding needs, then cap the address space a little above where it stands."""
    import resource

    import numpy  # noqa: F401 - imported before the cap: their libraries map memory once, at import
    from PIL import Image  # noqa: F401
    from scipy import ndimage  # noqa: F401

    from . import images  # noqa: F401

    with contextlib.suppress(OSError, ValueError):
        size_kb = next(
            int(line.split()[1])
            for line in Path("/proc/self/status").read_text().splitlines()
            if line.startswith("VmSize:")
        )
        cap = int((size_kb / 1024 + extra_mb) * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def budget() -> float:
    """Pixels one upload may decode: AEVIZ_UPLOAD_MAX_MEGAPIXELS."""
    return settings.current().upload_max_megapixels * 1e6


def load_uploads(files: list[tuple[str, bytes]], *, mnist_style: bool = True, left: float | None = None):
    """Your images' uploads, decoded and preprocessed in the helper, one picture per call: (good, bad, pixels
    used), as images.load_uploads, with `left` pixels of this upload's budget (default all of it)."""
    from .images import load_uploads_within

    left = budget() if left is None else left
    good, bad, used = [], [], 0
    for name, data in files:
        try:
            found, refused, pixels = helper().call(
                load_uploads_within, [(name, data)], mnist_style=mnist_style, left=left - used, timeout=DECODE_TIMEOUT_S
            )
        except HelperBusy:
            found, refused, pixels = [], [(name, _BUSY)], 0
        except HelperTimeout:
            found, refused, pixels = [], [(name, _too_long(DECODE_TIMEOUT_S))], 0
        except (HelperError, RuntimeError) as exc:  # the helper died (over its memory) or could not start
            found, refused, pixels = [], [(name, _failed(exc))], 0
        good += found
        bad += refused
        used += pixels
    return good, bad, used


def survey_upload(folder: Path):
    """uploadsets.survey of a stored upload, in the helper: an ImageSet of headers, or ImageSetError."""
    from .archives import ImageSetError
    from .uploadsets import limits, survey

    try:
        return helper().call(survey, str(folder), limits(), timeout=SURVEY_TIMEOUT_S)
    except HelperBusy:
        raise ImageSetError(_BUSY) from None
    except HelperTimeout:
        raise ImageSetError(_too_long(SURVEY_TIMEOUT_S)) from None
    except HelperError as exc:
        raise ImageSetError(_failed(exc)) from None
    except RuntimeError as exc:  # the survey's own refusal, as text: "ImageSetError: ..."
        raise ImageSetError(str(exc).split(": ", 1)[-1]) from None


_BUSY = "Not read: this server is busy reading other students' uploads; upload it again in a moment."


def _too_long(seconds: float) -> str:
    return f"Reading it took longer than {seconds:g} s, this server's limit; upload fewer or smaller pictures."


def _failed(exc: Exception) -> str:
    return f"It could not be read here ({exc}); upload fewer or smaller pictures."
