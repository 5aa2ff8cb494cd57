"""Stock counters and reservations against a real Redis: all lines or none, each hold returned exactly once,
counters reconciled with the vendor's numbers, read and lowered without ever selling a piece twice."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import AbstractConnection

from connectors.checkout import CheckoutStore, Reconciled
from connectors.config import RedisConfig
from connectors.errors import CheckoutUnavailable
from connectors.policy.singleflight import SharedFlight
from connectors.redisclient import SharedRedis
from tests.connectors.checkout.conftest import counters, order


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


async def test_available_gives_expired_holds_back_first_and_none_for_unseeded(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 2, "B": 4}, {})
    await store.stock.reserve("gone", [("A", 2)], ttl_s=0.05)
    await store.stock.reserve("kept", [("B", 1)], ttl_s=60)
    await asyncio.sleep(0.1)
    assert await store.stock.available(["A", "B", "NEVER"]) == {"A": 2, "B": 3, "NEVER": None}
    assert await store.stock.release("gone") is False  # already given back, not twice


async def test_lower_only_ever_lowers_and_leaves_unseeded_skus_alone(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 5, "B": 2}, {})
    await store.stock.reserve("r1", [("A", 1)], ttl_s=60)  # A: 4 left, 1 held
    # A shop sale: the ERP has 3 of A (our hold not in its books yet), says 9 of B, knows C we never sold.
    assert await store.stock.lower({"A": 3, "B": 9, "C": 7}) == {"A": (4, 2)}
    assert await counters(store, ["A", "B", "C"]) == {"A": 2, "B": 2, "C": None}
    assert await store.stock.lower({"A": 0}) == {"A": (2, 0)}  # never below zero, however many are held
    assert await counters(store, ["A"]) == {"A": 0}


async def test_a_page_reads_counters_with_its_cache_reads_when_they_share_a_redis(store: CheckoutStore,
                                                                                   redis_url: str) -> None:
    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    store.stock.read_with(shared)
    flight = SharedFlight(shared)
    await store.stock.reconcile({"A": 2}, {})
    await store.stock.reserve("gone", [("A", 1)], ttl_s=0.05)
    await asyncio.sleep(0.1)
    await asyncio.gather(store.stock.for_page(["A"], timeout_s=1), flight.read_or_lease("tax:k", ttl_s=5))  # loaded
    send, sends = AbstractConnection.send_packed_command, 0

    async def counted(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        nonlocal sends
        sends += 1
        await send(self, command, check_health)  # type: ignore[arg-type]

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        levels, _ = await asyncio.gather(store.stock.for_page(["A", "NEVER"], timeout_s=1),
                                         flight.read_or_lease("tax:j", ttl_s=5))
    finally:
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    assert levels == {"A": 2, "NEVER": None}  # the expired hold given back, as `available` does
    assert sends == 1
    await shared.aclose()  # the page's tier gone: the page hears CheckoutUnavailable, as from its own client
    down = SharedRedis(RedisConfig(url="redis://127.0.0.1:1/0", timeout_ms=50))
    store.stock.read_with(down)
    try:
        with pytest.raises(CheckoutUnavailable):
            await store.stock.for_page(["A"], timeout_s=1)
    finally:
        await down.aclose()
