"""Live pages at rest and on an event: `python -m bench.live [--subscribers 10000]`.

One `bezel serve` (one worker, its own core) on Redis; N shoppers keep the one-of-a-kind brooch's page open
(`productChanged`), each on its own HTTP connection, over graphql-sse, then (a fresh gateway) over Apollo's
multipart subscriptions. Measured on the gateway's worker process:

- at rest: its memory (RSS) before and with the N subscriptions open, and its CPU over 10 s (heartbeats:
  one per subscriber every `[live] heartbeat_s`, 5 s);
- one stock event (the brooch sold through Bezel) to all of them: event -> client latency, from the sale's
  answer reaching the buyer (the gateway publishes the event just before it answers: a negative time is a
  page told before the buyer) to each client reading OUT_OF_STOCK, p50/p99, and the spread from the first
  page told to each; and
  the gateway's CPU per subscriber notified (its CPU from the sale to the last client told, less what it
  spends at rest in that time).

The clients are raw asyncio connections on the load core (no HTTP library per connection: 10,000 httpx
streams would measure httpx). Results: bench/results/live.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench import env
from bench.common import machine, percentiles, write

SUBSCRIBE = json.dumps({"query": 'subscription { productChanged(handle: "victorian-diamond-brooch") { variants { '
                                 'sku availability { status quantityAvailable } } } }'}).encode()
ACCEPT = {"sse": "text/event-stream", "multipart": 'multipart/mixed;subscriptionSpec="1.0", application/json'}
PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"""
ADDRESS = {"countryCode": "US", "provinceCode": "NY", "zip": "10001"}
REST_S = 10.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Shopper:
    """One open page: a connection that reads its stream and notes when the piece showed sold."""

    def __init__(self) -> None:
        self.subscribed = asyncio.Event()
        self.told_at: float | None = None
        self.told = asyncio.Event()
        self.retries = 0

    async def run(self, host: str, port: int, accept: str, opened: asyncio.Semaphore) -> None:
        while True:  # a subscription shed while thousands open at once (503) opens again, as a client would
            async with opened:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                             + f"Accept: {accept}\r\nContent-Length: {len(SUBSCRIBE)}\r\n\r\n".encode() + SUBSCRIBE)
                await writer.drain()
                seen = b""
                while b"LOW_STOCK" not in seen and not (seen.startswith(b"HTTP/1.1 ") and b" 200 " not in seen[:16]):
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    seen += chunk
            if b"LOW_STOCK" in seen:
                break
            writer.close()
            self.retries += 1
            await asyncio.sleep(0.05)
        self.subscribed.set()
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            if b"OUT_OF_STOCK" in tail + chunk and not self.told.is_set():  # a message may straddle two reads
                self.told_at = time.time()
                self.told.set()
            tail = chunk[-16:]
        writer.close()


