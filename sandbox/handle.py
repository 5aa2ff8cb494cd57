"""Starting the sandbox as a process and driving it through its admin API: what tests and benchmarks use.

    with run_sandbox(latency_scale=0.05, seed=7, webhooks_to="http://127.0.0.1:8000") as box:
        box.fault("tax", status=503)     # PUT /_admin/faults/tax
        box.calls()["tax"]               # GET /_admin/calls
        box.set_erp_stock("HUG-Y14", 9)  # PUT /_admin/erp/stock/HUG-Y14: the ERP's webhook now, the inventory's later
        box.webhooks(loss_rate=0.5)      # PUT /_admin/webhooks
"""

from __future__ import annotations

import contextlib
import os
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

    def storefront(self, **settings: Any) -> dict[str, Any]:
        """The catalog's Storefront API: its cost bucket (`maximum_available`, `restore_rate`) and a field made
        to fail (`fail_field`, `times`); none given: the defaults again."""
        with self.admin() as c:
            response = c.put("/catalog/storefront", json=settings)
            response.raise_for_status()
            return response.json()  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        with self.admin() as c:
            c.delete("/faults").raise_for_status()

    def calls(self) -> dict[str, int]:
        with self.admin() as c:
            return c.get("/calls").json()

    def reset(self) -> None:
        """No faults, zeroed call counts, the starting stock and catalog, the webhook settings it started with and
        nothing pending (no ERP change on its way to the inventory, no webhook on its way out); latencies are kept."""
        with self.admin() as c:
            c.post("/reset").raise_for_status()

    def set_stock(self, sku: str, quantity: int) -> None:
        """Both the ERP and the inventory system at `quantity` (one inventory webhook)."""
        with self.admin() as c:
            c.put(f"/stock/{sku}", json={"quantity": quantity}).raise_for_status()

    def stock(self, sku: str) -> dict[str, Any]:
        """{"sku", "quantity" (the inventory's level), "inventory", "erp"}."""
        with self.admin() as c:
            response = c.get(f"/stock/{sku}")
            response.raise_for_status()
            return response.json()

    def set_inventory_stock(self, sku: str, quantity: int, *, via: str = "commercetools") -> dict[str, Any]:
        """The inventory system only, as a sale in a shop; `via="shopify"` sends Shopify's webhook instead."""
        with self.admin() as c:
            response = c.put(f"/inventory/stock/{sku}", json={"quantity": quantity, "via": via})
            response.raise_for_status()
            return response.json()

    def set_erp_stock(self, sku: str, quantity: int, reason: str = "restock") -> dict[str, Any]:
        """The ERP only: its webhook now, the inventory system after its sync delay."""
        with self.admin() as c:
            response = c.put(f"/erp/stock/{sku}", json={"quantity": quantity, "reason": reason})
            response.raise_for_status()
            return response.json()

    def set_price(self, sku: str, price: str) -> dict[str, Any]:
        """The catalog's price for the variant from now on, and Shopify's products/update."""
        with self.admin() as c:
            response = c.put(f"/price/{sku}", json={"price": price})
            response.raise_for_status()
            return response.json()

    def webhooks(self, **settings: Any) -> dict[str, Any]:
        """Change any webhook setting (`to`, `loss_rate`, `secrets`...; none: just read) and get them all
        back with the counts."""
        with self.admin() as c:
            response = c.put("/webhooks", json=settings) if settings else c.get("/webhooks")
            response.raise_for_status()
            return response.json()

    def deliveries(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The recent deliveries, oldest first: {id, source, topic, status, attempts, emitted_at, delivered_at}."""
        with self.admin() as c:
            response = c.get("/webhooks/deliveries", params={"limit": limit})
            response.raise_for_status()
            return response.json()

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
            output: IO[bytes] | int = subprocess.DEVNULL, cwd: Path | None = None,
            timeout: float = 15.0) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is up once `health` answers 200; terminated (then killed) on the way out."""
    process = subprocess.Popen(list(args), env=env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        wait_for(health, timeout)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Terminated, then killed if it has not exited within `timeout` seconds; reaped either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def run_sandbox(*, latency_scale: float = 1.0, seed: int | None = None, prefix: Sequence[str] = (),
                output: IO[bytes] | int = subprocess.DEVNULL, cwd: Path | None = None,
                webhooks_to: str | None = None, erp_sync_delay_ms: int | None = None,
                env: dict[str, str] | None = None) -> Iterator[Sandbox]:
    """`python -m sandbox` on a free port (after `prefix`, e.g. a `taskset` pinning), stopped on exit.

    Webhooks go to `webhooks_to` (None: nowhere, whatever $SANDBOX_WEBHOOKS_TO says); the ERP's
    changes reach the inventory system after `erp_sync_delay_ms` (None: the sandbox's default);
    `env` is the process's environment (its webhook secrets, for one)."""
    port = free_port()
    args = [*prefix, sys.executable, "-m", "sandbox", "--port", str(port), "--latency-scale", str(latency_scale)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if webhooks_to is not None:
        args += ["--webhooks-to", webhooks_to]
    if erp_sync_delay_ms is not None:
        args += ["--erp-sync-delay-ms", str(erp_sync_delay_ms)]
    if webhooks_to is None:  # an inherited $SANDBOX_WEBHOOKS_TO must not send a test's events elsewhere
        env = {k: v for k, v in (os.environ if env is None else env).items() if k != "SANDBOX_WEBHOOKS_TO"}
    url = f"http://127.0.0.1:{port}"
    with spawned(args, health=f"{url}/healthz", env=env, output=output, cwd=cwd) as process:
        yield Sandbox(url=url, process=process)
