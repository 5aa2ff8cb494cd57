"""The checkout store against a real Redis: atomic reservations, exactly-once returns, one-step confirm."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from connectors.checkout import CheckoutStore, Reconciled, done_record
from connectors.config import CheckoutConfig, RedisConfig
from connectors.models import (
    Address,
    DownstreamSystem,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    PaymentAuthorization,
    SyncStatus,
)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CheckoutStore]:
    s = CheckoutStore(redis_url, CheckoutConfig(), RedisConfig())
    yield s
    await s.aclose()


async def counters(store: CheckoutStore, skus: list[str]) -> dict[str, int | None]:
    """The available-to-promise counters, read straight from Redis."""
    values = await store.redis.client.hmget(store.redis.keys.atp, skus)
    return {sku: int(v) if v is not None else None for sku, v in zip(skus, values, strict=True)}


def order(order_id: str, reservation_id: str) -> Order:
    usd = Money.of("18500", "USD")
    return Order(
        id=order_id, status=OrderStatus.CONFIRMED, created_at=time.time(), email="a@b.co",
        ship_to=Address(country_code="US", zip="10001", province_code="NY"),
        lines=(OrderLine("1", "9", "ADE-S0650", "Art Deco", 1, usd),), subtotal=usd, tax=Money.of("1641.88", "USD"),
        insurance=None, total=Money.of("20141.88", "USD"),
        payment=PaymentAuthorization("pi_1", "requires_capture", Money.of("20141.88", "USD")),
        reservation_id=reservation_id,
        downstream_systems=(DownstreamSystem.ERP, DownstreamSystem.WMS, DownstreamSystem.CRM),
    )


async def test_reserve_takes_all_lines_or_none(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 2, "B": 1}, {})
    short = await store.stock.reserve("r1", [("A", 1), ("B", 2)], ttl_s=60)
    assert not short.ok
    assert short.short == {"B": 1}
    assert await counters(store, ["A", "B"]) == {"A": 2, "B": 1}  # nothing taken
    missing = await store.stock.reserve("r1", [("A", 1), ("Z", 1)], ttl_s=60)
    assert missing.missing == ("Z",)
    ok = await store.stock.reserve("r1", [("A", 2), ("B", 1)], ttl_s=60)
    assert ok.ok
    assert await counters(store, ["A", "B"]) == {"A": 0, "B": 0}
    assert (await store.stock.reserve("r1", [("A", 2), ("B", 1)], ttl_s=60)).ok  # the same reservation twice
    assert await counters(store, ["A", "B"]) == {"A": 0, "B": 0}


async def test_two_hundred_buyers_for_one_piece(store: CheckoutStore) -> None:
    await store.stock.reconcile({"ONE": 1, "FEW": 3}, {})
    ones = await asyncio.gather(*(store.stock.reserve(f"o{i}", [("ONE", 1)], ttl_s=60) for i in range(200)))
    few = await asyncio.gather(*(store.stock.reserve(f"f{i}", [("FEW", 1)], ttl_s=60) for i in range(50)))
    assert sum(r.ok for r in ones) == 1
    assert sum(r.ok for r in few) == 3
    assert await counters(store, ["ONE", "FEW"]) == {"ONE": 0, "FEW": 0}


async def test_a_release_or_expiry_returns_stock_exactly_once(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 3}, {})
    await store.stock.reserve("r1", [("A", 2)], ttl_s=60)
    results = await asyncio.gather(*(store.stock.release("r1") for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    assert await counters(store, ["A"]) == {"A": 3}

    await store.stock.reserve("r2", [("A", 3)], ttl_s=0.05)
    await asyncio.sleep(0.1)
    stock = store.stock
    swept = await asyncio.gather(stock.reclaim_expired(), stock.reclaim_expired(), stock.release("r2"))
    assert sum(int(x) for x in swept) == 1
    assert await counters(store, ["A"]) == {"A": 3}

    await store.stock.reserve("r3", [("A", 3)], ttl_s=0.05)
    await asyncio.sleep(0.1)
    later = await store.stock.reserve("r4", [("A", 3)], ttl_s=60)  # reserving sweeps expired holds first
    assert later.ok
    assert await counters(store, ["A"]) == {"A": 0}


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


async def test_reconcile_subtracts_bezels_outstanding_holds_and_reports_changes(store: CheckoutStore) -> None:
    assert await store.stock.reconcile({"A": 5}, {}) == {"A": Reconciled(None, 5, False)}  # seeded
    await store.stock.reserve("r1", [("A", 2)], ttl_s=60)
    # The vendor does not know our hold yet: still 3. One sold elsewhere: a mismatch, corrected.
    assert await store.stock.reconcile({"A": 5}, {}) == {"A": Reconciled(3, 3, False)}
    assert await store.stock.reconcile({"A": 4}, {}) == {"A": Reconciled(3, 2, False)}


async def test_reconcile_skips_a_sku_committed_while_the_vendor_was_asked(store: CheckoutStore) -> None:
    """The vendor's number was read before the sale reached its books, the hold after it was dropped:
    trusting both would sell the one ring twice."""
    await store.stock.reconcile({"ONE": 1}, {})
    await store.stock.reserve("r1", [("ONE", 1)], ttl_s=60)
    assert await store.orders.confirm(order("ord_00000000000000000001", "r1"), token_hash="h", key_digest="k",
                               idempotency_record="{}", idempotency_ttl_s=60, retention_s=60)
    marks = await store.stock.commit_marks(["ONE"])
    vendor_says = 1  # read now: the ERP has not booked the sale yet
    assert await store.stock.commit("r1")  # the ERP books it, the hold goes
    assert await store.stock.reconcile({"ONE": vendor_says}, marks) == {"ONE": Reconciled(0, 0, skipped=True)}
    assert not (await store.stock.reserve("r2", [("ONE", 1)], ttl_s=60)).ok
    marks = await store.stock.commit_marks(["ONE"])
    assert await store.stock.reconcile({"ONE": 0}, marks) == {"ONE": Reconciled(0, 0, False)}


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


async def test_idempotency_claims(store: CheckoutStore) -> None:
    first = await store.idempotency.begin("k", "fp1", attempt="a1", in_flight_ttl_s=10)
    assert first.state == "new"
    again = await store.idempotency.begin("k", "fp1", attempt="a2", in_flight_ttl_s=10)
    assert (again.state, again.fingerprint) == ("in_flight", "fp1")
    await store.idempotency.abandon("k", "a2")  # not a2's claim: stays
    assert (await store.idempotency.begin("k", "fp1", attempt="a3", in_flight_ttl_s=10)).state == "in_flight"
    await store.idempotency.finish("k", "fp1", {"userErrors": []}, ttl_s=60)
    await store.idempotency.abandon("k", "a1")  # a stored result is never freed
    done = await store.idempotency.begin("k", "fp2", attempt="a4", in_flight_ttl_s=10)
    assert (done.state, done.fingerprint, done.result) == ("done", "fp1", {"userErrors": []})
    await store.redis.client.delete(store.idempotency.key("k"))
    assert (await store.idempotency.begin("k", "fp2", attempt="a5", in_flight_ttl_s=10)).state == "new"
    await store.idempotency.abandon("k", "a5")
    assert (await store.idempotency.begin("k", "fp2", attempt="a6", in_flight_ttl_s=10)).state == "new"
    raw = await store.redis.client.get(store.idempotency.key("k"))
    assert json.loads(raw)["attempt"] == "a6"
