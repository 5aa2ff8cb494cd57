"""A delivery is applied once, and never over a newer version of its resource: in Redis, and per process
while Redis is away."""

from __future__ import annotations

from connectors.config import RedisConfig
from connectors.events import Admission, EventLedger
from connectors.models import Event, EventSource, ProductChanged
from connectors.redisclient import SharedRedis


def event(delivery: str, version: float, resource: str = "product:1") -> Event:
    return Event(EventSource.SHOPIFY, "products/update", delivery, resource, version, version,
                 (ProductChanged("1"),))


async def test_a_repeat_is_a_duplicate_and_an_older_version_is_stale_across_processes(redis_url: str) -> None:
    config = RedisConfig(url=redis_url, timeout_ms=2000)
    one, two = SharedRedis(config), SharedRedis(config)
    try:
        first, second = EventLedger(one, ttl_s=60), EventLedger(two, ttl_s=60)
        assert await first.admit(event("d1", 10)) is Admission.NEW
        assert await second.admit(event("d1", 10)) is Admission.DUPLICATE  # retried to another process
        assert await second.admit(event("d2", 9)) is Admission.STALE  # out of order: older than applied
        assert await second.admit(event("d3", 10)) is Admission.NEW  # the same version again changes nothing
        assert await first.admit(event("d4", 11)) is Admission.NEW
        assert await first.admit(event("d5", 1, resource="product:2")) is Admission.NEW  # per resource
    finally:
        await one.aclose()
        await two.aclose()


async def test_without_redis_each_process_keeps_its_own_ledger() -> None:
    ledger = EventLedger(None, ttl_s=60)
    assert await ledger.admit(event("d1", 10)) is Admission.NEW
    assert await ledger.admit(event("d1", 10)) is Admission.DUPLICATE
    assert await ledger.admit(event("d2", 5)) is Admission.STALE
