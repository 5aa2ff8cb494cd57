"""Configuration types for vendors and the call policy, with the defaults `make run` uses.

The values live in `bezel.toml` (see `gateway.settings` for loading and environment overrides);
these are their types and their named defaults. Every default says why it is what it is.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.models import DownstreamSystem, Vendor

SANDBOX_URL = "http://127.0.0.1:8900"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakerConfig(_Strict):
    """Circuit breaker with resilience4j's semantics: rates over a count-based sliding window."""

    # The last `window_size` calls decide; fewer than `minimum_calls` never open the breaker, so a
    # single failure after a quiet night does not cut a vendor off.
    window_size: int = Field(default=20, ge=1)
    minimum_calls: int = Field(default=10, ge=1)
    # Open when at least this share (%) of the window failed...
    failure_rate_threshold: float = Field(default=50, gt=0, le=100)
    # ...or was slower than `slow_call_ms` (0: 80% of the vendor's timeout): a vendor answering
    # just under its timeout is as bad for a page as one that fails.
    slow_call_rate_threshold: float = Field(default=80, gt=0, le=100)
    slow_call_ms: int = Field(default=0, ge=0)
    # Stay open this long (failing fast into the fallback), then let `half_open_calls` probes decide.
    open_wait_ms: int = Field(default=5_000, ge=1)
    half_open_calls: int = Field(default=3, ge=1)


class VendorConfig(_Strict):
    """How to reach one vendor, how long to wait for it, and what to do when it fails."""

    # Base URL of the vendor's API. Empty means "this vendor's prefix on the sandbox".
    url: str = ""
    # Per-call timeout. A call also never outlives the request's remaining budget.
    timeout_ms: int = Field(default=500, gt=0, le=60_000)
    # How long an answer is served from cache as fresh (0: never cached as fresh).
    cache_ttl_s: float = Field(default=0, ge=0)
    # How long a last good answer may stand in, marked STALE, when the vendor fails (0: never).
    stale_ttl_s: float = Field(default=0, ge=0)
    # Past `cache_ttl_s`, serve the cached answer for up to this long more while one background
    # call refreshes it (stale-while-revalidate). 0: off, a miss waits for the vendor.
    revalidate_s: float = Field(default=0, ge=0)
    # Bulkhead: at most this many calls in flight to the vendor from one process; beyond it a call
    # is rejected at once (outcome "rejected") and the fallback answers.
    max_concurrency: int = Field(default=64, ge=1)
    # Idempotent reads only: total attempts (1 = never retry), with exponential backoff plus jitter.
    retry_attempts: int = Field(default=2, ge=1, le=5)
    retry_backoff_ms: int = Field(default=20, ge=0)
    retry_backoff_max_ms: int = Field(default=200, ge=0)
    retry_jitter_ms: int = Field(default=30, ge=0)
    # Retry budget shared by retries and hedges: each request earns this many extra calls, plus a
    # floor per second, so a failing vendor gets at most ~20% more traffic, never a retry storm.
    retry_budget_ratio: float = Field(default=0.2, ge=0, le=1)
    retry_budget_min_per_s: float = Field(default=1.0, ge=0)
    # Idempotent reads only: if no answer after the vendor's observed p95 (at least hedge_min_ms,
    # once hedge_min_samples calls have been timed), send a second attempt; the first answer wins.
    hedge: bool = True
    hedge_min_ms: int = Field(default=20, ge=1)
    hedge_min_samples: int = Field(default=20, ge=1)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    # Name of the environment variable holding the API key; the key itself never sits in a file.
    api_key_env: str = ""
    # Vendor-specific settings, validated by the vendor's own connector (e.g. bnpl providers).
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _decode_json_values(cls, value: Any) -> Any:
        """Environment overrides arrive as strings: `BEZEL_VENDORS__BNPL__OPTIONS__PROVIDERS='["affirm"]'`."""
        if isinstance(value, dict):
            return {
                k: json.loads(v) if isinstance(v, str) and v[:1] in ("[", "{") else v for k, v in value.items()
            }
        return value

    def base_url(self, name: str, sandbox_url: str) -> str:
        return (self.url or f"{sandbox_url.rstrip('/')}/{name}").rstrip("/")


