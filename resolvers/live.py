"""Live pages: what `productChanged` and `orderUpdated` subscribers are sent, and when.

One hub per process (`LiveHub`), listening to the invalidation bus (`connectors.events.bus`): every
event reaches every process as one Redis pub/sub message, naming the SKUs whose stock, the products
whose catalog entry and the orders whose sync state changed. For each product or order that has
subscribers here, the hub reads the new state once (a page's read: the catalog through the call
policy, stock with checkout's counters first; an order from the order store) and hands that one value
to every subscriber of it. No subscriber costs a vendor call or a Redis read of its own; only its first
message, the state when it subscribes, is read for it alone, under the request's budget.

A product's state is sent only when what a page shows changed (prices, each variant's status and
quantity); reads that land while one is running are folded into one more read after it. A read that
fails, or comes back with stock unconfirmed (a vendor or checkout's Redis slow for a moment), is read
again a few times, backing off (`[live] read_attempts`, `connectors.retry`): no later event may come to
make up for it.

Each subscriber has a bounded buffer (`[live] buffer`): one that does not read is dropped
(`SLOW_CONSUMER`, with `reconnect: true`) instead of holding memory; so is every subscriber when the
process stops (`SHUTTING_DOWN`). Subscriptions are capped per client and per process
(`TOO_MANY_SUBSCRIPTIONS`, before anything is read).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter as Tallies
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from opentelemetry.metrics import Observation

from connectors.config import LiveConfig
from connectors.errors import PublicError
from connectors.events import Invalidation
from connectors.models import Availability, Product, Sourced
from connectors.retry import Backoff, retry
from connectors.telemetry import Counter, Gauge, Tally, meter, series_of
from resolvers import order_lookup
from resolvers import products as product_resolvers
from resolvers.context import RequestContext, Services
from resolvers.order_lookup import OrderView

log = logging.getLogger("bezel.live")
T = TypeVar("T")


class Field(StrEnum):
    PRODUCT = "productChanged"
    ORDER = "orderUpdated"


class Ended(StrEnum):
    SLOW_CONSUMER = "slow_consumer"
    SHUTTING_DOWN = "shutting_down"


class ReadAgain(StrEnum):
    """Why a read after an event was tried again."""

    FAILED = "failed"  # it raised (the catalog or the order store could not say)
    UNCONFIRMED = "unconfirmed"  # some stock came back unconfirmed (the inventory vendor or checkout's Redis)


OPEN = Gauge("bezel.subscriptions.open", description="Subscriptions open on this process, by field.")
MESSAGES = Tally("bezel.subscription.messages", description="Messages handed to subscribers, by field.",
                 series=series_of(field=Field))
DROPPED = Counter("bezel.subscription.dropped",
                  description="Subscribers ended by the gateway: slow_consumer (its buffer was full), shutting_down "
                              "(the process stopped); each may subscribe again.",
                  series=series_of(field=Field, reason=Ended))
REFUSED = Counter("bezel.subscription.refused",
                  description="Subscriptions refused over a cap: per client, or per process.",
                  series=series_of(limit=["client", "process"]))
READS = Counter("bezel.subscription.reads",
                description="States read for subscribers after an event, by field: one per product or order and "
                            "event per process, however many subscribe to it.", series=series_of(field=Field))
READ_RETRIES = Counter("bezel.subscription.read_retries",
                       description="Reads after an event tried again because the one before failed or came back "
                                   "unconfirmed, by field and reason.",
                       series=series_of(field=Field, reason=ReadAgain))
LATENCY = meter.create_histogram(
    "bezel.subscription.latency", unit="s",
    description="From a change at its source (the event's own time) to its message leaving for a subscriber.",
    explicit_bucket_boundaries_advisory=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])


class TooManySubscriptions(PublicError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class SubscriptionEnded(PublicError):
    code = "SUBSCRIPTION_ENDED"

    def __init__(self, why: Ended) -> None:
        message = {Ended.SLOW_CONSUMER: "Messages were not read fast enough; subscribe again for the current state.",
                   Ended.SHUTTING_DOWN: "This gateway process is stopping; subscribe again."}[why]
        super().__init__(message, reason=why.value, reconnect=True)
        self.why = why


@dataclass(frozen=True)
class LiveProduct:
    """A product as a page reads it, read once per event and process and shared by its subscribers."""

    product: Sourced[Product]
    stock: Mapping[str, Availability]  # by SKU, every variant
    changed_at: float  # when the change happened at its source (or when it was read, for a first message)
    # What the schema derives from this state once for all its subscribers (schema.shared_events): it lives
    # as long as the state does. None for a first message, read for one subscriber alone (nothing to share,
    # and its stream would keep it for its whole life).
    memo: dict[Hashable, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def confirmed(self) -> bool:
        """Whether every variant's stock was confirmed (not a fallback, not unread at checkout)."""
        return all(a.confirmed for a in self.stock.values())

    @property
    def shown(self) -> tuple[object, ...]:
        """What a page shows of it: prices, and each variant's stock."""
        p = self.product.value
        return (p.min_price, p.max_price, tuple((v.sku, v.price) for v in p.variants),
                tuple((sku, a.status, a.quantity, a.confirmed) for sku, a in sorted(self.stock.items())))


