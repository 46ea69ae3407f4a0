"""One session flooded with uploads on a real server: N PUTs of M MB to its upload URL, then its browser closes.

Run: `AEVIZ_DATA_DIR=... python benchmarks/upload_flood.py [--files 120] [--mb 5] [--wait-s 12]`.
The files go straight to Streamlit's upload endpoint (as a script would, or a browser's uploader), so no page
ever sees them. Prints the server's resident memory and Streamlit's own count of the upload bytes it stores
(its /_stcore/metrics), before, 5 s after the PUTs, `--wait-s` later with the session still open, and
`--wait-s` after the session's websocket closed, and after a second visitor came and went (which makes
Streamlit drop expired disconnected sessions: server.disconnectedSessionTTL, 120 s); the last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent / "tests" / "e2e")]
from load import start_server, stop_server  # noqa: E402


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


def put(url: str, session_id: str, data: bytes) -> int:
    """One multipart PUT of `data` as a new file of this session; returns the HTTP status."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(
        f"{url}/_stcore/upload_file/{session_id}/{uuid.uuid4()}", data=body, method="PUT", headers=headers
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--mb", type=int, default=5)
    parser.add_argument("--wait-s", type=float, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        # the XSRF check is the browser's cookie and header, which a flooding script copies; off here for brevity
        proc, url = start_server(Path(home), STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION="false", AEVIZ_WARM_UP="0")
        try:
            levels = asyncio.run(flood(url, proc.pid, args))
        finally:
            stop_server(proc)
    print(json.dumps({"files": args.files, "mb": args.mb, "levels": levels}))


if __name__ == "__main__":
    main()
