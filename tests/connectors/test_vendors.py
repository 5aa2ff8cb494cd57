"""build_vendors against the in-process sandbox: each vendor reached at its prefix through its policy, the BNPL
provider list checked, breakers reported while the vendors are the process's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.config import DEFAULT_VENDORS, BreakerConfig, CacheConfig, RedisConfig, StoreConfig, VendorConfig
from connectors.models import Source, Vendor
from connectors.policy import CallScope, Deadline
from connectors.policy.breaker import BREAKER_STATE
from connectors.vendors import Vendors, build_vendors

HANDLE = "art-deco-emerald-ring"


def build(box: Any, **configs: VendorConfig) -> Vendors:
    return build_vendors(configs, store=StoreConfig(), sandbox_url="http://sandbox", cache=CacheConfig(),
                         redis=RedisConfig(), transport=httpx.ASGITransport(app=box))


@pytest.fixture
def box() -> Any:
    from sandbox import create_app as create_sandbox

    return create_sandbox(latency_scale=0.0, seed=7, erp_sync_delay_ms=0)


@pytest.fixture
async def vendors(box: Any) -> AsyncIterator[Vendors]:
    built = build(box)
    yield built
    await built.aclose()


def scope() -> CallScope:
    return CallScope(Deadline.after_ms(5000))


async def test_a_call_goes_through_its_vendors_policy_live_then_from_cache(vendors: Vendors, box: Any) -> None:
    first = await vendors.call(vendors.catalog.products_by_handle([HANDLE]), scope())
    assert first.value[HANDLE].handle == HANDLE
    assert first.freshness.source is Source.LIVE
    again = await vendors.call(vendors.catalog.products_by_handle([HANDLE]), scope())
    assert again.freshness.source is Source.CACHE
    assert box.board.calls.get("catalog", 0) == 1


async def test_batches_answer_per_key(vendors: Vendors, box: Any) -> None:
    sku = box.sandbox.by_handle[HANDLE].variants[0].sku
    answers = await vendors.call_batch(vendors.inventory.levels_by_sku([sku, "NO-SUCH-SKU"]), scope())
    assert set(answers) == {sku, "NO-SUCH-SKU"}
    assert answers[sku].value.sku == sku  # type: ignore[union-attr]


def test_each_vendor_is_at_its_prefix_unless_configured_elsewhere(box: Any) -> None:
    vendors = build(box, tax=VendorConfig(url="https://api.taxjar.test/v2/"))
    assert vendors.policies[Vendor.CATALOG].client.base_url == "http://sandbox/catalog"
    assert vendors.policies[Vendor.TAX].client.base_url == "https://api.taxjar.test/v2"
    assert vendors.policies[Vendor.TAX].config.timeout_ms == 500  # the given config, not the default's
    assert vendors.policies[Vendor.PAYMENTS].config == DEFAULT_VENDORS[Vendor.PAYMENTS]
    assert vendors.bnpl_providers == ("affirm", "afterpay")
    vendors.detach_gauge()


def test_an_unknown_bnpl_provider_is_refused(box: Any) -> None:
    bnpl = DEFAULT_VENDORS[Vendor.BNPL].model_copy(update={"options": {"providers": ["affirm", "klarna"],
                                                                          "affirm_public_key": "k"}})
    with pytest.raises(ValueError, match="klarna"):
        build(box, bnpl=bnpl)


def test_the_catalog_s_options_choose_the_storefront_api_version_and_refuse_a_typo(box: Any) -> None:
    catalog = DEFAULT_VENDORS[Vendor.CATALOG]
    vendors = build(box, catalog=catalog.model_copy(update={"options": {"api_version": "2026-01"}}))
    assert vendors.catalog.path == "/api/2026-01/graphql.json"
    assert vendors.catalog.api_version == "2026-01"
    vendors.detach_gauge()
    with pytest.raises(ValueError, match="api_verison"):
        build(box, catalog=catalog.model_copy(update={"options": {"api_verison": "2026-01"}}))


async def test_a_vendor_is_unavailable_while_its_breaker_is_open(box: Any) -> None:
    twitchy = VendorConfig(breaker=BreakerConfig(window_size=1, minimum_calls=1))
    vendors = build(box, engraving=twitchy)
    try:
        assert vendors.available(Vendor.ENGRAVING)
        vendors.policies[Vendor.ENGRAVING].breaker.record(failed=True, duration_s=0.01)
        assert not vendors.available(Vendor.ENGRAVING)
        assert vendors.available(Vendor.CATALOG)
    finally:
        await vendors.aclose()


async def test_breakers_are_reported_until_the_vendors_close(box: Any) -> None:
    before = len(BREAKER_STATE.sources)
    vendors = build(box)
    assert len(BREAKER_STATE.sources) == before + 1
    reported = {o.attributes["vendor"] for o in BREAKER_STATE.sources[-1]()}  # type: ignore[index]
    assert reported == {v.value for v in Vendor}
    await vendors.aclose()
    assert len(BREAKER_STATE.sources) == before