async def one(transport: str, n: int, redis_url: str) -> dict[str, Any]:
    with env.sandbox() as box:
        extra = {"REDIS_URL": redis_url, "BEZEL_LIVE__MAX_SUBSCRIPTIONS": str(n + 100),
                 "BEZEL_LIVE__MAX_PER_CLIENT": str(n + 100), "BEZEL_LIMITS__PAGES": "1000000/second",
                 "BEZEL_LIMITS__CHECKOUT": "100000/second", "BEZEL_GATEWAY__TRUSTED_PROXIES": "[]"}
        with env.gateway(box, **extra) as gateway:
            pid = env.worker_pid(gateway)
            host, port = gateway.url.removeprefix("http://").split(":")
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{gateway.url}/graphql", json={"query": '{ product(handle: '
                                     '"victorian-diamond-brooch") { variants { id } } }'}) as answer:
                    variant = (await answer.json())["data"]["product"]["variants"][0]["id"]
                rss_before = rss_mb(pid)
                shoppers = [Shopper() for _ in range(n)]
                opened = asyncio.Semaphore(64)
                started = time.monotonic()
                tasks = [asyncio.ensure_future(s.run(host, int(port), ACCEPT[transport], opened)) for s in shoppers]
                await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in shoppers)), 600)
                open_s = time.monotonic() - started
                await asyncio.sleep(2)
                cpu0, rest0 = gateway.cpu_seconds(), time.monotonic()
                await asyncio.sleep(REST_S)
                rest_cpu_per_s = (gateway.cpu_seconds() - cpu0) / (time.monotonic() - rest0)
                rss_open = rss_mb(pid)
                cpu1, sold_at = gateway.cpu_seconds(), time.time()
                order = {"idempotencyKey": str(uuid.uuid4()), "lines": [{"variantId": variant}], "shipTo": ADDRESS,
                         "email": "ada@example.com", "paymentToken": "tok_visa"}
                async with http.post(f"{gateway.url}/graphql", json={"query": PLACE, "variables": {"i": order}}) as a:
                    placed = await a.json()
                answered_at = time.time()
                assert placed["data"]["placeOrder"]["order"], placed
                try:
                    await asyncio.wait_for(asyncio.gather(*(s.told.wait() for s in shoppers)), 120)
                except TimeoutError:
                    told = sum(s.told.is_set() for s in shoppers)
                    gone = sum(t.done() for t in tasks)
                    raise SystemExit(f"bench.live: {told} of {n} told in 120 s ({gone} connections closed)") from None
                last = max(s.told_at or 0 for s in shoppers)
                fan_cpu = gateway.cpu_seconds() - cpu1 - rest_cpu_per_s * (last - sold_at)
                latencies = [((s.told_at or 0) - answered_at) * 1000 for s in shoppers]
                first = min(s.told_at or 0 for s in shoppers)
                spread = [((s.told_at or 0) - first) * 1000 for s in shoppers]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    return {"transport": transport, "subscribers": n, "open_s": round(open_s, 2),
            "opened_again": sum(s.retries for s in shoppers),
            "rss_mb_before": round(rss_before, 1), "rss_mb_open": round(rss_open, 1),
            "rss_kb_per_subscriber": round((rss_open - rss_before) * 1024 / n, 2),
            "rest_cpu_percent": round(rest_cpu_per_s * 100, 2),
            "checkout_ms": round((answered_at - sold_at) * 1000, 1),
            "event_to_client_ms": {k: round(v, 1) if isinstance(v, float) else v
                                   for k, v in percentiles(latencies).items()},
            "spread_ms": {k: round(v, 1) if isinstance(v, float) else v for k, v in percentiles(spread).items()},
            "fanout_cpu_ms": round(fan_cpu * 1000, 1), "cpu_us_per_subscriber": round(fan_cpu * 1e6 / n, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--transports", default="sse,multipart")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(env.LOAD_CORE)})
    runs = []
    for transport in args.transports.split(","):
        redis_url = env.redis_url()
        if redis_url is None:
            print("bench.live: no Redis (REDIS_URL)")
            return 1
        runs.append(asyncio.run(one(transport, args.subscribers, redis_url)))
        print(json.dumps(runs[-1]))
    doc = {"title": "Live pages: idle subscribers and one event to all of them", "machine": machine(),
           "command": f"python -m bench.live --subscribers {args.subscribers}", "runs": runs}
    rows = ["| transport | subscribers | RSS before / open (MB) | per subscriber (KB) | CPU at rest | event -> client "
            "p50 / p99 (ms) | first -> last told p50 / p99 (ms) | fan-out CPU (ms) | CPU per subscriber (us) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lat = r["event_to_client_ms"]
        rows.append(f"| {r['transport']} | {r['subscribers']} | {r['rss_mb_before']} / {r['rss_mb_open']} | "
                    f"{r['rss_kb_per_subscriber']} | {r['rest_cpu_percent']}% | {lat['median']} / {lat['p99']} | "
                    f"{r['spread_ms']['median']} / {r['spread_ms']['p99']} | "
                    f"{r['fanout_cpu_ms']} | {r['cpu_us_per_subscriber']} |")
    write("live", doc, "\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
