"""How Bezel reaches Redis: one client factory, and the shared tier's "degraded, never down" wrapper.

`connect` makes the one kind of client every Redis user here holds (page cache, single-flight locks,
checkout store): a bounded, blocking connection pool, because redis-py's default pool raises
`MaxConnectionsError` when exhausted under load instead of waiting for a connection.

`SharedRedis` is for what may fail without failing a page (cache, locks): every call is bounded by a
short timeout; after a failure Redis is skipped for a while (doubling, up to 5 s) and then tried
again, so the gateway recovers by itself when Redis comes back. Checkout does not degrade: its store
turns a Redis failure into `CheckoutUnavailable` instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from connectors.config import RedisConfig

T = TypeVar("T")
log = logging.getLogger("bezel.redis")
MAX_REDIS_BACKOFF_S = 5.0


def connect(url: str, *, max_connections: int, timeout_s: float, socket_timeout_s: float | None) -> Redis:
    """A client over a blocking pool: waits up to `timeout_s` for a free connection."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout_s,
                                           socket_timeout=socket_timeout_s, socket_connect_timeout=timeout_s)
    return Redis(connection_pool=pool)


class SharedRedis:
    """The shared tier's Redis, with its own short timeout and automatic recovery."""

    def __init__(self, config: RedisConfig) -> None:
        self.timeout_s = config.timeout_ms / 1000
        self.retry_after_s = config.retry_after_ms / 1000
        self.prefix = config.key_prefix
        self.client = connect(config.url, max_connections=config.max_connections, timeout_s=self.timeout_s,
                              socket_timeout_s=self.timeout_s)
        self.healthy = True
        self._skip_until = 0.0
        self._backoff_s = self.retry_after_s

    @property
    def state(self) -> str:
        """"ok", or "degraded" while Redis is being skipped after a failure."""
        return "ok" if self.healthy else "degraded"

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def call(self, operation: Callable[[Redis], Awaitable[T]], default: T) -> T:
        """Run one Redis operation within the tier's timeout; `default` if Redis is down or slow."""
        now = time.monotonic()
        if not self.healthy and now < self._skip_until:
            return default
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await operation(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return default
        if not self.healthy:
            log.warning("redis is back; shared cache tier restored")
            self.healthy = True
            self._backoff_s = self.retry_after_s
        return result

    def _failed(self, exc: BaseException) -> None:
        if self.healthy:
            log.warning("redis unavailable (%s); serving from the in-process tier", type(exc).__name__)
        else:
            self._backoff_s = min(MAX_REDIS_BACKOFF_S, self._backoff_s * 2)
        self.healthy = False
        self._skip_until = time.monotonic() + self._backoff_s

    async def ping(self) -> bool:
        return await self.call(lambda r: r.ping(), False)

    async def aclose(self) -> None:
        await self.client.aclose()
