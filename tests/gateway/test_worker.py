"""One consumer group's worker, step by step, against a real Redis and the in-process sandbox: an ERP
that fails is retried with its attempts counted, one that keeps failing is dead-lettered, Redis
failing mid-step loses no entry, and a stream or group Redis lost is rebuilt from the orders."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.config import WorkerConfig
from connectors.errors import CheckoutUnavailable
from connectors.models import DownstreamSystem, SyncStatus
from gateway.worker import RECOVERIES, REQUEUED, SYNC_OUTCOMES, GroupWorker
from resolvers.checkout import place_order
from resolvers.context import RequestContext
from tests.resolvers.checkout.test_orchestration import Line, Request
from tests.support import Shop, shop_in_process

QUICK = WorkerConfig(retry_backoff_ms=50, retry_backoff_max_ms=100, block_ms=10, max_deliveries=3,
                     claim_idle_ms=1000)


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


async def an_order(shop: Shop) -> str:
    product = shop.sandbox.sandbox.by_handle["gold-huggie-hoops"]
    variant = product.variants[0]
    shop.sandbox.sandbox.stock[variant.sku] = 10
    result = await place_order(RequestContext.start(shop.services, budget_ms=5000),
                               Request([Line(str(variant.id))], idempotency_key=str(uuid.uuid4())))
    assert result.order is not None, result.user_errors
    return result.order.id


def erp_worker(shop: Shop) -> GroupWorker:
    return GroupWorker(shop.services, shop.store, DownstreamSystem.ERP, QUICK, consumer="test-erp")


async def state(shop: Shop, order_id: str) -> Any:
    return (await shop.store.orders.sync_states(order_id))["erp"]


async def steps_until(worker: GroupWorker, done: Any, limit: int = 40) -> None:
    for _ in range(limit):
        await worker.step()
        if await done():
            return
        await asyncio.sleep(0.03)
    raise AssertionError("the worker did not get there")


async def test_a_failing_erp_is_retried_then_the_hold_becomes_the_erps(shop: Shop) -> None:
    order_id = await an_order(shop)
    worker = erp_worker(shop)
    await shop.store.stream.ensure_group("erp")
    shop.fault("erp", status=503, times=1)
    assert await worker.step() == 1
    failed = await state(shop, order_id)
    assert (failed.status, failed.attempts, failed.last_error) == (SyncStatus.PENDING, 1, "error (HTTP 503)")

    async def synced() -> bool:
        return (await state(shop, order_id)).status is SyncStatus.SYNCED

    await steps_until(worker, synced)
    assert (await state(shop, order_id)).attempts == 2
    assert await shop.store.redis.client.hlen(shop.store.redis.keys.reservations) == 0  # committed to the ERP
    assert shop.sandbox.sandbox.received["erp"][order_id]  # the sales order, once
    assert await shop.store.stream.group_lag("erp") == (0, 0)


async def test_an_erp_that_keeps_failing_dead_letters_the_entry_after_max_deliveries(shop: Shop) -> None:
    order_id = await an_order(shop)
    worker = erp_worker(shop)
    await shop.store.stream.ensure_group("erp")
    shop.fault("erp", status=500)

    async def dead() -> bool:
        return await shop.store.stream.dead_letter_count() == 1

    await steps_until(worker, dead)
    final = await state(shop, order_id)
    assert (final.status, final.attempts) == (SyncStatus.FAILED, QUICK.max_deliveries)
    assert await shop.store.stream.group_lag("erp") == (0, 0)


async def test_redis_failing_mid_step_leaves_the_entry_pending_for_the_next_round(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await an_order(shop)
    worker = erp_worker(shop)
    await shop.store.stream.ensure_group("erp")
    real = shop.store.orders.get
    calls = [0]

    async def flaky(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise CheckoutUnavailable(detail="injected")
        return await real(*args)

    monkeypatch.setattr(shop.store.orders, "get", flaky)
    with pytest.raises(CheckoutUnavailable):
        await worker.step()
    assert await shop.store.stream.group_lag("erp") == (1, 0)  # delivered, not acknowledged

    async def synced() -> bool:
        return (await state(shop, order_id)).status is SyncStatus.SYNCED

    await steps_until(worker, synced)
    assert len(shop.sandbox.sandbox.received["erp"]) == 1


async def test_an_entry_for_an_unknown_order_is_dead_lettered_not_retried_forever(shop: Shop) -> None:
    await shop.store.stream.ensure_group("erp")
    await shop.store.redis.client.xadd(shop.store.stream.name, {"order_id": "ord_00000000000000000000"})
    worker = erp_worker(shop)

    async def dead() -> bool:
        return await shop.store.stream.dead_letter_count() == 1

    await steps_until(worker, dead)
    assert shop.calls("erp") == 0


async def test_a_destroyed_group_is_recreated_and_sends_nothing_twice(shop: Shop) -> None:
    """XGROUP DESTROY mid-outage: the group comes back from the stream's start; the order the ERP had is not
    sent again, the one it was owed is synced."""
    had = await an_order(shop)
    worker = erp_worker(shop)
    await steps_until(worker, lambda: _synced(shop, had))
    owed = await an_order(shop)
    shop.fault("erp", status=503, times=1)
    assert await worker.step() == 1
    assert (await state(shop, owed)).status is SyncStatus.PENDING
    await shop.store.redis.client.xgroup_destroy(shop.store.stream.name, "erp")
    calls = shop.calls("erp")
    await steps_until(worker, lambda: _synced(shop, owed))
    assert shop.calls("erp") == calls + 1  # the owed order, once; nothing for the one it had
    assert (await state(shop, owed)).attempts == 2
    assert await shop.store.stream.group_lag("erp") == (0, 0)


async def test_a_stream_deleted_under_the_worker_is_rebuilt_from_the_orders(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    had = await an_order(shop)
    worker = erp_worker(shop)
    await steps_until(worker, lambda: _synced(shop, had))
    owed = await an_order(shop)
    await shop.store.redis.client.delete(shop.store.stream.name)  # before the worker read the owed order's entry
    calls = shop.calls("erp")
    with caplog.at_level(logging.WARNING, logger="bezel.worker"):
        assert await worker.step() == 0  # the group is gone: recreated, and the owed order put back
    assert "consumer group erp recreated; 1 order(s) it was owed put back" in caplog.text
    await steps_until(worker, lambda: _synced(shop, owed))
    assert shop.calls("erp") == calls + 1
    assert [f[b"order_id"].decode() for _, f in await shop.store.redis.client.xrange(shop.store.stream.name)] == [owed]


async def test_workers_of_one_group_rebuilding_at_once_queue_each_order_once(shop: Shop) -> None:
    order_ids = {await an_order(shop) for _ in range(3)}
    first = erp_worker(shop)
    second = GroupWorker(shop.services, shop.store, DownstreamSystem.ERP, QUICK, consumer="test-erp-2")
    for worker in (first, second):
        worker.requeue_due = False  # as if both had run before the loss
    await shop.store.stream.ensure_group("erp")
    await shop.store.redis.client.delete(shop.store.stream.name)
    calls = shop.calls("erp")
    await asyncio.gather(first.step(), second.step())
    queued = [f[b"order_id"].decode() for _, f in await shop.store.redis.client.xrange(shop.store.stream.name)]
    assert sorted(queued) == sorted(order_ids)

    async def all_synced() -> bool:
        return all([await _synced(shop, order_id) for order_id in order_ids])

    for _ in range(40):
        await asyncio.gather(first.step(), second.step())
        if await all_synced():
            break
    assert await all_synced()
    assert set(shop.sandbox.sandbox.received["erp"]) == order_ids
    assert shop.calls("erp") == calls + 3, shop.sandbox.board.requests


async def _synced(shop: Shop, order_id: str) -> bool:
    return (await state(shop, order_id)).status is SyncStatus.SYNCED


async def test_a_group_worker_declares_its_counters_at_0_when_built(shop: Shop) -> None:
    """Only the process that syncs a system reports its sync counters; from start-up, for an alert to watch."""
    GroupWorker(shop.services, shop.store, DownstreamSystem.INSURANCE, QUICK, consumer="test-insurance")
    system = ("system", "insurance")
    assert {key for key in SYNC_OUTCOMES.counts if system in key} >= {
        (("result", result), system) for result in ("synced", "failed", "dead_lettered")}
    assert (system,) in RECOVERIES.counts
    assert (system,) in REQUEUED.counts