# Defaults per vendor. Timeouts sit at roughly 3x the vendor's usual p99 so a healthy vendor is
# never cut off, while a sick one cannot hold a page: the request budget (1200 ms) caps them all.
DEFAULT_VENDORS: dict[Vendor, VendorConfig] = {
    # The product itself: nothing renders without it, so allow it the most of the budget it needs
    # up front; products change rarely, so a day-old product beats no product page.
    # Shopify's Storefront API with the private (server-side) token; the version and the engravable
    # metafield are the connector's (`CatalogAPI`) options.
    Vendor.CATALOG: VendorConfig(timeout_ms=400, api_key_env="SHOPIFY_STOREFRONT_PRIVATE_TOKEN", cache_ttl_s=60,
                                 stale_ttl_s=86_400, revalidate_s=300,
                                 options={"api_version": "2025-10", "engravable_metafield": "custom.engravable"}),
    # Stock moves: short fresh TTL; stale stock is only ever shown as unconfirmed.
    Vendor.INVENTORY: VendorConfig(timeout_ms=300, api_key_env="COMMERCETOOLS_TOKEN", cache_ttl_s=5, stale_ttl_s=600,
                                   options={"project_key": "bezel"}),
    # Rates change at most daily; keyed by the exact request, so addresses never share an answer.
    Vendor.TAX: VendorConfig(timeout_ms=500, api_key_env="TAXJAR_API_KEY", cache_ttl_s=3_600, stale_ttl_s=86_400,
                        revalidate_s=600),
    # Quotes expire at the insurer after ~30 minutes.
    Vendor.INSURANCE: VendorConfig(timeout_ms=700, api_key_env="ONWARD_API_KEY", cache_ttl_s=600, stale_ttl_s=1_800),
    Vendor.BNPL: VendorConfig(
        timeout_ms=400,
        api_key_env="AFTERPAY_CREDENTIALS",
        cache_ttl_s=600,
        stale_ttl_s=86_400,
        options={"providers": ["affirm", "afterpay"], "affirm_public_key": "sandbox_public"},
    ),
    # Rendering is the slowest call; previews of the same text never change.
    Vendor.ENGRAVING: VendorConfig(timeout_ms=900, api_key_env="ENGRAVING_API_KEY", cache_ttl_s=86_400,
                                   stale_ttl_s=604_800),
    # Writes: never cached, never stale. Payment gets the longest wait: a lost authorization costs most.
    # (Writes are never retried or hedged whatever these say: the policy checks each call.)
    Vendor.PAYMENTS: VendorConfig(timeout_ms=3_000, api_key_env="STRIPE_SECRET_KEY", retry_attempts=1, hedge=False),
    Vendor.ERP: VendorConfig(timeout_ms=2_000, api_key_env="ERP_API_KEY", hedge=False),
    Vendor.WMS: VendorConfig(timeout_ms=2_000, api_key_env="WMS_API_KEY", hedge=False),
    Vendor.CRM: VendorConfig(timeout_ms=2_000, api_key_env="CRM_API_KEY", hedge=False),
}


class StoreConfig(_Strict):
    """The merchant: its currency and the address orders ship from (tax nexus starts here)."""

    currency: str = "USD"
    origin_country: str = "US"
    origin_state: str = "NY"
    origin_zip: str = "10001"
    origin_city: str = "New York"
    origin_street: str = "580 Fifth Avenue"


class CacheConfig(_Strict):
    # In-process tier: always on, bounded (least recently used answers are dropped first).
    local_max_entries: int = Field(default=10_000, ge=1)


class RedisConfig(_Strict):
    """The shared tier. Empty `url` (and no REDIS_URL in the environment): in-process tier only."""

    url: str = ""
    # Every Redis call is bounded by this: Redis slow or down makes the page degraded, never slow.
    timeout_ms: int = Field(default=50, ge=1)
    # After a Redis failure, skip Redis this long before trying again (doubling up to 5 s).
    retry_after_ms: int = Field(default=500, ge=1)
    key_prefix: str = "bezel"
    max_connections: int = Field(default=64, ge=1)
    # A Redis Cluster (the url names any node): commands go to each slot's master, failovers followed.
    cluster: bool = False


