"""Helpers shared by tests: a real sandbox process, and a gateway client that speaks GraphQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from gateway.app import create_app
from gateway.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TEST_REDIS_DB = 13  # tests own this db index and empty it; nothing else should use it
PRODUCT_PAGE_QUERY = (ROOT / "gateway" / "static" / "product-page.graphql").read_text()
US_ADDRESS = {"countryCode": "US", "provinceCode": "NY", "zip": "10001"}


def redis_test_url() -> str:
    """REDIS_URL (default redis://127.0.0.1:6379) pointed at the tests' own db index."""
    base = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    return urlunsplit((base.scheme, base.netloc, f"/{TEST_REDIS_DB}", base.query, ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 15.0) -> None:
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
    """A `bezel sandbox` process and its admin API."""

    url: str
    process: subprocess.Popen[bytes]

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/_admin", timeout=5.0)

    def fault(self, vendor: str, **fault: Any) -> None:
        with self.admin() as c:
            c.put(f"/faults/{vendor}", json=fault).raise_for_status()

    def calls(self) -> dict[str, int]:
        with self.admin() as c:
            return c.get("/calls").json()

    def reset(self) -> None:
        with self.admin() as c:
            c.post("/reset").raise_for_status()

    def set_stock(self, sku: str, quantity: int) -> None:
        with self.admin() as c:
            c.put(f"/stock/{sku}", json={"quantity": quantity}).raise_for_status()


@contextlib.contextmanager
def run_sandbox(latency_scale: float = 0.05) -> Iterator[Sandbox]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sandbox", "--port", str(port), "--latency-scale", str(latency_scale),
         "--seed", "7"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/healthz")
        yield Sandbox(url=url, process=process)
    finally:
        process.terminate()
        process.wait(timeout=10)


# Tests assert behaviour, not speed: a healthy sandbox vendor must never trip a timeout because a busy
# 2-core CI machine paused the test process. Tests about timeouts set their own, shorter ones.
ROOMY = {"BEZEL_GATEWAY__BUDGET_MS": "5000", "BEZEL_CHECKOUT__REDIS_TIMEOUT_MS": "5000",
         **{f"BEZEL_VENDORS__{v}__TIMEOUT_MS": "2500"
            for v in ("CATALOG", "INVENTORY", "TAX", "INSURANCE", "BNPL", "ENGRAVING")}}


def settings_for(sandbox: Sandbox, **env: str) -> Settings:
    """Settings as `bezel serve` would load them, pointed at the test's sandbox, with roomy timeouts,
    plus `BEZEL_*` overrides."""
    saved = dict(os.environ)
    try:
        os.environ["BEZEL_SANDBOX__URL"] = sandbox.url
        os.environ.setdefault("BEZEL_ENV", "test")
        os.environ.update(ROOMY)
        os.environ.update(env)
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Gateway:
    http: httpx.AsyncClient
    app: Any = None

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.post(query, variables, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.http.post("/graphql", json=body, **kwargs)


@contextlib.asynccontextmanager
async def run_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """The gateway in-process (its vendors over real HTTP), with its lifespan run."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bezel.test", timeout=30) as http:
            yield Gateway(http, app)


def error_codes(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["extensions"]["code"], e["extensions"].get("vendor")) for e in result.get("errors") or []]


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


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


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
