"""Checkout's system of record in Redis, one part per concern, sharing one bounded connection:

    store.idempotency   claim a key, store a result to replay, free a key after a transient failure
    store.slots         each client's checkouts in flight
    store.stock         available-to-promise counters, all-or-nothing reservations, commits, reconciling
    store.orders        the order and its sync states, written with the stream entry in one step
    store.stream        the order stream the downstream systems pull from, and its dead letters
"""

from __future__ import annotations

from connectors.checkout.client_slots import ClientSlots
from connectors.checkout.connection import CheckoutRedis
from connectors.checkout.idempotency import IdempotencyRecords
from connectors.checkout.order_records import OrderRecords
from connectors.checkout.stock import StockCounters
from connectors.checkout.stream import OrderStream
from connectors.config import CheckoutConfig, RedisConfig


class CheckoutStore:
    def __init__(self, url: str, config: CheckoutConfig, redis: RedisConfig) -> None:
        self.redis = CheckoutRedis(url, config, redis)
        self.idempotency = IdempotencyRecords(self.redis)
        self.slots = ClientSlots(self.redis)
        self.stock = StockCounters(self.redis)
        self.orders = OrderRecords(self.redis, self.idempotency, stream_max_len=config.stream_max_len)
        self.stream = OrderStream(self.redis)

    @property
    def timeout_s(self) -> float:
        return self.redis.timeout_s

    async def ping(self) -> bool:
        return await self.redis.ping()

    async def aclose(self) -> None:
        await self.redis.aclose()