class CheckoutConfig(_Strict):
    """placeOrder: how long things are held and remembered."""

    # A checkout has this long to finish (reserve -> authorize -> confirm); abandoned holds go back after it.
    reservation_ttl_s: float = Field(default=600, gt=0)
    # Results are replayed for the same idempotency key at least this long (Stripe keeps 24 h)...
    idempotency_ttl_s: float = Field(default=172_800, ge=86_400)
    # ...but results that say nothing lasting (OUT_OF_STOCK, a decline) only this long: an attacker's
    # thousands of failed attempts must not sit in Redis for two days.
    failure_result_ttl_s: float = Field(default=900, ge=60)
    # Checkouts one client may have running at once (a second one answers RATE_LIMITED).
    max_in_flight_per_client: int = Field(default=1, ge=1)
    # Checkout's own Redis (never evicted: `noeviction`); empty: the shared [redis] url.
    redis_url: str = ""
    # Whether redis_url is a Redis Cluster (without its own redis_url, checkout follows [redis] cluster).
    redis_cluster: bool = False
    # Replicas that must have an order before its buyer is told "confirmed" (Redis WAIT): with 1, a
    # master lost right after a confirmation loses no order (its replica, promoted, has it). 0: no wait.
    wait_replicas: int = Field(default=0, ge=0)
    # A request still running after this long (a crashed gateway) no longer blocks its key.
    in_flight_ttl_s: float = Field(default=120, gt=0)
    # The whole placeOrder (pricing, reservation, payment, confirmation) must finish within this.
    budget_ms: int = Field(default=8_000, ge=100)
    # Orders are kept in Redis for lookups this long; the ERP is their system of record.
    retention_days: float = Field(default=90, gt=0)
    # Checkout's own Redis timeout: longer than the page cache's; a failure here is an answer, not a fallback.
    redis_timeout_ms: int = Field(default=1_000, ge=10)
    # The order stream is trimmed (approximately) to this many entries; every group reads far behind it.
    stream_max_len: int = Field(default=1_000_000, ge=1_000)
    # The largest order total (in the shop's currency) taken online, checked once the order is priced and
    # before any stock is held or card authorized (ORDER_TOO_LARGE). Below Stripe's own limit of
    # 999,999.99, which it answers with a 400; and a store's own ceiling for a card payment anyway.
    max_order_total: Decimal = Field(default=Decimal("250000"), gt=0)
    # How old the catalog answer that prices an order may be, in seconds; older (the catalog failing,
    # its last answer standing in) and the shopper is told prices cannot be confirmed right now, rather
    # than charged a price the catalog may have changed. 0: the catalog's cache_ttl_s + revalidate_s.
    max_price_age_s: float = Field(default=0, ge=0)


class WorkerConfig(_Strict):
    """`bezel worker`: the consumer groups that sync orders downstream, and stock upkeep."""

    consumers: list[DownstreamSystem] = Field(default_factory=lambda: list(DownstreamSystem))
    # An entry failing this many deliveries moves to the dead-letter stream (its sync shows FAILED).
    # Deliveries are not spent while the system's breaker is open: an outage delays, it does not fail.
    max_deliveries: int = Field(default=10, ge=1)
    # Retry a failed entry after 1 s, doubling per delivery up to 5 minutes (~30 minutes of trying in all).
    retry_backoff_ms: int = Field(default=1_000, ge=1)
    retry_backoff_max_ms: int = Field(default=300_000, ge=1)
    # A crashed worker's entries are taken over once they sit this long (longer than any one sync takes).
    claim_idle_ms: int = Field(default=60_000, ge=1)
    # Entries handled at once per consumer group and process.
    batch_size: int = Field(default=20, ge=1)
    block_ms: int = Field(default=1_000, ge=1)
    # Expired reservations are swept this often (reserving also sweeps them).
    janitor_interval_s: float = Field(default=5, gt=0)
    # Stock counters are compared with the ERP's this often; mismatches are counted and corrected.
    reconcile_interval_s: float = Field(default=60, gt=0)


