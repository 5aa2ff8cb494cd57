"""Stock and queue upkeep (`gateway.upkeep`) on a real Redis and the in-process sandbox: expired holds swept,
counters reconciled with the ERP, rounds the ERP fails skipped without stopping, and the queue gauges."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from connectors.config import WorkerConfig
from connectors.events.bus import Invalidation
from connectors.models import DownstreamSystem
from connectors.telemetry import Gauge
from gateway.services import open_store
from gateway.settings import load_settings
from gateway.upkeep import (
    INVENTORY_MISMATCHES,
    QUEUE_DEAD_LETTERS,
    QUEUE_LAG,
    QUEUE_PENDING,
    StockKeeper,
    sleep_unless,
    watch_queues,
)
from sandbox.handle import free_port
from tests.support import Shop, shop_in_process

QUICK = WorkerConfig(janitor_interval_s=0.01, reconcile_interval_s=3600)


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


class CountingKeeper(StockKeeper):
    """A keeper that counts its rounds' sweeps and reconciles."""

    sweeps = reconciles = 0

    async def sweep(self) -> int:
        self.sweeps += 1
        return await super().sweep()

    async def reconcile(self) -> int:
        self.reconciles += 1
        return await super().reconcile()


async def until(check: Callable[[], Any], within_s: float = 10.0) -> None:
    """Until `check()` (a bool, or an awaitable of one) is true; fails after `within_s`."""
    async with asyncio.timeout(within_s):
        while True:
            done = check()
            if inspect.isawaitable(done):
                done = await done
            if done:
                return
            await asyncio.sleep(0.01)


async def held(shop: Shop) -> int:
    return await shop.store.redis.client.hlen(shop.store.redis.keys.reservations)


async def none_held(shop: Shop) -> bool:
    return await held(shop) == 0


async def test_a_sweep_returns_expired_holds_to_stock_and_leaves_live_ones(shop: Shop) -> None:
    await shop.store.stock.reconcile({"RUB-PT": 5}, {})
    await shop.store.stock.reserve("live", [("RUB-PT", 1)], ttl_s=600)
    await shop.store.stock.reserve("old", [("RUB-PT", 2)], ttl_s=0.001)  # (a reservation sweeps too: last)
    await asyncio.sleep(0.05)
    keeper = StockKeeper(shop.services, shop.store, QUICK)
    assert await keeper.sweep() == 1
    assert await keeper.sweep() == 0
    assert await held(shop) == 1
    assert await shop.store.stock.available(["RUB-PT"]) == {"RUB-PT": 4}


async def test_all_skus_pages_through_the_whole_catalog(shop: Shop) -> None:
    catalog = shop.sandbox.sandbox.products
    first = min(catalog, key=lambda p: len(p.variants))
    catalog += [replace(first, id=100_000 + i, handle=f"copy-{i}", variants=tuple(
        replace(v, id=200_000 + 100 * i + j, sku=f"COPY-{i}-{j}") for j, v in enumerate(first.variants)))
        for i in range(60)]  # 75 products: two catalog pages of 50
    skus = await StockKeeper(shop.services, shop.store, QUICK).all_skus()
    assert sorted(skus) == sorted(v.sku for p in catalog for v in p.variants)


async def test_reconcile_seeds_then_corrects_counters_to_the_erp_less_outstanding_holds(shop: Shop) -> None:
    keeper = StockKeeper(shop.services, shop.store, QUICK)
    assert await keeper.reconcile() == 0  # nothing to compare yet: every counter seeded
    assert keeper.seeded == len(await keeper.all_skus())
    assert await keeper.reconcile() == 0
    await shop.store.stock.reserve("hold", [("RUB-PT", 2)], ttl_s=600)
    shop.sandbox.sandbox.stock["RUB-PT"] = 9  # sold or restocked outside Bezel
    heard: list[Invalidation] = []
    shop.services.bus.listen(heard.append)
    assert await keeper.reconcile() == 1
    assert await shop.store.stock.available(["RUB-PT"]) == {"RUB-PT": 7}
    # Open pages and the edge learn of the correction as of a sale: the SKU, and nothing else, published.
    assert [(i.source, list(i.skus)) for i in heard] == [("reconcile", ["RUB-PT"])]
    assert await keeper.reconcile() == 0
    assert len(heard) == 1


