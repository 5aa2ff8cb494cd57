"""Invalidations heard by every gateway process: one Redis pub/sub message per event.

The process that takes an event drops (or replaces) the affected entries in the shared tier, then
publishes what it dropped: every process, itself included, drops the same keys and tags from its own
tier (`TieredCache.forget_local`) and records how long after the change that was (`bezel.event.lag`).
A process that loses its subscription may have missed messages: when it subscribes again it drops
its whole tier (the shared tier still answers, at one Redis read a key), and counts it.

Each message also names what changed for a live page (`skus`, `products`, `orders`): listeners
(`listen`, the live-page hub of `resolvers.live`) hear every message once per process, their own
included, after the process's tier has dropped what it named.

Hooks (`on_publish`: the edge's purger, `connectors.edge`) hear only what this process publishes, once,
after it applied it: one process tells the world outside. `on_clear` hooks hear each time the process
drops its whole tier.

Without Redis there is one process to tell: itself. Pub/sub on a Redis Cluster is broadcast over the
cluster bus, so one connection to any node hears every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from connectors.policy.cache import TieredCache
from connectors.redisclient import SharedRedis
from connectors.telemetry import meter

log = logging.getLogger("bezel.events")
CHANNEL = "invalidations"
RECONNECT_S = (0.2, 5.0)  # first wait before subscribing again, and the most it doubles to
EVENT_LAG = meter.create_histogram(
    "bezel.event.lag", unit="s",
    description="From a change at its source (the event's own time) to this process having dropped or replaced "
                "what it affected, by source.",
    explicit_bucket_boundaries_advisory=[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300])
RESYNCS = meter.create_counter(
    "bezel.invalidation.resyncs",
    description="Times this process subscribed to invalidations again and dropped its own cache tier, having "
                "perhaps missed some while cut off.")


@dataclass(frozen=True)
class Invalidation:
    """What one event dropped (cache keys and tags), what it changed for a live page (SKUs whose stock,
    product ids whose catalog entry, order ids whose sync state changed), and when and where."""

    source: str
    origin_at: float
    keys: Sequence[str] = ()
    tags: Sequence[str] = ()
    origin: str = ""  # the bus (one per process) that took the event and published it
    skus: Sequence[str] = ()
    products: Sequence[str] = ()
    orders: Sequence[str] = ()

    def encode(self) -> bytes:
        return orjson.dumps({"source": self.source, "at": self.origin_at, "keys": list(self.keys),
                             "tags": list(self.tags), "origin": self.origin, "skus": list(self.skus),
                             "products": list(self.products), "orders": list(self.orders)})

    @classmethod
    def decode(cls, raw: bytes) -> Invalidation:
        doc = orjson.loads(raw)
        return cls(source=str(doc["source"]), origin_at=float(doc["at"]), keys=tuple(map(str, doc["keys"])),
                   tags=tuple(map(str, doc["tags"])), origin=str(doc["origin"]),
                   # absent from a message an older process published
                   skus=tuple(map(str, doc.get("skus", ()))), products=tuple(map(str, doc.get("products", ()))),
                   orders=tuple(map(str, doc.get("orders", ()))))


Listener = Callable[[Invalidation], None]


class InvalidationBus:
    def __init__(self, cache: TieredCache, redis: SharedRedis | None) -> None:
        self.cache = cache
        self.redis = redis
        self.connected = redis is None  # nothing to hear from without Redis: this process is all there is
        self.origin = f"{os.getpid()}-{random.getrandbits(48):012x}"
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._listeners: list[Listener] = []
        self._hooks: list[Listener] = []
        self._cleared: list[Callable[[], None]] = []

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every invalidation this process applies (no I/O in it); returns its removal."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def on_publish(self, hook: Listener) -> None:
        """Call `hook` (no I/O in it) with every invalidation this process publishes, and no other's."""
        self._hooks.append(hook)

    def on_clear(self, hook: Callable[[], None]) -> None:
        """Call `hook` (no I/O in it) whenever this process drops its whole tier (subscribed again, it may
        have missed invalidations): what was built from that tier must go too (`gateway.answers`)."""
        self._cleared.append(hook)

    @property
    def channel(self) -> str:
        return self.redis.key(CHANNEL) if self.redis is not None else CHANNEL

    async def start(self) -> None:
        """Listen in the background; returns once subscribed (or after a second, listening on regardless)."""
        if self.redis is None or self._task is not None:
            return
        self._task = asyncio.ensure_future(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 1.0)

    async def publish(self, invalidation: Invalidation) -> None:
        """Drop what the event affected here at once, then tell every other process."""
        self._apply(invalidation)
        for hook in tuple(self._hooks):
            try:
                hook(invalidation)
            except Exception:  # a hook's bug must not stop the bus
                log.exception("invalidations: a hook failed")
        if self.redis is not None:
            payload, channel = replace(invalidation, origin=self.origin).encode(), self.channel
            await self.redis.call(lambda r: r.publish(channel, payload), None)

    def _apply(self, invalidation: Invalidation) -> None:
        self.cache.forget_local(keys=invalidation.keys, tags=invalidation.tags)
        EVENT_LAG.record(max(0.0, time.time() - invalidation.origin_at), {"source": invalidation.source})
        for listener in tuple(self._listeners):
            try:
                listener(invalidation)
            except Exception:  # one listener's bug must not stop the bus
                log.exception("invalidations: a listener failed")

    async def _listen(self) -> None:
        wait_s = RECONNECT_S[0]
        while True:
            try:
                connection = await self._connection()
            except (RedisError, OSError, TimeoutError):
                connection = None
            try:
                if connection is None:
                    raise ConnectionError("no node to subscribe on")
                async with connection.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    # Whatever was published while this process was not listening is lost to it.
                    self.cache.clear_local()
                    for hook in tuple(self._cleared):
                        hook()
                    RESYNCS.add(1)
                    self.connected = True
                    self._subscribed.set()
                    wait_s = RECONNECT_S[0]
                    while True:
                        message = await pubsub.get_message(timeout=5.0)
                        if message is not None and message.get("type") == "message":
                            self._heard(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                if self.connected:
                    log.warning("invalidations: subscription lost (%s); listening again shortly", type(exc).__name__)
                self.connected = False
            finally:
                if connection is not None:
                    await connection.aclose()
            await asyncio.sleep(wait_s * random.uniform(0.5, 1.0))
            wait_s = min(RECONNECT_S[1], wait_s * 2)

    def _heard(self, raw: bytes) -> None:
        try:
            invalidation = Invalidation.decode(raw)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("invalidations: an unreadable message was ignored")
            return
        if invalidation.origin != self.origin:  # the publisher applied its own at once
            self._apply(invalidation)

    async def _connection(self) -> Redis:
        """A connection of its own (a subscribed connection can do nothing else): to the one node, or to
        any node of a cluster, a different one each time it reconnects."""
        assert self.redis is not None
        client = self.redis.client
        if isinstance(client, RedisCluster):
            if not client.get_nodes():
                await asyncio.wait_for(client.initialize(), 2.0)
            nodes = client.get_nodes()
            node = random.choice(nodes)
            return Redis(host=node.host, port=int(node.port), socket_connect_timeout=2.0, health_check_interval=10)
        return Redis.from_url(self.redis.url, socket_connect_timeout=2.0, health_check_interval=10)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
