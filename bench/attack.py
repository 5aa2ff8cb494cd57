"""Shoppers while the gateway is attacked: the issue's attacks, in turn, against `bezel serve` as it
ships (production settings, its default limits and timeouts, Redis for checkout and shared limits).

New shoppers load the README page at a fixed rate, alone, then while each attack runs:
- stock_hold: eight loops ordering the one-of-a-kind ring with a declining card, each attempt from a
  new address and email (per-address limits alone cannot stop them); a real buyer arrives mid-run;
- slow_connections: 100 slowloris connections (headers a byte a second) and 100 slow bodies (a body
  byte a second), each reconnecting as soon as the gateway closes it;
- flood: one client sending pages at ten times its rate limit.
What the shoppers see is what counts; what each attacker got is reported beside it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from bench import env, loadgen
from bench.common import shopper_address
from bench.pages import STANDARD, page_body
from bench.summaries import shopper_mix, summary

RING = "padparadscha-cocktail-ring"  # $42,000, one in stock
PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"""
ADDRESS = {"countryCode": "US", "provinceCode": "NY", "zip": "10001"}
FLOOD_RPS = 200  # pages from one client whose budget is 20/second


def under_attack(box: env.Sandbox, redis_url: str, *, rate: float, seconds: float) -> dict[str, Any]:
    box.reset()
    shoppers = shopper_mix(STANDARD)
    per_phase = int(rate * seconds)
    out: dict[str, Any] = {"rate_rps": rate, "seconds": seconds}
    with env.gateway(box, REDIS_URL=redis_url) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, shoppers[-200:], rate=20, seconds=5,
                                       client=lambda i: shopper_address(60_000 + i)))  # warm-up
        query = "query($h: String!) { product(handle: $h) { variants { id } } }"
        found = httpx.post(url, json={"query": query, "variables": {"h": RING}}, timeout=10).json()
        ring = found["data"]["product"]["variants"][0]["id"]
        attacks: dict[str, Callable[[asyncio.Event], Awaitable[dict[str, Any]]]] = {
            "healthy": _nothing,
            "stock_hold": lambda stop: _stock_hold(url, ring, stop, seconds=seconds),
            "slow_connections": lambda stop: _slow_connections(gw.url, stop),
            "flood": lambda stop: _flood(url, stop, seconds=seconds),
        }
        for n, (phase, attack) in enumerate(attacks.items()):
            first = n * per_phase
            bodies = shoppers[first:first + per_phase]

            async def both(attack: Callable[[asyncio.Event], Awaitable[dict[str, Any]]] = attack,
                           bodies: list[bytes] = bodies, first: int = first, lead_s: float = 0.5 if n else 0
                           ) -> tuple[loadgen.Run, dict[str, Any]]:
                stop = asyncio.Event()
                attacking = asyncio.create_task(attack(stop))
                await asyncio.sleep(lead_s)  # the attack is under way first
                shopped = await loadgen.fixed_rate(url, bodies, rate=rate, seconds=seconds,
                                                   client=lambda i: shopper_address(first + i))
                stop.set()
                return shopped, await attacking

            shopped, attacker = asyncio.run(both())
            row = summary(shopped)
            for raw in ("raw_latency_ms", "raw_overhead_ms", "raw_gateway_overhead_ms"):
                row.pop(raw, None)
            out[phase] = {"shoppers": row, "attacker": attacker}
        out["operator_metrics"] = _operator_metrics(gw.admin_url)
    healthy = out["healthy"]["shoppers"]["latency_ms"]["p99"]
    out["p99_vs_healthy"] = {phase: round(out[phase]["shoppers"]["latency_ms"]["p99"] / healthy, 2)
                             for phase in attacks if phase != "healthy"}
    out["shopper_non_200"] = sum(out[phase]["shoppers"]["non_200"] for phase in attacks)
    return out


async def _nothing(stop: asyncio.Event) -> dict[str, Any]:
    await stop.wait()
    return {}


