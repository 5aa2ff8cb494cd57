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
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import support
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The sandbox's usual latencies with the jitter taken out, so runs compare like with like (ms).
FIXED_LATENCY_MS = {"catalog": 45, "inventory": 35, "tax": 90, "insurance": 180, "bnpl": 70, "engraving": 240,
                    "payments": 280, "erp": 150, "wms": 110, "crm": 80}
GATEWAY_CORE, LOAD_CORE = "0", "1"
WORK = ROOT / "bench" / ".work"


def pinned(core: str, args: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", core, *args]
    return args


@dataclass
class Process:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def _spawn(args: list[str], url: str, health: str, env: dict[str, str], log: str) -> Iterator[Process]:
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / log).open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_for(health)
        yield Process(url=url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    port = free_port()
    args = pinned(LOAD_CORE, [str(BIN / "bezel"), "sandbox", "--port", str(port), "--seed", "1"])
    url = f"http://127.0.0.1:{port}"
    with _spawn(args, url, f"{url}/healthz", dict(os.environ), "sandbox.log") as process:
        box = Sandbox(url, process.process)
        box.fix_latencies()
        yield box


@dataclass
class Sandbox(support.Sandbox, Process):
    """The tests' sandbox handle (admin API: faults, calls, stock), plus fixed latencies and CPU time."""

    def fix_latencies(self, **overrides: int) -> None:
        with self.admin() as admin:
            for vendor, ms in {**FIXED_LATENCY_MS, **overrides}.items():
                admin.put(f"/latency/{vendor}", json={"mean_ms": ms, "jitter_ms": 0}).raise_for_status()

    def reset(self) -> None:
        super().reset()
        self.fix_latencies()

    def clear_faults(self) -> None:
        with self.admin() as admin:
            admin.delete("/faults").raise_for_status()

    def stock_all(self, handle: str, quantity: int) -> list[str]:
        """Put every variant of a product at `quantity`; returns their SKUs."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            product = client.get("/catalog/admin/api/2024-10/products.json", params={"handle": handle}).json()
            skus = [v["sku"] for v in product["products"][0]["variants"]]
            for sku in skus:
                client.put(f"/_admin/stock/{sku}", json={"quantity": quantity}).raise_for_status()
        return skus


def gateway_env(box: Sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "OTEL_"))}
    env.update({"BEZEL_SANDBOX__URL": box.url, "BEZEL_ENV": "production", "BEZEL_LOG_LEVEL": "WARNING",
                "OTEL_SDK_DISABLED": "false"})
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def gateway(box: Sandbox, **extra: str) -> Iterator[Process]:
    """`bezel serve` as it ships (production settings), one worker process, pinned to its own core."""
    port = free_port()
    args = pinned(GATEWAY_CORE, [str(BIN / "bezel"), "serve", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    with _spawn(args, url, f"{url}/healthz", gateway_env(box, **extra), f"gateway-{port}.log") as process:
        yield process


@contextlib.contextmanager
def worker(box: Sandbox, **extra: str) -> Iterator[Process]:
    port = free_port()
    args = pinned(LOAD_CORE, [str(BIN / "bezel"), "worker", "--metrics-port", str(port)])
    url = f"http://127.0.0.1:{port}"
    with _spawn(args, url, f"{url}/healthz", gateway_env(box, **extra), "worker.log") as process:
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
