"""Starting the sandbox as a process and driving it through its admin API: what tests and benchmarks use.

    with run_sandbox(latency_scale=0.05, seed=7) as box:
        box.fault("tax", status=503)     # PUT /_admin/faults/tax
        box.calls()["tax"]               # GET /_admin/calls
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 15.0) -> None:
    """Until `url` answers 200, or RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up within {timeout}s")
        time.sleep(0.05)


@dataclass
class Sandbox:
    """A running sandbox process and its admin API."""

    url: str
    process: subprocess.Popen[bytes]

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/_admin", timeout=5.0)

    def fault(self, vendor: str, **fault: Any) -> None:
        with self.admin() as c:
            c.put(f"/faults/{vendor}", json=fault).raise_for_status()

    def clear_faults(self) -> None:
        with self.admin() as c:
            c.delete("/faults").raise_for_status()

    def calls(self) -> dict[str, int]:
        with self.admin() as c:
            return c.get("/calls").json()

    def reset(self) -> None:
        """No faults, zeroed call counts, the starting stock (latencies are kept)."""
        with self.admin() as c:
            c.post("/reset").raise_for_status()

    def set_stock(self, sku: str, quantity: int) -> None:
        with self.admin() as c:
            c.put(f"/stock/{sku}", json={"quantity": quantity}).raise_for_status()

    def stock_all(self, handle: str, quantity: int) -> list[str]:
        """Put every variant of a product at `quantity`; returns their SKUs."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            product = client.get("/catalog/admin/api/2024-10/products.json", params={"handle": handle}).json()
            skus = [v["sku"] for v in product["products"][0]["variants"]]
            for sku in skus:
                client.put(f"/_admin/stock/{sku}", json={"quantity": quantity}).raise_for_status()
        return skus

    def latency_ms(self, vendor: str) -> float:
        """The vendor's current mean latency (its usual one unless changed), in ms."""
        with self.admin() as admin:
            return float(admin.get("/latency").json()["vendors"][vendor]["mean_ms"])

    def fix_latencies(self, **overrides: float) -> None:
        """Every vendor at its usual mean latency with no jitter (or `vendor=ms`), so runs compare."""
        with self.admin() as admin:
            usual = admin.get("/latency").json()["vendors"]
            for vendor, latency in usual.items():
                mean = overrides.get(vendor, latency["mean_ms"])
                admin.put(f"/latency/{vendor}", json={"mean_ms": mean, "jitter_ms": 0}).raise_for_status()


@contextlib.contextmanager
def spawned(args: Sequence[str], *, health: str, env: dict[str, str] | None = None,
            output: IO[bytes] | int = subprocess.DEVNULL, cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is up once `health` answers 200; terminated (then killed) on the way out."""
    process = subprocess.Popen(list(args), env=env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        wait_for(health)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def run_sandbox(*, latency_scale: float = 1.0, seed: int | None = None, prefix: Sequence[str] = (),
                output: IO[bytes] | int = subprocess.DEVNULL, cwd: Path | None = None) -> Iterator[Sandbox]:
    """`python -m sandbox` on a free port (after `prefix`, e.g. a `taskset` pinning), stopped on exit."""
    port = free_port()
    args = [*prefix, sys.executable, "-m", "sandbox", "--port", str(port), "--latency-scale", str(latency_scale)]
    if seed is not None:
        args += ["--seed", str(seed)]
    url = f"http://127.0.0.1:{port}"
    with spawned(args, health=f"{url}/healthz", output=output, cwd=cwd) as process:
        yield Sandbox(url=url, process=process)
