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

    def start(self, timeout_s: float = 180) -> RayCluster:
        self.nodes.append(
            self._started(["--head", f"--port={self.port}", "--num-cpus=0", "--include-dashboard=false"], timeout_s)
        )
        for _ in range(self.workers):  # one at a time: two raylets starting together can time each other out
            self.add_worker(timeout_s)
        return self

    def add_worker(self, timeout_s: float = 180) -> subprocess.Popen:
        node = self._started([f"--address={self.address}", f"--num-cpus={self.cpus}"], timeout_s)
        self.nodes.append(node)
        return node

    def _started(self, args: list[str], timeout_s: float, tries: int = 3) -> subprocess.Popen:
        """A node, once `ray start` says it runs. Ray gives a raylet 30 s to register, which a loaded machine
        (six engineers' tests on two cores) can miss: `ray start` then exits, and it is started again."""
        deadline = time.monotonic() + timeout_s
        for attempt in range(tries):
            log = self.temp / f"node-{len(self.nodes)}-{attempt}.log"
            node = self._node(args, log)
            while time.monotonic() < deadline and node.poll() is None:
                if b"Ray runtime started" in log.read_bytes():
                    return node
                time.sleep(0.5)
            if node.poll() is None:  # still starting at the deadline: this one too is stopped below
                self.nodes.append(node)
                break
        why = log.read_text()[-1500:]
        self.stop()
        raise TimeoutError(f"a Ray node did not start in {timeout_s:.0f} s: {why}")

    def _node(self, args: list[str], log_path: Path) -> subprocess.Popen:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
        command = ["ray", "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *args]
        command += [f"--temp-dir={self.temp}", f"--dashboard-agent-listen-port={free_port()}"]
        command += [f"--ray-client-server-port={free_port()}"] if "--head" in args else []
        with open(log_path, "wb") as log:  # the node writes to its own copy of the descriptor
            return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

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
                node.wait(30)
        shutil.rmtree(self.temp, ignore_errors=True)
