"""The call policy settles a failed call in one place, for one key or a batch: what stood in, and what is recorded."""

from __future__ import annotations

import time

import httpx
import respx

from connectors import inventory
from connectors.config import CacheConfig, VendorConfig
from connectors.http import VendorClient
from connectors.inventory import LEVELS, InventoryAPI
from connectors.models import Outcome, Source, StockLevel
from connectors.policy import CallPolicy, CallScope, Deadline
from connectors.policy.cache import TieredCache
from connectors.policy.record import VENDOR_CALLS, VENDOR_FALLBACKS, VENDOR_UNAVAILABLE
from tests.connectors.helpers import BASE


def policy() -> CallPolicy:
    config = VendorConfig(timeout_ms=500, cache_ttl_s=5, stale_ttl_s=600, retry_attempts=1, hedge=False)
    client = VendorClient("inventory", BASE, read_error=inventory.read_error, transport=httpx.AsyncHTTPTransport())
    return CallPolicy("inventory", config, client, cache=TieredCache(CacheConfig()))


@respx.mock(base_url=BASE, using="httpx")
async def test_a_batch_serving_stale_answers_records_them_as_a_single_call_does(respx_mock) -> None:
    """Every stale answer the policy serves is recorded: the batch path used to serve them silently."""
    respx_mock.get("/bezel/inventory").mock(return_value=httpx.Response(503, json={"statusCode": 503}))
    run = policy()
    old = time.time() - 60  # past the 5 s TTL, well within the 10 minutes a level may stand in
    run.cache.put_local(run.item_key(LEVELS, "A"), StockLevel("A", 4, 4), keep_s=605, stored_at=old)
    before = sum(n for key, n in VENDOR_FALLBACKS.counts.items() if ("vendor", "inventory") in key)
    scope = CallScope(Deadline.after_ms(2000))
    answers = await run.run_batch(InventoryAPI(project_key="bezel").levels_by_sku(["A", "B"]), scope)
    assert answers["A"].freshness.source is Source.STALE  # type: ignore[union-attr]
    assert answers["A"].freshness.age_ms >= 60_000  # type: ignore[union-attr]
    assert isinstance(answers["B"], Exception)  # nothing to stand in for B
    (entry,) = scope.log.records
    assert (entry.outcome, entry.source) == (Outcome.STALE, Source.STALE)
    assert entry.age_ms >= 60_000
    assert sum(n for key, n in VENDOR_FALLBACKS.counts.items() if ("vendor", "inventory") in key) == before + 1
    await run.aclose()


async def test_a_policy_declares_its_vendor_so_its_call_series_exist_before_any_call() -> None:
    client = VendorClient("inventory", BASE, read_error=inventory.read_error, transport=httpx.AsyncHTTPTransport())
    CallPolicy("test-policy-declared", VendorConfig(), client, cache=TieredCache(CacheConfig()))
    key = (("vendor", "test-policy-declared"),)
    assert VENDOR_CALLS.counts[(("outcome", "timeout"), *key)] == VENDOR_UNAVAILABLE.counts[key] == 0
    assert VENDOR_FALLBACKS.counts[key] == 0
    await client.aclose()