async def test_a_running_keeper_sweeps_every_round_and_reconciles_once_per_interval(shop: Shop) -> None:
    keeper, stop = CountingKeeper(shop.services, shop.store, QUICK), asyncio.Event()
    task = asyncio.create_task(keeper.run(stop))
    await until(lambda: keeper.sweeps >= 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert keeper.reconciles == 1
    assert keeper.seeded > 0


async def test_rounds_the_erp_fails_are_skipped_and_the_sweeps_go_on(shop: Shop,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bezel.worker")
    await shop.store.stock.reconcile({"RUB-PT": 5}, {})
    shop.fault("erp", status=503)
    keeper, stop = CountingKeeper(shop.services, shop.store, QUICK), asyncio.Event()
    task = asyncio.create_task(keeper.run(stop))
    await until(lambda: keeper.reconciles >= 2)  # the failed reconcile is tried again the next round
    await shop.store.stock.reserve("old", [("RUB-PT", 2)], ttl_s=0.001)
    await until(lambda: none_held(shop))  # swept meanwhile
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert keeper.seeded == 0
    assert sum("stock upkeep skipped this round" in r.getMessage() for r in caplog.records) >= 2


async def test_sleep_unless_wakes_when_stopped_and_otherwise_just_returns() -> None:
    stop = asyncio.Event()
    await sleep_unless(stop, 0.01)  # no TimeoutError out of it
    asyncio.get_running_loop().call_later(0.01, stop.set)
    await asyncio.wait_for(sleep_unless(stop, 3600), 5)
    await asyncio.wait_for(sleep_unless(stop, 3600), 5)  # already stopped: at once


def readings(*gauges: Gauge) -> dict[tuple[Any, ...], float]:
    return {(name, *sorted((o.attributes or {}).items())): o.value
            for name, gauge in zip(("pending", "lag", "dead"), gauges, strict=True)
            for source in gauge.sources for o in source()}


async def test_the_queue_gauges_read_each_group_s_pending_and_lag_while_watched(shop: Shop) -> None:
    stream = shop.store.stream
    for group in ("erp", "wms"):
        await stream.ensure_group(group)
    client = shop.store.redis.client
    for i in range(3):
        await client.xadd(stream.name, {"order_id": f"o{i}"})
    await client.xadd(stream.dead_name, {"order_id": "dead"})
    assert len(await stream.read_new("erp", "test", count=1, block_ms=None)) == 1
    stop = asyncio.Event()
    gauges = (QUEUE_PENDING, QUEUE_LAG, QUEUE_DEAD_LETTERS)
    task = asyncio.create_task(watch_queues(shop.store, [DownstreamSystem.ERP, DownstreamSystem.WMS], stop,
                                            every_s=0.01))
    expected = {("pending", ("group", "erp")): 1, ("lag", ("group", "erp")): 2,
                ("pending", ("group", "wms")): 0, ("lag", ("group", "wms")): 3, ("dead",): 1}
    await until(lambda: readings(*gauges) == expected)
    await stream.ack("erp", (await client.xrange(stream.name, count=1))[0][0].decode())
    await until(lambda: readings(*gauges)[("pending", ("group", "erp"))] == 0)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert readings(*gauges) == {}  # a watcher that stopped reports nothing


async def test_before_any_order_the_queue_gauges_read_0_for_each_group(shop: Shop) -> None:
    """A fresh Redis has no order stream yet (no order placed, no worker started): nothing waits, and the
    gauges say so from start-up, rather than reporting nothing."""
    stop = asyncio.Event()
    task = asyncio.create_task(watch_queues(shop.store, [DownstreamSystem.ERP], stop, every_s=0.01))
    await until(lambda: readings(QUEUE_PENDING, QUEUE_LAG, QUEUE_DEAD_LETTERS) == {
        ("pending", ("group", "erp")): 0, ("lag", ("group", "erp")): 0, ("dead",): 0})
    stop.set()
    await asyncio.wait_for(task, 5)


def test_the_process_that_reconciles_reports_its_mismatches_from_start_up(shop: Shop) -> None:
    StockKeeper(shop.services, shop.store, QUICK)
    assert () in INVENTORY_MISMATCHES.counts


async def test_with_redis_down_the_watcher_reports_nothing_and_keeps_watching(caplog: pytest.LogCaptureFixture
                                                                              ) -> None:
    store = open_store(load_settings(None, env="test", redis={"url": f"redis://127.0.0.1:{free_port()}/0"}))
    assert store is not None
    stop = asyncio.Event()
    caplog.set_level(logging.DEBUG, logger="bezel.worker")
    task = asyncio.create_task(watch_queues(store, [DownstreamSystem.ERP], stop, every_s=0.01))
    try:
        await until(lambda: sum("queue stats unavailable" in r.getMessage() for r in caplog.records) >= 2)
        assert not task.done()
        assert readings(QUEUE_PENDING, QUEUE_LAG, QUEUE_DEAD_LETTERS) == {("dead",): 0}
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await store.aclose()
