"""Shoppers while the gateway is attacked: the issue's attacks, in turn, against `bezel serve` as it
ships (production settings, its default limits and timeouts, Redis for checkout and shared limits).

New shoppers load the README page at a fixed rate, alone, then while each attack runs:
- stock_hold: eight loops ordering the one-of-a-kind ring with a declining card, each attempt from a
  new address and email (per-address limits alone cannot stop them); a real buyer arrives mid-run;
- slow_connections: 100 slowloris connections (headers a byte a second) and 100 slow bodies (a body
  byte a second), each reconnecting as soon as the gateway closes it;
- flood: one client sending pages at ten times its rate limit;
- oversized_orders: orders for 80 rings (over $1,100,000, past Stripe's amount limit and the order
  ceiling), one a second from rotating addresses; a real buyer arrives mid-run (the payments breaker
  used to open after five);
- document_bombs: the 900-byte fragment bomb, the 30-product @defer fan-out and a per-variant @defer
  fan-out within the document's caps, sent in turn, 10 a second;
- decline_lockout: three declines with a buyer's email from three addresses, then the buyer with her
  own card (she used to be locked out for ten minutes);
- apq_flood: automatic persisted queries with a 62 KB comment, 20 a second from rotating addresses.
What the shoppers see is what counts; what each attacker got is reported beside it.
"""

from __future__ import annotations

import asyncio
import hashlib
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
PRICEY = "aurelia-solitaire-ring"  # up to $15,000 a variant: ten of each of eight is over $1,100,000
# Each fragment spreads the next twice: the last one 2^22 times, in 900 bytes.
FRAGMENT_BOMB = "query{...F0} " + " ".join(f"fragment F{i} on Query{{...F{i + 1} ...F{i + 1}}}" for i in range(22)) \
    + " fragment F22 on Query{__typename}"
DEFER_FAN_OUT = "{ " + " ".join(
    f'a{i}: product(handle: "seraphina-halo-ring") {{ variants {{ sku '
    + " ".join("... @defer { title price { amount } }" for _ in range(4)) + " } }" for i in range(30)) + " }"
PER_VARIANT_DEFER = "{ " + " ".join(
    f'a{i}: product(handle: "seraphina-halo-ring") {{ variants {{ sku ... @defer {{ title }} }} }}' for i in range(8)) \
    + " }"
MULTIPART = "multipart/mixed; deferSpec=20220824, application/json"


