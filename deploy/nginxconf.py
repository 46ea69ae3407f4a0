"""Write nginx's configuration for N aeviz replicas: `python deploy/nginxconf.py RUN LISTEN HOST:PORT...`.

Fills deploy/nginx.conf's placeholders (the run folder for nginx's pid, logs and buffers; the address students
open; one `server` line per replica) into RUN/nginx.conf; deploy/cluster.sh and benchmarks/wsload.py use it.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf"


def render(run: Path, listen: str, replicas: list[str]) -> Path:
    servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=10s;" for address in replicas)
    text = TEMPLATE.read_text().replace("__RUN__", str(run)).replace("__LISTEN__", listen)
    out = Path(run) / "nginx.conf"
    (Path(run) / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    out.write_text(text.replace("__REPLICAS__", servers))
    return out


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__.splitlines()[0])
    print(render(Path(sys.argv[1]), sys.argv[2], sys.argv[3:]))
