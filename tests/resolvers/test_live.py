"""The live-page hub: one read per product and event for all of a process's subscribers, states sent only
when what a page shows changed, caps per client and process, slow subscribers dropped, every stream ended
on shutdown, and orders followed to SYNCED (a wrong token: one null)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.checkout import done_record
from connectors.errors import CheckoutUnavailable
from connectors.events import Invalidation
from connectors.models import DownstreamState, DownstreamSystem, SyncStatus
from resolvers import order_lookup
from resolvers.context import RequestContext
from resolvers.live import (
    DROPPED,
    READ_RETRIES,
    READS,
    Ended,
    LiveHub,
    LiveProduct,
    SubscriptionEnded,
    TooManySubscriptions,
)
from tests.connectors.checkout.conftest import order
from tests.support import Shop, shop_in_process

BROOCH, BROOCH_SKU = "victorian-diamond-brooch", "VIC-ORIG"


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url, live={"max_per_client": 3, "max_subscriptions": 5, "buffer": 2}) as shop:
        yield shop


async def placed_order(shop: Shop) -> tuple[str, str]:
    """An order on the store, every system PENDING; its id and token."""
    order_id, token = f"ord_{uuid.uuid4().hex[:20]}", "the-buyers-token"
    await shop.store.stock.reconcile({"ADE-S0650": 1}, {})
    await shop.store.stock.reserve("r1", [("ADE-S0650", 1)], ttl_s=60)
    assert await shop.store.orders.confirm(order(order_id, "r1"), token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                           key_digest="d", idempotency_record=done_record("fp", {}),
                                           idempotency_ttl_s=60, retention_s=60, traceparent="")
    return order_id, token


def hub_of(shop: Shop) -> LiveHub:
    assert shop.services.live is not None
    return shop.services.live


def ctx(shop: Shop, client: str = "203.0.113.1") -> RequestContext:
    return RequestContext.start(shop.services, budget_ms=2_000, client=client)


def told(sku: str) -> Invalidation:
    return Invalidation(source="test", origin_at=time.time(), skus=(sku,))


def count(counter: Any, **labels: str) -> int:
    return int(counter.counts[tuple(sorted(labels.items()))])


async def next_of(stream: AsyncIterator[Any], within_s: float = 2.0) -> Any:
    return await asyncio.wait_for(anext(stream), within_s)


async def test_one_event_is_read_once_for_every_subscriber_of_the_product(shop: Shop) -> None:
    hub = hub_of(shop)
    streams = [hub.product_changes(ctx(shop, f"198.51.100.{i}"), BROOCH) for i in range(4)]
    firsts = [await next_of(s) for s in streams]
    assert all(isinstance(f, LiveProduct) and f.stock[BROOCH_SKU].quantity == 1 for f in firsts)
    reads, calls = count(READS, field="productChanged"), shop.calls("inventory")
    shop.sandbox.sandbox.stock[BROOCH_SKU] = 0  # sold in a shop
    await shop.services.bus.publish(told(BROOCH_SKU))
    states = [await next_of(s) for s in streams]
    assert {s.stock[BROOCH_SKU].quantity for s in states} == {0}
    assert len({id(s) for s in states}) == 1  # the one value, shared
    assert count(READS, field="productChanged") == reads + 1
    assert shop.calls("inventory") == calls + 1  # one vendor call for the four of them
    assert hub.open == 4
    for s in streams:
        await s.aclose()
    assert (hub.open, hub.products) == (0, {})


async def test_an_event_that_changes_nothing_a_page_shows_sends_nothing(shop: Shop) -> None:
    hub = hub_of(shop)
    stream = hub.product_changes(ctx(shop), BROOCH)
    await next_of(stream)
    await shop.services.bus.publish(told(BROOCH_SKU))  # nothing changed
    with pytest.raises(TimeoutError):
        await next_of(stream, 0.5)
    await stream.aclose()


async def test_an_event_about_another_product_is_not_read_for_this_one(shop: Shop) -> None:
    hub = hub_of(shop)
    stream = hub.product_changes(ctx(shop), BROOCH)
    await next_of(stream)
    reads = count(READS, field="productChanged")
    await shop.services.bus.publish(told("SOMETHING-ELSE"))
    await asyncio.sleep(0.2)
    assert count(READS, field="productChanged") == reads
    await stream.aclose()


async def test_caps_per_client_and_per_process_refuse_before_anything_is_read(shop: Shop) -> None:
    hub = hub_of(shop)
    mine = [hub.product_changes(ctx(shop), BROOCH) for _ in range(3)]
    for s in mine:
        await next_of(s)
    with pytest.raises(TooManySubscriptions) as refused:
        await next_of(hub.product_changes(ctx(shop), BROOCH))
    assert refused.value.extensions["limit"] == "client"
    others = [hub.product_changes(ctx(shop, "192.0.2.9"), BROOCH) for _ in range(2)]
    for s in others:
        await next_of(s)
    with pytest.raises(TooManySubscriptions) as refused:
        await next_of(hub.product_changes(ctx(shop, "192.0.2.10"), BROOCH))
    assert refused.value.extensions["limit"] == "process"
    await mine[0].aclose()
    again = hub.product_changes(ctx(shop), BROOCH)  # a freed place is taken again
    assert await next_of(again) is not None
    for s in [*mine[1:], *others, again]:
        await s.aclose()
    assert hub.open == 0
    assert not hub.by_client


async def test_a_subscriber_that_does_not_read_is_dropped_and_told_to_come_back(shop: Shop) -> None:
    hub = hub_of(shop)
    slow, fast = hub.product_changes(ctx(shop), BROOCH), hub.product_changes(ctx(shop, "192.0.2.1"), BROOCH)
    await next_of(slow)
    await next_of(fast)
    dropped = count(DROPPED, field="productChanged", reason="slow_consumer")
    for quantity in (0, 1, 0):  # three changes; the buffer holds two
        shop.sandbox.sandbox.stock[BROOCH_SKU] = quantity
        await shop.services.bus.publish(told(BROOCH_SKU))
        assert (await next_of(fast)).stock[BROOCH_SKU].quantity == quantity
    with pytest.raises(SubscriptionEnded) as ended:
        await next_of(slow)
    assert ended.value.extensions == {"code": "SUBSCRIPTION_ENDED", "reason": "slow_consumer", "reconnect": True}
    assert count(DROPPED, field="productChanged", reason="slow_consumer") == dropped + 1
    assert hub.open == 1
    await fast.aclose()


async def test_shutting_down_ends_every_stream_with_a_reason_to_reconnect(shop: Shop) -> None:
    hub = hub_of(shop)
    stream = hub.product_changes(ctx(shop), BROOCH)
    await next_of(stream)
    await hub.aclose()
    with pytest.raises(SubscriptionEnded) as ended:
        await next_of(stream)
    assert ended.value.why is Ended.SHUTTING_DOWN
    with pytest.raises(SubscriptionEnded):  # and nothing new is taken
        await next_of(hub.product_changes(ctx(shop), BROOCH))


async def test_an_unknown_product_is_one_none(shop: Shop) -> None:
    stream = hub_of(shop).product_changes(ctx(shop), "no-such-ring")
    assert await next_of(stream) is None
    await stream.aclose()


async def test_an_order_is_followed_until_every_system_has_it(shop: Shop) -> None:
    order_id, token = await placed_order(shop)
    hub = hub_of(shop)
    stream = hub.order_updates(ctx(shop), order_id, token)
    first = await next_of(stream)
    assert {d.status for d in first.downstream} == {SyncStatus.PENDING}
    systems = [d.system for d in first.downstream]
    for i, system in enumerate(systems):
        await shop.store.orders.set_sync(order_id, DownstreamState(system, SyncStatus.SYNCED, 1, None, time.time()))
        await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), orders=(order_id,)))
        view = await next_of(stream)
        assert sum(d.status is SyncStatus.SYNCED for d in view.downstream) == i + 1
    with pytest.raises(StopAsyncIteration):
        await next_of(stream)
    assert hub.open == 0


async def test_an_order_ends_when_one_system_failed(shop: Shop) -> None:
    order_id, token = await placed_order(shop)
    stream = hub_of(shop).order_updates(ctx(shop), order_id, token)
    await next_of(stream)
    await shop.store.orders.set_sync(order_id, DownstreamState(DownstreamSystem.ERP, SyncStatus.FAILED, 10, "x",
                                                               time.time()))
    await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), orders=(order_id,)))
    assert any(d.status is SyncStatus.FAILED for d in (await next_of(stream)).downstream)
    with pytest.raises(StopAsyncIteration):
        await next_of(stream)


async def test_a_wrong_token_or_an_unknown_order_is_one_none(shop: Shop) -> None:
    order_id, _ = await placed_order(shop)
    for asked, token in ((order_id, "wrong"), ("ord_" + "0" * 20, "wrong")):
        stream = hub_of(shop).order_updates(ctx(shop), asked, token)
        assert await next_of(stream) is None
        with pytest.raises(StopAsyncIteration):
            await next_of(stream)
    assert hub_of(shop).open == 0


async def test_an_order_read_that_fails_after_an_event_is_read_again(shop: Shop,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The order store slow for a moment when an event is heard: the hub reads again (bounded, backing
    off) and the page is told, instead of hearing nothing until the next event."""
    order_id, token = await placed_order(shop)
    stream = hub_of(shop).order_updates(ctx(shop), order_id, token)
    await next_of(stream)
    real, failures = order_lookup.order_view, [CheckoutUnavailable("the order store timed out", detail="test")]

    async def flaky(store: Any, asked: str) -> Any:
        if failures:
            raise failures.pop()
        return await real(store, asked)

    monkeypatch.setattr(order_lookup, "order_view", flaky)
    retried = count(READ_RETRIES, field="orderUpdated", reason="failed")
    await shop.store.orders.set_sync(order_id, DownstreamState(DownstreamSystem.ERP, SyncStatus.SYNCED, 1, None,
                                                               time.time()))
    await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), orders=(order_id,)))
    view = await next_of(stream)
    assert any(d.status is SyncStatus.SYNCED for d in view.downstream)
    assert count(READ_RETRIES, field="orderUpdated", reason="failed") == retried + 1


async def test_reads_again_are_bounded(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that keeps failing is read `[live] read_attempts` times per event, then left to the next one."""
    order_id, token = await placed_order(shop)
    stream = hub_of(shop).order_updates(ctx(shop), order_id, token)
    await next_of(stream)

    async def down(store: Any, asked: str) -> Any:
        raise CheckoutUnavailable("the order store timed out", detail="test")

    monkeypatch.setattr(order_lookup, "order_view", down)
    reads = count(READS, field="orderUpdated")
    await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), orders=(order_id,)))
    topic = hub_of(shop).orders[order_id]
    assert topic.reading is not None
    await asyncio.wait_for(topic.reading, 10)
    assert count(READS, field="orderUpdated") == reads + hub_of(shop).config.read_attempts
    await stream.aclose()
