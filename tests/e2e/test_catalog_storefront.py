"""A storefront team points Bezel at Shopify's Storefront API (the sandbox's, over real HTTP): every variant of a
220-variant ring and a 1,200-variant configurator comes back, THROTTLED backs off like a 429, and errors beside
partial data are read as Shopify means them."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.handle import Sandbox
from tests.multipart import ACCEPT_PARTS, merged, parts
from tests.support import PRODUCT_PAGE_QUERY, STOREFRONT_PAGE_QUERY, US_ADDRESS, Gateway, run_gateway, settings_for

CONFIGURATOR = "bespoke-solitaire-configurator"
PAGE = """query($h: String!) { product(handle: $h) { id engravable freshness { source }
    variants { id sku price { amount currencyCode } selectedOptions { name value } availability { status } } } }"""
FRESH_S = 0.3
SHORT_CACHE = {"BEZEL_VENDORS__CATALOG__CACHE_TTL_S": str(FRESH_S), "BEZEL_VENDORS__CATALOG__REVALIDATE_S": "0",
               "BEZEL_VENDORS__CATALOG__RETRY_ATTEMPTS": "1"}


def catalog_of(result: dict[str, Any]) -> dict[str, Any]:
    return result["extensions"]["vendors"]["catalog"]  # type: ignore[no-any-return]


async def test_every_variant_of_the_220_ring_and_the_1200_configurator_in_one_logical_call(
        gateway: Gateway, sandbox: Sandbox) -> None:
    """Pages of 250 from both ends (1 request for 220, 3 for 1,200), one answer to the policy: one cache entry."""
    for handle, variants, requests, stock_calls in (("seraphina-halo-ring", 220, 1, 1), (CONFIGURATOR, 1_200, 3, 5)):
        sandbox.reset()
        result = await gateway.gql(PAGE, {"h": handle})
        assert "errors" not in result, result["errors"]
        product = result["data"]["product"]
        skus = [v["sku"] for v in product["variants"]]
        assert len(skus) == len(set(skus)) == variants
        assert all(v["availability"]["status"] != "UNKNOWN" for v in product["variants"])
        assert (catalog_of(result)["calls"], catalog_of(result)["attempts"]) == (1, 1)
        assert sandbox.calls()["catalog"] == requests
        assert sandbox.calls()["inventory"] == stock_calls  # 250 SKUs a call
        again = await gateway.gql(PAGE, {"h": handle})
        assert catalog_of(again)["outcome"] == "cache"
        assert again["data"]["product"]["variants"] == product["variants"]
    configurator = result["data"]["product"]
    assert configurator["engravable"]  # by its metafield: it carries no `engravable` tag
    assert configurator["variants"][0]["selectedOptions"] == [
        {"name": "Metal", "value": "Platinum"}, {"name": "Center Stone", "value": "0.75 ct Lab Diamond"},
        {"name": "Ring Size", "value": "4"}]
    assert configurator["variants"][-1]["price"] == {"amount": "2190.00", "currencyCode": "USD"}


async def test_the_readme_page_and_the_storefront_page_stream_the_configurator_whole(gateway: Gateway) -> None:
    """The storefront's page defers `variants { availability }` once: one part, whatever the variant count."""
    readme = await gateway.gql(PRODUCT_PAGE_QUERY)
    assert "errors" not in readme
    assert len(readme["data"]["product"]["variants"]) == 176
    variables = {"handle": CONFIGURATOR, "shipTo": US_ADDRESS,
                 "engraving": {"text": "Forever", "font": "script", "placement": "INSIDE_BAND"}}
    response = await gateway.http.post("/graphql", json={"query": STOREFRONT_PAGE_QUERY, "variables": variables},
                                       headers={"accept": ACCEPT_PARTS})
    assert response.headers["content-type"].startswith("multipart/mixed")
    page = merged(parts(response.content, response.headers["content-type"]))
    assert page.get("errors") == []
    assert len(page["data"]["product"]["variants"]) == 1_200
    assert all(v["availability"]["status"] for v in page["data"]["product"]["variants"])


