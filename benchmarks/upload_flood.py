"""One student against the server's uploads, on a real server; the last line is JSON.

`--attack puts` (the default): N PUTs of M MB to one session's upload URL, then its browser closes.
Run: `AEVIZ_DATA_DIR=... python benchmarks/upload_flood.py [--files 120] [--mb 5] [--wait-s 12]`.
The files go straight to Streamlit's upload endpoint (as a script would, or a browser's uploader), so no page
ever sees them. Prints the server's resident memory and Streamlit's own count of the upload bytes it stores
(its /_stcore/metrics), before, 5 s after the PUTs, `--wait-s` later with the session still open, and
`--wait-s` after the session's websocket closed, and after a second visitor came and went (which makes
Streamlit drop expired disconnected sessions: server.disconnectedSessionTTL, 120 s).

`--attack zips` and `--attack bomb` hand files to the Train page's uploader as its browser does (PUT, then a
rerun whose widget state lists them): `zips`, 8 zips of 0.2 MB, each 40 pictures of 5 MB of zeros, and the
server's resident memory (its own, and with its helper processes) sampled every 0.1 s from before the rerun
until 2 s after it ends; `bomb`, one zip of 400 black 20-megapixel PNGs (0.1 MB) while `--students` other
sessions move the Denoising page's sliders: their slider reruns' p50/p95 for `--quiet-s` before and `--attack-s`
from the upload on. `--before PATH` runs the same attack on another checkout first (e.g. the code before a
change: `git archive <commit> | tar -x -C PATH`), and `--rounds` alternates the two, each on a fresh server, so
that both see the same shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent / "tests" / "e2e")]
from load import start_server, stop_server, tree_usage  # noqa: E402


def rss_mb(pid: int) -> float:
    """The server process's own resident memory (not its map helper's), from /proc."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def stored_upload_mb(url: str) -> float:
    """Streamlit's UploadedFileManager bytes from its metrics endpoint (0 when it stores none). The server caches
    this figure for 5 s, so wait that long first."""
    time.sleep(5.1)
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.findall(r'cache_memory_bytes\{[^}]*cache_type="UploadedFileManager"[^}]*\} (\d+)', text)
    return sum(map(int, found)) / 2**20


def put(url: str, session_id: str, data: bytes, file_id: str = "", name: str = "f.png") -> int:
    """One multipart PUT of `data` as a new file of this session; returns the HTTP status."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(
        f"{url}/_stcore/upload_file/{session_id}/{file_id or uuid.uuid4()}", data=body, method="PUT", headers=headers
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


async def session_id_of(ws) -> str:
    """Open the home page on this websocket, wait for its run to end, and return the session id it was given."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = BackMsg()
    msg.rerun_script.query_string = ""
    await ws.send(msg.SerializeToString())
    session_id = ""
    while True:
        forward = ForwardMsg()
        forward.ParseFromString(await ws.recv())
        if forward.WhichOneof("type") == "new_session":
            session_id = forward.new_session.initialize.session_id
        elif forward.WhichOneof("type") == "script_finished" and session_id:
            return session_id  # the page's models and data are loaded: memory from here on is the uploads'


async def flood(url: str, pid: int, args) -> dict:
    import websockets

    def sample(label: str) -> None:
        levels[label] = {"stored_mb": round(stored_upload_mb(url), 1), "rss_mb": round(rss_mb(pid))}
        print(f"{label:>24}: {levels[label]}", flush=True)

    levels: dict[str, dict] = {}
    async with websockets.connect(
        url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"], max_size=2**26
    ) as ws:
        session_id = await session_id_of(ws)
        sample("before")
        data = os.urandom(args.mb * 2**20 - 1000)  # just under the per-file limit with the multipart framing
        started = time.monotonic()
        statuses, peak = [], 0.0
        for _ in range(args.files):
            statuses.append(await asyncio.to_thread(put, url, session_id, data))
            peak = max(peak, rss_mb(pid))
        print(
            f"{args.files} PUTs in {time.monotonic() - started:.1f} s, statuses {sorted(set(statuses))}, "
            f"peak resident memory {peak:.0f} MB"
        )
        levels["peak during the PUTs"] = {"rss_mb": round(peak)}
        sample("after the PUTs")
        await asyncio.sleep(args.wait_s)
        sample(f"{args.wait_s:g} s later, open")
    await asyncio.sleep(args.wait_s)
    sample(f"{args.wait_s:g} s after closing")
    async with websockets.connect(
        url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"], max_size=2**26
    ) as ws:
        await session_id_of(ws)  # Streamlit reaps expired disconnected sessions when it stores another one
    await asyncio.sleep(2)
    sample("another visitor came, left")
    return levels


