"""What the checkout store's tests share: a store on a real Redis, its counters read raw, a placed order."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from connectors.checkout import CheckoutStore
from connectors.config import CheckoutConfig, RedisConfig
from connectors.models import (
    Address,
    DownstreamSystem,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    PaymentAuthorization,
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
