"""The product-page scenarios: healthy at a fixed rate and at saturation, warm caches, a degraded
vendor, and today's browser pattern. Each returns a dict of numbers (and raw samples for the charts)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench import env, loadgen, wrk
from bench.common import percentiles, shopper_address
from bench.pages import NY_ZIPS, STANDARD, page_body
from bench.summaries import shopper_mix, summary, wrk_summary


def product_page(box: env.Sandbox, handle: str, *, rate: float, seconds: float, saturation_s: int) -> dict[str, Any]:
    """Scenarios 1 and 2: healthy vendors, a fixed arrival rate, then saturation."""
    bodies = shopper_mix(handle)
    box.reset()
    with env.gateway(box) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, bodies[-200:], rate=20, seconds=5))  # warm-up (other shoppers)
        cpu0 = gw.cpu_seconds()
        fixed = asyncio.run(loadgen.fixed_rate(url, bodies[:int(rate * seconds)], rate=rate, seconds=seconds))
        cpu_us = round((gw.cpu_seconds() - cpu0) / max(1, len(fixed.ok)) * 1e6)
        result: dict[str, Any] = {"handle": handle, "fixed_rate": {"rate_rps": rate, **summary(fixed),
                                                                   "gateway_cpu_us_per_page": cpu_us}}
        if wrk.available():
            cpu0 = gw.cpu_seconds()
            sat = wrk.run(url, bodies, seconds=saturation_s, connections=64, name=f"mix-{handle}")
            result["saturation"] = wrk_summary(sat, gw.cpu_seconds() - cpu0)
    return result


def warm_ceiling(box: env.Sandbox, *, seconds: int) -> dict[str, Any]:
    """Scenario 3: every vendor answered from cache; the gateway's own ceiling per worker process."""
    box.reset()
    box.stock_all(STANDARD, 10)  # at or above safety stock: stock is served from cache too
    body = page_body(STANDARD)
    out: dict[str, Any] = {}
    with env.gateway(box) as gw:
        url = f"{gw.url}/graphql"
        loadgen.warm(url, body)
        calls_before = sum(box.calls().values())
        for connections in (16, 64):
            cpu0 = gw.cpu_seconds()
            result = wrk.run(url, [body], seconds=seconds, connections=connections, name="warm")
            out[f"c{connections}"] = wrk_summary(result, gw.cpu_seconds() - cpu0)
        out["vendor_calls_during_run"] = sum(box.calls().values()) - calls_before
    return out


def degraded(box: env.Sandbox, *, rate: float, seconds: float) -> dict[str, Any]:
    """Scenario 4: one vendor hung, then one failing half the time; answers stay inside the budget."""
    out: dict[str, Any] = {}
    cases = {
        "engraving_hung": ("engraving", {"hang": True}),
        "tax_failing_50pct": ("tax", {"status": 500, "error_rate": 0.5}),
    }
    for name, (vendor, fault) in cases.items():
        box.reset()
        box.stock_all(STANDARD, 10)
        pool = [page_body(STANDARD, NY_ZIPS[i], f"Gift {i:02d}") for i in range(20)]
        # Fresh for 1 s, then stale-if-error for a day: after the warm-up every answer is old enough
        # that the gateway asks the vendor, and the vendor's failure is answered from the stale copy.
        extra = {f"BEZEL_VENDORS__{vendor.upper()}__CACHE_TTL_S": "1",
                 f"BEZEL_VENDORS__{vendor.upper()}__REVALIDATE_S": "0"}
        with env.gateway(box, **extra) as gw:
            url = f"{gw.url}/graphql"
            asyncio.run(loadgen.fixed_rate(url, pool, rate=20, seconds=3))
            time.sleep(1.2)
            box.fault(vendor, **fault)

            def freshness(doc: dict[str, Any], vendor: str = vendor) -> str | None:
                return ((doc.get("extensions") or {}).get("vendors") or {}).get(vendor, {}).get("source")

            run = asyncio.run(loadgen.fixed_rate(url, pool, rate=rate, seconds=seconds, keep_body=freshness))
            row = summary(run)
            row["vendor"] = vendor
            row["fault"] = fault
            row["budget_ms"] = 1200
            sources = [s.body for s in run.ok]
            row["share_stale"] = round(sources.count("STALE") / max(1, len(sources)), 3)
            row["share_unavailable"] = round(
                sum(1 for s in run.ok if any(c.startswith("VENDOR_UNAVAILABLE") for c in s.error_codes))
                / max(1, len(run.ok)), 3)
            row["readyz"] = httpx.get(f"{gw.admin_url}/readyz", timeout=5).json()["checks"]["vendors"][vendor]
            out[name] = row
            box.clear_faults()
    return out


