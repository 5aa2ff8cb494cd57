"""What a Bezel process holds for its whole life: vendor clients and policies, caches, the order store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from connectors.checkout import CheckoutStore
from connectors.edge import build_purger
from connectors.events import EventLedger, InvalidationBus
from connectors.loop import LoopLag
from connectors.offers import OfferLog
from connectors.ratelimits import RateLimits
from connectors.vendors import build_vendors
from gateway.settings import Settings, secret
from resolvers.context import Services
from resolvers.live import LiveHub

# Page requests reach the shared count in Redis in batches of this many per client and process: a
# Redis hit costs ~125 us of CPU per limit, a tenth of a warm page (connectors/ratelimits.py).
PAGES_BATCH = 10


def open_store(settings: Settings) -> CheckoutStore | None:
    """Checkout's Redis store, if Redis is configured (without it, checkout answers CHECKOUT_UNAVAILABLE)."""
    if not settings.checkout_redis_url:
        return None
    return CheckoutStore(settings.checkout_redis_url, settings.checkout, settings.redis)


@contextlib.asynccontextmanager
async def running_services(settings: Settings, *, vendor_transport: httpx.AsyncBaseTransport | None = None,
                           lag: LoopLag | None = None) -> AsyncIterator[Services]:
    """`lag`: the process's event-loop monitor, which the gateway watches (no hedge while it runs late)."""
    """Build everything inside the running event loop; close it all on the way out."""
    vendors = build_vendors(settings.vendors, store=settings.store, sandbox_url=settings.sandbox.url,
                            cache=settings.cache, redis=settings.redis, transport=vendor_transport, lag=lag,
                            api_keys={name: secret(config.api_key_env) for name, config in settings.vendors.items()},
                            shopify_admin_token=secret(settings.events.shopify_admin_token_env))
    store = open_store(settings)
    redis = vendors.cache.redis
    if store is not None and redis is not None and settings.checkout_redis_url == redis.url and not redis.cluster:
        store.stock.read_with(redis)  # one Redis: a page's counter read goes with its cache reads
    budgets = {**settings.limits.model_dump(), "webhooks": settings.events.rate}
    limits = RateLimits(budgets, redis=redis, batch={"pages": PAGES_BATCH})
    bus = InvalidationBus(vendors.cache, redis)
    await bus.start()
    services = Services(vendors=vendors, shop=settings.store, safety_stock=settings.availability.safety_stock,
                        store=store, checkout=settings.checkout,
                        calls_per_vendor=settings.gateway.vendor_calls_per_request, limits=limits, bus=bus,
                        ledger=EventLedger(redis, ttl_s=settings.events.dedupe_ttl_s),
                        offers=OfferLog(redis, window_s=settings.events.ghost_window_s),
                        counter_timeout_s=settings.availability.counter_timeout_ms / 1000)
    services.live = live = LiveHub(services, settings.live, budget_ms=settings.gateway.budget_ms)
    services.edge = purger = build_purger(settings.edge, secret(settings.edge.api_key_env) or "",
                                          settings.sandbox.url, transport=vendor_transport)
    if purger is not None:
        bus.on_publish(purger.hook)
    try:
        yield services
    finally:
        await live.aclose()
        if purger is not None:
            await purger.aclose()
        await bus.aclose()
        await vendors.aclose()
        if store is not None:
            await store.aclose()