async def _stock_hold(url: str, ring: str, stop: asyncio.Event, *, seconds: float, loops: int = 8,
                      per_loop_rps: float = 5) -> dict[str, Any]:
    """Eight paced loops of declining-card orders for the ring; a buyer with a good card comes halfway."""
    outcomes: Counter[str] = Counter()
    attempts = iter(range(10**9))

    async def order(session: aiohttp.ClientSession, address: str, email: str, token: str) -> str:
        body = {"query": PLACE, "variables": {"i": {
            "idempotencyKey": str(uuid.uuid4()), "lines": [{"variantId": ring}], "email": email,
            "shipTo": ADDRESS, "paymentToken": token}}}
        async with session.post(url, json=body, headers={"x-forwarded-for": address}) as response:
            if response.status != 200:
                return f"http_{response.status}"
            result = (await response.json())["data"]["placeOrder"]
            return "CONFIRMED" if result["order"] else result["userErrors"][0]["code"]

    async def attacker(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            i = next(attempts)
            outcomes[await order(session, f"203.0.{i // 250 % 250}.{i % 250 + 1}", f"thief{i}@example.net",
                                 "tok_chargeDeclined")] += 1
            await asyncio.sleep(1 / per_loop_rps)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        loops_running = [asyncio.create_task(attacker(session)) for _ in range(loops)]
        await asyncio.sleep(seconds / 2)
        buyer = [await order(session, "198.51.100.7", "buyer@example.com", "tok_visa")]
        await stop.wait()
        await asyncio.gather(*loops_running)
    return {"loops": loops, "per_loop_rps": per_loop_rps, "attempts": sum(outcomes.values()),
            "outcomes": dict(outcomes), "buyer_first_try": buyer[0]}


async def _slow_connections(base: str, stop: asyncio.Event, *, each: int = 100) -> dict[str, Any]:
    """`each` slowloris and `each` slow-body connections, a byte a second, reopened when closed."""
    host, port = base.removeprefix("http://").split(":")
    body = page_body(STANDARD)
    answers: Counter[str] = Counter()

    async def slow(head: bytes, trickle: bytes) -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                answers["connect_failed"] += 1
                await asyncio.sleep(1)
                continue
            answer = asyncio.create_task(reader.read(256))
            try:
                writer.write(head)
                for byte in trickle:
                    if answer.done() or stop.is_set():
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.wait([answer], timeout=1.0)
                if not stop.is_set():
                    data = await asyncio.wait_for(answer, 30)
                    status = re.match(rb"HTTP/1\.1 (\d+)", data)
                    answers[status[1].decode() if status else "closed"] += 1
            except (OSError, TimeoutError):
                answers["reset"] += 1
            finally:
                answer.cancel()
                writer.close()

    slowloris = b"POST /graphql HTTP/1.1\r\nhost: shop\r\n", b"x-slow: " + b"a" * 4000
    slow_body = (b"POST /graphql HTTP/1.1\r\nhost: shop\r\ncontent-type: application/json\r\n"
                 b"content-length: %d\r\n\r\n" % len(body), body)
    await asyncio.gather(*(slow(*slowloris) for _ in range(each)), *(slow(*slow_body) for _ in range(each)))
    return {"connections": 2 * each, "answers": dict(answers)}


async def _flood(url: str, stop: asyncio.Event, *, seconds: float) -> dict[str, Any]:
    """One client at FLOOD_RPS, ten times its page budget, for as long as the shoppers shop."""
    bodies = [page_body(STANDARD)]
    run = await loadgen.fixed_rate(url, bodies, rate=FLOOD_RPS, seconds=seconds + 0.5,
                                   client=lambda i: "198.51.100.66")
    await stop.wait()
    return {"rate_rps": FLOOD_RPS, "requests": len(run.samples),
            "statuses": {str(k): v for k, v in Counter(s.status for s in run.samples).items()}}


_OPERATOR_METRICS = ("bezel_requests_refused_total", "bezel_checkout_refused_total", "bezel_payment_failures_total",
                     "bezel_payment_voids_total", "bezel_checkout_holds_released_unpaid_total")


def _operator_metrics(admin_url: str) -> dict[str, float]:
    """What an operator sees of the attacks on the admin port: refusals, declines, voids, holds given back."""
    text = httpx.get(f"{admin_url}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for name, labels, value in re.findall(r'^(bezel_\w+_total)(?:\{([^}]*)\})? ([\d.e+]+)$', text, re.M):
        if name not in _OPERATOR_METRICS:
            continue
        detail = re.search(r'(?:reason|why)="([^"]+)"', labels or "")
        key = f"{name.removeprefix('bezel_').removesuffix('_total')}:{detail[1] if detail else ''}".rstrip(":")
        out[key] = out.get(key, 0) + float(value)
    return out
