"""The owed index and the requeue against a real Redis: the index follows the sync states, and a lost stream
or group gets back exactly the orders each system is owed, once, however many workers rebuild it at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from connectors.checkout import CheckoutStore, done_record
from connectors.checkout.stream import GroupMissing
from connectors.config import CheckoutConfig, RedisConfig
from connectors.models import DownstreamState, DownstreamSystem, SyncStatus
from tests.connectors.checkout.conftest import order

ERP, WMS, CRM = DownstreamSystem.ERP, DownstreamSystem.WMS, DownstreamSystem.CRM


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CheckoutStore]:
    s = CheckoutStore(redis_url, CheckoutConfig(), RedisConfig())
    await s.stock.reconcile({"ADE-S0650": 1000}, {})
    yield s
    await s.aclose()


async def confirmed(store: CheckoutStore, *order_ids: str) -> None:
    for order_id in order_ids:
        await store.stock.reserve(f"r-{order_id}", [("ADE-S0650", 1)], ttl_s=60)
        assert await store.orders.confirm(order(order_id, f"r-{order_id}"), token_hash="h", key_digest=order_id,
                                          idempotency_record=done_record("fp", {}), idempotency_ttl_s=60,
                                          retention_s=60)


async def settle(store: CheckoutStore, order_id: str, system: DownstreamSystem, status: SyncStatus) -> None:
    await store.orders.set_sync(order_id, DownstreamState(system, status, 1, None, 0.0))


async def owed(store: CheckoutStore) -> set[str]:
    return set(await store.orders.owed.members())


async def entries(store: CheckoutStore) -> list[dict[str, str]]:
    raw = await store.redis.client.xrange(store.stream.name)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in raw]


async def lose_stream(store: CheckoutStore) -> None:
    await store.redis.client.delete(store.stream.name)


async def test_an_order_is_owed_from_its_confirmation_until_every_system_is_settled(store: CheckoutStore) -> None:
    """Settled is SYNCED or FAILED; a redrive makes the order owed again."""
    await confirmed(store, "ord_1")
    assert await owed(store) == {"ord_1"}
    [(_, score)] = await store.redis.client.zrange(store.redis.keys.owed, 0, -1, withscores=True)
    [(entry_id, _)] = await store.redis.client.xrange(store.stream.name)
    assert int(score) == int(entry_id.decode().split("-")[0])  # no entry of the order is older than its score
    await settle(store, "ord_1", ERP, SyncStatus.SYNCED)
    await settle(store, "ord_1", WMS, SyncStatus.FAILED)
    assert await owed(store) == {"ord_1"}  # the CRM is still to get it
    await settle(store, "ord_1", CRM, SyncStatus.SYNCED)
    assert await owed(store) == set()

    await store.stream.ensure_group("wms")
    [entry] = await store.stream.read_new("wms", "c1", count=10, block_ms=None)
    await store.stream.dead_letter("wms", entry, "refused")
    [letter] = await store.stream.dead_letters()
    assert (await store.orders.redrive("ord_1", WMS, [letter.id], last_error="refused")).outcome == "redriven"
    assert await owed(store) == {"ord_1"}


async def test_a_confirmation_drops_index_members_past_retention(store: CheckoutStore) -> None:
    await store.redis.client.zadd(store.redis.keys.owed, {"ord_ancient": 1_000})  # its records expired long ago
    await confirmed(store, "ord_1")
    assert await owed(store) == {"ord_1"}


async def test_requeue_puts_back_only_what_a_system_is_owed_and_has_no_entry_for(store: CheckoutStore) -> None:
    await confirmed(store, "ord_1", "ord_2", "ord_3")
    await settle(store, "ord_2", ERP, SyncStatus.SYNCED)
    await settle(store, "ord_3", ERP, SyncStatus.FAILED)  # dead-lettered: an operator's to redrive, not ours
    await lose_stream(store)
    await confirmed(store, "ord_4")  # its entry starts a new stream
    done = await store.orders.owed.requeue("erp", traceparent="00-abc-def-01")
    assert (done.order_ids, done.owed, done.dropped) == (("ord_1",), 4, 0)
    assert (await entries(store))[1:] == [{"order_id": "ord_1", "system": "erp", "requeued": "1",
                                           "traceparent": "00-abc-def-01"}]
    assert (await store.orders.owed.requeue("erp")).order_ids == ()  # again: it has an entry now
    assert (await store.orders.owed.requeue("wms")).order_ids == ("ord_1", "ord_2", "ord_3")
    assert len(await entries(store)) == 5


async def test_requeue_with_the_stream_kept_adds_nothing(store: CheckoutStore) -> None:
    """Only the group was lost (XGROUP DESTROY): recreated from the start, it reads every entry again."""
    await confirmed(store, "ord_1", "ord_2")
    await store.stream.ensure_group("erp")
    await store.redis.client.xgroup_destroy(store.stream.name, "erp")
    done = await store.orders.owed.requeue("erp")
    assert (done.order_ids, done.scanned) == ((), 2)


async def test_many_workers_requeuing_at_once_queue_each_order_once(store: CheckoutStore) -> None:
    ids = [f"ord_{i}" for i in range(7)]
    await confirmed(store, *ids)
    await lose_stream(store)
    results = await asyncio.gather(*(store.orders.owed.requeue("erp") for _ in range(4)))
    assert sorted(order_id for r in results for order_id in r.order_ids) == ids
    assert sorted(e["order_id"] for e in await entries(store)) == ids


async def test_requeue_drops_orders_whose_records_are_gone(store: CheckoutStore) -> None:
    await confirmed(store, "ord_1", "ord_2")
    keys = store.redis.keys
    await store.redis.client.delete(keys.key("order", "ord_1"), keys.key("sync", "ord_1"))  # past retention
    await lose_stream(store)
    done = await store.orders.owed.requeue("erp")
    assert (done.order_ids, done.dropped) == (("ord_2",), 1)
    assert await owed(store) == {"ord_2"}


async def test_a_lost_group_is_told_apart_from_redis_being_down(store: CheckoutStore) -> None:
    """A deleted stream, a destroyed group, and a read blocked when the stream goes: each is `GroupMissing`."""
    await confirmed(store, "ord_1")
    assert await store.stream.ensure_group("erp") is True
    assert await store.stream.ensure_group("erp") is False
    await store.redis.client.xgroup_destroy(store.stream.name, "erp")
    with pytest.raises(GroupMissing):
        await store.stream.claim_due("erp", "c1", min_idle_ms=0, due=lambda *_: True)
    await lose_stream(store)
    with pytest.raises(GroupMissing):
        await store.stream.read_new("erp", "c1", count=1, block_ms=None)
    await store.stream.ensure_group("erp")
    blocked = asyncio.ensure_future(store.stream.read_new("erp", "c1", count=1, block_ms=2_000))
    await asyncio.sleep(0.2)
    await lose_stream(store)
    with pytest.raises(GroupMissing):
        await blocked