class LiveConfig(_Strict):
    """`[live]`: subscriptions (`productChanged`, `orderUpdated`), their caps and their heartbeats."""

    # Open subscriptions per process: each holds ~65 KB with its connection (bench/results/live.md: 10,000
    # idle ones ~630 MB, 7-9% of a core at rest for their heartbeats); size the process's memory for it.
    max_subscriptions: int = Field(default=10_000, ge=1)
    # Per client (as `[gateway] trusted_proxies` tells them apart): a page has two, a shopper a few tabs.
    max_per_client: int = Field(default=20, ge=1)
    # Messages waiting for a subscriber that does not read: past this many it is dropped (SLOW_CONSUMER)
    # and may subscribe again, which reads the current state. Each message is the product's whole state,
    # so one that is waiting is already stale.
    buffer: int = Field(default=8, ge=1)
    # An empty message (multipart) or comment (SSE) or ping (WebSocket) this often keeps proxies and load
    # balancers from closing a quiet stream; Apollo Client expects one at least every 5 s (its spec).
    heartbeat_s: float = Field(default=5.0, gt=0, le=60)
    # The one read after an event that failed or came back unconfirmed (a vendor or checkout's Redis slow
    # for a moment) is read again this many times in all, with this backoff (`connectors.retry`), or its
    # subscribers would hear nothing until the next event. Bounded: a change heard meanwhile reads anyway.
    read_attempts: int = Field(default=3, ge=1, le=10)
    read_backoff_ms: int = Field(default=100, ge=0)
    read_backoff_max_ms: int = Field(default=1_000, ge=0)


EDGE_KEY_HEADERS = {"fastly": "Surrogate-Key", "cloudflare": "Cache-Tag", "varnish": "xkey", "none": "Surrogate-Key"}


class EdgeConfig(_Strict):
    """`[edge]`: what a CDN or Varnish in front may cache (`gateway.edge.caching`), and how it is purged when
    an event changes what it holds (`connectors.edge`)."""

    # Cache-Control on answers to GET requests by trusted document id. false: every answer `private, no-store`.
    enabled: bool = True
    # Caps on what the vendors' windows allow: an edge keeps an answer at most max_age_s (and a lost purge
    # costs at most that), serves it stale while it revalidates, and while the gateway fails.
    max_age_s: int = Field(default=300, ge=0)
    stale_while_revalidate_s: int = Field(default=60, ge=0)
    stale_if_error_s: int = Field(default=3_600, ge=0)
    # Stock below safety stock: how long an edge may keep it. 0: never (the answer is private).
    scarce_max_age_s: int = Field(default=0, ge=0)
    # Who purges: "none", "fastly", "cloudflare" or "varnish"; and the header naming an answer's keys
    # (empty: the provider's, Surrogate-Key / Cache-Tag / xkey; Surrogate-Key for none).
    provider: str = Field(default="none", pattern="^(none|fastly|cloudflare|varnish)$")
    key_header: str = ""
    # An answer whose keys would not fit is not cached at the edge (a key left out could not be purged).
    max_key_bytes: int = Field(default=16_384, ge=64)
    # The purge API: Fastly https://api.fastly.com, Cloudflare https://api.cloudflare.com/client/v4, Varnish
    # the address Bezel reaches it at (its ACL must let Bezel in). Empty: the sandbox's /fastly or /cloudflare.
    purge_url: str = ""
    # Fastly's service id, Cloudflare's zone id (unused by Varnish).
    service_id: str = ""
    # The environment variable holding the API token (Fastly-Key; Cloudflare Bearer); never this file.
    api_key_env: str = "EDGE_PURGE_TOKEN"
    timeout_ms: int = Field(default=2_000, ge=1)
    # A failed purge (timeout, reset, 429, 5xx) is tried again this many times in all; 401/403/404 never.
    retry_attempts: int = Field(default=4, ge=1)
    retry_backoff_ms: int = Field(default=100, ge=1)
    retry_backoff_max_ms: int = Field(default=2_000, ge=1)
    # Keys purged per request (Fastly takes 256, Cloudflare 30 on every plan).
    batch_keys: int = Field(default=30, ge=1, le=256)

    @property
    def keys_header(self) -> str:
        return self.key_header or EDGE_KEY_HEADERS[self.provider]
