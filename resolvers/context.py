"""The typed request context every resolver receives, and the process-wide services behind it.

A context is built per request (`RequestContext.start`, in the gateway's context getter) with its
deadline, its call log and its DataLoaders; `ctx.call` is how a resolver asks a vendor anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from connectors.checkout import CheckoutStore
from connectors.config import CheckoutConfig, StoreConfig
from connectors.edge import EdgePurger
from connectors.errors import PublicError
from connectors.events import EventLedger, InvalidationBus
from connectors.http import VendorCall
from connectors.models import Sourced
from connectors.offers import OfferLog
from connectors.policy import CallScope, Deadline
from connectors.ratelimits import RateLimits
from connectors.vendors import Vendors
from resolvers.loaders import Loaders

T = TypeVar("T")


class LiveUpdates(Protocol):
    """What the process holds of its live hub (`resolvers.live.LiveHub`, which reads through these services,
    so this module names only what closing it needs)."""

    async def aclose(self) -> None: ...


@dataclass
class Services:
    """Built once per process (gateway lifespan): vendor clients and policies, the order store, settings."""

    vendors: Vendors
    shop: StoreConfig
    safety_stock: int  # below this many units a SKU is checked live on every read
    store: CheckoutStore | None  # None: no Redis configured, so no checkout
    checkout: CheckoutConfig
    calls_per_vendor: int  # each request's quota of calls per vendor (`vendor_calls_per_request`)
    limits: RateLimits  # per-client budgets (checkout counts declines in them)
    bus: InvalidationBus  # invalidations every process hears of (events)
    ledger: EventLedger  # which event deliveries were seen, and the newest per resource
    offers: OfferLog  # when pages last offered each SKU (ghost offers)
    counter_timeout_s: float = 0.05  # how long a page waits for checkout's stock counters
    live: LiveUpdates | None = None  # subscriptions (`resolvers.live`): built beside the services, which it reads
    edge: EdgePurger | None = None  # tells the CDN or Varnish in front what events changed (`[edge] provider`)

    @property
    def currency(self) -> str:
        return self.shop.currency


@dataclass
class Shown:
    """What an answer showed, for an edge in front (`gateway.edge.caching`): its products and SKUs (an
    answer's surrogate keys, what an event purges), and why it may not be cached there at all. The ages
    of its parts are the call log's (`scope.log`)."""

    products: set[str] = field(default_factory=set)
    skus: set[str] = field(default_factory=set)
    listing: bool = False  # a page of the catalog's list (a deleted product changes every one)
    scarce: bool = False  # stock below safety stock: only the next sale tells
    unconfirmed: bool = False  # stock the page could not confirm
    counted: bool = False  # stock checked live (below safety stock) or decided by checkout's counter
    offered: set[str] = field(default_factory=set)  # SKUs it showed available (`connectors.offers`)
    shopper: list[str] = field(default_factory=list)  # what in it depends on the shopper (address, cart, ...)

    def product(self, product_id: str, skus: Iterable[str] = ()) -> None:
        self.products.add(product_id)
        self.skus.update(skus)

    def personal(self, reason: str) -> None:
        """This answer holds something of one shopper's (an address, an engraving, a cart, an order)."""
        if reason not in self.shopper:
            self.shopper.append(reason)


@dataclass
class RequestContext:
    """One GraphQL request: its deadline and call log, its DataLoaders, and partial failures."""

    services: Services
    scope: CallScope
    # Failures that did not null a field (e.g. availability shown as UNKNOWN), one per vendor.
    partial_errors: dict[str, PublicError] = field(default_factory=dict)
    # (name, type) of the GraphQL operation, once known: for the request's log line.
    operation: tuple[str | None, str] | None = None
    # Who sent the request (the TCP peer, or behind trusted proxies the forwarded address).
    client: str = "unknown"
    shown: Shown = field(default_factory=Shown)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        store, services = self.services.store, self.services
        counters = None
        if store is not None:
            def counters(skus: list[str]) -> Awaitable[dict[str, int | None]]:
                return store.stock.for_page(skus, timeout_s=min(services.counter_timeout_s,
                                                                self.scope.deadline.remaining_s()))
        self.loaders = Loaders(services.vendors, self.scope, safety_stock=services.safety_stock, counters=counters,
                               client=self.client)

    @classmethod
    def start(cls, services: Services, *, budget_ms: float, client: str = "unknown") -> RequestContext:
        """A context for a new request, whose deadline starts now."""
        scope = CallScope(deadline=Deadline.after_ms(budget_ms), quota=services.calls_per_vendor)
        return cls(services=services, scope=scope, client=client)

    async def call(self, call: VendorCall[T]) -> Sourced[T]:
        """Run a vendor call through that vendor's call policy, under this request's deadline."""
        return await self.services.vendors.call(call, self.scope)

    def note_partial(self, key: str, error: PublicError) -> None:
        self.partial_errors.setdefault(key, error)
