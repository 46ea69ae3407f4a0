"""A real Ray cluster on this machine for the cluster tests and benchmarks: a head and workers, each started with
`ray start --block` as a process group of its own, so a test can kill one node (all its processes) like a crash."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_available() -> str:
    """Why a cluster cannot start here ("" when it can): no Ray, or no `ray` command."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return 'Ray is not installed (pip install -e ".[cluster]")'
    return "" if shutil.which("ray") else "the `ray` command is not on PATH"


@dataclass
class RayCluster:
    """A head (no CPUs of its own: jobs run on the workers, as on a real cluster) and workers of `cpus` CPUs."""

    workers: int = 1
    cpus: int = 1
    port: int = field(default_factory=free_port)
    temp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="aray", dir="/tmp")))
    nodes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90) -> RayCluster:
        self.nodes.append(self._node(["--head", f"--port={self.port}", "--num-cpus=0", "--include-dashboard=false"]))
        self.wait(lambda alive: alive >= 1, timeout_s)
        for n in range(self.workers):  # one at a time: two raylets starting together can time each other out
            self.add_worker()
            self.wait(lambda alive, n=n: alive >= 2 + n, timeout_s)
        return self

    def add_worker(self) -> subprocess.Popen:
        node = self._node([f"--address={self.address}", f"--num-cpus={self.cpus}"])
        self.nodes.append(node)
        return node

    def _node(self, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
        command = ["ray", "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *args]
        command += [f"--temp-dir={self.temp}", f"--dashboard-agent-listen-port={free_port()}"]
        command += [f"--ray-client-server-port={free_port()}"] if "--head" in args else []
        log = open(self.temp / f"node-{len(self.nodes)}.log", "wb")  # noqa: SIM115 - kept by the process
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def alive_nodes(self) -> int:
        """Nodes the head reports alive (`ray status` would start its own autoscaler query; this asks the GCS)."""
        probe = (
            "import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False);"
            "print(sum(n['Alive'] for n in ray.nodes()))"
        )
        found = subprocess.run(
            ["python", "-c", probe, self.address], capture_output=True, text=True, timeout=60, cwd=self.temp
        )
        lines = found.stdout.strip().splitlines()
        return int(lines[-1]) if found.returncode == 0 and lines and lines[-1].isdigit() else 0

    def wait(self, ok, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(n.poll() is not None for n in self.nodes[:1]):
                raise RuntimeError(f"ray head exited: {(self.temp / 'node-0.log').read_text()[-2000:]}")
            if ok(self.alive_nodes()):
                return
            time.sleep(1)
        raise TimeoutError(f"the Ray cluster did not come up in {timeout_s:.0f} s")

    def kill_node(self, node: subprocess.Popen) -> None:
        """Every process of a node at once (its raylet, its workers): what a machine's crash does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.wait(30)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)  # ray start --block stops its node's processes on SIGTERM
        for node in reversed(self.nodes):
            try:
                node.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)
