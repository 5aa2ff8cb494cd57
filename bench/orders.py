"""Checkout under load, and how long downstream systems take to have each order (with a slow ERP)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from bench import env, loadgen
from bench.common import percentiles, shopper_address
from bench.pages import NY_ZIPS

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
                    doc = (await client.post(url, json=body, headers={"x-forwarded-for": shopper_address(i)})).json()
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
                    result = client.post(url, json=body, headers={"x-forwarded-for": shopper_address(50_000 + i)}
                                         ).json()["data"]["placeOrder"]
                    placed.append((result["order"]["id"], result["orderToken"]))
                    time.sleep(0.25)  # 4 orders a second
                lags: dict[str, list[float]] = {"erp": [], "wms": [], "crm": []}
                deadline = time.monotonic() + 120
                pending = set(range(len(placed)))
                while pending and time.monotonic() < deadline:
                    for i in list(pending):
                        order_id, token = placed[i]
                        doc = client.post(url, json={"query": ORDER, "variables": {"id": order_id, "t": token}},
                                          headers={"x-forwarded-for": shopper_address(50_000 + i)}  # the buyer
                                          ).json()["data"]["order"]
                        states = {d["system"].lower(): d for d in doc["downstream"]}
                        if all(states[s]["status"] == "SYNCED" for s in lags):
                            created = _ts(doc["createdAt"])
                            for s in lags:
                                lags[s].append((_ts(states[s]["updatedAt"]) - created) * 1000)
                            pending.discard(i)
                    time.sleep(1.5)  # each buyer polls within its order_lookups budget (60/minute)
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