def under_attack(box: env.Sandbox, redis_url: str, *, rate: float, seconds: float) -> dict[str, Any]:
    box.reset()
    per_phase = int(rate * seconds)
    shoppers = shopper_mix(STANDARD, n=per_phase * 8 + 200)  # every page a new shopper, in every phase
    out: dict[str, Any] = {"rate_rps": rate, "seconds": seconds}
    with env.gateway(box, REDIS_URL=redis_url) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, shoppers[-200:], rate=20, seconds=5,
                                       client=lambda i: shopper_address(60_000 + i)))  # warm-up
        query = "query($h: String!) { product(handle: $h) { variants { id } } }"
        found = httpx.post(url, json={"query": query, "variables": {"h": RING}}, timeout=10).json()
        ring = found["data"]["product"]["variants"][0]["id"]
        pricey = httpx.post(url, json={"query": "query($h: String!) { product(handle: $h) { variants { id sku price "
                                                "{ amount } } } }", "variables": {"h": PRICEY}}, timeout=10).json()
        dearest = sorted(pricey["data"]["product"]["variants"], key=lambda v: float(v["price"]["amount"]))[-9:]
        for v in dearest:
            box.set_stock(v["sku"], 1000)
        attacks: dict[str, Callable[[asyncio.Event], Awaitable[dict[str, Any]]]] = {
            "healthy": _nothing,
            "stock_hold": lambda stop: _stock_hold(url, ring, stop, seconds=seconds),
            "slow_connections": lambda stop: _slow_connections(gw.url, stop),
            "flood": lambda stop: _flood(url, stop, seconds=seconds),
            "oversized_orders": lambda stop: _oversized_orders(url, [v["id"] for v in dearest], stop,
                                                               seconds=seconds),
            "document_bombs": lambda stop: _document_bombs(url, stop),
            "decline_lockout": lambda stop: _decline_lockout(url, dearest[0]["id"], stop),
            "apq_flood": lambda stop: _apq_flood(url, stop),
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


async def _place(session: aiohttp.ClientSession, url: str, address: str, lines: list[dict[str, Any]], *,
                 email: str, token: str, insure: bool = True) -> str:
    body = {"query": PLACE, "variables": {"i": {
        "idempotencyKey": str(uuid.uuid4()), "lines": lines, "email": email, "shipTo": ADDRESS,
        "paymentToken": token, "insure": insure}}}
    async with session.post(url, json=body, headers={"x-forwarded-for": address}) as response:
        if response.status != 200:
            return f"http_{response.status}"
        result = (await response.json())["data"]["placeOrder"]
        return "CONFIRMED" if result["order"] else result["userErrors"][0]["code"]


async def _oversized_orders(url: str, variants: list[str], stop: asyncio.Event, *, seconds: float) -> dict[str, Any]:
    """Ten of each of eight dear rings, once a second, each from a new address; a buyer comes halfway."""
    outcomes: Counter[str] = Counter()
    lines = [{"variantId": v, "quantity": 10} for v in variants[1:]]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def attacker() -> None:
            i = 0
            while not stop.is_set():
                i += 1
                outcomes[await _place(session, url, f"203.0.114.{i % 250 + 1}", lines, email=f"big{i}@example.net",
                                      token="tok_visa", insure=False)] += 1
                await asyncio.sleep(1.0)

        running = asyncio.create_task(attacker())
        await asyncio.sleep(seconds / 2)
        buyer = await _place(session, url, "198.51.100.8", [{"variantId": variants[0]}], email="buyer@example.com",
                             token="tok_visa")
        await stop.wait()
        await running
    return {"attempts": sum(outcomes.values()), "outcomes": dict(outcomes), "buyer_first_try": buyer}


async def _document_bombs(url: str, stop: asyncio.Event, *, rps: float = 10) -> dict[str, Any]:
    """The fragment bomb, the @defer fan-out and a per-variant fan-out, in turn, from rotating addresses."""
    bodies = [({"query": FRAGMENT_BOMB}, "application/json"), ({"query": DEFER_FAN_OUT}, MULTIPART),
              ({"query": PER_VARIANT_DEFER}, MULTIPART)]
    answers: Counter[str] = Counter()
    slowest = 0.0
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        i = 0
        while not stop.is_set():
            body, accept = bodies[i % len(bodies)]
            started = loop.time()
            async with session.post(url, json=body, headers={"accept": accept,
                                                             "x-forwarded-for": f"203.0.115.{i % 250 + 1}"}) as r:
                text = await r.text()
                code = re.search(r'"code":"([A-Z_]+)"', text)
                answers[f"{r.status} {code[1] if code else 'ok'}"] += 1
            slowest = max(slowest, loop.time() - started)
            i += 1
            await asyncio.sleep(1 / rps)
    return {"sent": sum(answers.values()), "answers": dict(answers), "slowest_ms": round(slowest * 1000, 1)}


async def _decline_lockout(url: str, variant: str, stop: asyncio.Event) -> dict[str, Any]:
    """Three declines with the buyer's email from three addresses, then the buyer with her own good card."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        aimed = [await _place(session, url, f"203.0.116.{n + 1}", [{"variantId": variant}],
                              email="victim@example.com", token="tok_chargeDeclined") for n in range(3)]
        buyer = await _place(session, url, "198.51.100.9", [{"variantId": variant}], email="victim@example.com",
                             token="tok_visa")
    await stop.wait()
    return {"aimed_declines": aimed, "buyer_first_try": buyer}


async def _apq_flood(url: str, stop: asyncio.Event, *, rps: float = 20) -> dict[str, Any]:
    """Automatic persisted queries carrying a 62 KB comment each: registered, they filled Redis."""
    answers: Counter[str] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        i = 0
        while not stop.is_set():
            text = "# " + "x" * 62_000 + f"\n{{ a{i}: __typename }}"
            body = {"query": text, "extensions": {"persistedQuery": {
                "version": 1, "sha256Hash": hashlib.sha256(text.encode()).hexdigest()}}}
            async with session.post(url, json=body, headers={"x-forwarded-for": f"203.0.117.{i % 250 + 1}"}) as r:
                answers[str(r.status)] += 1
            i += 1
            await asyncio.sleep(1 / rps)
    return {"sent": sum(answers.values()), "statuses": dict(answers)}


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
