"""The processes a benchmark runs against: the sandbox with fixed latencies, gateways, a worker.

On a 2-core machine the gateway gets core 0 to itself; the sandbox, workers and load generators
share core 1, so the thing measured does not fight its load for a core (`taskset`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import handle
from sandbox.handle import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GATEWAY_CORE, LOAD_CORE = "0", "1"
WORK = ROOT / "bench" / ".work"
# Production's code, limits and settings, on the sandbox: a staging deployment. Production refuses to start on
# vendors at the sandbox (empty urls, plain HTTP), on query texts (the benchmarks send them; documents.py
# also measures require_trusted) and on the demo storefront (browser.py loads it), so each is allowed here,
# by name. They change nothing measured: they only let the process start.
STAGING = {"BEZEL_ENV": "production", "BEZEL_INSECURE__ALLOW_VENDORS": "true",
           "BEZEL_INSECURE__ALLOW_DOCUMENTS": "true", "BEZEL_INSECURE__ALLOW_STOREFRONT": "true"}


def pinned(core: str, args: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", core, *args]
    return args


@dataclass
class Process:
    url: str
    process: subprocess.Popen[bytes]
    admin_url: str = ""  # a gateway's /metrics and /readyz (production serves them on their own port)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the process and the processes it runs (a `bezel serve`
        supervisor's workers), children that exited included."""
        return sum(_cpu(pid) for pid in _tree(self.pid))


def worker_pid(process: Process) -> int:
    """The process serving requests under `bezel serve`'s supervisor (its last child), for profilers."""
    return _tree(process.pid)[-1]


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pids += _tree(int(child))
    return pids


def _cpu(pid: int) -> float:
    """User + system time of the process and of its children that it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone since it was listed
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f) for f in fields[11:15]) / ticks


@contextlib.contextmanager
def spawn(args: list[str], url: str, health: str, env: dict[str, str], log: str, admin_url: str = "",
          cwd: Path = ROOT) -> Iterator[Process]:
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / log).open("wb") as out, handle.spawned(args, health=health, env=env, output=out, cwd=cwd) as p:
        yield Process(url=url, process=p, admin_url=admin_url)


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    """The sandbox on the load core, every vendor at its usual latency without jitter."""
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "sandbox.log").open("wb") as log, \
            handle.run_sandbox(seed=1, prefix=pinned(LOAD_CORE, []), output=log, cwd=ROOT) as box:
        bench_box = Sandbox(box.url, box.process)
        bench_box.usual = {vendor: bench_box.latency_ms(vendor) for vendor in bench_box.calls()}
        bench_box.fix_latencies()
        yield bench_box


@dataclass
class Sandbox(handle.Sandbox, Process):
    """The sandbox handle, reset to fixed latencies, with its CPU time."""

    # Every vendor's usual latency, read when the sandbox started: `reset` puts them back. (The sandbox's
    # own reset keeps latencies, so a scenario that slowed engraving to 1 s slowed every later one too.)
    usual: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        super().reset()
        self.fix_latencies(**self.usual)


def gateway_env(box: Sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "OTEL_"))}
    # The load generators play the load balancer: each request says which shopper it is from in
    # X-Forwarded-For (bench.common.shopper_address), and rate limits count per shopper.
    env.update({"BEZEL_SANDBOX__URL": box.url, **STAGING, "BEZEL_LOG_LEVEL": "WARNING",
                "OTEL_SDK_DISABLED": "false", "BEZEL_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1/32"]'})
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def gateway(box: Sandbox, *, code: Path = ROOT, **extra: str) -> Iterator[Process]:
    """`bezel serve` as it ships (production settings), one worker process, pinned to its own core.

    `code`: another checkout to run (an A/B's base). It is the process's directory and first on its
    PYTHONPATH: `bezel serve` starts its workers with `python -m`, which puts the directory first."""
    if code != ROOT:
        extra = {**extra, "PYTHONPATH": os.pathsep.join(p for p in (str(code), extra.get("PYTHONPATH")) if p)}
    port, admin = free_port(), free_port()
    args = pinned(GATEWAY_CORE, [str(BIN / "bezel"), "serve", "--port", str(port), "--admin-port", str(admin)])
    url = f"http://127.0.0.1:{port}"
    with spawn(args, url, f"{url}/healthz", gateway_env(box, **extra), f"gateway-{port}.log",
                f"http://127.0.0.1:{admin}", cwd=code) as process:
        yield process


@contextlib.contextmanager
def worker(box: Sandbox, **extra: str) -> Iterator[Process]:
    port = free_port()
    args = pinned(LOAD_CORE, [str(BIN / "bezel"), "worker", "--metrics-port", str(port)])
    url = f"http://127.0.0.1:{port}"
    with spawn(args, url, f"{url}/healthz", gateway_env(box, **extra), "worker.log") as process:
        yield process


def redis_url() -> str | None:
    """A Redis for the checkout benchmark (REDIS_URL, else the local default), on db 14, emptied."""
    import redis

    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379"
    url = base.rsplit("/", 1)[0] + "/14" if base.count("/") > 2 else base + "/14"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.flushdb()
        client.close()
    except redis.RedisError:
        return None
    return url
