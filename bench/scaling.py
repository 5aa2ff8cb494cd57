"""The numbers behind README "Scaling": pages and orders per process, Redis commands per page and per
order, and whether two processes on a 3-master Redis Cluster keep the CPU per page of one on a single
Redis node.

Each case runs `bezel serve --workers 2` (the supervisor and two workers, pinned to the gateway core
like every benchmark's gateway: this measures work per page, not parallel speed-up), new shoppers at
a fixed rate on the README page, then a returning shopper's page (every answer cached), then orders.
Redis commands are counted from the servers' own statistics (INFO commandstats on every master).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import redis

from bench import env, loadgen
from bench.common import shopper_address
from bench.pages import STANDARD, page_body
from bench.summaries import shopper_mix, summary

PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"""


def available() -> bool:
    return shutil.which("redis-server") is not None


def single_vs_cluster(box: env.Sandbox, *, rate: float, seconds: float, orders: int) -> dict[str, Any]:
    from sandbox.redis_servers import redis_server_binary, run_redis_cluster, run_redis_server

    binary = redis_server_binary()
    assert binary is not None
    out: dict[str, Any] = {"rate_rps": rate, "seconds": seconds, "workers": 2}
    with run_redis_server(binary) as node:
        out["single_node"] = _case(box, node.url, [node.url], cluster=False, rate=rate, seconds=seconds,
                                   orders=orders)
    with run_redis_cluster(binary) as cluster:
        masters = [f"redis://127.0.0.1:{n.port}" for n in cluster.nodes[:3]]
        out["cluster_3_masters"] = _case(box, cluster.url, masters, cluster=True, rate=rate, seconds=seconds,
                                         orders=orders)
    single, clustered = (out[k]["new_shoppers"]["gateway_cpu_us_per_page"] for k in ("single_node",
                                                                                        "cluster_3_masters"))
    out["cpu_per_page_cluster_vs_single"] = round(clustered / single, 2)
    return out


def _case(box: env.Sandbox, url: str, masters: list[str], *, cluster: bool, rate: float, seconds: float,
          orders: int) -> dict[str, Any]:
    box.reset()
    box.stock_all(STANDARD, 10)
    # Both workers share the gateway's one core: a 50 ms Redis timeout would count a busy event loop's late
    # reads as Redis being down (and skip it), so the two cases would not do the same work.
    extra = {"REDIS_URL": url, "BEZEL_REDIS__CLUSTER": str(cluster).lower(), "BEZEL_GATEWAY__WORKERS": "2",
             "BEZEL_REDIS__TIMEOUT_MS": "250"}
    result: dict[str, Any] = {}
    with env.gateway(box, **extra) as gw:
        gql = f"{gw.url}/graphql"
        shoppers = shopper_mix(STANDARD)
        asyncio.run(loadgen.fixed_rate(gql, shoppers[-200:], rate=20, seconds=5,
                                       client=lambda i: shopper_address(70_000 + i)))  # warm-up
        with _counted(masters) as commands:
            cpu0 = gw.cpu_seconds()
            run = asyncio.run(loadgen.fixed_rate(gql, shoppers[:int(rate * seconds)], rate=rate, seconds=seconds))
            cpu = gw.cpu_seconds() - cpu0
        pages = len(run.ok)
        row = summary(run)
        result["new_shoppers"] = {"latency_ms": row["latency_ms"], "non_200": row["non_200"], "pages": pages,
                                  "gateway_cpu_us_per_page": round(cpu / max(1, pages) * 1e6),
                                  "redis_commands_per_page": round(commands["total"] / max(1, pages), 1),
                                  "redis_commands": commands["by_command"]}
        returning = [page_body(STANDARD)]
        loadgen.warm(gql, returning[0], strict=False)  # after a load, a vendor may still be catching up
        with _counted(masters) as commands:
            cpu0 = gw.cpu_seconds()
            run = asyncio.run(loadgen.fixed_rate(gql, returning, rate=rate, seconds=seconds))
            cpu = gw.cpu_seconds() - cpu0
        pages = len(run.ok)
        result["returning_shopper"] = {"pages": pages, "non_200": len(run.samples) - pages,
                                       "gateway_cpu_us_per_page": round(cpu / max(1, pages) * 1e6),
                                       "redis_commands_per_page": round(commands["total"] / max(1, pages), 1)}
        result["orders"] = _orders(gql, box, masters, orders)
    return result


def _orders(gql: str, box: env.Sandbox, masters: list[str], n: int) -> dict[str, Any]:
    hoops = httpx.post(gql, json={"query": '{ product(handle: "gold-huggie-hoops") { variants { id sku } } }'},
                       timeout=10).json()["data"]["product"]["variants"][0]
    box.set_stock(hoops["sku"], 1_000_000)

    async def place_all() -> list[str]:
        async with httpx.AsyncClient(timeout=30) as client:
            async def one(i: int) -> str:
                body = {"query": PLACE, "variables": {"i": {
                    "idempotencyKey": str(uuid.uuid4()), "lines": [{"variantId": hoops["id"]}],
                    "email": f"s{i}@example.com", "paymentToken": "tok_visa",
                    "shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": "10001"}}}}
                doc = (await client.post(gql, json=body, headers={"x-forwarded-for": shopper_address(80_000 + i)}
                                         )).json()["data"]["placeOrder"]
                return "CONFIRMED" if doc["order"] else doc["userErrors"][0]["code"]

            return [await one(i) for i in range(n)]

    with _counted(masters) as commands:
        outcomes = asyncio.run(place_all())
    confirmed = outcomes.count("CONFIRMED")
    return {"placed": n, "confirmed": confirmed,
            "redis_commands_per_order": round(commands["total"] / max(1, confirmed), 1),
            "redis_commands": commands["by_command"]}


@contextlib.contextmanager
def _counted(masters: list[str]) -> Iterator[dict[str, Any]]:
    """Commands the Redis masters ran while the block ran (their own INFO commandstats)."""
    clients = [redis.Redis.from_url(u) for u in masters]
    for c in clients:
        c.config_resetstat()
    counts: dict[str, Any] = {}
    yield counts
    by_command: dict[str, int] = {}
    for c in clients:
        for name, stats in c.info("commandstats").items():
            command = name.removeprefix("cmdstat_")
            if command in {"config|resetstat", "info", "config", "cluster|slots", "cluster|shards",
                           "cluster|nodes", "command|docs", "client|setinfo", "hello", "ping"}:
                continue
            by_command[command] = by_command.get(command, 0) + int(stats["calls"])
    counts["by_command"] = dict(sorted(by_command.items(), key=lambda kv: -kv[1]))
    counts["total"] = sum(by_command.values())
