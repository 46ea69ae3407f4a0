"""A helper process for GIL-bound fits (UMAP, t-SNE): module-level functions called over a pickle pipe."""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import one_line

# Why a process: numba holds the GIL. Measured on 2 cores: a warm UMAP fit of 10k codes in a server thread
# held the GIL for up to 100 ms at a time (p99 of a 1 ms sleep in another thread: 55-76 ms), and the JIT
# warm-up for 750 ms: every other session's rerun would stall behind it. In a separate process the server's
# threads are untouched. A plain subprocess rather than multiprocessing's spawn, which re-runs the parent's
# __main__ (a pytest, benchmark or notebook) in the child. Messages are pickles between our own two processes.


class HelperError(RuntimeError):
    """The helper process died (killed, out of memory) or could not start; the next call restarts it."""


class HelperTimeout(HelperError):
    """A call that took longer than its timeout: the helper was ended."""


class HelperBusy(HelperError):
    """A call that waited its whole timeout for other callers' calls to end: nothing was sent or ended."""


# Starting a helper (an interpreter, numpy, Pillow, scipy) took 11-40 s on a loaded 2-core machine: a call's
# timeout bounds its own work, not the start-up, so a first upload is not refused for the import time.
STARTUP_S = 90.0
_BARE = (
    "for name in ('aeviz', 'aeviz.jobs'):\n"
    "    sys.modules[name] = types.ModuleType(name)\n"
    f"    sys.modules[name].__path__ = [{str(Path(__file__).resolve().parents[1])!r} + name[5:].replace('.', '/')]"
)


class HelperProcess:
    """One low-priority helper process running module-level functions one call at a time, started by the first.

    `initializer` runs in the helper as soon as it starts (e.g. bounding its memory). Calls from several threads
    queue on a lock. The helper ends when the server does (its stdin closes), when stopped, or when this object
    is dropped (a cleared cache): killed and reaped, its pipes closed. A `light` helper starts without running
    `aeviz/__init__` (and torch's 5 s and 600 MB with it): it may call only modules that import no torch.
    """

    def __init__(self, initializer: Callable[[], Any] | None = None, nice: int = 5, light: bool = False) -> None:
        self._initializer, self._nice, self._light = initializer, nice, light
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._end: weakref.finalize | None = None
        self._replies_due = 0  # replies to read before the next call's own (the initializer's)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _ensure_started(self) -> None:
        if self.alive:
            return
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        start = f"from aeviz.jobs.helper import _serve; _serve({self._nice})"
        if self._light:  # the packages as bare namespaces: their __init__ (torch) never runs here
            start = f"import sys, types\n{_BARE}\n{start}"
        self._process = subprocess.Popen(
            [sys.executable, "-c", start],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._end = weakref.finalize(self, _kill_and_reap, self._process)
        self._replies_due = 0
        if self._initializer is not None:
            self._send((self._initializer, (), {}))
            self._replies_due = 1

    def _send(self, message: tuple) -> None:
        blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)  # fails here, not half-way into the pipe
        self._process.stdin.write(blob)
        self._process.stdin.flush()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in the helper; its exceptions come back as RuntimeError with their text. Past
        `timeout` seconds (waiting for the lock included) the helper is ended (the next call starts another)
        and HelperTimeout raised."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise HelperBusy(f"the helper was busy for {timeout:g} s")
        try:
            self._ensure_started()
            try:
                if self._replies_due:  # the initializer's reply first: start-up has its own allowance
                    started = (
                        None if deadline is None else time.monotonic() + max(STARTUP_S, deadline - time.monotonic())
                    )
                    self._wait(started)
                    pickle.load(self._process.stdout)  # a failure there only costs speed
                    self._replies_due = 0
                    deadline = None if timeout is None else time.monotonic() + timeout  # then fn its own timeout
                # sent only now: two replies in the pipe at once would both land in stdout's buffer on the first
                # read, and select() would not see the second (a 0.1 ms getpid timed out after an 8 s start-up)
                self._send((fn, args, kwargs))
                self._wait(deadline)
                ok, value = pickle.load(self._process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                code = self._stop()
                raise HelperError(f"the helper process ended (exit code {code}): {exc}") from None
        finally:
            self._lock.release()
        if not ok:
            raise RuntimeError(value)
        return value

    def _wait(self, deadline: float | None) -> None:
        """Until a reply is readable; past the deadline the helper is ended, whatever it was doing."""
        if deadline is None:
            return
        readable, _, _ = select.select([self._process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            self._stop()
            raise HelperTimeout("the helper took too long and was stopped")

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> int | None:
        end, self._process, self._end = self._end, None, None
        return end() if end is not None else None


def _kill_and_reap(process: subprocess.Popen) -> int | None:
    """Kill a helper process and reap it, its pipes closed; its exit code (None if it would not end)."""
    with contextlib.suppress(OSError):
        process.kill()
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()
    try:
        return process.wait(5)
    except subprocess.TimeoutExpired:
        return None


def exit_with_parent() -> None:
    """End this helper as soon as its server is gone, even in the middle of a long fit.

    A closed stdin is only noticed between requests; a server killed (or a test ending) during a
    minutes-long fit would otherwise leave an orphan burning a core.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="aeviz-parent-watch", daemon=True).start()


def _serve(nice: int) -> None:
    """The helper's loop: read (fn, args, kwargs) pickles from stdin, write (ok, value) pickles to stdout."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the replies
    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)  # the students' reruns come first
    exit_with_parent()
    requests = sys.stdin.buffer
    while True:
        try:
            fn, args, kwargs = pickle.load(requests)
        except (EOFError, OSError):
            return  # the server went away
        try:
            reply = (True, fn(*args, **kwargs))
        except Exception as exc:
            reply = (False, one_line(exc, limit=500))
        try:
            pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
            replies.flush()
        except OSError:
            return  # the server went away while we worked


def in_cache_dir(cache_root: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) with AEVIZ_CACHE_DIR set: the helper's environment was fixed when it started,
    and the server (or a test) may use another cache folder by now."""
    os.environ["AEVIZ_CACHE_DIR"] = cache_root
    return fn(*args, **kwargs)


def one_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) with one BLAS/OpenMP thread: work that declared one CPU uses one."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    with threadpool_limits(1):
        return fn(*args, **kwargs)
