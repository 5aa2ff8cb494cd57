"""A live product's event is executed once for every subscriber with the same document and variables
(`schema.shared_events`): the same answer as one execution per subscriber, a document or variables of
their own executed apart, and sharing off (`share = False`) executing each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from connectors.events import Invalidation
from schema.bounds import BoundedExecutionContext
from tests.resolvers.test_live import BROOCH, BROOCH_SKU
from tests.schema.test_live import PRODUCT, messages
from tests.support import Shop, shop_in_process

OTHER = "subscription($h: String!) { productChanged(handle: $h) { handle variants { sku } } }"


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every operation graphql-core executes (subscriptions' first messages, events and the rest)."""
    ran: list[Any] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_operation

    def counted(self: Any, serially: bool | None = None) -> Any:
        ran.append(self.root_value)
        return original(self, serially)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", counted)
    return ran


async def _sold(shop: Shop, streams: list[AsyncIterator[Any]], executions: list[Any]) -> tuple[list[Any], int]:
    """Every stream's first message, then the brooch sold: each stream's next message and how many
    executions that event cost."""
    for stream in streams:
        first = await asyncio.wait_for(anext(stream), 2)
        assert first.errors is None
    before = len(executions)
    shop.sandbox.sandbox.stock[BROOCH_SKU] = 0
    await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), skus=(BROOCH_SKU,)))
    told = [await asyncio.wait_for(anext(stream), 2) for stream in streams]
    return told, len(executions) - before


@pytest.mark.parametrize("fast_path", [True, False])
async def test_one_event_is_executed_once_for_every_subscriber_with_the_same_document_and_variables(
    shop: Shop, executions: list[Any], fast_path: bool,
) -> None:
    streams = [messages(shop, PRODUCT, {"h": BROOCH}, fast_path=fast_path, client=f"203.0.113.{i}") for i in range(5)]
    told, ran = await _sold(shop, streams, executions)
    assert ran == 1
    assert all(t.errors is None for t in told)
    assert all(t.data == told[0].data for t in told)
    assert told[0].data["productChanged"]["variants"][0]["availability"]["status"] == "OUT_OF_STOCK"
    for stream in streams:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_another_document_or_other_variables_are_executed_apart(shop: Shop, executions: list[Any]) -> None:
    streams = [messages(shop, PRODUCT, {"h": BROOCH}, client="203.0.113.1"),
               messages(shop, PRODUCT, {"h": BROOCH}, client="203.0.113.2"),
               messages(shop, OTHER, {"h": BROOCH}, client="203.0.113.3"),
               messages(shop, OTHER, {"h": BROOCH.upper()}, client="203.0.113.4")]  # the same product, spelt apart
    told, ran = await _sold(shop, streams, executions)
    assert ran == 3
    assert told[0].data == told[1].data
    assert told[2].data == told[3].data == {"productChanged": {"handle": BROOCH, "variants": [{"sku": BROOCH_SKU}]}}
    for stream in streams:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_with_sharing_off_each_subscriber_executes_and_reads_the_same(
    shop: Shop, executions: list[Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared_told, _ = await _sold(shop, [messages(shop, PRODUCT, {"h": BROOCH}, client=f"203.0.113.{i}")
                                        for i in range(3)], executions)
    shop.sandbox.sandbox.stock[BROOCH_SKU] = 1
    await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), skus=(BROOCH_SKU,)))
    monkeypatch.setattr(BoundedExecutionContext, "share", False)
    streams = [messages(shop, PRODUCT, {"h": BROOCH}, client=f"198.51.100.{i}") for i in range(3)]
    told, ran = await _sold(shop, streams, executions)
    assert ran == 3
    assert [t.data for t in told] == [t.data for t in shared_told]
    for stream in streams:
        await stream.aclose()  # type: ignore[attr-defined]
