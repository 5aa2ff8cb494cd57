"""After checkout: ERP, WMS, CRM and the insurer pull orders from the stream, at their own pace, and
nothing is lost when a worker dies, an entry is poison, the ERP is down for a while, or Redis loses the
order stream under the workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import redis

from connectors.config import WorkerConfig
from gateway.upkeep import StockKeeper
from gateway.worker import run_workers
from sandbox.handle import Sandbox
from tests.e2e.test_checkout import ORDER, PLACE, order_input, variant
from tests.support import Gateway, run_gateway, scrape, settings_for, value

STREAM = "bezel:{checkout}:orders"
FAST = WorkerConfig(retry_backoff_ms=100, retry_backoff_max_ms=400, block_ms=100, max_deliveries=5,
                    claim_idle_ms=1000, janitor_interval_s=0.2, reconcile_interval_s=3600)


@pytest.fixture
async def shop(sandbox: Sandbox, redis_url: str) -> AsyncIterator[Gateway]:
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as gateway:
        yield gateway


@asynccontextmanager
async def workers(gateway: Gateway, config: WorkerConfig = FAST) -> AsyncIterator[None]:
    services = gateway.app.state.services
    stop = asyncio.Event()
    task = asyncio.ensure_future(run_workers(services, services.store, config, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def place_orders(gateway: Gateway, sandbox: Sandbox, n: int) -> list[dict[str, Any]]:
    hoops = await variant(gateway, "gold-huggie-hoops", 1)
    sandbox.set_stock(hoops["sku"], n + 5)
    orders = []
    for _ in range(n):
        result = (await gateway.gql(PLACE, {"i": order_input([{"variantId": hoops["id"]}])}))["data"]["placeOrder"]
        assert result["order"], result["userErrors"]
        orders.append(result)
    return orders


async def downstream(gateway: Gateway, placed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = await gateway.gql(ORDER, {"id": placed["order"]["id"], "t": placed["orderToken"]})
    return {d["system"]: d for d in found["data"]["order"]["downstream"]}


async def eventually(check: Callable[[], Any], within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            result = await check()
            if result is None or result:
                return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_every_order_reaches_every_system_once(shop: Gateway, sandbox: Sandbox, redis_url: str) -> None:
    orders = await place_orders(shop, sandbox, 4)
    async with workers(shop):
        async def all_synced() -> None:
            for placed in orders:
                states = await downstream(shop, placed)
                assert {s["status"] for s in states.values()} == {"SYNCED"}, states
        await eventually(all_synced)
    received = {system: sandbox.admin().get(f"/received/{system}").json() for system in ("erp", "wms", "crm")}
    for placed in orders:
        assert placed["order"]["id"] in received["erp"]
        assert placed["order"]["id"] in received["wms"]
        assert placed["order"]["id"] in received["crm"]
    assert len(received["erp"]) == 4
    assert redis.Redis.from_url(redis_url).hlen("bezel:{checkout}:reservations") == 0  # the ERP holds them now
    keeper = StockKeeper(shop.app.state.services, shop.app.state.services.store, FAST)
    assert await keeper.reconcile() == 0  # counters and the ERP agree once every hold is committed


async def test_a_killed_worker_s_entries_are_reclaimed(shop: Gateway, sandbox: Sandbox, redis_url: str) -> None:
    orders = await place_orders(shop, sandbox, 5)
    sandbox.fault("erp", delay_ms=3000)
    with worker_process(sandbox, redis_url) as first:
        await eventually(lambda: _erp_called(sandbox), within_s=15)
        first.send_signal(signal.SIGKILL)  # mid-batch: it holds unacknowledged entries
        first.wait(timeout=10)
    sandbox.admin().delete("/faults")
    with worker_process(sandbox, redis_url):
        async def all_synced() -> None:
            for placed in orders:
                states = await downstream(shop, placed)
                assert states["ERP"]["status"] == "SYNCED", states
        await eventually(all_synced, within_s=30)
    assert sorted(sandbox.admin().get("/received/erp").json()) == sorted(o["order"]["id"] for o in orders)


async def _erp_called(sandbox: Sandbox) -> bool:
    return sandbox.calls()["erp"] >= 1


@contextmanager
def worker_process(sandbox: Sandbox, redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "REDIS_URL": redis_url, "BEZEL_SANDBOX__URL": sandbox.url,
           "BEZEL_WORKER__RETRY_BACKOFF_MS": "300", "BEZEL_WORKER__BLOCK_MS": "200",
           "BEZEL_WORKER__CLAIM_IDLE_MS": "4000",  # above the 3 s the killed worker's ERP call would take
           "BEZEL_VENDORS__ERP__TIMEOUT_MS": "5000"}
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


async def test_a_poison_entry_lands_in_the_dead_letter_stream(shop: Gateway, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.xadd("bezel:{checkout}:orders", {"order_id": f"ord_{uuid.uuid4().hex[:20]}", "traceparent": ""})
    client.xadd("bezel:{checkout}:orders", {"garbage": "yes"})
    async with workers(shop, FAST.model_copy(update={"max_deliveries": 3, "consumers": ["erp"]})):
        async def dead() -> None:
            assert client.xlen("bezel:{checkout}:orders:dead") == 2
        await eventually(dead)
    entries = client.xrange("bezel:{checkout}:orders:dead")
    assert {e[1][b"reason"] for e in entries} == {b"no such order"}
    assert {int(e[1][b"deliveries"]) for e in entries} == {3}
    assert client.xpending("bezel:{checkout}:orders", "erp")["pending"] == 0


async def test_erp_down_for_a_while_delays_only_the_erp(shop: Gateway, sandbox: Sandbox) -> None:
    sandbox.fault("erp", status=503)
    orders = await place_orders(shop, sandbox, 3)  # checkout does not wait for the ERP
    async with workers(shop, FAST.model_copy(update={"max_deliveries": 100})):
        async def erp_retrying() -> None:
            for placed in orders:
                states = await downstream(shop, placed)
                assert states["ERP"]["status"] == "PENDING"
                assert states["ERP"]["attempts"] >= 2
                assert states["ERP"]["lastError"] == "error (HTTP 503)"
                assert states["WMS"]["status"] == states["CRM"]["status"] == "SYNCED"
        await eventually(erp_retrying)
        sandbox.admin().delete("/faults")

        async def caught_up() -> None:
            for placed in orders:
                assert (await downstream(shop, placed))["ERP"]["status"] == "SYNCED"
        await eventually(caught_up)


async def test_reconciliation_counts_and_corrects_a_mismatch(shop: Gateway, sandbox: Sandbox, redis_url: str
                                                             ) -> None:
    keeper = StockKeeper(shop.app.state.services, shop.app.state.services.store, FAST)
    await keeper.reconcile()  # seeds every counter
    assert keeper.seeded > 300
    sandbox.set_stock("RUB-PT", 1)  # two pairs sold in the boutique, outside Bezel
    assert await keeper.reconcile() == 1
    assert int(redis.Redis.from_url(redis_url).hget("bezel:{checkout}:atp", "RUB-PT")) == 1
    assert await keeper.reconcile() == 0


def posts(sandbox: Sandbox, vendor: str, path: str) -> int:
    """POSTs the sandbox logged to `path` since its call log was last cleared."""
    with sandbox.admin() as admin:
        rows = admin.get("/requests", params={"vendor": vendor, "limit": 2000}).json()
    return sum(row["method"] == "POST" and row["path"].endswith(path) for row in rows)


async def test_the_stream_lost_under_running_workers_loses_no_order(shop: Gateway, sandbox: Sandbox,
                                                                   redis_url: str) -> None:
    """Given orders WMS and CRM have and the ERP (down) has not, when Redis loses the order stream under the
    running workers and more orders come in, then once the ERP is back every order reaches every system,
    no system gets again an order it had, and each group's recovery is counted."""
    client = redis.Redis.from_url(redis_url)
    sandbox.fault("erp", status=503)
    before = await scrape(shop)
    async with workers(shop, FAST.model_copy(update={"max_deliveries": 100})):
        early = await place_orders(shop, sandbox, 3)

        async def partly_synced() -> None:
            for placed in early:
                states = await downstream(shop, placed)
                assert states.pop("ERP")["status"] == "PENDING"
                assert {s["status"] for s in states.values()} == {"SYNCED"}, states
        await eventually(partly_synced)
        client.delete(STREAM)  # a restart without the stream, a failover to a replica without it...
        sandbox.admin().delete("/calls")
        late = await place_orders(shop, sandbox, 2)  # their entries start a new stream, with no consumer group
        sandbox.clear_faults()

        async def all_synced() -> None:
            for placed in early + late:
                states = await downstream(shop, placed)
                assert {s["status"] for s in states.values()} == {"SYNCED"}, states
        await eventually(all_synced, within_s=30)
        after = await scrape(shop)
    ids = {placed["order"]["id"] for placed in early + late}
    for system in ("erp", "wms", "crm"):
        assert set(sandbox.admin().get(f"/received/{system}").json()) == ids
    # WMS and CRM had the first three: after the loss they were sent the two new orders only.
    assert posts(sandbox, "wms", "/api/v1/fulfillment-orders") == 2
    assert posts(sandbox, "crm", "/api/v1/events") == 2

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bezel_order_sync_attempts_total", system="erp", result="synced") == 5  # each order once
    assert delta("bezel_order_sync_attempts_total", system="wms", result="synced") == 5
    for system in ("erp", "wms", "crm"):
        assert delta("bezel_order_stream_recoveries_total", system=system) >= 1
    assert delta("bezel_order_stream_requeued_total", system="erp") == 3  # the ERP's three owed orders, once
    assert client.xinfo_groups(STREAM)  # the groups are back


async def test_a_stream_lost_while_no_worker_ran_is_rebuilt_when_one_starts(shop: Gateway, sandbox: Sandbox,
                                                                            redis_url: str) -> None:
    """Given orders placed while no worker ran, and then the stream lost, when the workers start, every
    order still reaches every system."""
    orders = await place_orders(shop, sandbox, 3)
    redis.Redis.from_url(redis_url).delete(STREAM)
    async with workers(shop):
        async def all_synced() -> None:
            for placed in orders:
                states = await downstream(shop, placed)
                assert {s["status"] for s in states.values()} == {"SYNCED"}, states
        await eventually(all_synced)
    for system in ("erp", "wms", "crm"):
        assert set(sandbox.admin().get(f"/received/{system}").json()) == {o["order"]["id"] for o in orders}
