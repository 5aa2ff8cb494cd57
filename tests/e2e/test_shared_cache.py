"""The Redis tier: shared by gateway processes, and Redis going away is degraded, never down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from sandbox.handle import Sandbox, free_port, wait_for
from tests.support import US_ADDRESS, redis_server_binary, run_gateway, run_redis_server, settings_for

TAX_QUERY = """query($a: AddressInput!) { product(handle: "gold-huggie-hoops") {
    taxEstimate(shipTo: $a) { amountToCollect { amount } freshness { source ageMs } } } }"""


@contextmanager
def gateway_process(sandbox: Sandbox, redis_url: str) -> Iterator[str]:
    """`bezel serve` as its own process, sharing the test's Redis."""
    port = free_port()
    # A roomy Redis timeout: on a loaded CI machine a 50 ms one can expire while the event loop is busy,
    # and a process that thinks Redis is down rightly stops waiting for its peer.
    env = {**os.environ, "BEZEL_SANDBOX__URL": sandbox.url, "REDIS_URL": redis_url, "BEZEL_ENV": "test",
           "BEZEL_REDIS__TIMEOUT_MS": "1000", "BEZEL_ADMIN__PORT": "0"}
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/healthz")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


async def _tax(client: httpx.AsyncClient, url: str, zip_code: str = "10001") -> dict:
    response = await client.post(f"{url}/graphql", json={"query": TAX_QUERY,
                                                         "variables": {"a": {**US_ADDRESS, "zip": zip_code}}})
    return response.json()


async def test_two_gateway_processes_share_answers_and_one_refresh(sandbox: Sandbox, redis_url: str) -> None:
    with gateway_process(sandbox, redis_url) as a, gateway_process(sandbox, redis_url) as b:
        async with httpx.AsyncClient(timeout=10) as client:
            sandbox.reset()
            first = await _tax(client, a)
            second = await _tax(client, b)
            assert first["data"]["product"]["taxEstimate"]["freshness"]["source"] == "LIVE"
            assert second["data"]["product"]["taxEstimate"]["freshness"]["source"] == "CACHE"
            assert second["extensions"]["vendors"]["tax"]["attempts"] == 0
            assert sandbox.calls()["tax"] == 1

            # A cold key wanted by both processes at once: one process calls, the other waits for its answer.
            sandbox.reset()
            sandbox.fault("tax", delay_ms=300)
            results = await asyncio.gather(*(_tax(client, url, "10009") for url in (a, b) * 10))
            assert all(r["data"]["product"]["taxEstimate"] for r in results)
            assert sandbox.calls()["tax"] == 1
            sources = {r["data"]["product"]["taxEstimate"]["freshness"]["source"] for r in results}
            assert sources <= {"LIVE", "CACHE"}


@pytest.fixture
def redis_binary() -> str:
    binary = redis_server_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: redis-server is not installed; this test starts and kills its own")
        pytest.skip("redis-server is not installed; this test starts and kills its own")
    return binary


async def test_redis_killed_mid_run_then_restarted(sandbox: Sandbox, redis_binary: str) -> None:
    with run_redis_server(redis_binary) as server:
        settings = settings_for(sandbox, BEZEL_REDIS__URL=server.url, BEZEL_REDIS__RETRY_AFTER_MS="200")
        async with run_gateway(settings) as gateway:
            tier = gateway.app.state.services.vendors.cache.redis
            warm = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
            assert "errors" not in warm
            assert redis.Redis.from_url(server.url).dbsize() > 0

            server.kill()
            for zip_code in ("10002", "10003", "10004", "10001"):
                started = time.monotonic()
                result = await gateway.gql(TAX_QUERY, {"a": {**US_ADDRESS, "zip": zip_code}})
                assert time.monotonic() - started < 1.0  # Redis calls are bounded and then skipped
                assert "errors" not in result
                assert result["data"]["product"]["taxEstimate"]["amountToCollect"]
            assert tier.state == "degraded"
            cached = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
            assert cached["data"]["product"]["taxEstimate"]["freshness"]["source"] == "CACHE"  # the local tier

            server.start()  # same port, empty
            await asyncio.sleep(0.5)
            deadline = time.monotonic() + 10
            while tier.state != "ok" and time.monotonic() < deadline:
                await gateway.gql(TAX_QUERY, {"a": {**US_ADDRESS, "zip": "10005"}})
                await asyncio.sleep(0.1)
            assert tier.state == "ok"
            await gateway.gql(TAX_QUERY, {"a": {**US_ADDRESS, "zip": "10006"}})
            keys = redis.Redis.from_url(server.url).keys("bezel:cache:tax*")
            assert keys  # writing to the shared tier again, without a restart of the gateway