class _Unsettled(Exception):
    """Not an error: a read worth doing again, carrying its answer (what stands if no try does better)."""

    def __init__(self, value: Any) -> None:
        super().__init__("read again")
        self.value = value


@dataclass(frozen=True)
class LiveOrder:
    view: OrderView
    changed_at: float


class Feed(Generic[T]):
    """One subscriber's buffer: at most `size` messages waiting, then it is dropped."""

    def __init__(self, size: int, client: str, kind: Field) -> None:
        self.size, self.client, self.kind = size, client, kind
        self.items: deque[T] = deque()
        self.ended: SubscriptionEnded | None = None
        self.closed = False
        self._ready = asyncio.Event()

    def push(self, item: T) -> None:
        if self.closed:
            return
        if len(self.items) >= self.size:
            self.end(SubscriptionEnded(Ended.SLOW_CONSUMER))
            return
        self.items.append(item)
        self._ready.set()

    def end(self, error: SubscriptionEnded) -> None:
        if self.closed:
            return
        self.closed, self.ended = True, error
        self.items.clear()  # what waits is stale: the subscriber reads the state again when it comes back
        DROPPED.add(1, {"field": self.kind.value, "reason": error.why.value})
        self._ready.set()

    async def next(self) -> T:
        """The next message; raises the reason it was ended."""
        while not self.items:
            if self.ended is not None:
                raise self.ended
            self._ready.clear()
            await self._ready.wait()
        return self.items.popleft()


@dataclass
class _Topic(Generic[T]):
    """Everyone here subscribed to one product (by handle) or one order, and its read in progress."""

    feeds: set[Feed[T]] = field(default_factory=set)
    reading: asyncio.Task[None] | None = None
    again_at: float | None = None  # a change heard while reading: read once more (the oldest change's time)
    last: tuple[object, ...] | None = None  # what was last sent (products)
    skus: frozenset[str] = frozenset()
    product_id: str = ""


