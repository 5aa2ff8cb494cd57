"""Order records against a real Redis: the one-step confirm, sync states, and redriving a dead-lettered sync."""

from __future__ import annotations

import asyncio

from connectors.checkout import CheckoutStore, Reconciled, done_record
from connectors.checkout.order_records import ALREADY_SYNCED, NO_ORDER, NOT_DEAD, REDRIVEN
from connectors.models import DownstreamState, DownstreamSystem, SyncStatus
from tests.connectors.checkout.conftest import counters, order

WMS = DownstreamSystem.WMS


async def test_confirm_writes_order_stream_and_result_together_and_pins_the_hold(store: CheckoutStore) -> None:
    await store.stock.reconcile({"ADE-S0650": 1}, {})
    await store.stock.reserve("r1", [("ADE-S0650", 1)], ttl_s=0.05)
    record = done_record("fp", {"order": "ord_1"})
    placed = order("ord_1", "r1")
    assert await store.orders.confirm(placed, token_hash="h", key_digest="k1", idempotency_record=record,
                                      idempotency_ttl_s=60, retention_s=60, traceparent="00-abc-def-01")
    await asyncio.sleep(0.1)
    assert await store.stock.reclaim_expired() == 0  # confirmed: no longer expires
    assert await store.stock.release("r1") is False  # and cannot be given back by mistake
    assert await counters(store, ["ADE-S0650"]) == {"ADE-S0650": 0}
    found = await store.orders.get("ord_1")
    assert found is not None
    assert found == (placed, "h")
    states = await store.orders.sync_states("ord_1")
    assert {s.system: s.status for s in states.values()} == {"erp": SyncStatus.PENDING, "wms": SyncStatus.PENDING,
                                                            "crm": SyncStatus.PENDING}
    claim = await store.idempotency.begin("k1", "fp", attempt="x", in_flight_ttl_s=10)
    assert (claim.state, claim.result) == ("done", {"order": "ord_1"})
    await store.stream.ensure_group("erp")
    [entry] = await store.stream.read_new("erp", "c1", count=10, block_ms=10)
    assert entry.fields["order_id"] == "ord_1"
    assert entry.fields["traceparent"] == "00-abc-def-01"
    assert await store.stock.commit("r1") is True
    assert await store.stock.commit("r1") is False
    # The ERP now holds the deduction: the counter follows the ERP's number, nothing is held twice.
    assert await store.stock.reconcile({"ADE-S0650": 0}, await store.stock.commit_marks(["ADE-S0650"])) == {
        "ADE-S0650": Reconciled(0, 0, skipped=False)}


async def test_confirm_refuses_an_expired_reservation(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 1}, {})
    await store.stock.reserve("r1", [("A", 1)], ttl_s=0.01)
    await asyncio.sleep(0.05)
    await store.stock.reclaim_expired()
    record = done_record("fp", {})
    assert not await store.orders.confirm(order("ord_2", "r1"), token_hash="h", key_digest="k2",
                                          idempotency_record=record, idempotency_ttl_s=60, retention_s=60)
    assert await store.orders.get("ord_2") is None


async def test_a_repeated_confirm_adds_nothing_twice(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 1}, {})
    await store.stock.reserve("r1", [("A", 1)], ttl_s=60)
    placed = order("ord_00000000000000000002", "r1")
    for _ in range(3):
        assert await store.orders.confirm(placed, token_hash="h", key_digest="k", idempotency_record="{}",
                                          idempotency_ttl_s=60, retention_s=60)
    assert await store.redis.client.xlen(store.stream.name) == 1
    other = order("ord_00000000000000000003", "r1")  # another order cannot take a confirmed hold
    assert not await store.orders.confirm(other, token_hash="h", key_digest="k2", idempotency_record="{}",
                                          idempotency_ttl_s=60, retention_s=60)


async def placed(store: CheckoutStore, order_id: str = "ord_1") -> None:
    await store.stock.reconcile({"ADE-S0650": 10}, {})
    await store.stock.reserve(f"r-{order_id}", [("ADE-S0650", 1)], ttl_s=60)
    assert await store.orders.confirm(order(order_id, f"r-{order_id}"), token_hash="h", key_digest=order_id,
                                      idempotency_record="{}", idempotency_ttl_s=60, retention_s=60)


async def test_sync_states_are_written_one_system_at_a_time(store: CheckoutStore) -> None:
    assert await store.orders.sync_states("ord_none") == {}
    assert not await store.orders.exists("ord_none")
    await placed(store)
    assert await store.orders.exists("ord_1")
    await store.orders.set_sync("ord_1", DownstreamState(WMS, SyncStatus.FAILED, 5, "HTTP 500", 1700000000.5))
    states = await store.orders.sync_states("ord_1")
    assert states["wms"] == DownstreamState(WMS, SyncStatus.FAILED, 5, "HTTP 500", 1700000000.5)
    assert (states["erp"].status, states["crm"].status) == (SyncStatus.PENDING, SyncStatus.PENDING)


async def dead_lettered(store: CheckoutStore) -> list[str]:
    """ord_1's entry, given up on by the WMS group: the dead letters' ids."""
    await store.stream.ensure_group("wms")
    [entry] = await store.stream.read_new("wms", "c1", count=10, block_ms=None)
    await store.stream.dead_letter("wms", entry, "HTTP 500")
    return [letter.id for letter in await store.stream.dead_letters()]


async def test_a_redrive_queues_the_order_for_that_system_once(store: CheckoutStore) -> None:
    await placed(store)
    await store.orders.set_sync("ord_1", DownstreamState(WMS, SyncStatus.FAILED, 5, "HTTP 500"))
    letters = await dead_lettered(store)
    done = await store.orders.redrive("ord_1", WMS, letters, last_error="HTTP 500", traceparent="00-t-s-01")
    assert (done.outcome, done.system) == (REDRIVEN, WMS)
    # The checkout's entry, then the redrive's (a dead letter's id is from another stream: never compare them).
    [_checkout, (entry_id, fields)] = await store.redis.client.xrange(store.stream.name)
    assert entry_id.decode() == done.entry_id
    assert {k.decode(): v.decode() for k, v in fields.items()}["system"] == "wms"  # for the WMS alone
    state = (await store.orders.sync_states("ord_1"))["wms"]
    assert (state.status, state.attempts, state.last_error) == (SyncStatus.PENDING, 0, "HTTP 500")
    assert await store.stream.dead_letter_count() == 0
    again = await store.orders.redrive("ord_1", WMS, letters, last_error="HTTP 500")
    assert (again.outcome, again.entry_id) == (NOT_DEAD, None)
    assert await store.redis.client.xlen(store.stream.name) == 2  # the checkout's entry and one redrive


async def test_a_redrive_of_a_synced_or_vanished_order_queues_nothing(store: CheckoutStore) -> None:
    await placed(store)
    letters = await dead_lettered(store)
    keys = store.redis.keys
    await store.redis.client.rename(keys.key("order", "ord_1"), "parked")
    assert (await store.orders.redrive("ord_1", WMS, letters, last_error=None)).outcome == NO_ORDER
    assert await store.stream.dead_letter_count() == 1  # kept for when the order is found
    await store.redis.client.rename("parked", keys.key("order", "ord_1"))
    await store.orders.set_sync("ord_1", DownstreamState(WMS, SyncStatus.SYNCED, 2))
    assert (await store.orders.redrive("ord_1", WMS, letters, last_error=None)).outcome == ALREADY_SYNCED
    assert await store.stream.dead_letter_count() == 0
    assert await store.redis.client.xlen(store.stream.name) == 1