# --- the Train page's uploader, driven as its browser drives it ----------------------------------------------------


class Browser:
    """One session's websocket: page runs, the uploader's id, what the page said (errors, warnings, captions)."""

    def __init__(self, ws, query: str) -> None:
        self.ws, self.query = ws, query
        self.session_id, self.uploader, self.said = "", "", []

    async def run(self, page: str, widgets=None, timeout_s: float = 600) -> float:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        msg.rerun_script.query_string, msg.rerun_script.page_name = self.query, page
        if widgets is not None:
            msg.rerun_script.widget_states.widgets.append(widgets)
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self._until_finished(), timeout_s)
        return time.perf_counter() - started

    async def _until_finished(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.said = []
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(await self.ws.recv())
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                self.session_id = forward.new_session.initialize.session_id
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                if element.WhichOneof("type") == "file_uploader":
                    self.uploader = element.file_uploader.id
                elif element.WhichOneof("type") in ("alert", "exception"):
                    body = element.alert.body if element.WhichOneof("type") == "alert" else element.exception.message
                    self.said.append(body[:160])
            elif kind == "script_finished" and forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return

    def upload_state(self, url: str, files: list[tuple[str, bytes]]):
        """PUT the files to this session, as the uploader does, and the widget state that lists them."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.uploader)
        for name, data in files:
            file_id = uuid.uuid4().hex
            put(url, self.session_id, data, file_id, name)
            info = state.file_uploader_state_value.uploaded_file_info.add()
            info.file_id, info.name, info.size = file_id, name, len(data)
            info.file_urls.file_id = file_id
            info.file_urls.upload_url = f"/_stcore/upload_file/{self.session_id}/{file_id}"
            info.file_urls.delete_url = info.file_urls.upload_url
        return state


def zeros_zip(members: int = 40, mb: int = 5) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"c/{i}.png", bytes(mb * 2**20 - 1))
    return buffer.getvalue()


def black_png_zip(count: int = 400) -> bytes:
    from PIL import Image

    picture, buffer = io.BytesIO(), io.BytesIO()
    Image.new("L", (5000, 4000), 0).save(picture, format="PNG")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            archive.writestr(f"black/{i}.png", picture.getvalue())
    return buffer.getvalue()


async def open_train_upload(url: str, ws) -> Browser:
    me = Browser(ws, "dataset=digits&train_data=images%20you%20upload")
    await me.run("train")
    if not me.uploader:
        raise RuntimeError(f"the Train page showed no uploader: {me.said}")
    return me


async def zips_attack(url: str, pid: int, args) -> dict:
    """8 zips of 0.2 MB to the Train page: the server's resident memory before, at its peak, and after."""
    import websockets

    files = [(f"bomb{i}.zip", zeros_zip()) for i in range(args.zips)]
    async with websockets.connect(
        url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"], max_size=2**26
    ) as ws:
        me = await open_train_upload(url, ws)
        state = await asyncio.to_thread(me.upload_state, url, files)
        await asyncio.sleep(2)
        before, peak, tree_peak = rss_mb(pid), 0.0, 0.0
        run = asyncio.ensure_future(me.run("train", state))
        while not run.done():
            peak, tree_peak = max(peak, rss_mb(pid)), max(tree_peak, tree_usage(pid)[0])
            await asyncio.sleep(0.1)
        seconds = run.result()
        for _ in range(20):
            peak, tree_peak = max(peak, rss_mb(pid)), max(tree_peak, tree_usage(pid)[0])
            await asyncio.sleep(0.1)
    found = {
        "upload_mb": round(sum(len(d) for _, d in files) / 2**20, 2),
        "rss_before_mb": round(before),
        "rss_peak_mb": round(peak),
        "tree_peak_mb": round(tree_peak),
        "rss_after_mb": round(rss_mb(pid)),
        "page_run_s": round(seconds, 1),
        "page_said": me.said[:2],
    }
    print(f"{'zips':>6}: {found}", flush=True)
    return found


async def slider_student(url: str, index: int, stop_at: float, times: list[tuple[float, float]]) -> None:
    import random

    import websockets
    from wsload import Student

    rng = random.Random(index)
    async with websockets.connect(
        url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"], max_size=2**26
    ) as ws:
        me = Student(ws, "dataset=mnist")
        await me.run(page_name="denoising", timeout_s=300)
        while time.monotonic() < stop_at:
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            move = me.slider_move(rng)
            if move is None:
                raise RuntimeError("the Denoising page showed no slider")
            ms, _ = await me.run(page_name="denoising", widgets=move, timeout_s=300)
            times.append((time.monotonic(), ms))


async def bomb_attack(url: str, pid: int, args) -> dict:
    """Other students' slider reruns, quiet and while one student uploads a decode bomb to the Train page."""
    import websockets

    bomb = black_png_zip(args.pngs)
    times: list[tuple[float, float]] = []
    start = time.monotonic()
    stop_at = start + args.warm_s + args.quiet_s + args.attack_s
    students = [asyncio.ensure_future(slider_student(url, i, stop_at, times)) for i in range(args.students)]
    async with websockets.connect(
        url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"], max_size=2**26
    ) as ws:
        me = await open_train_upload(url, ws)
        state = await asyncio.to_thread(me.upload_state, url, [("bomb.zip", bomb)])
        await asyncio.sleep(max(0.0, start + args.warm_s + args.quiet_s - time.monotonic()))
        attacked, cpu_before = time.monotonic(), tree_usage(pid)[1]
        attack = asyncio.ensure_future(me.run("train", state, timeout_s=args.attack_s + 600))
        await asyncio.gather(*students)
        ended = attack.done()
        page_s = round(attack.result(), 1) if ended else round(time.monotonic() - attacked, 1)
        attack.cancel()
    quiet = [ms for t, ms in times if start + args.warm_s <= t < attacked]
    during = [ms for t, ms in times if attacked <= t]
    found = {
        "bomb_mb": round(len(bomb) / 2**20, 2),
        "quiet": _percentiles(quiet),
        "during": _percentiles(during),
        "attack_run_s": page_s if ended else f"> {page_s} (still running)",
        "server_cpu_s_during": round(tree_usage(pid)[1] - cpu_before, 1),
        "page_said": me.said[:1],
    }
    print(f"{'bomb':>6}: {found}", flush=True)
    return found


def _percentiles(ms: list[float]) -> dict:
    import numpy as np

    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50))), "p95_ms": round(float(np.percentile(ms, 95)))}