async def _storefront_today(box: env.Sandbox, handle: str, zip_code: str, text: str, *, parallel: bool) -> float:
    """What a storefront does without Bezel: the browser asks each vendor itself, no timeouts."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=box.url, timeout=None) as client:
        product = (await client.get("/catalog/admin/api/2024-10/products.json", params={"handle": handle})).json()
        variants = product["products"][0]["variants"]
        skus = ",".join(f'"{v["sku"]}"' for v in variants)
        price = min(float(v["price"]) for v in variants)
        cents = int(price * 100)
        calls = [
            lambda: client.get("/inventory/bezel/inventory", params={"where": f"sku in ({skus})", "limit": "500"}),
            lambda: client.post("/tax/v2/taxes", json={"to_country": "US", "to_zip": zip_code, "to_state": "NY",
                                                       "amount": price, "shipping": 0}),
            lambda: client.post("/insurance/api/v1/quotes", json={
                "cart": {"amount_insured": {"cents": cents, "currency": "USD"}},
                "shipping_address": {"country": "US"}}),
            lambda: client.get("/bnpl/affirm/api/promos/v2/pk", params={"amount": cents}),
            lambda: client.get("/bnpl/afterpay/v2/configuration"),
            lambda: client.post("/engraving/api/v1/previews", json={"text": text, "font": "script",
                                                                    "placement": "inside_band"}),
        ]
        if parallel:
            await asyncio.gather(*(call() for call in calls))
        else:
            for call in calls:
                await call()
    return (time.perf_counter() - started) * 1000


def storefront_comparison(box: env.Sandbox, *, runs: int) -> dict[str, Any]:
    """Scenario 5: page-ready time, the browser asking six vendors itself vs one query to Bezel."""
    box.reset()
    out: dict[str, Any] = {"runs": runs}
    out["browser_sequential_ms"] = percentiles([asyncio.run(_storefront_today(
        box, STANDARD, NY_ZIPS[i], f"Seq {i}", parallel=False)) for i in range(runs)])
    out["browser_parallel_ms"] = percentiles([asyncio.run(_storefront_today(
        box, STANDARD, NY_ZIPS[i], f"Par {i}", parallel=True)) for i in range(runs)])

    def bezel(url: str, prefix: str, fixed: bool = False) -> list[float]:
        times = []
        with httpx.Client(timeout=30) as client:
            for i in range(runs):
                body = page_body(STANDARD) if fixed else page_body(STANDARD, NY_ZIPS[1000 + i], f"{prefix} {i}")
                started = time.perf_counter()
                response = client.post(url, content=body, headers={"content-type": "application/json",
                                                                   "x-forwarded-for": shopper_address(i)})
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        return times

    no_cache = {f"BEZEL_VENDORS__{v}__CACHE_TTL_S": "0" for v in
                ("CATALOG", "INVENTORY", "TAX", "INSURANCE", "BNPL", "ENGRAVING")}
    with env.gateway(box, **no_cache) as gw:
        out["bezel_nothing_cached_ms"] = percentiles(bezel(f"{gw.url}/graphql", "Cold"))
    with env.gateway(box) as gw:
        bezel(f"{gw.url}/graphql", "Warmup")
        out["bezel_new_shopper_ms"] = percentiles(bezel(f"{gw.url}/graphql", "New"))
        bezel(f"{gw.url}/graphql", "", fixed=True)
        out["bezel_returning_page_ms"] = percentiles(bezel(f"{gw.url}/graphql", "", fixed=True))
    sequential = out["browser_sequential_ms"]["median"]
    out["ratio_sequential_vs"] = {k.removesuffix("_ms"): round(sequential / out[k]["median"], 2)
                                  for k in ("bezel_nothing_cached_ms", "bezel_new_shopper_ms",
                                            "bezel_returning_page_ms")}
    parallel = out["browser_parallel_ms"]["median"]
    out["ratio_parallel_vs"] = {k.removesuffix("_ms"): round(parallel / out[k]["median"], 2)
                                for k in ("bezel_nothing_cached_ms", "bezel_new_shopper_ms",
                                          "bezel_returning_page_ms")}
    return out
