"""The checkout store's Redis connection, its key names, and how a Redis failure becomes an answer.

Every key shares the `{checkout}` hash tag: the scripts that must be atomic (reserve all lines;
write the order, its stream entry and its idempotency result together) touch several keys, and on a
Redis Cluster those must live in one slot. Checkout traffic of a high-ticket store (orders per second,
not thousands) fits one node comfortably; the page cache's keys spread freely.

Unlike the page cache, checkout does not degrade: if Redis fails, checkout is unavailable
(`CheckoutUnavailable`), and nothing is charged or half-written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio.cluster import RedisCluster

from connectors.config import CheckoutConfig, RedisConfig
from connectors.errors import CheckoutUnavailable
from connectors.redisclient import bounded, connect, failed, failures

T = TypeVar("T")
TAG = "{checkout}"


@dataclass(frozen=True)
class Keys:
    """Every checkout key, under one prefix and the `{checkout}` hash tag."""

    prefix: str

    @classmethod
    def under(cls, key_prefix: str) -> Keys:
        return cls(f"{key_prefix}:{TAG}")

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def atp(self) -> str:  # hash: SKU -> units available to promise
        return self.key("atp")

    @property
    def reservations(self) -> str:  # hash: reservation id -> {lines, exp, order?}
        return self.key("reservations")

    @property
    def expiry(self) -> str:  # sorted set: unconfirmed reservation ids by expiry
        return self.key("reservations", "expiry")

    @property
    def commits(self) -> str:  # hash: SKU -> units handed over to the ERP's books, ever
        return self.key("commits")

    @property
    def stream(self) -> str:
        return self.key("orders")

    @property
    def dead_letters(self) -> str:
        return self.key("orders", "dead")

    @property
    def owed(self) -> str:  # sorted set: ids of orders some system is still to get, by their first entry's ms
        return self.key("orders", "owed")


class CheckoutRedis:
    """A client whose every call is bounded, and whose every failure is `CheckoutUnavailable`."""

    def __init__(self, url: str, config: CheckoutConfig, redis: RedisConfig) -> None:
        self.timeout_s = config.redis_timeout_ms / 1000
        # No socket timeout: every call is bounded by `do`'s asyncio timeout instead, which also lets a
        # blocking stream read wait longer than an ordinary command.
        self.cluster = config.redis_cluster if config.redis_url else redis.cluster
        self.wait_replicas = config.wait_replicas
        self._failures = failures(cluster=self.cluster)
        self.client = connect(url, max_connections=redis.max_connections, timeout_s=self.timeout_s,
                              socket_timeout_s=None, cluster=self.cluster)
        self.keys = Keys.under(redis.key_prefix)

    async def do(self, operation: Callable[[], Awaitable[T]], *, extra_s: float = 0.0,
                 timeout_s: float | None = None) -> T:
        """`operation` within the store's timeout (plus `extra_s`), or `timeout_s` where a caller cannot
        wait that long (a page reading the counters)."""
        limit = timeout_s if timeout_s is not None else self.timeout_s + extra_s
        try:
            return await bounded(operation(), limit, detach=self.cluster)
        except self._failures as exc:
            if not failed(exc):
                raise
            raise CheckoutUnavailable(detail=f"checkout store: {type(exc).__name__}: {exc}") from exc

    async def replicated(self, key: str) -> None:
        """Return once `wait_replicas` replicas have every write so far to `key`'s node (Redis WAIT);
        `CheckoutUnavailable` if they do not within the timeout (the write may yet be lost)."""
        if not self.wait_replicas:
            return
        timeout_ms = max(1, int(self.timeout_s * 500))  # half the call's bound: WAIT answers before it
        if isinstance(self.client, RedisCluster):
            node = self.client.get_node_from_key(key)
            acked = await self.do(lambda: self.client.execute_command("WAIT", self.wait_replicas, timeout_ms,
                                                                      target_nodes=node))
        else:
            acked = await self.do(lambda: self.client.wait(self.wait_replicas, timeout_ms))
        if int(acked) < self.wait_replicas:
            raise CheckoutUnavailable(detail=f"checkout store: {acked} of {self.wait_replicas} replicas acknowledged")

    def script(self, source: str) -> Any:
        return self.client.register_script(source)

    async def ping(self) -> bool:
        try:
            return bool(await self.do(self.client.ping))
        except CheckoutUnavailable:
            return False

    async def aclose(self) -> None:
        await self.client.aclose()
