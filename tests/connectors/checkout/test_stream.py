"""The order stream against a real Redis: every group reads every entry once, due entries are claimed back,
and entries given up on move to the dead-letter stream, acknowledged, where operators can find them."""

from __future__ import annotations

from connectors.checkout import CheckoutStore
from connectors.checkout.stream import StreamEntry


async def add(store: CheckoutStore, order_id: str, **extra: str) -> str:
    """An order's entry, as checkout (or, with `system`, a redrive) writes it."""
    return (await store.redis.client.xadd(store.stream.name, {"order_id": order_id, **extra})).decode()


async def test_every_group_reads_every_entry_once(store: CheckoutStore) -> None:
    assert await store.stream.ensure_group("erp") is True
    assert await store.stream.ensure_group("erp") is False  # exists: kept as it is
    await add(store, "ord_1")  # before the WMS group exists: still read by it, from the stream's start
    await store.stream.ensure_group("wms")
    await add(store, "ord_2", system="wms")
    erp = await store.stream.read_new("erp", "c1", count=10, block_ms=None)
    wms = await store.stream.read_new("wms", "c1", count=10, block_ms=None)
    assert [e.fields["order_id"] for e in erp] == [e.fields["order_id"] for e in wms] == ["ord_1", "ord_2"]
    assert [e.is_for("erp") for e in erp] == [True, False]  # the redrive names the WMS alone
    assert [e.is_for("wms") for e in wms] == [True, True]
    assert await store.stream.read_new("erp", "c2", count=10, block_ms=None) == []  # delivered once per group


async def test_group_lag_counts_pending_and_undelivered(store: CheckoutStore) -> None:
    await store.stream.ensure_group("erp")
    for i in range(3):
        await add(store, f"ord_{i}")
    [first] = await store.stream.read_new("erp", "c1", count=1, block_ms=None)
    assert await store.stream.group_lag("erp") == (1, 2)
    await store.stream.ack("erp", first.id)
    assert await store.stream.group_lag("erp") == (0, 2)
    assert await store.stream.group_lag("nobody") == (0, 0)


async def test_group_lag_is_nothing_waiting_before_the_stream_exists(store: CheckoutStore) -> None:
    """No order placed and no worker started yet: the queue gauges read 0, not "Redis unavailable"."""
    assert await store.redis.client.exists(store.stream.name) == 0
    assert await store.stream.group_lag("erp") == (0, 0)


async def test_claim_due_takes_over_only_what_due_allows_and_counts_deliveries(store: CheckoutStore) -> None:
    await store.stream.ensure_group("erp")
    await add(store, "ord_1")
    await add(store, "ord_2")
    read = await store.stream.read_new("erp", "crashed", count=10, block_ms=None)
    asked: list[tuple[int, str]] = []

    def never(idle_ms: int, deliveries: int, owner: str) -> bool:
        asked.append((deliveries, owner))
        return False

    assert await store.stream.claim_due("erp", "c2", min_idle_ms=0, due=never) == []
    assert asked == [(1, "crashed"), (1, "crashed")]
    claimed = await store.stream.claim_due("erp", "c2", min_idle_ms=0, due=lambda *_: True, count=1)
    assert claimed == [StreamEntry(read[0].id, {"order_id": "ord_1"}, deliveries=2)]
    # Claimed entries are c2's now: a rule that takes only what "crashed" holds leaves it alone.
    rest = await store.stream.claim_due("erp", "c3", min_idle_ms=0, due=lambda _i, _d, owner: owner == "crashed")
    assert [e.fields["order_id"] for e in rest] == ["ord_2"]
    for entry in read:
        await store.stream.ack("erp", entry.id)
    assert await store.stream.claim_due("erp", "c4", min_idle_ms=0, due=lambda *_: True) == []


async def test_claim_due_skips_an_entry_deleted_while_pending(store: CheckoutStore) -> None:
    await store.stream.ensure_group("erp")
    gone = await add(store, "ord_1")
    await add(store, "ord_2")
    await store.stream.read_new("erp", "c1", count=10, block_ms=None)
    await store.redis.client.xdel(store.stream.name, gone)
    claimed = await store.stream.claim_due("erp", "c2", min_idle_ms=0, due=lambda *_: True)
    assert [e.fields["order_id"] for e in claimed] == ["ord_2"]


async def test_a_dead_letter_is_moved_acknowledged_and_found_by_system_and_order(store: CheckoutStore) -> None:
    for group in ("erp", "wms"):
        await store.stream.ensure_group(group)
    await add(store, "ord_1", traceparent="00-abc-def-01")
    await add(store, "ord_2")
    [e1, e2] = await store.stream.read_new("erp", "c1", count=10, block_ms=None)
    [w1, _] = await store.stream.read_new("wms", "c1", count=10, block_ms=None)
    await store.stream.dead_letter("erp", StreamEntry(e1.id, e1.fields, deliveries=5), "x" * 2000)
    await store.stream.dead_letter("erp", e2, "refused")
    await store.stream.dead_letter("wms", w1, "down")
    assert await store.stream.group_lag("erp") == (0, 0)  # acknowledged: never delivered again
    assert await store.stream.dead_letter_count() == 3
    letters = await store.stream.dead_letters()
    assert [(d.system, d.order_id) for d in letters] == [("wms", "ord_1"), ("erp", "ord_2"), ("erp", "ord_1")]
    oldest = letters[-1]
    assert (oldest.entry_id, oldest.deliveries, oldest.traceparent) == (e1.id, 5, "00-abc-def-01")
    assert oldest.reason == "x" * 500  # kept short
    assert [d.order_id for d in await store.stream.dead_letters(system="erp")] == ["ord_2", "ord_1"]
    assert [d.system for d in await store.stream.dead_letters(order_ids={"ord_1"})] == ["wms", "erp"]


async def test_dead_letters_are_read_page_by_page_without_loss_or_repeat(store: CheckoutStore) -> None:
    await store.stream.ensure_group("erp")
    for i in range(5):
        await add(store, f"ord_{i}")
    for entry in await store.stream.read_new("erp", "c1", count=10, block_ms=None):
        await store.stream.dead_letter("erp", entry, "refused")
    letters = await store.stream.dead_letters(page=2)
    assert [d.order_id for d in letters] == [f"ord_{i}" for i in reversed(range(5))]


async def test_queued_says_where_an_orders_entries_stand_in_each_group(store: CheckoutStore) -> None:
    await store.stream.ensure_group("erp")
    await store.stream.ensure_group("wms")
    entry_id = await add(store, "ord_1")
    await add(store, "ord_2")
    await store.stream.read_new("erp", "c1", count=1, block_ms=None)
    queue = await store.stream.queued("ord_1", ["erp", "wms", "crm"])
    assert [(q.id, q.delivered, q.consumer) for q in queue.entries["erp"]] == [(entry_id, True, "c1")]
    assert [(q.id, q.delivered) for q in queue.entries["wms"]] == [(entry_id, False)]
    assert (queue.entries["crm"], queue.missing_groups, queue.complete) == ([], ["crm"], True)