def measure(repo: Path, args) -> dict:
    with tempfile.TemporaryDirectory() as home:
        # the XSRF check is the browser's cookie and header, which a flooding script copies; off here for brevity
        proc, url = start_server(
            Path(home), repo=repo, STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION="false", AEVIZ_WARM_UP="0"
        )
        try:
            attack = {"puts": flood, "zips": zips_attack, "bomb": bomb_attack}[args.attack]
            return asyncio.run(attack(url, proc.pid, args))
        finally:
            stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attack", choices=["puts", "zips", "bomb"], default="puts")
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--mb", type=int, default=5)
    parser.add_argument("--wait-s", type=float, default=12)
    parser.add_argument("--zips", type=int, default=8)
    parser.add_argument("--pngs", type=int, default=400)
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--warm-s", type=float, default=20, help="students settle in, not measured")
    parser.add_argument("--quiet-s", type=float, default=40)
    parser.add_argument("--attack-s", type=float, default=60)
    parser.add_argument("--before", type=Path, help="another checkout to measure first (the code before a change)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    runs: dict[str, list] = {}
    for _ in range(args.rounds):
        for label, repo in ([("before", args.before)] if args.before else []) + [("after", here)]:
            print(f"--- {label}: {repo}", flush=True)
            runs.setdefault(label, []).append(measure(repo, args))
    print(json.dumps({"attack": args.attack, **runs}))


if __name__ == "__main__":
    main()