class LiveHub:
    """This process's subscribers and the one read per event that feeds them."""

    def __init__(self, services: Services, config: LiveConfig, *, budget_ms: float) -> None:
        self.services = services
        self.config = config
        self.budget_ms = budget_ms
        self.products: dict[str, _Topic[LiveProduct | None]] = {}
        self.orders: dict[str, _Topic[LiveOrder]] = {}
        self.by_client: Tallies[str] = Tallies()
        self.open = 0
        self.stopping = False
        self.backoff = Backoff(config.read_backoff_ms / 1000, config.read_backoff_max_ms / 1000,
                               jitter_s=config.read_backoff_ms / 2000)  # processes told at once spread out
        self._feeds: set[Feed[Any]] = set()
        self._detach = [services.bus.listen(self._heard), OPEN.attach(self._observe)]

    # -- subscribing

    async def product_changes(self, ctx: RequestContext, handle: str) -> AsyncGenerator[LiveProduct | None, None]:
        """The product now, then each time what a page shows of it changes (None: no such product)."""
        key = handle.strip().lower()
        feed: Feed[LiveProduct | None] = self._open(ctx.client, Field.PRODUCT)
        topic = self.products.setdefault(key, _Topic())
        topic.feeds.add(feed)
        try:
            # A context of its own: over a WebSocket, the connection's may be long past its budget.
            reader = RequestContext.start(self.services, budget_ms=ctx.scope.deadline.budget_ms, client=ctx.client)
            first = await self._read_product(reader, key, time.time())
            if first is not None:
                self._index(key, topic, first)
            self._sent(Field.PRODUCT, None)
            yield first
            while True:
                item = await feed.next()
                self._sent(Field.PRODUCT, item.changed_at if item is not None else None)
                yield item
        finally:
            self._close(feed)
            topic.feeds.discard(feed)
            if not topic.feeds and self.products.get(key) is topic:
                del self.products[key]

    async def order_updates(self, ctx: RequestContext, order_id: str,
                            token: str) -> AsyncGenerator[OrderView | None, None]:
        """The order now, then each time a downstream system's state changes, until every one is SYNCED or
        one FAILED. A wrong token or an unknown order: one None, as `order(id, token)` answers it."""
        view = await order_lookup.order_for_token(ctx, order_id, token)
        if view is None:
            yield None
            return
        if order_lookup.settled(view):
            yield view
            return
        feed: Feed[LiveOrder] = self._open(ctx.client, Field.ORDER)
        topic = self.orders.setdefault(order_id, _Topic())
        topic.feeds.add(feed)
        try:
            # Read again now that changes are heard: one that landed in between is not missed.
            store = self.services.store
            assert store is not None  # order_for_token answered
            view = await order_lookup.order_view(store, order_id) or view
            self._sent(Field.ORDER, None)
            yield view
            while not order_lookup.settled(view):
                item = await feed.next()
                if item.view.downstream == view.downstream:
                    continue
                view = item.view
                self._sent(Field.ORDER, item.changed_at)
                yield view
        finally:
            self._close(feed)
            topic.feeds.discard(feed)
            if not topic.feeds and self.orders.get(order_id) is topic:
                del self.orders[order_id]

    def _open(self, client: str, kind: Field) -> Feed[T]:
        if self.stopping:
            raise SubscriptionEnded(Ended.SHUTTING_DOWN)
        if self.open >= self.config.max_subscriptions:
            REFUSED.add(1, {"limit": "process"})
            raise TooManySubscriptions("This gateway process has as many subscriptions as it takes; try again "
                                       "shortly.", limit="process")
        if self.by_client[client] >= self.config.max_per_client:
            REFUSED.add(1, {"limit": "client"})
            raise TooManySubscriptions(f"At most {self.config.max_per_client} subscriptions are open per client.",
                                       limit="client")
        self.open += 1
        self.by_client[client] += 1
        feed: Feed[T] = Feed(self.config.buffer, client, kind)
        self._feeds.add(feed)
        return feed

    def _close(self, feed: Feed[T]) -> None:
        if feed not in self._feeds:
            return
        self._feeds.discard(feed)
        self.open -= 1
        self.by_client[feed.client] -= 1
        if self.by_client[feed.client] <= 0:
            del self.by_client[feed.client]

    def _sent(self, kind: Field, changed_at: float | None) -> None:
        MESSAGES.add(1, (("field", kind.value),))
        if changed_at is not None:
            LATENCY.record(max(0.0, time.time() - changed_at), {"field": kind.value})

    # -- hearing of changes

    def _heard(self, invalidation: Invalidation) -> None:
        """The bus's listener (no I/O here): which topics of this process the change touches."""
        skus, products = set(invalidation.skus), set(invalidation.products)
        if skus or products:
            for key, topic in self.products.items():
                if topic.product_id in products or not skus.isdisjoint(topic.skus):
                    self._schedule(topic, invalidation.origin_at, functools.partial(self._refresh_product, key))
        for order_id in invalidation.orders:
            order_topic = self.orders.get(order_id)
            if order_topic is not None:
                self._schedule(order_topic, invalidation.origin_at, functools.partial(self._refresh_order, order_id))

    def _schedule(self, topic: _Topic[T], at: float, refresh: Callable[[], Coroutine[Any, Any, None]]) -> None:
        topic.again_at = at if topic.again_at is None else min(topic.again_at, at)
        if topic.reading is None or topic.reading.done():
            topic.reading = asyncio.ensure_future(refresh())

    async def _refresh_product(self, key: str) -> None:
        while (topic := self.products.get(key)) is not None and topic.again_at is not None:
            at, topic.again_at = topic.again_at, None

            async def read(at: float = at) -> LiveProduct | None:
                READS.add(1, {"field": Field.PRODUCT.value})
                ctx = RequestContext.start(self.services, budget_ms=self.budget_ms)  # a budget per attempt
                return await self._read_product(ctx, key, at, shared=True)

            try:
                state = await self._read_again(Field.PRODUCT, topic, read,
                                               settled=lambda state: state is None or state.confirmed)
            except PublicError as exc:  # the catalog cannot say now: the next event, or a TTL, will tell
                log.warning("live: product %s could not be read after a change (%s)", key, exc.message)
                continue
            shown = state.shown if state is not None else None
            if shown == topic.last:
                continue
            topic.last = shown
            if state is not None:
                self._index(key, topic, state)
            for feed in tuple(topic.feeds):
                feed.push(state)

    async def _refresh_order(self, order_id: str) -> None:
        store = self.services.store
        while (topic := self.orders.get(order_id)) is not None and topic.again_at is not None and store is not None:
            at, topic.again_at = topic.again_at, None

            async def read() -> OrderView | None:
                READS.add(1, {"field": Field.ORDER.value})
                assert store is not None
                return await order_lookup.order_view(store, order_id)

            try:
                view = await self._read_again(Field.ORDER, topic, read, settled=lambda _: True)
            except PublicError as exc:
                log.warning("live: order %s could not be read after a change (%s)", order_id, exc.message)
                continue
            if view is None:
                continue
            for feed in tuple(topic.feeds):
                feed.push(LiveOrder(view, at))

    async def _read_again(self, kind: Field, topic: _Topic[Any], read: Callable[[], Awaitable[T]], *,
                          settled: Callable[[T], bool]) -> T:
        """`read()`, tried again (bounded, backing off) while it fails or is not `settled`; then the last
        answer stands, or the last failure is raised. A change heard meanwhile ends the retries: the read
        that follows it covers this one."""
        async def attempt() -> T:
            value = await read()
            if not settled(value):
                raise _Unsettled(value)
            return value

        def again(exc: Exception) -> bool:
            if not isinstance(exc, PublicError | _Unsettled) or topic.again_at is not None:
                return False
            reason = ReadAgain.UNCONFIRMED if isinstance(exc, _Unsettled) else ReadAgain.FAILED
            READ_RETRIES.add(1, {"field": kind.value, "reason": reason.value})
            return True

        try:
            return await retry(attempt, on=again, backoff=self.backoff, attempts=self.config.read_attempts)
        except _Unsettled as exc:
            value: T = exc.value
            return value

    async def _read_product(self, ctx: RequestContext, key: str, at: float, *,
                            shared: bool = False) -> LiveProduct | None:
        found = await product_resolvers.product_by_handle(ctx, key)
        if found is None:
            return None
        stock = await product_resolvers.availabilities(ctx, found.value.variants)
        return LiveProduct(product=found, stock=stock, changed_at=at, memo={} if shared else None)

    def _index(self, key: str, topic: _Topic[LiveProduct | None], state: LiveProduct) -> None:
        topic.skus = frozenset(v.sku for v in state.product.value.variants)
        topic.product_id = state.product.value.id
        if topic.last is None:
            topic.last = state.shown

    # -- the process

    def _observe(self) -> list[Observation]:
        counts = Tallies(feed.kind.value for feed in self._feeds)
        return [Observation(counts.get(kind.value, 0), {"field": kind.value}) for kind in Field]

    async def aclose(self) -> None:
        """End every subscription (`SHUTTING_DOWN`: clients subscribe again, to another process) and stop
        listening. Called when the process is told to stop, before its connections are drained."""
        self.stopping = True
        for feed in tuple(self._feeds):
            feed.end(SubscriptionEnded(Ended.SHUTTING_DOWN))
        readings = [t.reading for t in self.products.values()] + [t.reading for t in self.orders.values()]
        for reading in readings:
            if reading is not None:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
        for detach in self._detach:
            detach()
        self._detach = []
