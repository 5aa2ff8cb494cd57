"""The call policy against the real sandbox: single-flight, breaker, hedging, retries and their budget,
Retry-After, stale-while-revalidate, and stock below safety level checked live."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sandbox.handle import Sandbox
from tests.support import US_ADDRESS, Gateway, run_gateway, settings_for

TAX_QUERY = """query($a: AddressInput!) { product(handle: "gold-huggie-hoops") {
    taxEstimate(shipTo: $a) { amountToCollect { amount } freshness { source ageMs } } } }"""
NO_TAX_CACHE = {"BEZEL_VENDORS__TAX__CACHE_TTL_S": "0", "BEZEL_VENDORS__TAX__STALE_TTL_S": "0",
                "BEZEL_VENDORS__TAX__REVALIDATE_S": "0"}


def tax_of(result: dict[str, Any]) -> dict[str, Any] | None:
    return result["data"]["product"]["taxEstimate"]


async def test_fifty_concurrent_identical_queries_make_one_vendor_call(sandbox: Sandbox) -> None:
    async with run_gateway(settings_for(sandbox)) as gateway:
        sandbox.fault("tax", delay_ms=300)  # long enough for all fifty to arrive while it is in flight
        sandbox.fault("catalog", delay_ms=100)
        results = await asyncio.gather(*(gateway.gql(TAX_QUERY, {"a": US_ADDRESS}) for _ in range(50)))
    calls = sandbox.calls()
    assert calls["tax"] == 1, calls
    assert calls["catalog"] == 1, calls
    assert all("errors" not in r for r in results)
    assert len({str(tax_of(r)["amountToCollect"]) for r in results}) == 1
    assert {tax_of(r)["freshness"]["source"] for r in results} == {"LIVE"}


async def test_a_fresh_answer_is_served_from_cache_with_its_age(gateway: Gateway, sandbox: Sandbox) -> None:
    first = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
    await asyncio.sleep(0.05)
    second = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
    other = await gateway.gql(TAX_QUERY, {"a": {**US_ADDRESS, "zip": "10002"}})
    assert tax_of(first)["freshness"] == {"source": "LIVE", "ageMs": 0}
    assert tax_of(second)["freshness"]["source"] == "CACHE"
    assert tax_of(second)["freshness"]["ageMs"] >= 50
    assert second["extensions"]["vendors"]["tax"] == {"outcome": "cache", "source": "CACHE",
                                                      "ms": second["extensions"]["vendors"]["tax"]["ms"],
                                                      "calls": 1, "attempts": 0}
    assert tax_of(other)["freshness"]["source"] == "LIVE"  # another address is another answer
    assert sandbox.calls()["tax"] == 2


async def test_the_breaker_opens_stops_calling_probes_and_closes(sandbox: Sandbox) -> None:
    env = {**NO_TAX_CACHE, "BEZEL_VENDORS__TAX__RETRY_ATTEMPTS": "1",
           "BEZEL_VENDORS__TAX__BREAKER__WINDOW_SIZE": "10", "BEZEL_VENDORS__TAX__BREAKER__MINIMUM_CALLS": "4",
           "BEZEL_VENDORS__TAX__BREAKER__FAILURE_RATE_THRESHOLD": "50",
           "BEZEL_VENDORS__TAX__BREAKER__OPEN_WAIT_MS": "600", "BEZEL_VENDORS__TAX__BREAKER__HALF_OPEN_CALLS": "2"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        sandbox.fault("tax", status=500)
        outcomes = [(await gateway.gql(TAX_QUERY, {"a": US_ADDRESS}))["extensions"]["vendors"]["tax"]["outcome"]
                    for _ in range(4)]
        assert outcomes == ["error"] * 4
        assert sandbox.calls()["tax"] == 4
        for _ in range(5):
            result = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
            assert result["extensions"]["vendors"]["tax"]["outcome"] == "circuit_open"
            assert result["errors"][0]["extensions"] == {"code": "VENDOR_UNAVAILABLE", "vendor": "tax",
                                                         "outcome": "circuit_open"}
        assert sandbox.calls()["tax"] == 4  # open: the vendor is left alone
        sandbox.reset()  # the vendor heals
        await asyncio.sleep(0.65)
        probes = [await gateway.gql(TAX_QUERY, {"a": US_ADDRESS}) for _ in range(2)]
        assert [tax_of(p)["freshness"]["source"] for p in probes] == ["LIVE", "LIVE"]
        assert sandbox.calls()["tax"] == 2
        after = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
        assert after["extensions"]["vendors"]["tax"]["outcome"] == "live"


async def test_a_hedged_read_wins_when_the_first_attempt_is_slow(sandbox: Sandbox) -> None:
    env = {**NO_TAX_CACHE, "BEZEL_VENDORS__TAX__TIMEOUT_MS": "3000", "BEZEL_VENDORS__TAX__HEDGE_MIN_SAMPLES": "5",
           "BEZEL_VENDORS__TAX__RETRY_BUDGET_MIN_PER_S": "5"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        for _ in range(8):  # learn the vendor's usual latency (tens of ms at the sandbox's test speed)
            await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
        sandbox.reset()
        sandbox.fault("tax", delay_ms=2000, times=1)  # the next call is slow; any later one is not
        started = time.monotonic()
        result = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed  # not the 2 s of the slow first attempt
    assert tax_of(result)["freshness"]["source"] == "LIVE"
    summary = result["extensions"]["vendors"]["tax"]
    assert summary["hedged"] is True
    assert summary["attempts"] == 2
    assert sandbox.calls()["tax"] == 2


async def test_a_transient_error_is_retried_within_the_deadline(sandbox: Sandbox) -> None:
    async with run_gateway(settings_for(sandbox, **NO_TAX_CACHE, BEZEL_VENDORS__TAX__RETRY_BUDGET_MIN_PER_S="5")
                           ) as gateway:
        await asyncio.sleep(0.3)  # let the retry budget's per-second floor put a token in
        sandbox.fault("tax", status=503, times=1)
        result = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
    assert "errors" not in result
    assert tax_of(result)["freshness"]["source"] == "LIVE"
    assert result["extensions"]["vendors"]["tax"]["attempts"] == 2
    assert sandbox.calls()["tax"] == 2


async def test_retries_never_exceed_the_budget(sandbox: Sandbox) -> None:
    """A vendor failing every call gets at most 20% more calls than requests, however many retries are allowed."""
    env = {**NO_TAX_CACHE, "BEZEL_VENDORS__TAX__RETRY_ATTEMPTS": "5", "BEZEL_VENDORS__TAX__RETRY_BACKOFF_MS": "1",
           "BEZEL_VENDORS__TAX__RETRY_JITTER_MS": "1", "BEZEL_VENDORS__TAX__RETRY_BACKOFF_MAX_MS": "5",
           "BEZEL_VENDORS__TAX__RETRY_BUDGET_RATIO": "0.2", "BEZEL_VENDORS__TAX__RETRY_BUDGET_MIN_PER_S": "0",
           "BEZEL_VENDORS__TAX__BREAKER__MINIMUM_CALLS": "1000", "BEZEL_VENDORS__TAX__BREAKER__WINDOW_SIZE": "1000"}
    requests = 40
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        sandbox.fault("tax", status=503)
        for _ in range(requests):
            result = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
            assert tax_of(result) is None
    calls = sandbox.calls()["tax"]
    assert requests < calls <= requests * 1.2, calls  # some retries happened, never more than the budget


async def test_a_429_with_retry_after_is_honoured_for_later_calls(sandbox: Sandbox) -> None:
    async with run_gateway(settings_for(sandbox, **NO_TAX_CACHE)) as gateway:
        sandbox.fault("tax", status=429, retry_after_s=30)
        first = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
        sandbox.reset()  # healthy again, but it asked us to wait 30 s
        later = [await gateway.gql(TAX_QUERY, {"a": {**US_ADDRESS, "zip": z}}) for z in ("10002", "10003")]
    assert first["errors"][0]["extensions"]["outcome"] == "error"
    assert [r["extensions"]["vendors"]["tax"]["outcome"] for r in later] == ["rejected", "rejected"]
    assert sandbox.calls()["tax"] == 0


async def test_stale_while_revalidate_serves_now_and_refreshes_once_behind(sandbox: Sandbox) -> None:
    env = {"BEZEL_VENDORS__TAX__CACHE_TTL_S": "0.2", "BEZEL_VENDORS__TAX__REVALIDATE_S": "60"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
        await asyncio.sleep(0.25)
        sandbox.fault("tax", delay_ms=150)
        started = time.monotonic()
        served = await asyncio.gather(*(gateway.gql(TAX_QUERY, {"a": US_ADDRESS}) for _ in range(5)))
        elapsed = time.monotonic() - started
        assert elapsed < 0.15  # nobody waited for the refresh
        assert {tax_of(r)["freshness"]["source"] for r in served} == {"CACHE"}
        assert min(tax_of(r)["freshness"]["ageMs"] for r in served) >= 250
        await asyncio.sleep(0.3)
        refreshed = await gateway.gql(TAX_QUERY, {"a": US_ADDRESS})
    assert tax_of(refreshed)["freshness"]["source"] == "CACHE"
    assert tax_of(refreshed)["freshness"]["ageMs"] < 250
    assert sandbox.calls()["tax"] == 2  # the first read, then exactly one background refresh


STOCK_QUERY = """query($h: String!) { product(handle: $h) { variants { sku
    availability { status quantityAvailable confirmed path freshness { source } } } } }"""


async def test_low_stock_is_checked_live_on_every_read(gateway: Gateway, sandbox: Sandbox) -> None:
    """Below safety stock (3) the cache is bypassed; at or above it, the cache serves."""
    for handle, expected in (("art-deco-emerald-ring", ["LIVE_CHECK", "LIVE_CHECK", "LIVE_CHECK"]),
                             ("gold-huggie-hoops", ["LIVE", "CACHE", "CACHE"])):
        sandbox.reset()
        sandbox.set_stock("HUG-Y14", 9)
        sandbox.set_stock("HUG-W14", 9)
        sandbox.set_stock("HUG-R14", 9)
        paths = []
        for _ in range(3):
            result = await gateway.gql(STOCK_QUERY, {"h": handle})
            paths.append(result["data"]["product"]["variants"][0]["availability"]["path"])
        assert paths == expected, handle
        assert sandbox.calls()["inventory"] == expected.count("LIVE_CHECK") + expected.count("LIVE")


async def test_a_sku_that_drops_below_safety_stock_is_seen_at_once(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.set_stock("HUG-Y14", 2)
    first = await gateway.gql(STOCK_QUERY, {"h": "gold-huggie-hoops"})
    assert first["data"]["product"]["variants"][0]["availability"]["status"] == "LOW_STOCK"
    sandbox.set_stock("HUG-Y14", 0)  # the last two sold elsewhere
    second = await gateway.gql(STOCK_QUERY, {"h": "gold-huggie-hoops"})
    availability = second["data"]["product"]["variants"][0]["availability"]
    assert (availability["status"], availability["quantityAvailable"], availability["path"]) == (
        "OUT_OF_STOCK", 0, "LIVE_CHECK")


async def test_low_stock_never_turns_into_a_stale_in_stock(sandbox: Sandbox) -> None:
    env = {"BEZEL_VENDORS__INVENTORY__CACHE_TTL_S": "0.1"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        sandbox.set_stock("HUG-Y14", 2)
        sandbox.set_stock("HUG-W14", 12)
        warm = await gateway.gql(STOCK_QUERY, {"h": "gold-huggie-hoops"})
        assert [v["availability"]["status"] for v in warm["data"]["product"]["variants"][:2]] == [
            "LOW_STOCK", "IN_STOCK"]
        await asyncio.sleep(0.15)
        sandbox.fault("inventory", status=503)
        result = await gateway.gql(STOCK_QUERY, {"h": "gold-huggie-hoops"})
    low, plenty = (v["availability"] for v in result["data"]["product"]["variants"][:2])
    for availability in (low, plenty):
        assert availability["status"] == "LOW_STOCK"  # last seen in stock; not confirmed; never IN_STOCK
        assert availability["confirmed"] is False
        assert availability["quantityAvailable"] is None
        assert availability["path"] == "FALLBACK"
        assert availability["freshness"]["source"] == "STALE"
