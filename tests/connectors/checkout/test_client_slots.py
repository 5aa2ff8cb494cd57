"""Per-client checkout slots against a real Redis: a limit per client, given back on leave, expiring alone."""

from __future__ import annotations

import asyncio

from connectors.checkout import CheckoutStore


async def test_a_client_gets_at_most_limit_slots_and_a_refusal_takes_none(store: CheckoutStore) -> None:
    slots = store.slots
    assert [await slots.enter("10.0.0.1", limit=2, ttl_s=60) for _ in range(4)] == [True, True, False, False]
    await slots.leave("10.0.0.1")
    assert await slots.enter("10.0.0.1", limit=2, ttl_s=60)  # the refusals did not count
    assert not await slots.enter("10.0.0.1", limit=2, ttl_s=60)


async def test_clients_do_not_share_slots(store: CheckoutStore) -> None:
    assert await store.slots.enter("a", limit=1, ttl_s=60)
    assert await store.slots.enter("b", limit=1, ttl_s=60)
    assert not await store.slots.enter("a", limit=1, ttl_s=60)


async def test_concurrent_entries_are_limited_atomically(store: CheckoutStore) -> None:
    taken = await asyncio.gather(*(store.slots.enter("c", limit=3, ttl_s=60) for _ in range(30)))
    assert sum(taken) == 3


async def test_leaving_more_often_than_entering_frees_no_extra_slot(store: CheckoutStore) -> None:
    await store.slots.leave("c")  # nothing held: no slot is owed back
    assert await store.slots.enter("c", limit=1, ttl_s=60)
    await store.slots.leave("c")
    await store.slots.leave("c")
    assert await store.slots.enter("c", limit=1, ttl_s=60)
    assert not await store.slots.enter("c", limit=1, ttl_s=60)


async def test_slots_of_a_dead_gateway_expire(store: CheckoutStore) -> None:
    assert await store.slots.enter("c", limit=1, ttl_s=0.05)
    assert not await store.slots.enter("c", limit=1, ttl_s=0.05)
    await asyncio.sleep(0.2)  # the gateway holding it never left
    assert await store.slots.enter("c", limit=1, ttl_s=60)


async def test_the_client_is_not_stored_as_sent(store: CheckoutStore) -> None:
    await store.slots.enter("203.0.113.9", limit=1, ttl_s=60)
    keys = [k.decode() async for k in store.redis.client.scan_iter(match="*")]
    assert len(keys) == 1
    assert "203.0.113.9" not in keys[0]
