"""The benchmark scenarios. Each returns a dict of numbers (and raw samples for the charts)."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from bench import env, loadgen, wrk
from bench.common import percentiles
from bench.pages import NY_ZIPS, STANDARD, page_body


def shopper_mix(handle: str, n: int = 4000) -> list[bytes]:
    """Many shoppers on one product page: each a different address and engraving text, so tax,
    insurance and engraving are mostly asked live while the product itself comes from cache."""
    return [page_body(handle, NY_ZIPS[i % len(NY_ZIPS)], f"Love {i:05d}") for i in range(n)]


def _summary(run: loadgen.Run) -> dict[str, Any]:
    ok = run.ok
    return {
        "requests": len(run.samples),
        "seconds": round(run.seconds, 2),
        "throughput_rps": round(len(run.samples) / run.seconds, 1),
        "non_200": len(run.samples) - len(ok),
        "with_errors": sum(1 for s in ok if s.error_codes),
        "errors_by_code": dict(Counter(code for s in ok for code in s.error_codes)),
        "latency_ms": percentiles([s.latency_ms for s in run.samples]),
        "overhead_ms": percentiles([s.overhead_ms for s in ok]) if ok else None,
        "gateway_overhead_ms": percentiles(inside) if (inside := [s.gateway_overhead_ms for s in ok
                                                                  if s.gateway_overhead_ms is not None]) else None,
        "vendor_critical_ms": percentiles([s.critical_vendor_ms for s in ok]) if ok else None,
        "generator_cpu": round(run.cpu, 3),
        "raw_latency_ms": [round(s.latency_ms, 2) for s in run.samples],
        "raw_overhead_ms": [round(s.overhead_ms, 2) for s in ok],
        "raw_gateway_overhead_ms": [round(s.gateway_overhead_ms, 2) for s in ok if s.gateway_overhead_ms is not None],
    }


def _wrk_summary(result: wrk.WrkResult, cpu_seconds: float | None = None) -> dict[str, Any]:
    out = {"requests": result.requests, "seconds": result.seconds, "throughput_rps": result.rps,
           "latency_ms": {"p50": result.p50_ms, "p90": result.p90_ms, "p99": result.p99_ms},
           "non_2xx": result.non_2xx, "socket_errors": result.socket_errors}
    if cpu_seconds is not None and result.requests:
        out["gateway_cpu_us_per_request"] = round(cpu_seconds / result.requests * 1e6, 1)
    return out


def product_page(box: env.Sandbox, handle: str, *, rate: float, seconds: float, saturation_s: int) -> dict[str, Any]:
    """Scenarios 1 and 2: healthy vendors, a fixed arrival rate, then saturation."""
    bodies = shopper_mix(handle)
    box.reset()
    with env.gateway(box) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, bodies[-200:], rate=20, seconds=5))  # warm-up (other shoppers)
        fixed = asyncio.run(loadgen.fixed_rate(url, bodies[:int(rate * seconds)], rate=rate, seconds=seconds))
        result: dict[str, Any] = {"handle": handle, "fixed_rate": {"rate_rps": rate, **_summary(fixed)}}
        if wrk.available():
            cpu0 = gw.cpu_seconds()
            sat = wrk.run(url, bodies, seconds=saturation_s, connections=64, name=f"mix-{handle}")
            result["saturation"] = _wrk_summary(sat, gw.cpu_seconds() - cpu0)
    return result


def warm_ceiling(box: env.Sandbox, *, seconds: int) -> dict[str, Any]:
    """Scenario 3: every vendor answered from cache; the gateway's own ceiling per worker process."""
    box.reset()
    box.stock_all(STANDARD, 10)  # at or above safety stock: stock is served from cache too
    body = page_body(STANDARD)
    out: dict[str, Any] = {}
    with env.gateway(box) as gw:
        url = f"{gw.url}/graphql"
        for _ in range(30):
            httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=10)
        calls_before = sum(box.calls().values())
        for connections in (16, 64):
            cpu0 = gw.cpu_seconds()
            result = wrk.run(url, [body], seconds=seconds, connections=connections, name="warm")
            out[f"c{connections}"] = _wrk_summary(result, gw.cpu_seconds() - cpu0)
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
            summary = _summary(run)
            summary["vendor"] = vendor
            summary["fault"] = fault
            summary["budget_ms"] = 1200
            sources = [s.body for s in run.ok]
            summary["share_stale"] = round(sources.count("STALE") / max(1, len(sources)), 3)
            summary["share_unavailable"] = round(
                sum(1 for s in run.ok if any(c.startswith("VENDOR_UNAVAILABLE") for c in s.error_codes))
                / max(1, len(run.ok)), 3)
            summary["readyz"] = httpx.get(f"{gw.url}/readyz", timeout=5).json()["checks"]["vendors"][vendor]
            out[name] = summary
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
                response = client.post(url, content=body, headers={"content-type": "application/json"})
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


PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id createdAt } orderToken
    userErrors { code } } }"""
ORDER = """query($id: ID!, $t: String!) { order(id: $id, token: $t) { createdAt
    downstream { system status updatedAt } } }"""


def checkout(box: env.Sandbox, redis_url: str, *, seconds: float, concurrency: int, sync_orders: int
             ) -> dict[str, Any]:
    """Scenario 6: placeOrder throughput and latency; then sync lag with the ERP ten times slower."""
    box.reset()
    out: dict[str, Any] = {}
    with env.gateway(box, REDIS_URL=redis_url) as gw:
        url = f"{gw.url}/graphql"
        product = httpx.post(url, json={"query": '{ product(handle: "gold-huggie-hoops") { variants { id sku } } }'},
                             timeout=10).json()["data"]["product"]["variants"]
        for v in product:
            box.set_stock(v["sku"], 1_000_000)
        line = [{"variantId": product[0]["id"]}]

        async def load() -> tuple[list[float], int, list[str]]:
            codes: list[str] = []
            async with httpx.AsyncClient(timeout=30) as client:
                async def place(i: int) -> None:
                    body = {"query": PLACE, "variables": {"i": {
                        "idempotencyKey": str(uuid.uuid4()), "lines": line, "email": f"b{i}@example.com",
                        "shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": NY_ZIPS[i % 50]},
                        "paymentToken": "tok_visa"}}}
                    doc = (await client.post(url, json=body)).json()
                    result = doc["data"]["placeOrder"]
                    codes.append("confirmed" if result["order"] else result["userErrors"][0]["code"])

                latencies, count = await loadgen.closed_loop(place, concurrency=concurrency, seconds=seconds)
            return latencies, count, codes

        latencies, count, codes = asyncio.run(load())
        out["place_order"] = {"concurrency": concurrency, "seconds": seconds, "orders": count,
                              "orders_per_s": round(count / seconds, 1), "latency_ms": percentiles(latencies),
                              "outcomes": {c: codes.count(c) for c in set(codes)},
                              "payments_latency_ms": box.latency_ms("payments")}

        # Sync lag: the ERP ten times slower than usual; the others as usual. The worker first works off
        # the orders placed above at normal speed, so the lag measured is these orders' own.
        with env.worker(box, REDIS_URL=redis_url, BEZEL_WORKER__BLOCK_MS="100"):
            out["backlog_drained_s"] = _drain(redis_url, ("erp", "wms", "crm"), timeout_s=180)
            erp_ms = box.latency_ms("erp") * 10
            box.fix_latencies(erp=erp_ms)
            placed = []
            with httpx.Client(timeout=30) as client:
                for i in range(sync_orders):
                    body = {"query": PLACE, "variables": {"i": {
                        "idempotencyKey": str(uuid.uuid4()), "lines": line, "email": f"s{i}@example.com",
                        "shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": "10001"},
                        "paymentToken": "tok_visa"}}}
                    result = client.post(url, json=body).json()["data"]["placeOrder"]
                    placed.append((result["order"]["id"], result["orderToken"]))
                    time.sleep(0.25)  # 4 orders a second
                lags: dict[str, list[float]] = {"erp": [], "wms": [], "crm": []}
                deadline = time.monotonic() + 120
                pending = set(range(len(placed)))
                while pending and time.monotonic() < deadline:
                    for i in list(pending):
                        order_id, token = placed[i]
                        doc = client.post(url, json={"query": ORDER, "variables": {"id": order_id, "t": token}}
                                          ).json()["data"]["order"]
                        states = {d["system"].lower(): d for d in doc["downstream"]}
                        if all(states[s]["status"] == "SYNCED" for s in lags):
                            created = _ts(doc["createdAt"])
                            for s in lags:
                                lags[s].append((_ts(states[s]["updatedAt"]) - created) * 1000)
                            pending.discard(i)
                    time.sleep(0.2)
        out["sync_lag_ms"] = {s: percentiles(v) for s, v in lags.items() if v}
        out["sync_lag_ms"]["unsynced_after_120s"] = len(pending)
        out["erp_latency_ms"] = erp_ms
        out["sync_orders"] = sync_orders
    return out


def _drain(redis_url: str, groups: tuple[str, ...], *, timeout_s: float) -> float:
    """Wait until every group has read and acknowledged every order entry; returns the seconds taken."""
    import redis

    from connectors.checkout.connection import TAG

    started = time.monotonic()
    client = redis.Redis.from_url(redis_url)
    try:
        while time.monotonic() - started < timeout_s:
            stats = {g["name"].decode(): g for g in client.xinfo_groups(f"bezel:{TAG}:orders")}
            if all(g in stats and not stats[g]["pending"] and not stats[g]["lag"] for g in groups):
                return round(time.monotonic() - started, 1)
            time.sleep(0.5)
    finally:
        client.close()
    raise RuntimeError(f"the order backlog did not drain within {timeout_s} s")


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


@contextmanager
def _otlp_sink() -> Iterator[str]:
    """Accepts OTLP/HTTP exports and drops them: tracing's cost without a collector's."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    port = env.free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def tracing_on_off(box: env.Sandbox, *, seconds: int, rounds: int = 2) -> dict[str, Any]:
    """Scenario 7: the same warm page at saturation with tracing off, on for every request, and on for
    one request in ten (the sampler we recommend in production); modes alternate to cancel drift."""
    box.reset()
    box.stock_all(STANDARD, 10)
    body = page_body(STANDARD)
    results: dict[str, list[dict[str, Any]]] = {"off": [], "on": [], "sampled_10pct": []}
    with _otlp_sink() as sink:
        modes = {"off": {}, "on": {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_BSP_SCHEDULE_DELAY": "500"},
                 "sampled_10pct": {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_BSP_SCHEDULE_DELAY": "500",
                                   "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                   "OTEL_TRACES_SAMPLER_ARG": "0.1"}}
        for _ in range(rounds):
            for mode, extra in modes.items():
                with env.gateway(box, **extra) as gw:
                    url = f"{gw.url}/graphql"
                    for _ in range(30):
                        httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=10)
                    cpu0 = gw.cpu_seconds()
                    result = wrk.run(url, [body], seconds=seconds, connections=16, name=f"tracing-{mode}")
                    results[mode].append(_wrk_summary(result, gw.cpu_seconds() - cpu0))
    summary = {mode: {"throughput_rps": statistics.median(r["throughput_rps"] for r in runs),
                      "gateway_cpu_us_per_request": statistics.median(r["gateway_cpu_us_per_request"] for r in runs),
                      "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in runs),
                      "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in runs), "runs": runs}
               for mode, runs in results.items()}
    off = summary["off"]["gateway_cpu_us_per_request"]
    summary["cost_us_per_request"] = round(summary["on"]["gateway_cpu_us_per_request"] - off, 1)
    summary["sampled_cost_us_per_request"] = round(summary["sampled_10pct"]["gateway_cpu_us_per_request"] - off, 1)
    return summary