async def test_throttled_serves_the_last_answer_and_backs_off_as_a_429_does(sandbox: Sandbox) -> None:
    """Given a warm page, when Shopify's bucket runs dry, then the product is STALE, and later reads send
    nothing until the bucket has had time to refill (what `extensions.cost` said), like a Retry-After."""
    async with run_gateway(settings_for(sandbox, **SHORT_CACHE)) as gateway:
        warm = await gateway.gql(PAGE, {"h": "seraphina-halo-ring"})
        assert "errors" not in warm
        sandbox.storefront(maximum_available=300, restore_rate=1)  # holds one page's cost, refills in minutes
        await gateway.gql('{ product(handle: "gold-huggie-hoops") { id } }')  # spends most of the bucket
        await asyncio.sleep(FRESH_S + 0.05)
        before = sandbox.calls()["catalog"]
        throttled = await gateway.gql(PAGE, {"h": "seraphina-halo-ring"})
        assert "errors" not in throttled
        assert (catalog_of(throttled)["outcome"], throttled["data"]["product"]["freshness"]["source"]) == (
            "stale", "STALE")
        assert sandbox.calls()["catalog"] == before + 1
        later = await gateway.gql('{ product(handle: "classic-comfort-band") { id } }')  # nothing cached
        assert catalog_of(later)["outcome"] == "rejected"
        assert later["errors"][0]["extensions"]["code"] == "VENDOR_UNAVAILABLE"
        assert sandbox.calls()["catalog"] == before + 1  # not sent: backing off


async def test_an_error_on_the_engravable_metafield_leaves_the_page_whole(gateway: Gateway, sandbox: Sandbox) -> None:
    """Shopify's partial data: the metafield is null and named in `errors`; the product stands (the tag decides)."""
    sandbox.storefront(fail_field="metafield", times=1)
    result = await gateway.gql(PAGE, {"h": "trinity-three-stone-ring"})
    assert "errors" not in result
    assert result["data"]["product"]["engravable"]  # its `engravable` tag
    assert len(result["data"]["product"]["variants"]) == 108


async def test_an_error_that_nulls_the_variants_is_a_failed_call_never_an_unknown_product(sandbox: Sandbox) -> None:
    """Cold: VENDOR_UNAVAILABLE (not a null product without an error, as for an unknown handle); warm: STALE."""
    async with run_gateway(settings_for(sandbox, **SHORT_CACHE)) as gateway:
        sandbox.storefront(fail_field="variants")
        cold = await gateway.gql(PAGE, {"h": "pave-eternity-band"})
        assert cold["data"]["product"] is None
        assert [e["extensions"]["code"] for e in cold["errors"]] == ["VENDOR_UNAVAILABLE"]
        sandbox.storefront()
        warm = await gateway.gql(PAGE, {"h": "pave-eternity-band"})
        assert "errors" not in warm
        await asyncio.sleep(FRESH_S + 0.05)
        sandbox.storefront(fail_field="images")
        stale = await gateway.gql(PAGE, {"h": "pave-eternity-band"})
        assert catalog_of(stale)["outcome"] == "stale"
        assert stale["data"]["product"]["variants"] == warm["data"]["product"]["variants"]


async def test_every_page_of_a_product_is_read_within_the_one_timeout_of_its_call(sandbox: Sandbox) -> None:
    """Three requests of 150 ms do not fit a 400 ms timeout: the read is one call, timed as one, and the last
    good answer stands in; the 220-variant ring's one request fits."""
    env = {**SHORT_CACHE, "BEZEL_VENDORS__CATALOG__TIMEOUT_MS": "400", "BEZEL_VENDORS__CATALOG__HEDGE": "false"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        warm = await gateway.gql(PAGE, {"h": CONFIGURATOR})
        assert "errors" not in warm
        await asyncio.sleep(FRESH_S + 0.05)
        sandbox.fault("catalog", delay_ms=150)
        slow = await gateway.gql(PAGE, {"h": CONFIGURATOR})
        ring = await gateway.gql(PAGE, {"h": "seraphina-halo-ring"})
    assert (catalog_of(slow)["outcome"], slow["data"]["product"]["freshness"]["source"]) == ("stale", "STALE")
    assert len(slow["data"]["product"]["variants"]) == 1_200
    assert catalog_of(ring)["outcome"] == "live"
